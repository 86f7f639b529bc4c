"""pipelines/commands"""
