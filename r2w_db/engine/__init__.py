"""The engine: opening databases and their locations, the schema and migrations, SQL predicates,
the time base and the batched-write primitive. Imports only r2w_db.errors, r2w_db.config and itself.
"""
