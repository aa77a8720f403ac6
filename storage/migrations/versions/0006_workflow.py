"""workflow: approval and timeliness per unit and month, the probation clock, the tree's history

Revision ID: 0006_workflow
Revises: 0005_retention
Create Date: 2026-12-10
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_workflow"
down_revision: str | None = "0005_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
    with op.batch_alter_table("admissionentry") as batch:
        batch.add_column(sa.Column("ceremony_date", sa.Date(), nullable=True))

    op.create_table(
        "workflowsetting",
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("approval", sa.Boolean(), nullable=False),
        sa.Column("deadline_day", sa.Integer(), nullable=False),
        sa.Column("quarter_deadline_day", sa.Integer(), nullable=False),
        sa.Column("year_deadline_day", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=True),
        sa.Column("remind_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "unitperiod",
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("admissions", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("first_report_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("review", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by_account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.Column("reopened_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_unitperiod_review", "unitperiod", ["review"])
    op.create_table(
        "workflowrollup",
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("cells_on_time", sa.Integer(), nullable=False),
        sa.Column("cells_late", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("provisional_admissions", sa.Integer(), nullable=False),
        sa.Column("provisional_completed", sa.Integer(), nullable=False),
    )
    op.create_table(
        "recognitionentry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("report.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("names", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    )
    for column in ("report_id", "unit_id", "month"):
        op.create_index(f"ix_recognitionentry_{column}", "recognitionentry", [column])
    for table in ("probationledger", "probationrollup"):
        op.create_table(
            table,
            sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
            sa.Column("end_date", sa.Date(), primary_key=True),
            sa.Column("ending", sa.Integer(), nullable=False),
            sa.Column("recognized", sa.Integer(), nullable=False),
        )
    op.create_table(
        "unitchange",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("old_parent_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("new_parent_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("into_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_unitchange_unit_id", "unitchange", ["unit_id"])
    op.create_index("ix_unitchange_on", "unitchange", ["on"])
    _backfill_probation()


def _end_of_probation(day: date) -> date:
    """12 months after the ceremony (29/02 → 28/02), as storage.probation.probation_end."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _backfill_probation() -> None:
    """Admissions already stored start their probation clock from the end of their report's period
    (they have no ceremony date). Timeliness and review start with the reports stored from now on."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT e.unit_id, e.count, r.period_end, u.path FROM admissionentry e "
            "JOIN report r ON r.id = e.report_id JOIN unit u ON u.id = e.unit_id "
            "WHERE r.status = 'confirmed' AND e.count > 0"
        )
    ).all()
    own: dict[tuple[int, date], int] = {}
    subtree: dict[tuple[int, date], int] = {}
    for unit_id, count, period_end, path in rows:
        period_end = period_end if isinstance(period_end, date) else date.fromisoformat(str(period_end))
        end = _end_of_probation(period_end)
        own[(unit_id, end)] = own.get((unit_id, end), 0) + count
        for part in str(path).strip("/").split("/"):
            if part:
                subtree[(int(part), end)] = subtree.get((int(part), end), 0) + count
    for table, values in (("probationledger", own), ("probationrollup", subtree)):
        if values:
            bind.execute(
                sa.text(
                    f"INSERT INTO {table} (unit_id, end_date, ending, recognized) VALUES (:u, :d, :n, 0)"
                ),
                [{"u": u, "d": d, "n": n} for (u, d), n in values.items()],
            )


def downgrade() -> None:
    op.drop_table("unitchange")
    op.drop_table("probationrollup")
    op.drop_table("probationledger")
    op.drop_table("recognitionentry")
    op.drop_table("workflowrollup")
    op.drop_index("ix_unitperiod_review", "unitperiod")
    op.drop_table("unitperiod")
    op.drop_table("workflowsetting")
    with op.batch_alter_table("admissionentry") as batch:
        batch.drop_column("ceremony_date")
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("valid_from")
