"""kept replies: processeddelivery.replies and answering_at, so a reply cut off by a crash is sent later

Revision ID: 0003_kept_replies
Revises: 0002_subtree_cell_count
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_kept_replies"
down_revision: str | None = "0002_subtree_cell_count"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processeddelivery") as batch:
        batch.add_column(sa.Column("replies", sa.Text(), nullable=True))
        batch.add_column(sa.Column("answering_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processeddelivery") as batch:
        batch.drop_column("answering_at")
        batch.drop_column("replies")
