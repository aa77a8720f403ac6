"""subtree cell count: unit.cells, the number of cells (reporting units) in each unit's subtree

Revision ID: 0002_subtree_cell_count
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_subtree_cell_count"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The table as this revision sees it (not storage.models: that keeps changing after this revision).
unit = sa.table(
    "unit",
    sa.column("id", sa.Integer),
    sa.column("path", sa.String),
    sa.column("is_leaf", sa.Boolean),
    sa.column("merged_into_id", sa.Integer),
    sa.column("cells", sa.Integer),
)


def subtree_cells(rows: Sequence[tuple[int, str, bool, int | None]]) -> dict[int, int]:
    """Cells per subtree from (id, path, is_leaf, merged_into_id): a cell adds 1 to each id on its path."""
    counts = {row[0]: 0 for row in rows}
    for _, path, is_leaf, merged_into_id in rows:
        if is_leaf and merged_into_id is None:
            for part in path.strip("/").split("/"):
                if part and int(part) in counts:
                    counts[int(part)] += 1
    return counts


def upgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        # 1 = a new unit is a cell (is_leaf defaults to true); the backfill corrects the others
        batch_op.add_column(sa.Column("cells", sa.Integer(), server_default="1", nullable=False))
    bind = op.get_bind()
    # Counted in Python from the paths: one read of the table and an update of the units that are not
    # single cells (a correlated `path LIKE parent.path || '%'` cannot use an index: quadratic).
    rows = [
        (int(r[0]), str(r[1]), bool(r[2]), r[3])
        for r in bind.execute(sa.select(unit.c.id, unit.c.path, unit.c.is_leaf, unit.c.merged_into_id))
    ]
    changes = [{"uid": uid, "n": n} for uid, n in subtree_cells(rows).items() if n != 1]
    if changes:
        bind.execute(
            unit.update().where(unit.c.id == sa.bindparam("uid")).values(cells=sa.bindparam("n")), changes
        )


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("cells")
