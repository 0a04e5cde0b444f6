"""Alembic environment: runs on the connection that backend.db.migrate() hands over."""

from alembic import context

from backend.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via backend.db.migrate()
    raise RuntimeError("run migrations through backend.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
