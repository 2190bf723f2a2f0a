"""A POST of the HTTP API may carry an ``Idempotency-Key``: its first answer is kept
(per user and key, for a day), so that a retried request is answered again instead of
acting twice.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("location", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_table("idempotency_keys")
