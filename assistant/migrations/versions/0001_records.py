"""The records as the first releases kept them: conversations, answers (with the question's vector), feedback and
rate-limit windows. A SQLite file written before migrations existed gains only what it lacks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and indexes a database lacks; add the answers' vector column to an older file."""
    inspector = sa.inspect(op.get_bind())
    present = set(inspector.get_table_names())
    if "conversations" not in present:
        op.create_table(
            "conversations",
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("owner", sa.Text, nullable=False),
            sa.Column("created", sa.Float, nullable=False),
            sa.Column("updated", sa.Float, nullable=False),
        )
    if "answers" not in present:
        op.create_table(
            "answers",
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("conversation_id", sa.Text, nullable=False),
            sa.Column("owner", sa.Text, nullable=False),
            sa.Column("question", sa.Text, nullable=False),
            sa.Column("language", sa.Text, nullable=False),
            sa.Column("refused", sa.Integer, nullable=False),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("created", sa.Float, nullable=False),
            sa.Column("vector", sa.LargeBinary),
        )
    elif "vector" not in {c["name"] for c in inspector.get_columns("answers")}:
        op.add_column("answers", sa.Column("vector", sa.LargeBinary))
    if "feedback" not in present:
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("answer_id", sa.Text, nullable=False),
            sa.Column("rating", sa.Text, nullable=False),
            sa.Column("comment", sa.Text),
            sa.Column("created", sa.Float, nullable=False),
        )
    if "rate_windows" not in present:
        op.create_table(
            "rate_windows",
            sa.Column("bucket", sa.Text, primary_key=True),
            sa.Column("window", sa.Integer, primary_key=True),
            sa.Column("hits", sa.Integer, nullable=False),
        )
    indexes = {i["name"] for table in ("answers", "feedback") for i in sa.inspect(op.get_bind()).get_indexes(table)}
    for name, table, columns in (
        ("answers_by_conversation", "answers", ["conversation_id", "created"]),
        ("answers_by_age", "answers", ["created"]),
        ("feedback_by_answer", "feedback", ["answer_id", "id"]),
    ):
        if name not in indexes:
            op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop every table of the records."""
    for table in ("rate_windows", "feedback", "answers", "conversations"):
        op.drop_table(table)
