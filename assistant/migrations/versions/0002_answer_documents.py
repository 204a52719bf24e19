"""The documents each answer cites, one row each, so that "cited most / never cited" is one portable query
(it read SQLite's json_each over every payload before). Existing answers are filled in from their payloads.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
BATCH = 2000


def upgrade() -> None:
    """Create the table and its index, then add the cited documents of every stored answer."""
    table = op.create_table(
        "answer_documents",
        sa.Column("answer_id", sa.Text, primary_key=True),
        sa.Column("document", sa.Text, primary_key=True),
    )
    op.create_index("answer_documents_by_document", "answer_documents", ["document"])
    bind = op.get_bind()
    answers = sa.table("answers", sa.column("id", sa.Text), sa.column("payload", sa.Text))
    rows: list[dict[str, str]] = []
    for answer_id, payload in bind.execute(sa.select(answers.c.id, answers.c.payload)):
        cited = {str(c.get("document")) for c in json.loads(payload).get("citations") or [] if c.get("document")}
        rows.extend({"answer_id": answer_id, "document": d} for d in sorted(cited))
        if len(rows) >= BATCH:
            bind.execute(sa.insert(table), rows)
            rows = []
    if rows:
        bind.execute(sa.insert(table), rows)


def downgrade() -> None:
    """Drop the table (the payloads still hold every citation)."""
    op.drop_table("answer_documents")
