"""Breakdowns a tree adds to the five: their definitions, the figures of each admission, the rollups.

The five shares of new members stay columns (`storage.breakdowns.BREAKDOWN_FIELDS`). A unit may
define more ("dưới 30 tuổi", "sinh viên", "công nhân"): its own units and every unit below inherit
them, as they inherit the workflow's settings. A report's figures for them are rows of
`AdmissionBreakdown` (one per breakdown given), summed per subtree and month into `BreakdownRollup`
(`value` among the `known` new members whose reports gave it) in the report's own transaction,
taken out again when it is withdrawn or corrected, carried along when a unit moves or merges.
A breakdown removed from a tree keeps its stored figures: added again, they show again.
"""

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage import audit
from storage.breakdowns import KEY_PATTERN, RESERVED_KEYS, Breakdown
from storage.clock import utcnow
from storage.errors import InvalidInput, NotFound
from storage.models import AdmissionBreakdown, AdmissionEntry, BreakdownDefinition, BreakdownRollup, Unit
from storage.tree_history import signed_parts
from storage.units import ancestor_ids

MAX_PER_TREE = 20  # the exports' width: each one is a column or two
MAX_WORDS, MAX_WORD = 30, 80
MAX_LABEL, MAX_QUESTION = 100, 255
_CACHE = "extra_breakdowns"


# --- definitions ------------------------------------------------------------------------------


def _breakdown(row: BreakdownDefinition) -> Breakdown:
    return Breakdown(
        key=row.key,
        label=row.label,
        words=tuple(w for w in row.words.split("\n") if w),
        question=row.question,
        position=row.position,
        share=row.share,
    )


def definitions_for(session: Session, unit: Unit) -> tuple[Breakdown, ...]:
    """The breakdowns the unit's tree adds (its own and those of every unit above it), in order."""
    # Read once per transaction: a message asks for them when it is read, asked about and stored.
    cached: dict[str, tuple[Breakdown, ...]] = session.info.setdefault(_CACHE, {})
    if unit.path in cached:
        return cached[unit.path]
    rows = session.exec(
        select(BreakdownDefinition).where(col(BreakdownDefinition.unit_id).in_(ancestor_ids(unit)))
    ).all()
    found = tuple(_breakdown(r) for r in sorted(rows, key=lambda r: (r.position, r.key)))
    cached[unit.path] = found
    return found


def listed(session: Session, unit: Unit | None = None) -> list[tuple[BreakdownDefinition, Unit]]:
    """The definitions in force for `unit` (None: every definition of every tree), with where each is
    defined."""
    query = select(BreakdownDefinition, Unit).join(Unit, col(Unit.id) == BreakdownDefinition.unit_id)
    if unit is not None:
        query = query.where(col(BreakdownDefinition.unit_id).in_(ancestor_ids(unit)))
    rows = session.exec(query).all()
    return sorted(rows, key=lambda pair: (pair[1].path, pair[0].position, pair[0].key))


def split_words(text: str | Sequence[str]) -> tuple[str, ...]:
    """Phrases as typed in one field ("dưới 30 tuổi; duoi 30") or given one by one."""
    parts = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for part in parts:
        for piece in part.replace(";", "\n").replace(",", "\n").split("\n"):
            phrase = " ".join(piece.split())
            if phrase and phrase not in out:
                out.append(phrase)
    return tuple(out)


def _fold(text: str) -> str:
    """Lowercase without diacritics, for telling two phrases apart (the parser folds the same way)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def _related(session: Session, unit: Unit) -> list[tuple[BreakdownDefinition, Unit]]:
    """Definitions on the unit's path and in its subtree: a key and a phrase mean one thing there."""
    rows = session.exec(
        select(BreakdownDefinition, Unit)
        .join(Unit, col(Unit.id) == BreakdownDefinition.unit_id)
        .where(
            or_(
                col(BreakdownDefinition.unit_id).in_(ancestor_ids(unit)), col(Unit.path).startswith(unit.path)
            )
        )
    ).all()
    return [(d, u) for d, u in rows]


def problems(
    session: Session,
    unit: Unit,
    *,
    key: str,
    label: str,
    words: Sequence[str],
    question: str,
    position: int | None = None,
) -> list[str]:
    """Why a definition cannot be added to `unit`'s tree, in Vietnamese; empty when it can."""
    found: list[str] = []
    if not KEY_PATTERN.match(key):
        found.append(
            f"khóa '{key}' không hợp lệ: chữ thường không dấu, chữ số, dấu gạch dưới, 2–40 ký tự, "
            "bắt đầu bằng chữ (ví dụ under_30)"
        )
    elif key in RESERVED_KEYS:
        found.append(f"khóa '{key}' trùng tên một mục có sẵn; chọn tên khác")
    if not label.strip():
        found.append("thiếu tên nhóm (ví dụ 'dưới 30 tuổi')")
    elif len(label) > MAX_LABEL:
        found.append(f"tên nhóm dài quá {MAX_LABEL} ký tự")
    if not words:
        found.append("thiếu từ ngữ nhận biết (ví dụ 'dưới 30 tuổi; duoi 30')")
    elif len(words) > MAX_WORDS:
        found.append(f"quá {MAX_WORDS} cách viết")
    for word in words:
        if len(word) > MAX_WORD:
            found.append(f"cách viết '{word[:20]}…' dài quá {MAX_WORD} ký tự")
        elif not any(ch.isalpha() for ch in word):
            found.append(f"cách viết '{word}' cần có chữ")
    if len(question) > MAX_QUESTION:
        found.append(f"câu hỏi dài quá {MAX_QUESTION} ký tự")
    if position is not None and not 0 <= position <= 1000:
        found.append("thứ tự phải từ 0 đến 1000")
    mine = {_fold(w) for w in words}
    others = [(d, u) for d, u in _related(session, unit) if not (d.unit_id == unit.id and d.key == key)]
    for definition, where in others:
        if definition.key == key:
            found.append(f"khóa '{key}' đã có ở {where.name} ({where.code})")
        shared = sorted(mine & {_fold(w) for w in definition.words.split("\n") if w})
        if shared:
            found.append(
                f"cách viết '{shared[0]}' đã dùng cho nhóm '{definition.label}' ở {where.name}: "
                "một cách viết chỉ nói một nhóm"
            )
    path = {d.key for d, u in others if u.id in ancestor_ids(unit)} | {key}
    if len(path) > MAX_PER_TREE:
        found.append(f"một đơn vị có tối đa {MAX_PER_TREE} nhóm bổ sung")
    return found


def add(
    session: Session,
    unit: Unit,
    *,
    key: str,
    label: str,
    words: str | Sequence[str],
    question: str | None = None,
    position: int | None = None,
    share: bool = True,
    account_id: int | None = None,
    now: datetime | None = None,
) -> BreakdownDefinition:
    """Add a breakdown to `unit`'s tree, or change the one of the same key defined at `unit`."""
    key, label = key.strip(), " ".join(label.split())
    phrases = split_words(words)
    question = " ".join((question or label).split())
    found = problems(session, unit, key=key, label=label, words=phrases, question=question, position=position)
    if found:
        # The problems name what the definition gives (keys, words, units), not storage's own words.
        raise InvalidInput("storage.breakdown.not_added", problems="; ".join(found))
    now = now or utcnow()
    row = session.exec(
        select(BreakdownDefinition).where(
            BreakdownDefinition.unit_id == unit.id, BreakdownDefinition.key == key
        )
    ).first()
    if position is None:
        if row is not None:
            position = row.position
        else:
            taken = [b.position for b in definitions_for(session, unit)]
            position = max(taken, default=0) + 1
    if row is None:
        row = BreakdownDefinition(
            unit_id=unit.id or 0,
            key=key,
            label=label,
            words="",
            question=question,
            created_at=now,
            updated_at=now,
        )
    row.label, row.words, row.question = label, "\n".join(phrases), question
    row.position, row.share, row.updated_at = position, share, now
    session.add(row)
    session.flush()
    session.info.pop(_CACHE, None)
    audit.record(
        session, "breakdown.add", account_id=account_id, unit_id=unit.id, at=now, key=key, label=label
    )
    return row


def remove(session: Session, unit: Unit, key: str, *, account_id: int | None = None) -> None:
    """Stop asking and showing a breakdown in `unit`'s tree; the figures already stored are kept."""
    row = session.exec(
        select(BreakdownDefinition).where(
            BreakdownDefinition.unit_id == unit.id, BreakdownDefinition.key == key
        )
    ).first()
    if row is None:
        above = next((d for d, _ in listed(session, unit) if d.key == key), None)
        if above is not None:
            where = session.get(Unit, above.unit_id)
            name = where.name if where is not None else "cấp trên"
            raise InvalidInput("storage.breakdown.set_above", key=key, unit=name)
        raise NotFound("storage.breakdown.not_in_unit", key=key, unit=unit.name)
    session.delete(row)
    session.flush()
    session.info.pop(_CACHE, None)
    audit.record(session, "breakdown.remove", account_id=account_id, unit_id=unit.id, key=key)


# --- figures of a report ----------------------------------------------------------------------


def check_values(
    session: Session, unit: Unit, values: Iterable[tuple[str, int]], count: int | None
) -> dict[str, int]:
    """The figures as a dict, after checking them against the tree's breakdowns and the count."""
    out: dict[str, int] = {}
    given = list(values)
    if not given:
        return out  # the usual report: no query
    keys = {b.key: b for b in definitions_for(session, unit)}
    for key, value in given:
        if key not in keys:
            raise InvalidInput("storage.breakdown.unknown", key=key, unit=unit.name)
        if count is None:
            raise InvalidInput("storage.breakdown.needs_count")
        if not 0 <= value <= count:
            raise InvalidInput("storage.report.extra_above_count")
        out[key] = value
    return out


def store(session: Session, entry: AdmissionEntry, unit_ids: list[int], values: dict[str, int]) -> None:
    """The figures of an admission entry and the rollups of its unit and every unit above it."""
    if not values:
        return
    if entry.id is None:
        session.flush()  # the entry's id
    for key, value in values.items():
        session.add(AdmissionBreakdown(entry_id=entry.id or 0, key=key, value=value))
    apply(
        session, unit_ids=unit_ids, month=entry.month, deltas={k: (v, entry.count) for k, v in values.items()}
    )


def withdraw(session: Session, report_id: int, unit_ids: list[int]) -> None:
    """Take a withdrawn report's figures out of the rollups (its rows stay, as its entries do)."""
    rows = session.exec(
        select(
            col(AdmissionEntry.month),
            col(AdmissionEntry.count),
            col(AdmissionBreakdown.key),
            col(AdmissionBreakdown.value),
        )
        .join(AdmissionEntry, col(AdmissionEntry.id) == AdmissionBreakdown.entry_id)
        .where(AdmissionEntry.report_id == report_id)
    ).all()
    by_month: dict[date, dict[str, tuple[int, int]]] = {}
    for month, count, key, value in rows:
        by_month.setdefault(month, {})[key] = (-value, -count)
    for month, deltas in by_month.items():
        apply(session, unit_ids=unit_ids, month=month, deltas=deltas)


def values_of_reports(session: Session, report_ids: list[int]) -> dict[int, dict[str, int]]:
    """Report id -> the added breakdowns its admission gave."""
    out: dict[int, dict[str, int]] = {}
    if not report_ids:
        return out
    rows = session.exec(
        select(AdmissionEntry.report_id, AdmissionBreakdown.key, AdmissionBreakdown.value)
        .join(AdmissionEntry, col(AdmissionEntry.id) == AdmissionBreakdown.entry_id)
        .where(col(AdmissionEntry.report_id).in_(report_ids))
    ).all()
    for report_id, key, value in rows:
        out.setdefault(report_id, {})[key] = value
    return out


# --- rollups ----------------------------------------------------------------------------------


def apply(session: Session, *, unit_ids: list[int], month: date, deltas: dict[str, tuple[int, int]]) -> None:
    """Add (value, known) per key to the rollup of `month` for each unit (a unit and its ancestors)."""
    deltas = {k: d for k, d in deltas.items() if d != (0, 0)}
    if not deltas or not unit_ids:
        return
    rows = [
        {"unit_id": uid, "month": month, "key": key, "value": value, "known": known}
        for uid in unit_ids
        for key, (value, known) in sorted(deltas.items())
    ]
    table = BreakdownRollup.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "month", "key"],
        set_={name: table.c[name] + stmt.excluded[name] for name in ("value", "known")},
    )
    session.execute(stmt)


def move(session: Session, unit: Unit, old_ancestors: list[int], new_ancestors: list[int]) -> None:
    """A unit moved (or merged): its subtree's rollups leave the old ancestors for the new ones."""
    rows = session.exec(select(BreakdownRollup).where(BreakdownRollup.unit_id == unit.id)).all()
    by_month: dict[date, dict[str, tuple[int, int]]] = {}
    for row in rows:
        by_month.setdefault(row.month, {})[row.key] = (row.value, row.known)
    for month, deltas in by_month.items():
        apply(
            session,
            unit_ids=old_ancestors,
            month=month,
            deltas={k: (-v, -n) for k, (v, n) in deltas.items()},
        )
        apply(session, unit_ids=new_ancestors, month=month, deltas=deltas)


Sums = dict[str, tuple[int, int]]  # key -> (value, known)


def _sums(
    session: Session, unit_ids: list[int], first_month: date | None, last_month: date | None
) -> dict[int, Sums]:
    if not unit_ids:
        return {}
    query = select(
        BreakdownRollup.unit_id,
        BreakdownRollup.key,
        func.coalesce(func.sum(BreakdownRollup.value), 0),
        func.coalesce(func.sum(BreakdownRollup.known), 0),
    ).where(col(BreakdownRollup.unit_id).in_(unit_ids))
    if first_month is not None:
        query = query.where(BreakdownRollup.month >= first_month)
    if last_month is not None:
        query = query.where(BreakdownRollup.month <= last_month)
    query = query.group_by(col(BreakdownRollup.unit_id), col(BreakdownRollup.key))
    out: dict[int, Sums] = {}
    for unit_id, key, value, known in session.exec(query).all():
        out.setdefault(unit_id, {})[key] = (int(value), int(known))
    return out


def sums_at(
    session: Session, unit_ids: list[int], first_month: date | None, last_month: date | None, day: date
) -> dict[int, Sums]:
    """Each unit's subtree, as it was on `day`, summed over months [first_month, last_month]."""
    parts = signed_parts(session, unit_ids, day)
    if parts is None:
        found = _sums(session, unit_ids, first_month, last_month)
        return {uid: found.get(uid, {}) for uid in unit_ids}
    needed = sorted({pid for signed in parts.values() for pid in signed})
    sums = _sums(session, needed, first_month, last_month)
    out: dict[int, Sums] = {}
    for uid, signed in parts.items():
        total: dict[str, list[int]] = {}
        for pid, sign in signed.items():
            for key, (value, known) in sums.get(pid, {}).items():
                pair = total.setdefault(key, [0, 0])
                pair[0] += sign * value
                pair[1] += sign * known
        out[uid] = {k: (v, n) for k, (v, n) in total.items()}
    return out


@dataclass(frozen=True)
class BreakdownFigure:
    """An added breakdown of a subtree's new members: `value` among the `known` whose reports gave it."""

    breakdown: Breakdown
    value: int
    known: int

    @property
    def share(self) -> float | None:
        return self.value / self.known if self.known else None


def figures(breakdowns: Sequence[Breakdown], sums: Sums) -> list[BreakdownFigure]:
    return [BreakdownFigure(b, *sums.get(b.key, (0, 0))) for b in breakdowns]
