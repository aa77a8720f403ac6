"""Tables. Every figure the bot shows is derived from confirmed reports and their entries.

Dates are local (Asia/Ho_Chi_Minh) calendar dates; timestamps are timezone-aware UTC.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    secretary = "secretary"
    staff = "staff"
    admin = "admin"


class Metric(StrEnum):
    admissions = "admissions"
    class_completions = "class_completions"


class ReportStatus(StrEnum):
    confirmed = "confirmed"
    withdrawn = "withdrawn"


class FigureKind(StrEnum):
    members_total = "members_total"
    # candidates trained and not yet admitted, as counted on `as_of` (the opening pool)
    candidate_pool = "candidate_pool"


# Indexes only one database engine has (`info["dialects"]`): the migrations create them there alone,
# and the Alembic environment compares them there alone.
ONLY_POSTGRESQL = {"dialects": ("postgresql",)}


class Unit(SQLModel, table=True):
    __table_args__ = (
        # Subtrees are `path LIKE '/1/4/%'`: without pattern ops PostgreSQL cannot use an index for
        # that under a non-C collation (SQLite's LIKE uses ix_unit_path).
        Index(
            "ix_unit_path_pattern",
            "path",
            postgresql_ops={"path": "varchar_pattern_ops"},
            info=ONLY_POSTGRESQL,
        ),
        # The cells of a subtree, by one index range.
        Index(
            "ix_unit_cells",
            "path",
            postgresql_ops={"path": "varchar_pattern_ops"},
            postgresql_where=text("is_leaf AND merged_into_id IS NULL"),
            sqlite_where=text("is_leaf AND merged_into_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=255)
    level: str = Field(max_length=100)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # materialised path "/1/4/17/": a subtree is one LIKE on an index, at any depth
    path: str = Field(default="", max_length=1024, index=True)
    # A merged unit (sáp nhập) stays in the tree under the unit it joined, so its history keeps
    # counting there; it is no longer listed, and nobody reports for it any more.
    merged_into_id: int | None = Field(default=None, foreign_key="unit.id")
    merged_on: date | None = None
    # a cell: no active sub-units (kept by storage.units on every change of the tree); completeness
    # counts these with one index range instead of a subquery per unit
    is_leaf: bool = Field(default=True, sa_column_kwargs={"server_default": "1"})
    # how many cells (is_leaf, not merged) the subtree holds, the unit included; kept by storage.units
    # on every change of the tree, so completeness reads it instead of counting 100,000 cells
    cells: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # the first day the unit exists (a commune formed on 01/07/2025); None: since before the records.
    # Its last day is the day before `merged_on`.
    valid_from: date | None = None
    created_at: datetime


class Account(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # "telegram", "zalo", "zalo:<bot>" (a user id belongs to one bot), "terminal", "demo"
    channel: str = Field(max_length=40)
    channel_user_id: str = Field(max_length=64)
    # the user's private chat with the bot; None until they write to it privately (a chat id only
    # comes from the user's own message, and a group is never one person's chat)
    chat_id: str | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=255)
    role: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # set when the platform refuses to deliver (the user blocked the bot); cleared when they write again
    unreachable_at: datetime | None = None
    # set when an admin or staff above took the role away: no reports, no figures, no messages
    revoked_at: datetime | None = None
    created_at: datetime


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # sha256 of the code's seal (the seal is sha256 of the normalised code, see storage.accounts): a
    # leaked database holds neither usable codes nor usable seals
    code_hash: str = Field(max_length=64, unique=True)
    unit_id: int = Field(foreign_key="unit.id")
    role: str = Field(max_length=16)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    cancelled_at: datetime | None = None


class Target(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    metric: str = Field(max_length=32)
    start_date: date
    end_date: date
    value: int
    max_value: int | None = None
    source: str = Field(default="", max_length=255)
    created_at: datetime


class Report(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    receipt_code: str = Field(max_length=16, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    channel: str = Field(max_length=40)
    raw_text: str = Field(sa_column=Column(Text, nullable=False))
    period_start: date
    period_end: date
    status: str = Field(default=ReportStatus.confirmed, max_length=16)
    # the draft that produced it: confirming the same draft twice stores one report
    idempotency_key: str | None = Field(default=None, max_length=128, unique=True)
    # a correction is a new report that withdraws the one it replaces
    supersedes_id: int | None = Field(default=None, foreign_key="report.id", index=True)
    withdrawn_at: datetime | None = None
    withdrawn_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(index=True)  # the web page lists a subtree's reports newest first
    updated_at: datetime


class AdmissionEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # reports count in the month their period ends in
    month: date = Field(index=True)
    count: int
    # breakdowns: None = not given (shares are computed over entries that gave them)
    female: int | None = None
    youth_union: int | None = None
    religious: int | None = None
    ethnic_minority: int | None = None
    upper_secondary_or_above: int | None = None
    names: str | None = Field(default=None, max_length=1000)
    # the admission ceremony (lễ kết nạp): the 12 months of probation count from it. None: not given;
    # the last day of the report's period stands in (so a due month is never too early).
    ceremony_date: date | None = None


class AwarenessClass(SQLModel, table=True):
    """A party-awareness class opened by a committee."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    month: date = Field(index=True)
    title: str = Field(default="", max_length=255)


class ClassAttendance(SQLModel, table=True):
    """Candidates a unit sent to, or who completed, an awareness class."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    month: date = Field(index=True)
    sent: int | None = None
    completed: int | None = None


class UnitFigure(SQLModel, table=True):
    """A figure entered for a unit on a date: total members, opening candidate pool."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=32)
    as_of: date
    value: int
    source: str = Field(default="", max_length=255)
    created_at: datetime


class SubtreeMonthRollup(SQLModel, table=True):
    """Totals of a unit's whole subtree (itself included) for one month.

    Updated in the same transaction as each report, for the unit and every ancestor, so that
    progress for any unit costs a few rows per month, not a scan of the reports.
    """

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    reports: int = 0
    admissions: int = 0
    female: int = 0
    female_known: int = 0
    youth_union: int = 0
    youth_union_known: int = 0
    religious: int = 0
    religious_known: int = 0
    ethnic_minority: int = 0
    ethnic_minority_known: int = 0
    upper_secondary_or_above: int = 0
    upper_secondary_or_above_known: int = 0
    classes_opened: int = 0
    sent: int = 0
    completed: int = 0
    cells_reported: int = 0


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    action: str = Field(max_length=64)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    report_id: int | None = Field(default=None, foreign_key="report.id")
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class Conversation(SQLModel, table=True):
    """Dialogue state per (channel, dialogue): survives restarts and is shared by processes.

    The dialogue is a private chat's id, or "<group>/<member>" in a group: each member of a group
    has a dialogue of their own."""

    channel: str = Field(max_length=40, primary_key=True)
    chat_id: str = Field(max_length=160, primary_key=True)
    state: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
    updated_at: datetime = Field(index=True)  # idle conversations are pruned (RETENTION settings)


class ProcessedDelivery(SQLModel, table=True):
    """Platform delivery ids already handled: a redelivered update is answered, not processed again."""

    channel: str = Field(max_length=40, primary_key=True)
    delivery_id: str = Field(max_length=64, primary_key=True)
    at: datetime = Field(index=True)  # ids are pruned once no redelivery can come (RETENTION settings)
    # The replies, kept until the first of them leaves: a process that dies after committing but
    # before answering has them sent when the update comes again (redelivered or swept).
    replies: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answering_at: datetime | None = None  # the first reply left; not sent again after a crash


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after repeated errors; kept for the record
    unreachable = "unreachable"  # the recipient blocked the bot or left
    # The request is leaving (marked just before it does): found so after a crash, it is not resent.
    sending = "sending"
    # Perhaps delivered, perhaps not (a crash or a time-out while in flight): never resent, shown.
    uncertain = "uncertain"
    # Still waiting when the next month's campaign, with fresh figures, was composed: not sent.
    superseded = "superseded"


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own (nudges, praise, summaries), sent once by the outbox sender."""

    id: int | None = Field(default=None, primary_key=True)
    # e.g. "campaign:2023-11:account:17": composing the same campaign twice adds nothing
    idempotency_key: str = Field(max_length=128, unique=True)
    campaign: str | None = Field(default=None, max_length=16, index=True)
    kind: str = Field(max_length=32)
    account_id: int = Field(foreign_key="account.id", index=True)
    channel: str = Field(max_length=40)
    chat_id: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=OutboxStatus.pending, max_length=16, index=True)
    attempts: int = 0
    # a text longer than one platform message goes in parts: a retry resumes after the parts sent
    parts_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime = Field(index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime
    sent_at: datetime | None = None


class Campaign(SQLModel, table=True):
    """A monthly campaign, composed once: its row is the proof, for a restart or a second process."""

    month: date = Field(primary_key=True)
    composed_at: datetime
    messages: int = 0


class NudgeSetting(SQLModel, table=True):
    """A kind of campaign message an admin switched off for a unit (and its subtree)."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    kind: str = Field(max_length=16, primary_key=True)  # nudge | praise | reminder | summary
    created_at: datetime


class Lease(SQLModel, table=True):
    """A named lease (the scheduler's): one process holds it until it expires or renews it."""

    name: str = Field(max_length=32, primary_key=True)
    owner: str = Field(max_length=64)
    until: datetime


class InboxUpdate(SQLModel, table=True):
    """A webhook update, stored before the platform gets its 200: a crash after that loses nothing."""

    __table_args__ = (UniqueConstraint("channel", "delivery_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=40)
    delivery_id: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(index=True)
    processed_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class ExportFile(SQLModel, table=True):
    """A generated file (chart, workbook) behind a short-lived signed link, for channels that take URLs."""

    token: str = Field(max_length=64, primary_key=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: datetime = Field(index=True)


class ChannelBot(SQLModel, table=True):
    """One bot of a channel (a deployment may run several Zalo bots, each within its plan's limits):
    its name as members see it, the part of the unit tree it serves, and its plan's limits when they
    differ from the settings. The token stays in the settings."""

    channel: str = Field(max_length=40, primary_key=True)
    title: str | None = Field(default=None, max_length=255)  # "Bot Tiến độ Thanh Hà": how it is @mentioned
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)  # serves this subtree
    monthly_quota: int | None = None  # outgoing messages a month; None: the setting
    user_limit: int | None = None  # users the plan allows; None: the setting
    updated_at: datetime


class ChannelUsage(SQLModel, table=True):
    """Messages a bot sent in a (local) month: replies and outbox messages alike spend its quota."""

    channel: str = Field(max_length=40, primary_key=True)
    month: date = Field(primary_key=True)
    sent: int = 0
    warned: int = 0  # the highest share (percent) administrators were warned of this month
    # the platform answered "quota exceeded": nothing is sent through this bot before then
    exhausted_until: datetime | None = None


class ChatGroup(SQLModel, table=True):
    """A group chat the bot was addressed in. An administrator may bind it to a unit on purpose: its
    members' dialogues then take place in the group, in the open; otherwise the bot answers each
    member in their private chat."""

    channel: str = Field(max_length=40, primary_key=True)
    chat_id: str = Field(max_length=64, primary_key=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    first_seen: datetime
    last_seen: datetime


# --- the party's own workflow: approval, deadlines, probation, the tree's history ---------------


class ReviewStatus(StrEnum):
    none = "none"  # approval not required for this unit (or nothing to review)
    received = "received"  # waiting for the level above
    approved = "approved"
    returned = "returned"  # sent back with a note; a new or corrected report makes it received again


class WorkflowSetting(SQLModel, table=True):
    """How a tree reports: the row of the unit itself or of the nearest unit above it decides."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    approval: bool = False  # reports wait for the level above before they count as final
    deadline_day: int = 5  # a month's reports are due on this day of the next month
    quarter_deadline_day: int = 10  # quarter and half-year reports: this day of the month after
    year_deadline_day: int = 15  # a year's report: this day of January
    grace_days: int | None = None  # the month locks this many days after its deadline; None: never
    remind_days: int = 2  # cells that have not reported are reminded this many days before
    updated_at: datetime


class UnitPeriod(SQLModel, table=True):
    """A reporting unit's reports for one month: when they came, whether on time, their review."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    reports: int = 0  # confirmed reports counting in the month
    admissions: int = 0
    completed: int = 0
    first_report_at: datetime | None = None  # kept through corrections: lateness is the first one's
    deadline: date | None = None
    late: bool = False
    review: str = Field(default=ReviewStatus.none, max_length=16, index=True)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    decided_at: datetime | None = None
    decisions: int = 0  # approvals and returns so far (each one's message has its own key)
    reopened_until: datetime | None = None  # staff reopened a locked month for this unit


class WorkflowRollup(SQLModel, table=True):
    """Per subtree and month: timeliness of its cells and the figures still waiting for approval."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    cells_on_time: int = 0
    cells_late: int = 0
    pending: int = 0  # unit-months received, not yet approved
    returned: int = 0
    provisional_admissions: int = 0
    provisional_completed: int = 0


class RecognitionEntry(SQLModel, table=True):
    """Công nhận đảng viên chính thức: probationary members of a unit recognised as full members."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    month: date = Field(index=True)
    count: int
    names: str | None = Field(default=None, max_length=1000)


class ProbationLedger(SQLModel, table=True):
    """A unit's own probationary members by the day their probation ends, and how many were recognised
    (the earliest ends first). Kept in the reports' transaction; the rollup below is its subtree sum."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    end_date: date = Field(primary_key=True)
    ending: int = 0
    recognized: int = 0


class ProbationRollup(SQLModel, table=True):
    """ProbationLedger summed over each unit's subtree: /tiendo reads a few rows, not the entries."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    end_date: date = Field(primary_key=True)
    ending: int = 0
    recognized: int = 0


class UnitChange(SQLModel, table=True):
    """The tree's history (the old→new crosswalk): a unit moved to another parent, or merged."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=16)  # merge | move
    on: date = Field(index=True)
    old_parent_id: int | None = Field(default=None, foreign_key="unit.id")
    new_parent_id: int | None = Field(default=None, foreign_key="unit.id")
    into_id: int | None = Field(default=None, foreign_key="unit.id")  # a merge: the unit it joined
    at: datetime


class WebLogin(SQLModel, table=True):
    """A one-time link to the web page, asked for with /web in the chat: valid a few minutes, used once."""

    token_hash: str = Field(max_length=64, primary_key=True)  # sha256: the link itself is never stored
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A browser session opened by a login link; the cookie holds the token, the table its hash."""

    token_hash: str = Field(max_length=64, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    csrf: str = Field(max_length=64)  # the token every form of this session carries
    created_at: datetime
    expires_at: datetime = Field(index=True)


class ReviewMessage(SQLModel, table=True):
    """A message kept for the team to grow the parser's corpus: one the bot could not read, or a report
    corrected soon after it was confirmed. Text and local date only: no account, no chat; pruned after
    REVIEW_KEEP_DAYS."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # unread | answer | fixed | corrected
    text: str = Field(sa_column=Column(Text, nullable=False))
    day: date = Field(index=True)


# --- breakdowns a tree adds to the five (storage.extra_breakdowns) ------------------------------


class BreakdownDefinition(SQLModel, table=True):
    """A breakdown of new members a unit's statistics ask for, beyond the five; the units below inherit
    it. A key is defined once along any path of the tree (checked when it is added)."""

    __table_args__ = (UniqueConstraint("unit_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    key: str = Field(max_length=40)
    label: str = Field(max_length=100)
    # what people type for it, one phrase a line (matched without diacritics)
    words: str = Field(sa_column=Column(Text, nullable=False))
    question: str = Field(max_length=255)
    position: int = 0
    share: bool = True  # a share of the new members, like the five; else shown as a count
    created_at: datetime
    updated_at: datetime


class AdmissionBreakdown(SQLModel, table=True):
    """The figure of one added breakdown in an admission entry; no row: not given."""

    entry_id: int = Field(foreign_key="admissionentry.id", primary_key=True)
    key: str = Field(max_length=40, primary_key=True)
    value: int


class BreakdownRollup(SQLModel, table=True):
    """An added breakdown summed over a unit's subtree for one month, as `SubtreeMonthRollup` sums the
    five: `value` among the `known` new members whose reports gave it."""

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    key: str = Field(max_length=40, primary_key=True)
    value: int = 0
    known: int = 0
