"""Searches made through the HTTP API keep their rows (so that a client can read them
and put some in a cart), and each user's calls are counted per minute (the API's
rate limit holds across every server process).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_results",
        sa.Column("search_id", sa.Integer,
                  sa.ForeignKey("query_history.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("table_ecsv", sa.LargeBinary, nullable=False),
        sa.Column("outcomes", sa.Text, nullable=False))
    op.create_table(
        "api_calls",
        sa.Column("user", sa.String(255), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False))


def downgrade() -> None:
    op.drop_table("api_calls")
    op.drop_table("search_results")
