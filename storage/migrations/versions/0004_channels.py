"""channels: several bots per platform, group dialogues, quotas, split messages resumed

Channel names grow to 40 characters ("zalo:<bot>"), a dialogue key to 160 ("<group>/<member>"),
outbox messages count the parts already sent, and three tables: the bots (title, part of the tree,
limits), their monthly usage, and the group chats seen (and bound to a unit by an administrator).

Revision ID: 0004_channels
Revises: 0003_kept_replies
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_channels"
down_revision: str | None = "0003_kept_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this revision sees them (not storage.models: that keeps changing after this revision).
account = sa.table("account", sa.column("channel", sa.String), sa.column("chat_id", sa.String))

CHANNEL_COLUMNS = ("account", "report", "conversation", "processeddelivery", "outboxmessage", "inboxupdate")


def _resize(table: str, column: str, old: int, new: int, *, nullable: bool = False) -> None:
    # SQLite does not enforce a VARCHAR's length: only PostgreSQL needs the change.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            table, column, type_=sa.String(new), existing_type=sa.String(old), existing_nullable=nullable
        )


def upgrade() -> None:
    for table in CHANNEL_COLUMNS:
        _resize(table, "channel", 16, 40)
    _resize("conversation", "chat_id", 64, 160)
    with op.batch_alter_table("outboxmessage") as batch:
        batch.add_column(sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False))
    # An account registered from a Telegram group kept the group as its chat (group ids are negative):
    # a group is nobody's private chat, and nothing meant for one person may go there.
    op.execute(
        account.update()
        .where(account.c.channel == "telegram", account.c.chat_id.like("-%"))
        .values(chat_id=None)
    )
    op.create_table(
        "channelbot",
        sa.Column("channel", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("monthly_quota", sa.Integer(), nullable=True),
        sa.Column("user_limit", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_channelbot_unit_id", "channelbot", ["unit_id"])
    op.create_table(
        "channelusage",
        sa.Column("channel", sa.String(40), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("warned", sa.Integer(), nullable=False),
        sa.Column("exhausted_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "chatgroup",
        sa.Column("channel", sa.String(40), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chatgroup")
    op.drop_table("channelusage")
    op.drop_index("ix_channelbot_unit_id", table_name="channelbot")
    op.drop_table("channelbot")
    with op.batch_alter_table("outboxmessage") as batch:
        batch.drop_column("parts_sent")
    _resize("conversation", "chat_id", 160, 64)
    for table in CHANNEL_COLUMNS:
        _resize(table, "channel", 40, 16)
