"""Jobs record when their user asked to abort them, so that the server process
running a job honours an abort asked through any other.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("abort_requested", sa.DateTime(timezone=True),
                                    nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("abort_requested")
