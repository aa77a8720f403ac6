"""Demo data built from the 2023 newspaper report on Thanh Liêm district (../shared/seed/).

The article gives district totals; the cells and months below are an illustrative split of those
totals. Every figure goes in as a confirmed report through storage.reports.confirm_report, the
same path as a secretary's report, and comes out through the ordinary aggregation.

From the article (as of 31/10/2023):
- term 2020–2025 target 600 admissions (Nghị quyết Đại hội), 650 assigned by the province;
- 539 admitted from 07/2020 to 10/2023; among them Youth Union > 46%, women > 72%,
  religious 4,5%, upper secondary or above 96%;
- 18 awareness classes for 921 candidates (6 classes in 2023, one of them for 36 THPT pupils);
- 406 candidates trained and not yet admitted; 7.025 members in total;
- Kiện Khê town: 36 admitted in the term, 9 of them Catholic; 2023 plan of 12 met; 16 sent to class;
- from 11/2023 to 06/2025: 170–200 admissions.

The committee's own workflow, illustrative too, through the same code paths as real use: the district
closes a month 10 days after its deadline (the 5th) and, from October 2023, requires the communes to
approve their cells' reports; each report was sent in the first days of the next month (a few after
the deadline: late); of October's reports, one was returned with a note, some approved, some not yet
looked at. Admissions carry a ceremony date; cells reported
the recognition of their members after the 12 months' probation, except a few (overdue, one of them
by more than three months). On 01/07/2025 Thanh Hà, Thanh Phong and Thanh Tâm merge into the new
commune of Thanh Liêm (as the 2025 reorganisation did; the names are illustrative), which gets a
2025–2030 target: the view of 2023 still shows the units of 2023.

A breakdown of new members beyond the five, illustrative too: Tân Thanh town also counts its new
members under 30 ("dưới 30 tuổi"), added to its tree with `storage.extra_breakdowns` (as `tiendo
breakdowns add` does) and given in each of its reports; the district's figures do not change.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from handlers import review
from storage import accounts, extra_breakdowns, figures, probation, reports, targets, units, workflow
from storage.clock import month_end, next_month
from storage.models import Account, FigureKind, Metric, ProbationLedger, Role, Unit, UnitPeriod

ROOT = "TL"
KIEN_KHE = "TL-KK"
TERM_START, TERM_END = date(2020, 7, 1), date(2025, 6, 30)
LAST_MONTH = date(2023, 10, 1)
# "Today" in the demo: the day after the article's figures.
DEMO_TODAY = date(2023, 11, 1)

ADMITTED = 539
FEMALE, YOUTH_UNION, RELIGIOUS, RELIGIOUS_KIEN_KHE = 389, 249, 24, 9
# Early reports did not give education; over the 525 that did, 504 had upper secondary or above.
EDUCATION_UNKNOWN, UPPER_SECONDARY = 14, 504
CLASSES, TRAINED = 18, 921
OPENING_POOL = 24  # so that 24 + 921 trained − 539 admitted = 406 in the pool at 31/10/2023
MEMBERS_TOTAL = 7025

# code, name, level, term admissions, cells
COMMITTEES: list[tuple[str, str, str, int, int]] = [
    (KIEN_KHE, "Đảng bộ thị trấn Kiện Khê", "Đảng bộ thị trấn", 36, 4),
    ("TL-TT", "Đảng bộ thị trấn Tân Thanh", "Đảng bộ thị trấn", 45, 4),
    ("TL-LP", "Đảng bộ xã Liêm Phong", "Đảng bộ xã", 33, 3),
    ("TL-LC", "Đảng bộ xã Liêm Cần", "Đảng bộ xã", 35, 3),
    ("TL-LT", "Đảng bộ xã Liêm Thuận", "Đảng bộ xã", 34, 3),
    ("TL-LTU", "Đảng bộ xã Liêm Túc", "Đảng bộ xã", 30, 3),
    ("TL-LS", "Đảng bộ xã Liêm Sơn", "Đảng bộ xã", 41, 3),
    ("TL-TH", "Đảng bộ xã Thanh Hà", "Đảng bộ xã", 44, 3),
    ("TL-TP", "Đảng bộ xã Thanh Phong", "Đảng bộ xã", 28, 3),
    ("TL-TTH", "Đảng bộ xã Thanh Thủy", "Đảng bộ xã", 42, 3),
    ("TL-TN", "Đảng bộ xã Thanh Nghị", "Đảng bộ xã", 43, 3),
    ("TL-THA", "Đảng bộ xã Thanh Hải", "Đảng bộ xã", 36, 3),
    ("TL-TTA", "Đảng bộ xã Thanh Tâm", "Đảng bộ xã", 31, 3),
    ("TL-TNG", "Đảng bộ xã Thanh Nguyên", "Đảng bộ xã", 27, 3),
    ("TL-THPTA", "Chi bộ Trường THPT A Thanh Liêm", "Chi bộ cơ sở", 34, 0),
]
# Term targets of the grassroots committees (their congress resolutions); they add up to 600.
COMMITTEE_TARGETS = {
    KIEN_KHE: 40,
    "TL-TT": 44,
    "TL-LP": 38,
    "TL-LC": 38,
    "TL-LT": 38,
    "TL-LTU": 36,
    "TL-LS": 40,
    "TL-TH": 42,
    "TL-TP": 44,
    "TL-TTH": 40,
    "TL-TN": 40,
    "TL-THA": 40,
    "TL-TTA": 38,
    "TL-TNG": 42,
    "TL-THPTA": 30,
}
KIEN_KHE_2023, KIEN_KHE_SENT_2023 = 12, 16

DEADLINE_DAY, GRACE_DAYS = 5, 10
# The 2025 reorganisation (illustrative): three communes form the new commune of Thanh Liêm.
MERGED_2025 = ("TL-TH", "TL-TP", "TL-TTA")
NEW_COMMUNE, NEW_COMMUNE_NAME, REORGANISED_ON = "TL-XTL", "Đảng bộ xã Thanh Liêm", date(2025, 7, 1)
NEW_TERM_START, NEW_TERM_END, NEW_TERM_TARGET = date(2025, 7, 1), date(2030, 6, 30), 120
RETURN_NOTE = "Số liệu chưa khớp với sổ theo dõi của Đảng ủy; đề nghị chi bộ kiểm tra, báo cáo lại."
# Cells whose recent probations were not yet considered: overdue recognitions to chase.
UNRECOGNISED_CELLS = ("TL-LP-01", "TL-TN-02", "TL-LS-03")
# The town that also counts its new members under 30 (illustrative: about three in five are).
AGE_COMMITTEE, UNDER_30 = "TL-TT", "under_30"
UNDER_30_WORDS = ("dưới 30 tuổi", "dưới 30", "tuổi đời dưới 30", "chưa đến 30 tuổi")


@dataclass
class Entry:
    unit: Unit
    month: date
    people: list[dict[str, bool]] = field(default_factory=list)


def _months(start: date, last: date) -> list[date]:
    out, month = [], start
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


class DemoAlreadyLoaded(Exception):
    pass


def load(
    session: Session, now: datetime | None = None, say: Callable[[str], None] | None = None
) -> dict[str, str]:
    """Load the demo into an empty database; returns demo invite codes by purpose. `say` hears each step
    (`tiendo demo` prints them: loading takes a while on a small server)."""
    tell = say or (lambda _: None)
    if session.exec(select(Unit).where(Unit.code == ROOT)).first() is not None:
        raise DemoAlreadyLoaded("Cơ sở dữ liệu đã có dữ liệu mẫu (đơn vị TL).")
    tell("Tạo cây đơn vị: Đảng bộ huyện Thanh Liêm, các đảng bộ xã, thị trấn và chi bộ…")
    rng = random.Random(2023)
    # A second generator for the workflow's illustrative dates: the figures' split stays as it was.
    timing = random.Random(2025)
    root = units.create_unit(
        session, code=ROOT, name="Đảng bộ huyện Thanh Liêm", level="Đảng bộ huyện", parent=None
    )
    workflow.set_setting(session, root, deadline_day=DEADLINE_DAY, grace_days=GRACE_DAYS)
    cells: dict[str, list[Unit]] = {}
    committees: dict[str, Unit] = {}
    for code, name, level, _, n_cells in COMMITTEES:
        committee = units.create_unit(session, code=code, name=name, level=level, parent=root)
        committees[code] = committee
        kind = "tổ dân phố" if level == "Đảng bộ thị trấn" else "thôn"
        place = name.removeprefix(level + " ")
        cells[code] = [
            units.create_unit(
                session,
                code=f"{code}-{i:02d}",
                name=f"Chi bộ {kind} {i} {place}",
                level="Chi bộ",
                parent=committee,
            )
            for i in range(1, n_cells + 1)
        ] or [committee]

    n_cells = sum(len(group) for group in cells.values())
    tell(f"  {len(committees)} đảng bộ xã, thị trấn; {n_cells} chi bộ (mã TL, TL-KK, TL-KK-01…)")
    tell(f"Đặt chỉ tiêu nhiệm kỳ {TERM_START:%m/%Y}–{TERM_END:%m/%Y} của huyện và các xã, thị trấn…")
    _targets(session, root, committees)
    tell("Thêm cách phân loại riêng của một đảng bộ (dưới 30 tuổi, thị trấn Tân Thanh)…")
    extra_breakdowns.add(
        session,
        committees[AGE_COMMITTEE],
        key=UNDER_30,
        label="dưới 30 tuổi",
        words=UNDER_30_WORDS,
        question="dưới 30 tuổi",
        now=_created(),
    )
    tell(
        f"Ghi báo cáo kết nạp {ADMITTED} đảng viên mới, {TERM_START:%m/%Y}–{LAST_MONTH:%m/%Y}, "
        "như bí thư chi bộ gửi…"
    )
    entries = _admission_entries(rng, cells)
    _assign_people(rng, entries)
    _assign_ages(random.Random(30), entries)  # its own generator: the article's split stays as it was
    authors = _authors(session, [u for group in cells.values() for u in group] + [root])
    for entry in entries:
        if entry.month < LAST_MONTH:
            _store_admission(session, entry, authors[entry.unit.id or 0], timing)
    tell(f"Ghi {CLASSES} lớp bồi dưỡng nhận thức về Đảng ({TRAINED} quần chúng)…")
    _classes(session, rng, root, cells, authors, timing)
    tell("Ghi công nhận đảng viên chính thức sau 12 tháng dự bị…")
    _recognitions(session, [u for group in cells.values() for u in group], authors, timing)
    # From October 2023 the district requires its communes to approve the cells' reports.
    workflow.set_setting(session, root, approval=True)
    for entry in entries:
        if entry.month >= LAST_MONTH:
            _store_admission(session, entry, authors[entry.unit.id or 0], timing)
    tell(f"Duyệt, trả lại báo cáo tháng {LAST_MONTH:%m/%Y} của các chi bộ…")
    _reviews(session, root, committees, timing)
    figures.set_figure(
        session,
        unit=root,
        kind=FigureKind.candidate_pool,
        as_of=date(2020, 6, 30),
        value=OPENING_POOL,
        source="Số liệu đầu nhiệm kỳ",
    )
    figures.set_figure(
        session,
        unit=root,
        kind=FigureKind.members_total,
        as_of=date(2023, 10, 31),
        value=MEMBERS_TOTAL,
        source="Báo Hà Nam, 2023",
    )
    tell(f"Tổng số đảng viên của huyện; sáp nhập thành {NEW_COMMUNE_NAME} ngày {REORGANISED_ON:%d/%m/%Y}…")
    _reorganise(session, root, committees)
    session.flush()
    return {
        "secretary": accounts.create_invite(session, unit=cells[KIEN_KHE][0], role=Role.secretary, days=30),
        "staff": accounts.create_invite(session, unit=committees[KIEN_KHE], role=Role.staff, days=30),
    }


def _created() -> datetime:
    return datetime(2023, 10, 31, 10, 0).astimezone()


def _sent(month: date, timing: random.Random) -> datetime:
    """When a month's report was sent: in the first days of the next month (a few after the 5th);
    October 2023's by the demo's day."""
    if month >= LAST_MONTH:
        return datetime(2023, 10, 31, 16, 0, tzinfo=workflow.LOCAL_ZONE)
    day = timing.choice((1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 7, 9))
    return datetime.combine(
        next_month(month).replace(day=day), datetime.min.time(), workflow.LOCAL_ZONE
    ).replace(hour=timing.randint(7, 17))


def _targets(session: Session, root: Unit, committees: dict[str, Unit]) -> None:
    targets.set_target(
        session,
        unit=root,
        metric=Metric.admissions,
        start=TERM_START,
        end=TERM_END,
        value=600,
        source="Nghị quyết Đại hội",
    )
    targets.set_target(
        session,
        unit=root,
        metric=Metric.admissions,
        start=TERM_START,
        end=TERM_END,
        value=650,
        source="Tỉnh ủy giao",
    )
    targets.set_target(
        session,
        unit=root,
        metric=Metric.admissions,
        start=date(2023, 11, 1),
        end=TERM_END,
        value=170,
        max_value=200,
        source="Kế hoạch BTV Huyện ủy",
    )
    for code, value in COMMITTEE_TARGETS.items():
        targets.set_target(
            session,
            unit=committees[code],
            metric=Metric.admissions,
            start=TERM_START,
            end=TERM_END,
            value=value,
            source="Nghị quyết Đại hội",
        )
    # Yearly plans for 2023 (the article gives Kiện Khê's: 12); the others are illustrative.
    for code, _, _, total, _ in COMMITTEES:
        plan = KIEN_KHE_2023 if code == KIEN_KHE else max(2, round(total * 0.27))
        targets.set_target(
            session,
            unit=committees[code],
            metric=Metric.admissions,
            start=date(2023, 1, 1),
            end=date(2023, 12, 31),
            value=plan,
            source="Kế hoạch năm 2023",
        )


def _spread(rng: random.Random, total: int, months: list[date]) -> dict[date, int]:
    """Split `total` admissions over months, a few at a time, as cells really report."""
    counts: dict[date, int] = {}
    left = total
    while left:
        n = min(left, rng.choice((1, 1, 1, 2, 2, 3)))
        month = rng.choice(months)
        counts[month] = counts.get(month, 0) + n
        left -= n
    return counts


def _admission_entries(rng: random.Random, cells: dict[str, list[Unit]]) -> list[Entry]:
    term = _months(TERM_START, LAST_MONTH)
    before_2023 = _months(TERM_START, date(2022, 12, 1))
    in_2023 = _months(date(2023, 1, 1), LAST_MONTH)
    entries: list[Entry] = []
    for code, _, _, total, _ in COMMITTEES:
        group = cells[code]
        if code == KIEN_KHE:
            plan = [(before_2023, total - KIEN_KHE_2023), (in_2023, KIEN_KHE_2023)]
        elif code == "TL-THPTA":
            # Pupils admitted after the 2023 class for outstanding THPT pupils, and earlier teachers.
            plan = [(before_2023, total - 20), (in_2023, 20)]
        else:
            plan = [(term, total)]
        for months, count in plan:
            per_cell = [count // len(group) + (1 if i < count % len(group) else 0) for i in range(len(group))]
            for cell, n in zip(group, per_cell, strict=True):
                for month, k in sorted(_spread(rng, n, months).items()):
                    entries.append(Entry(cell, month, [{} for _ in range(k)]))
    assert sum(len(e.people) for e in entries) == ADMITTED
    return entries


def _assign_people(rng: random.Random, entries: list[Entry]) -> None:
    """Give the 539 new members the article's profile, entry by entry."""
    # Education unknown: the earliest entries until exactly 14 people (they gave no breakdown).
    unknown: set[int] = set()
    covered = 0
    for index, entry in sorted(enumerate(entries), key=lambda pair: (pair[1].month, pair[0])):
        if covered + len(entry.people) <= EDUCATION_UNKNOWN:
            unknown.add(index)
            covered += len(entry.people)
        if covered == EDUCATION_UNKNOWN:
            break
    assert covered == EDUCATION_UNKNOWN

    people = [(i, p) for i, entry in enumerate(entries) for p in entry.people]
    kien_khe = [pair for pair in people if entries[pair[0]].unit.code.startswith(KIEN_KHE)]
    others = [pair for pair in people if not entries[pair[0]].unit.code.startswith(KIEN_KHE)]
    for _, person in rng.sample(kien_khe, RELIGIOUS_KIEN_KHE) + rng.sample(
        others, RELIGIOUS - RELIGIOUS_KIEN_KHE
    ):
        person["religious"] = True
    for _, person in rng.sample(people, FEMALE):
        person["female"] = True
    for _, person in rng.sample(people, YOUTH_UNION):
        person["youth_union"] = True
    known = [pair for pair in people if pair[0] not in unknown]
    for _, person in rng.sample(known, UPPER_SECONDARY):
        person["upper_secondary_or_above"] = True
    for index in unknown:
        for person in entries[index].people:
            person["education_unknown"] = True


def _assign_ages(rng: random.Random, entries: list[Entry]) -> None:
    """Who is under 30 among the new members of the town that counts it."""
    for entry in entries:
        if entry.unit.code.startswith(AGE_COMMITTEE + "-"):
            for person in entry.people:
                person[UNDER_30] = rng.random() < 0.6


def _authors(session: Session, reporting_units: list[Unit]) -> dict[int, Account]:
    """One secretary account per reporting unit, on the "demo" channel (the reports' authors)."""
    authors = {}
    for unit in reporting_units:
        account = Account(
            channel="demo",
            channel_user_id=f"demo-{unit.code}",
            display_name=f"Bí thư {unit.name}",
            role=Role.secretary,
            unit_id=unit.id or 0,
            created_at=_created(),
        )
        session.add(account)
        authors[unit.id or 0] = account
    session.flush()
    return authors


def _store_admission(session: Session, entry: Entry, author: Account, timing: random.Random) -> None:
    people = entry.people
    count = len(people)

    def tally(key: str) -> int:
        return sum(1 for p in people if p.get(key))

    education_known = not people[0].get("education_unknown")
    ceremony = entry.month.replace(day=timing.randint(1, month_end(entry.month).day))
    admission = reports.AdmissionInput(
        count=count,
        female=tally("female"),
        youth_union=tally("youth_union"),
        religious=tally("religious"),
        upper_secondary_or_above=tally("upper_secondary_or_above") if education_known else None,
        ceremony_date=min(ceremony, date(2023, 10, 31)),
    )
    parts = [f"{admission.female} nữ", f"{admission.youth_union} đoàn viên"]
    if admission.religious:
        parts.append(f"{admission.religious} theo đạo Công giáo")
    if admission.upper_secondary_or_above is not None:
        parts.append(f"{admission.upper_secondary_or_above} trình độ THPT trở lên")
    added: tuple[tuple[str, int], ...] = ()
    if entry.unit.code.startswith(AGE_COMMITTEE + "-"):
        added = ((UNDER_30, tally(UNDER_30)),)
        parts.append(f"{tally(UNDER_30)} dưới 30 tuổi")
    when = f"Tháng {entry.month.month}/{entry.month.year}"
    text = f"{when} chi bộ kết nạp {count} đảng viên, trong đó {', '.join(parts)}"
    reports.confirm_report(
        session,
        reports.ReportInput(
            unit=entry.unit,
            channel="demo",
            raw_text=text,
            period_start=entry.month,
            period_end=month_end(entry.month),
            account_id=author.id,
            admission=admission,
            extra_breakdowns=added,
        ),
        now=_sent(entry.month, timing),
    )


def _classes(
    session: Session,
    rng: random.Random,
    root: Unit,
    cells: dict[str, list[Unit]],
    authors: dict[int, Account],
    timing: random.Random,
) -> None:
    """18 classes opened by the district for 921 candidates; the cells report who completed."""
    months_before = rng.sample(_months(TERM_START, date(2022, 12, 1)), CLASSES - 6)
    months_2023 = [date(2023, m, 1) for m in (2, 3, 5, 6, 8, 9)]
    class_months = sorted(months_before) + months_2023
    sizes = [51] * CLASSES
    sizes[-3] = 36  # the 2023 class for THPT pupils
    sizes[0] += TRAINED - sum(sizes)
    assert sum(sizes) == TRAINED
    kien_khe_to_send = KIEN_KHE_SENT_2023
    for month, size in zip(class_months, sizes, strict=True):
        pupils_class = size == 36 and month.year == 2023
        reports.confirm_report(
            session,
            reports.ReportInput(
                unit=root,
                channel="demo",
                raw_text=f"Mở lớp bồi dưỡng nhận thức về Đảng tháng {month.month}/{month.year}",
                period_start=month,
                period_end=month_end(month),
                account_id=authors[root.id or 0].id,
                classes_opened=1,
            ),
            now=_sent(month, timing),
        )
        if pupils_class:
            shares = {cells["TL-THPTA"][0].id: size}
            reporters = {cells["TL-THPTA"][0].id: cells["TL-THPTA"][0]}
        else:
            reporters = {}
            shares = {}
            pool = [u for code, group in cells.items() if code != "TL-THPTA" for u in group]
            left = size
            # Kiện Khê sent 16 in 2023: one from each of its four cells to four of the classes.
            if month.year == 2023:
                pool = [u for u in pool if not u.code.startswith(KIEN_KHE)]
                if kien_khe_to_send:
                    for cell in cells[KIEN_KHE]:
                        shares[cell.id] = 1
                        reporters[cell.id] = cell
                    left -= len(cells[KIEN_KHE])
                    kien_khe_to_send -= len(cells[KIEN_KHE])
            while left:
                cell = rng.choice(pool)
                n = min(left, rng.randint(2, 6))
                shares[cell.id] = shares.get(cell.id, 0) + n
                reporters[cell.id] = cell
                left -= n
        for cell_id, n in shares.items():
            cell = reporters[cell_id]
            reports.confirm_report(
                session,
                reports.ReportInput(
                    unit=cell,
                    channel="demo",
                    raw_text=f"Tháng {month.month}/{month.year} chi bộ cử {n} quần chúng đi học lớp "
                    f"nhận thức về Đảng, {n} đồng chí hoàn thành",
                    period_start=month,
                    period_end=month_end(month),
                    account_id=authors[cell_id or 0].id,
                    attendance=reports.AttendanceInput(sent=n, completed=n),
                ),
                now=_sent(month, timing),
            )


def _recognitions(
    session: Session, reporting: list[Unit], authors: dict[int, Account], timing: random.Random
) -> None:
    """Cells report the recognition of their members some weeks after the probation ended."""
    for cell in reporting:
        ledger = session.exec(
            select(ProbationLedger)
            .where(ProbationLedger.unit_id == cell.id, ProbationLedger.end_date < DEMO_TODAY)
            .order_by(col(ProbationLedger.end_date))
        ).all()
        by_month: dict[date, int] = {}
        for row in ledger:
            recent = row.end_date >= date(2023, 4, 1)
            if cell.code in UNRECOGNISED_CELLS and recent:
                continue  # not yet considered: overdue by now
            recognised_on = probation.add_working_days(row.end_date, timing.randint(8, 25))
            if recognised_on >= DEMO_TODAY:
                continue  # still within the 30 working days
            month = recognised_on.replace(day=1)
            by_month[month] = by_month.get(month, 0) + row.ending
        for month, count in sorted(by_month.items()):
            day = min(month_end(month), date(2023, 10, 31))
            reports.confirm_report(
                session,
                reports.ReportInput(
                    unit=cell,
                    channel="demo",
                    raw_text=f"Tháng {month.month}/{month.year} chi bộ công nhận {count} "
                    "đảng viên chính thức",
                    period_start=month,
                    period_end=day,
                    account_id=authors[cell.id or 0].id,
                    recognition=reports.RecognitionInput(count=count),
                ),
                now=_sent(month, timing),
            )


def _reviews(session: Session, root: Unit, committees: dict[str, Unit], timing: random.Random) -> None:
    """The level above approves each unit's month (staff of its commune; the district for the cell
    that sits directly under it); October 2023 is partly still open."""
    reviewers: dict[int, Account] = {}
    for unit in [root, *committees.values()]:
        account = Account(
            channel="demo",
            channel_user_id=f"demo-staff-{unit.code}",
            display_name=f"Cán bộ Ban Tổ chức {unit.name}",
            role=Role.staff,
            unit_id=unit.id or 0,
            created_at=_created(),
        )
        session.add(account)
        reviewers[unit.id or 0] = account
    session.flush()
    waiting = session.exec(
        select(UnitPeriod).where(UnitPeriod.review == "received").order_by(col(UnitPeriod.month))
    ).all()
    # October, as of the demo's day: the first report returned with a note, every other one not yet
    # looked at, the rest approved.
    for index, period in enumerate(
        sorted(waiting, key=lambda p: (p.month, _committee_code(session, p.unit_id), p.unit_id))
    ):
        cell = session.get(Unit, period.unit_id)
        assert cell is not None and cell.parent_id is not None
        reviewer = reviewers[cell.parent_id] if cell.parent_id in reviewers else reviewers[root.id or 0]
        if index % 2 == 1:
            continue
        returned = index == 0
        review.decide_and_notify(
            session,
            cell,
            period.month,
            approve=not returned,
            note=RETURN_NOTE if returned else None,
            reviewer=reviewer,
            now=datetime(2023, 11, 1, 8, 30, tzinfo=workflow.LOCAL_ZONE),
        )


def _committee_code(session: Session, unit_id: int) -> str:
    unit = session.get(Unit, unit_id)
    parent = session.get(Unit, unit.parent_id) if unit is not None and unit.parent_id else None
    return parent.code if parent is not None else ""


def _reorganise(session: Session, root: Unit, committees: dict[str, Unit]) -> None:
    """2025: three communes form one; the new commune gets its 2025–2030 target."""
    new = units.create_unit(
        session,
        code=NEW_COMMUNE,
        name=NEW_COMMUNE_NAME,
        level="Đảng bộ xã",
        parent=root,
        valid_from=REORGANISED_ON,
    )
    for code in MERGED_2025:
        units.merge_unit(session, committees[code], new, on=REORGANISED_ON)
    targets.set_target(
        session,
        unit=new,
        metric=Metric.admissions,
        start=NEW_TERM_START,
        end=NEW_TERM_END,
        value=NEW_TERM_TARGET,
        source="Nghị quyết Đại hội",
    )
