"""The deterministic demo history and the embedded default database. Imports engine and app.
"""
