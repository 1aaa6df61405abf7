"""Alembic environment: runs on the connection handed over by `app.db.migrate`."""

from alembic import context

from app import models  # noqa: F401 - registers the tables on Base.metadata
from app.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through app.db.migrate(engine) or `toolforge db upgrade`")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
