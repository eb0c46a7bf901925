"""The monitor's own state (a separate SQLite file): maintenance log, benchmark runs, team sign-in.
Imports engine and app.
"""
