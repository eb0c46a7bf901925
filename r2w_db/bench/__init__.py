"""The query benchmark and the load test. Imports engine, app, demo and figures.
"""
