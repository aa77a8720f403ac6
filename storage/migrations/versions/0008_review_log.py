"""review log: messages the bot could not read and reports corrected soon after, text and date only

Revision ID: 0008_review_log
Revises: 0007_web_sessions
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_review_log"
down_revision: str | None = "0007_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reviewmessage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.create_index("ix_reviewmessage_day", "reviewmessage", ["day"])


def downgrade() -> None:
    op.drop_index("ix_reviewmessage_day", table_name="reviewmessage")
    op.drop_table("reviewmessage")
