"""Alembic's entry: runs the migrations on the connection `facegate.db.migrate` hands over,
inside the transaction (and lock) that module already holds."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("facegate migrations run through facegate.db.migrate.upgrade(), which passes a connection")
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
