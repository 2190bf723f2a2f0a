"""The schema as it was before migrations: history, jobs, carts and their items, shares,
archive columns, job results.

A database made before migrations existed has exactly these tables; it is
marked as being at this revision and upgraded from here.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(255), nullable=False, index=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("archives", sa.Text, nullable=False),
        sa.Column("row_counts", sa.Text, nullable=False))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(255), nullable=False, index=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False))
    op.create_table(
        "carts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user", "name", name="uq_cart_user_name"))
    op.create_table(
        "cart_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cart_id", sa.Integer, sa.ForeignKey("carts.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("archive", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("item_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("ra", sa.Float, nullable=True),
        sa.Column("dec", sa.Float, nullable=True),
        sa.Column("product_type", sa.Text, nullable=False),
        sa.Column("access_url", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("service_url", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("added", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.UniqueConstraint("cart_id", "key", name="uq_cart_item_key"))
    op.create_table(
        "archive_columns",
        sa.Column("archive", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("ucd", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False))
    op.create_table(
        "cart_shares",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("cart_id", sa.Integer, sa.ForeignKey("carts.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        "job_results",
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("table_ecsv", sa.LargeBinary, nullable=False),
        sa.Column("image_fits", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    for table in ("job_results", "cart_shares", "archive_columns", "cart_items", "carts",
                  "jobs", "query_history"):
        op.drop_table(table)
