"""The tree as it was on a day: which units a committee had then, and their figures as they stood.

Merging and moving (storage.units) rewrite the tree and carry each subtree's rollups to the new
place, so figures of 2023 count under today's units. Each change is kept in `UnitChange` (the
old→new crosswalk). Looking at a day before a change (the 2020–2025 term seen from 2023, after the
2025 reorganisation), the units of that day are shown again, with the figures they had: a subtree
"as it was" is its rollup plus the pieces that left it since, minus the pieces that joined it since.
Without changes after the day (the usual case) this costs one small query.
"""

from dataclasses import asdict
from datetime import date

from sqlmodel import Session, col, select

from storage.models import Unit, UnitChange
from storage.rollups import Totals, sum_totals_by_unit
from storage.units import active_on, ancestor_ids, children


def changes_after(session: Session, day: date) -> list[UnitChange]:
    return list(
        session.exec(
            select(UnitChange).where(UnitChange.on > day).order_by(col(UnitChange.on), col(UnitChange.id))
        )
    )


class _History:
    def __init__(self, session: Session, day: date, changes: list[UnitChange]) -> None:
        self.session, self.day = session, day
        self.first_change: dict[int, UnitChange] = {}
        for change in changes:  # ordered: the earliest change of each unit after the day
            self.first_change.setdefault(change.unit_id, change)
        self.moved = set(self.first_change)

    def unit(self, unit_id: int) -> Unit:
        found = self.session.get(Unit, unit_id)
        assert found is not None
        return found

    def parent_then(self, unit: Unit) -> int | None:
        change = self.first_change.get(unit.id or 0)
        return change.old_parent_id if change is not None else unit.parent_id

    def ancestors_then(self, unit_id: int) -> set[int]:
        out: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in out:
            out.add(current)
            current = self.parent_then(self.unit(current))
        return out

    def parts(self, unit_id: int) -> dict[int, int]:
        """The subtree of `unit_id` on the day, as signed rollups of today's subtrees."""
        parts = {unit_id: 1}
        for moved in self.moved:
            now = set(ancestor_ids(self.unit(moved)))
            sign = int(unit_id in self.ancestors_then(moved)) - int(unit_id in now)
            if not sign:
                continue
            # The moved piece: its subtree today, less the moved subtrees inside it (counted on their own).
            parts[moved] = parts.get(moved, 0) + sign
            for inner in self.moved:
                if inner != moved and self._nearest_moved_above(inner) == moved:
                    parts[inner] = parts.get(inner, 0) - sign
        return {uid: s for uid, s in parts.items() if s}

    def _nearest_moved_above(self, unit_id: int) -> int | None:
        for ancestor in reversed(ancestor_ids(self.unit(unit_id))[:-1]):
            if ancestor in self.moved:
                return ancestor
        return None


def sum_totals_at(
    session: Session, unit_ids: list[int], first_month: date | None, last_month: date | None, day: date
) -> dict[int, Totals]:
    """`sum_totals_by_unit` for each unit's subtree as it was on `day`."""
    changes = changes_after(session, day)
    if not changes:
        found = sum_totals_by_unit(session, unit_ids, first_month, last_month)
        return {uid: found.get(uid, Totals()) for uid in unit_ids}
    history = _History(session, day, changes)
    parts = {uid: history.parts(uid) for uid in unit_ids}
    needed = sorted({pid for p in parts.values() for pid in p})
    sums = sum_totals_by_unit(session, needed, first_month, last_month)
    out: dict[int, Totals] = {}
    for uid, signed in parts.items():
        total = {name: 0 for name in asdict(Totals())}
        for pid, sign in signed.items():
            for name, value in asdict(sums.get(pid, Totals())).items():
                total[name] += sign * value
        out[uid] = Totals(**total)
    return out


def signed_parts(session: Session, unit_ids: list[int], day: date) -> dict[int, dict[int, int]] | None:
    """Each unit's subtree on `day` as signed subtrees of today (+1 added, -1 taken off); None when
    the tree has not changed since (each subtree is then itself). For rollups other than the figures'."""
    changes = changes_after(session, day)
    if not changes:
        return None
    history = _History(session, day, changes)
    return {uid: history.parts(uid) for uid in unit_ids}


def children_at(session: Session, unit: Unit, day: date) -> list[Unit]:
    """The units directly under `unit` on `day` (merged ones included while they still existed)."""
    changes = changes_after(session, day)
    current = children(session, unit)
    if not changes:
        return [u for u in current if active_on(u, day)]
    history = _History(session, day, changes)
    candidates = {u.id: u for u in current}
    for change in history.first_change.values():
        if change.old_parent_id == unit.id:
            candidates.setdefault(change.unit_id, history.unit(change.unit_id))
    found = [u for u in candidates.values() if history.parent_then(u) == unit.id and active_on(u, day)]
    return sorted(found, key=lambda u: u.name)


# --- a unit's history, for `tiendo units history` -----------------------------------------------


def path_on(session: Session, unit: Unit, day: date) -> list[Unit]:
    """The unit and the units above it as they were on `day`, root first."""
    history = _History(session, day, changes_after(session, day))
    out: list[Unit] = []
    current: Unit | None = unit
    seen: set[int] = set()
    while current is not None and (current.id or 0) not in seen:
        seen.add(current.id or 0)
        out.append(current)
        parent = history.parent_then(current)
        current = session.get(Unit, parent) if parent is not None else None
    return list(reversed(out))


def changes_of(session: Session, unit: Unit) -> list[UnitChange]:
    """What happened to the unit (moved, merged away) and to others because of it (merged into it)."""
    return list(
        session.exec(
            select(UnitChange)
            .where((UnitChange.unit_id == unit.id) | (UnitChange.into_id == unit.id))
            .order_by(col(UnitChange.on), col(UnitChange.id))
        )
    )


def predecessors(session: Session, unit: Unit) -> list[Unit]:
    """Units merged into this one, and those merged into them, earliest first."""
    out: list[Unit] = []
    queue = [unit.id]
    while queue:
        current = queue.pop(0)
        rows = session.exec(
            select(Unit)
            .join(UnitChange, col(UnitChange.unit_id) == Unit.id)
            .where(UnitChange.kind == "merge", UnitChange.into_id == current)
            .order_by(col(UnitChange.on), col(Unit.name))
        ).all()
        for merged in rows:
            if merged not in out:
                out.append(merged)
                queue.append(merged.id)
    return out
