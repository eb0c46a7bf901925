"""Maintenance: the task registry and its runs, the anonymous cleanup, SQLite-specific tasks,
backup and restore. Imports engine, app, monitor and figures.
"""
