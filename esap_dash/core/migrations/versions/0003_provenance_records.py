"""Cart items keep their provenance in the one form of
:class:`esap_dash.core.provenance.Provenance`, naming the cart's user; the forms
written before are read and rewritten (each distinct one once per cart).  A
record that said nothing of when its rows were found is dated by the first of
its items added to the cart.

Revision ID: 0003
Revises: 0002
"""

from dataclasses import replace
from datetime import UTC

import sqlalchemy as sa
from alembic import op

from esap_dash.core.provenance import Provenance

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ITEMS = sa.table("cart_items", sa.column("cart_id", sa.Integer), sa.column("query", sa.Text),
                 sa.column("added", sa.DateTime(timezone=True)))
CARTS = sa.table("carts", sa.column("id", sa.Integer), sa.column("user", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    groups = conn.execute(
        sa.select(ITEMS.c.cart_id, ITEMS.c.query, CARTS.c.user, sa.func.min(ITEMS.c.added))
        .join(CARTS, CARTS.c.id == ITEMS.c.cart_id)
        .group_by(ITEMS.c.cart_id, ITEMS.c.query, CARTS.c.user)).all()
    for cart_id, query, user, added in groups:
        record = Provenance.from_json(query, user=user)
        if not record.at and added is not None:
            added = added if added.tzinfo else added.replace(tzinfo=UTC)  # SQLite: UTC
            record = replace(record, at=added.replace(microsecond=0).isoformat())
        record = record.to_json()
        if record != query:
            conn.execute(ITEMS.update().where((ITEMS.c.cart_id == cart_id)
                                              & (ITEMS.c.query == query)).values(query=record))


def downgrade() -> None:
    """The earlier code reads the new form as an unknown query: nothing to undo."""
