"""web sessions: one-time login links from the chat, browser sessions, reports by date

Revision ID: 0007_web_sessions
Revises: 0006_workflow
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_web_sessions"
down_revision: str | None = "0006_workflow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "weblogin",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_weblogin_account_id", "weblogin", ["account_id"])
    op.create_table(
        "websession",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_websession_account_id", "websession", ["account_id"])
    op.create_index("ix_websession_expires_at", "websession", ["expires_at"])
    # The web page lists a subtree's reports newest first.
    op.create_index("ix_report_created_at", "report", ["created_at"])
    op.create_index("ix_report_supersedes_id", "report", ["supersedes_id"])  # a report's correction


def downgrade() -> None:
    op.drop_index("ix_report_supersedes_id", table_name="report")
    op.drop_index("ix_report_created_at", table_name="report")
    op.drop_index("ix_websession_expires_at", table_name="websession")
    op.drop_index("ix_websession_account_id", table_name="websession")
    op.drop_table("websession")
    op.drop_index("ix_weblogin_account_id", table_name="weblogin")
    op.drop_table("weblogin")
