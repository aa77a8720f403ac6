"""The unit tree: import, listing, subtree and ancestor look-ups."""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy
from sqlalchemy import and_, exists, or_, update
from sqlmodel import Session, col, select

from storage import audit, rollups
from storage.clock import utcnow
from storage.errors import InvalidInput, NotFound
from storage.models import Account, SubtreeMonthRollup, Unit, UnitChange

CSV_COLUMNS = ("code", "name", "parent_code", "level")
# The columns' lengths (models.Unit): checked here, so that SQLite (which would keep a longer value)
# and PostgreSQL (which would refuse it with an error) both answer with the same clear message.
MAX_CODE, MAX_NAME, MAX_LEVEL = 64, 255, 100


def field_problem(code: str, name: str, level: str) -> str | None:
    """Why a unit's code, name or level cannot be stored, in Vietnamese; None when they can."""
    if not code:
        return "thiếu mã đơn vị (code)."
    if len(code) > MAX_CODE or any(ch.isspace() for ch in code):
        shown = code if len(code) <= MAX_CODE else code[:MAX_CODE] + "…"
        return f"mã đơn vị '{shown}' không hợp lệ (không dấu cách, tối đa {MAX_CODE} ký tự)."
    if not name:
        return "thiếu tên đơn vị (name)."
    if len(name) > MAX_NAME:
        return f"tên đơn vị dài {len(name)} ký tự, tối đa {MAX_NAME} ký tự: '{name[:40]}…'."
    if not level:
        return "thiếu cấp (level), ví dụ 'Chi bộ'."
    if len(level) > MAX_LEVEL:
        return f"tên cấp dài {len(level)} ký tự, tối đa {MAX_LEVEL} ký tự."
    return None


@dataclass(frozen=True)
class UnitRow:
    line: int
    code: str
    name: str
    parent_code: str
    level: str


def read_units_csv(text: str) -> list[UnitRow]:
    """Parse and check a whole file; the first bad line raises InvalidInput naming it."""
    text = text.lstrip("\ufeff")  # Excel writes a BOM
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("storage.units.empty_file") from None
    if tuple(h.strip().lower() for h in header) != CSV_COLUMNS:
        raise InvalidInput("storage.units.bad_header", header=",".join(header))
    rows: list[UnitRow] = []
    seen: set[str] = set()
    for record in reader:
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) != 4:
            raise InvalidInput("storage.units.columns", line=str(line), count=len(record))
        code, name, parent_code, level = (field.strip() for field in record)
        problem = field_problem(code, name, level)
        if problem is not None:
            raise InvalidInput("storage.units.line_problem", line=str(line), problem=problem)
        if code in seen:
            raise InvalidInput("storage.units.duplicate", line=str(line), code=code)
        if parent_code == code:
            raise InvalidInput("storage.units.own_parent", line=str(line), code=code)
        seen.add(code)
        rows.append(UnitRow(line, code, name, parent_code, level))
    if not rows:
        raise InvalidInput("storage.units.no_units")
    return rows


def check_units(session: Session, rows: list[UnitRow]) -> list[tuple[int, str]]:
    """Every problem of an import against the tree as stored: (line, message), all of them."""
    existing = {u.code: u for u in session.exec(select(Unit)).all()}
    by_id = {u.id: u.code for u in existing.values()}
    in_file = {row.code: row for row in rows}
    problems: list[tuple[int, str]] = []
    for row in rows:
        if row.parent_code and row.parent_code not in in_file and row.parent_code not in existing:
            problems.append((row.line, f"không tìm thấy đơn vị cấp trên '{row.parent_code}'."))
        current = existing.get(row.code)
        if current is not None:
            parent_now = by_id.get(current.parent_id, "") if current.parent_id else ""
            if parent_now != row.parent_code:
                # Re-parenting changes descendants' paths and the rollups above: a separate command.
                problems.append(
                    (
                        row.line,
                        f"đơn vị '{row.code}' đã có, thuộc '{parent_now or '(gốc)'}'; "
                        "nhập tệp không chuyển đơn vị sang cấp trên khác (dùng tiendo units move).",
                    )
                )
    if problems:
        return problems
    placed: set[str] = {code for code in existing if code not in in_file}
    pending = list(rows)
    while pending:
        progress = [r for r in pending if not r.parent_code or r.parent_code in placed]
        if not progress:
            return [(r.line, f"quan hệ cấp trên tạo thành vòng lặp ('{r.code}').") for r in pending]
        placed.update(r.code for r in progress)
        pending = [r for r in pending if r.code not in placed]
    return []


def import_units(session: Session, rows: list[UnitRow]) -> tuple[int, int]:
    """Create or update units (by code). Parents may come later in the file or already exist.

    Returns (created, updated). Raises InvalidInput naming every bad line (unknown parent, a move,
    a cycle); the caller's transaction then rolls back, so nothing is imported.
    """
    problems = check_units(session, rows)
    if problems:
        raise InvalidInput(
            "storage.units.problems", lines="\n".join(f"Dòng {line}: {message}" for line, message in problems)
        )
    existing = {u.code: u for u in session.exec(select(Unit)).all()}
    in_file = {row.code: row for row in rows}
    # Order parents before children (check_units found no cycle).
    placed: set[str] = {code for code in existing if code not in in_file}
    ordered: list[UnitRow] = []
    pending = list(rows)
    while pending:
        progress = [r for r in pending if not r.parent_code or r.parent_code in placed]
        for row in progress:
            placed.add(row.code)
            ordered.append(row)
        pending = [r for r in pending if r.code not in placed]

    created = updated = 0
    now = utcnow()
    for row in ordered:
        parent = existing.get(row.parent_code) if row.parent_code else None
        unit = existing.get(row.code)
        if unit is None:
            unit = Unit(code=row.code, name=row.name, level=row.level, parent_id=None, created_at=now)
            created += 1
        else:
            updated += 1
        unit.name, unit.level = row.name, row.level
        unit.parent_id = parent.id if parent else None
        session.add(unit)
        session.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        existing[row.code] = unit
    session.flush()
    refresh_leaves(session)
    # Many units at once: one count of the whole tree is simpler than adding each one up its path.
    recount_cells(session)
    return created, updated


def create_unit(
    session: Session,
    *,
    code: str,
    name: str,
    level: str,
    parent: Unit | None,
    now: datetime | None = None,
    valid_from: date | None = None,
) -> Unit:
    problem = field_problem(code, name, level)
    if problem is not None:
        raise InvalidInput("storage.units.field_problem", problem=problem[0].upper() + problem[1:])
    unit = Unit(
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        created_at=now or utcnow(),
        valid_from=valid_from,
    )
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    unit.cells = 1  # a new unit is a cell
    session.add(unit)
    if parent is not None:
        # The new cell counts in every subtree above it; a parent that was a cell no longer is one.
        was_cell = parent.is_leaf and parent.merged_into_id is None
        if parent.is_leaf:
            parent.is_leaf = False
            session.add(parent)
        session.flush()
        _add_cells(session, {uid: 1 - was_cell for uid in ancestor_ids(parent)})
    session.flush()
    return unit


def refresh_leaves(session: Session) -> None:
    """Recompute which units are cells (no active sub-units), after the tree changed.

    Only the units that changed are written; each one that became or stopped being a cell adds or
    takes 1 from the cell count of every subtree it is in, so `Unit.cells` stays right.
    """
    session.flush()
    child = Unit.__table__.alias("child")  # type: ignore[attr-defined]  # set by SQLModel, not declared
    has_children = exists().where(child.c.parent_id == Unit.id, child.c.merged_into_id.is_(None))
    flipped = session.execute(
        select(Unit.id, Unit.path, Unit.is_leaf, Unit.merged_into_id).where(
            or_(and_(col(Unit.is_leaf), has_children), and_(~col(Unit.is_leaf), ~has_children))
        )
    ).all()
    deltas: dict[int, int] = {}
    for _, path, was_leaf, merged_into_id in flipped:
        if merged_into_id is None:  # a merged unit is no cell either way
            for ancestor in _path_ids(path):
                deltas[ancestor] = deltas.get(ancestor, 0) + (-1 if was_leaf else 1)
    for now_leaf in (True, False):
        ids = [row[0] for row in flipped if bool(row[2]) != now_leaf]
        for chunk in _chunks(ids):
            session.execute(update(Unit).where(col(Unit.id).in_(chunk)).values(is_leaf=now_leaf))
    _add_cells(session, deltas)
    session.flush()
    session.expire_all()


def recount_cells(session: Session) -> None:
    """Count the cells of every subtree afresh (after an import; or to repair) and store what differs."""
    session.flush()
    # SQLAlchemy's select: sqlmodel's is typed for up to four columns.
    rows = session.execute(
        sqlalchemy.select(
            col(Unit.id), col(Unit.path), col(Unit.is_leaf), col(Unit.merged_into_id), col(Unit.cells)
        )
    ).all()
    counts = {row[0]: 0 for row in rows}
    for _, path, is_leaf, merged_into_id, _ in rows:
        if is_leaf and merged_into_id is None:
            for ancestor in _path_ids(path):
                if ancestor in counts:
                    counts[ancestor] += 1
    by_value: dict[int, list[int]] = {}
    for uid, *_, stored in rows:
        if counts[uid] != stored:
            by_value.setdefault(counts[uid], []).append(uid)
    for value, ids in by_value.items():
        for chunk in _chunks(ids):
            session.execute(update(Unit).where(col(Unit.id).in_(chunk)).values(cells=value))
    session.flush()
    session.expire_all()


def _add_cells(session: Session, deltas: dict[int, int]) -> None:
    """Add to `Unit.cells` per unit id: one UPDATE per distinct delta (usually one or two)."""
    by_delta: dict[int, list[int]] = {}
    for uid, delta in deltas.items():
        if delta:
            by_delta.setdefault(delta, []).append(uid)
    for delta, ids in by_delta.items():
        for chunk in _chunks(ids):
            session.execute(update(Unit).where(col(Unit.id).in_(chunk)).values(cells=col(Unit.cells) + delta))


def _chunks(ids: list[int], size: int = 1000) -> Iterable[list[int]]:
    # bound parameters per statement are limited (SQLite 32,766; PostgreSQL 65,535)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def get_by_code(session: Session, code: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound("storage.units.not_found", code=code)
    return unit


def ancestor_ids(unit: Unit) -> list[int]:
    """The unit and every unit above it, root first."""
    return _path_ids(unit.path)


def is_within(unit: Unit, scope: Unit) -> bool:
    return unit.path.startswith(scope.path)


def subtree(session: Session, unit: Unit) -> list[Unit]:
    return list(
        session.exec(select(Unit).where(col(Unit.path).startswith(unit.path)).order_by(Unit.path)).all()
    )


def children(session: Session, unit: Unit) -> list[Unit]:
    return list(session.exec(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.name)).all())


def all_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(Unit.path)).all())


def depth(unit: Unit) -> int:
    return len(ancestor_ids(unit)) - 1


def active_on(unit: Unit, day: date) -> bool:
    """The unit existed on `day`: formed by then (valid_from) and not yet merged away."""
    return (unit.valid_from is None or unit.valid_from <= day) and (
        unit.merged_on is None or unit.merged_on > day
    )


def active_children(session: Session, unit: Unit) -> list[Unit]:
    """Children still in use: merged units are left out (their figures count in the unit they joined)."""
    return [u for u in children(session, unit) if u.merged_into_id is None]


def move_unit(
    session: Session,
    unit: Unit,
    new_parent: Unit,
    *,
    account_id: int | None = None,
    on: date | None = None,
    into: Unit | None = None,
) -> None:
    """Put a unit (and its subtree) under another parent, carrying its whole history along.

    The unit's rollups and its cell count are taken off its old ancestors and added to the new ones
    in this transaction, and the paths of the subtree are rewritten; reports and targets keep their unit.
    The change is kept in `UnitChange` (the old→new crosswalk), dated `on` (default today).
    """
    from storage import extra_breakdowns, probation, workflow  # they import this module

    if new_parent.path.startswith(unit.path):
        raise InvalidInput("storage.units.move_into_own_subtree", code=unit.code)
    if unit.parent_id == new_parent.id:
        return
    old_ancestors = ancestor_ids(unit)[:-1]
    new_ancestors = ancestor_ids(new_parent)
    rows = session.exec(select(SubtreeMonthRollup).where(SubtreeMonthRollup.unit_id == unit.id)).all()
    for row in rows:
        delta = rollups.Totals(**{name: getattr(row, name) for name in rollups.TOTAL_FIELDS})
        rollups.apply(session, unit_ids=old_ancestors, month=row.month, delta=delta.scaled(-1))
        rollups.apply(session, unit_ids=new_ancestors, month=row.month, delta=delta)
    workflow.move(session, unit, old_ancestors, new_ancestors)
    probation.move(session, unit, old_ancestors, new_ancestors)
    extra_breakdowns.move(session, unit, old_ancestors, new_ancestors)
    moved = {uid: -unit.cells for uid in old_ancestors}
    for uid in new_ancestors:
        moved[uid] = moved.get(uid, 0) + unit.cells
    _add_cells(session, moved)  # the common ancestors keep theirs (delta 0: not written)
    old_prefix, new_prefix = unit.path, f"{new_parent.path}{unit.id}/"
    for member in subtree(session, unit):
        member.path = new_prefix + member.path[len(old_prefix) :]
        session.add(member)
    old_parent_id = unit.parent_id
    unit.parent_id = new_parent.id
    session.add(unit)
    session.add(
        UnitChange(
            unit_id=unit.id or 0,
            kind="move" if into is None else "merge",
            on=on or utcnow().date(),
            old_parent_id=old_parent_id,
            new_parent_id=new_parent.id,
            into_id=into.id if into is not None else None,
            at=utcnow(),
        )
    )
    refresh_leaves(session)
    audit.record(
        session,
        "unit.move",
        account_id=account_id,
        unit_id=unit.id,
        old_parent=old_parent_id,
        new_parent=new_parent.id,
    )
    session.flush()


def merge_unit(session: Session, unit: Unit, into: Unit, *, on: date, account_id: int | None = None) -> None:
    """Merge `unit` into `into` (sáp nhập): its history counts under `into` from now on, for every period.

    The merged unit moves under `into` and is marked merged; its children and accounts pass to
    `into`. Reports and targets keep pointing at the merged unit, so nothing is rewritten and the
    audit trail stays readable.
    """
    if unit.id == into.id or into.path.startswith(unit.path):
        raise InvalidInput("storage.units.merge_into_own_subtree", code=unit.code)
    if unit.merged_into_id is not None:
        raise InvalidInput("storage.units.already_merged", code=unit.code)
    if into.merged_into_id is not None:
        raise InvalidInput("storage.units.into_merged", code=into.code)
    move_unit(session, unit, into, account_id=account_id, on=on, into=into)
    for child in children(session, unit):
        move_unit(session, child, into, account_id=account_id, on=on)
    for account in session.exec(select(Account).where(Account.unit_id == unit.id)).all():
        account.unit_id = into.id or 0
        session.add(account)
    if unit.is_leaf:  # without its children it was a cell (refresh_leaves counted it); merged, it is not
        _add_cells(session, {uid: -1 for uid in ancestor_ids(unit)})
    unit.merged_into_id, unit.merged_on = into.id, on
    session.add(unit)
    session.flush()
    refresh_leaves(session)
    audit.record(session, "unit.merge", account_id=account_id, unit_id=unit.id, into=into.id, on=on)
    session.flush()


def get_by_id(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("storage.units.not_found_id", unit_id=str(unit_id))
    return unit
