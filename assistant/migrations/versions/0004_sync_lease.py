"""A second lease in `writer_lease`: the scheduled site sync, so that of several hosts one syncs at a time.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_lease = sa.table(
    "writer_lease",
    sa.column("name", sa.Text),
    sa.column("holder", sa.Text),
    sa.column("token", sa.BigInteger),
    sa.column("expires", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Add the sync lease, free."""
    op.bulk_insert(
        _lease, [{"name": "sync", "holder": None, "token": 0, "expires": dt.datetime(1970, 1, 1, tzinfo=dt.UTC)}]
    )


def downgrade() -> None:
    """Remove it."""
    op.execute(_lease.delete().where(_lease.c.name == "sync"))
