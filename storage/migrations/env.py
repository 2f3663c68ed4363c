"""Alembic environment: the engine comes from the caller (storage.db.migrate), never a URL in a file."""

from alembic import context
from sqlmodel import SQLModel

import newsdelta.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
