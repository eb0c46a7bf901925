"""What the dashboard and `stats` show: stats, the time window, each page's figures, database-file
figures, health checks and `check`. Read-only. Imports engine, app and monitor.
"""
