"""corpus/dedup"""
