"""Alembic migration scripts of the store (env.py, versions/); run by facegate.db.migrate."""
