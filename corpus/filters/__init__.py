"""corpus/filters"""
