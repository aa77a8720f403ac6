"""breakdowns a tree adds to the five: definitions per unit, figures per admission entry, rollups

Revision ID: 0009_breakdowns
Revises: 0008_review_log
Create Date: 2026-12-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009_breakdowns"
down_revision: str | None = "0008_review_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "breakdowndefinition",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("share", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("unit_id", "key"),
    )
    op.create_index("ix_breakdowndefinition_unit_id", "breakdowndefinition", ["unit_id"])
    op.create_table(
        "admissionbreakdown",
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("admissionentry.id"), primary_key=True),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    op.create_table(
        "breakdownrollup",
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("known", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("breakdownrollup")
    op.drop_table("admissionbreakdown")
    op.drop_index("ix_breakdowndefinition_unit_id", table_name="breakdowndefinition")
    op.drop_table("breakdowndefinition")
