"""The store's writer lease (used on PostgreSQL, where several hosts write to one Chroma server): one row with
its holder, a fencing token and an expiry.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table with its one free lease."""
    table = op.create_table(
        "writer_lease",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
    )
    free = {"name": "store", "holder": None, "token": 0, "expires": dt.datetime(1970, 1, 1, tzinfo=dt.UTC)}
    op.bulk_insert(table, [free])


def downgrade() -> None:
    """Drop the lease."""
    op.drop_table("writer_lease")
