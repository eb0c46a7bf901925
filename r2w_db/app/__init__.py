"""The application's data operations from the schema document: users, sessions, uploads, the
extraction cache, portfolios, passwords, anonymous ownership. Imports engine only.
"""
