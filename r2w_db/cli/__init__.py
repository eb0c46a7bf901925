"""`python -m r2w_db`: one module per group of commands over the library. Imports anything below it.
"""
