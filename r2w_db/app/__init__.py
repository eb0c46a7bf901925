"""The application's data operations (docs/schema.md): users, sessions, uploads, the
extraction cache, portfolios, passwords, anonymous ownership. Imports engine only.
"""
