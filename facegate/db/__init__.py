"""The database under the store: table definitions, engines for SQLite and PostgreSQL, and migrations."""
