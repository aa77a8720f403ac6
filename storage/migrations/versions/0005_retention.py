"""revocation and retention: account.revoked_at, invite.cancelled_at, invite hashes of sealed codes,
indexes for pruning old deliveries and conversations

Revision ID: 0005_retention
Revises: 0004_channels
Create Date: 2026-11-30

Invite codes were stored as sha256(code). Webhook updates now keep a `/dangky` code sealed, as
sha256(code), never in clear; so that this seal cannot be used as it stands by someone who reads the
database, the invite keeps sha256(seal) = sha256(sha256(code)). Existing rows are rehashed here (the
old hash is the seal). Downgrading cannot undo that: invites created before it would need new codes.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_retention"
down_revision: str | None = "0004_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The table as this revision sees it (not storage.models: that keeps changing after this revision).
invite = sa.table("invite", sa.column("id", sa.Integer), sa.column("code_hash", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("invite") as batch:
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    for row_id, old in connection.execute(sa.select(invite.c.id, invite.c.code_hash)).all():
        connection.execute(
            invite.update()
            .where(invite.c.id == row_id)
            .values(code_hash=hashlib.sha256(old.encode()).hexdigest())
        )
    op.create_index("ix_processeddelivery_at", "processeddelivery", ["at"])
    op.create_index("ix_conversation_updated_at", "conversation", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_conversation_updated_at", table_name="conversation")
    op.drop_index("ix_processeddelivery_at", table_name="processeddelivery")
    with op.batch_alter_table("invite") as batch:
        batch.drop_column("cancelled_at")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("revoked_at")
