"""Shared helpers for every stage: dataset paths, raw-store naming, atomic writes, JSONL logs, config, CLI.

Imports nothing else from the project, so scripts, scraper and training can all depend on it.
"""
