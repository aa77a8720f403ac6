"""Builders for a small tree: province > commune committee > two cells."""

from dataclasses import dataclass
from datetime import date

from storage import accounts, targets, units
from storage.db import Database
from storage.models import Metric, Role


@dataclass
class Tree:
    root: str = "HN"
    commune: str = "HN-X1"
    cell_a: str = "HN-X1-A"
    cell_b: str = "HN-X1-B"


def build_tree(database: Database, *, target: int | None = 24) -> Tree:
    tree = Tree()
    with database.session() as session:
        root = units.create_unit(
            session, code=tree.root, name="Đảng bộ tỉnh Hà Nam", level="Tỉnh ủy", parent=None
        )
        commune = units.create_unit(
            session, code=tree.commune, name="Đảng bộ xã Kiện Khê", level="Đảng bộ xã", parent=root
        )
        units.create_unit(
            session, code=tree.cell_a, name="Chi bộ thôn An Hòa", level="Chi bộ", parent=commune
        )
        units.create_unit(
            session, code=tree.cell_b, name="Chi bộ thôn Bình Minh", level="Chi bộ", parent=commune
        )
        if target is not None:
            targets.set_target(
                session,
                unit=commune,
                metric=Metric.admissions,
                start=date(2023, 1, 1),
                end=date(2023, 12, 31),
                value=target,
                source="Kế hoạch năm 2023",
            )
    return tree


def invite(database: Database, unit_code: str, role: Role, days: int = 7) -> str:
    with database.session() as session:
        return accounts.create_invite(
            session, unit=units.get_by_code(session, unit_code), role=role, days=days
        )
