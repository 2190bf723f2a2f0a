"""Alembic's environment: runs on the connection :mod:`esap_dash.core.store` hands over."""

from alembic import context

from esap_dash.core.store import META

context.configure(connection=context.config.attributes["connection"], target_metadata=META)
with context.begin_transaction():
    context.run_migrations()
