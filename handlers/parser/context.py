"""The item stream of one message with its sentences, and scope checks shared by the readers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from handlers.periods import Period

if TYPE_CHECKING:
    from handlers.parser.extra import Vocabulary

# --------------------------------------------------------------------------------------------------
# Facts


class Item:
    """A token or a phrase after lexicon lookup."""

    __slots__ = ("f", "kind", "value")

    def __init__(self, kind: str, f: str, value: int | str | None = None) -> None:
        self.kind = kind
        self.f = f
        self.value = value

    def __repr__(self) -> str:  # debugging aid
        return f"{self.kind}({self.f}{'=' + str(self.value) if self.value is not None else ''})"


Adder = Callable[[str, int], None]


def names_the_class(it: Item) -> bool:
    """ "đi học", "học lớp NT", "hoàn thành lớp": a study or completion word that says it is the class."""
    return it.kind in ("STUDY", "DONE") and ("di hoc" in it.f or "lop" in it.f)


def sentence_bounds(ctx: Ctx, k: int) -> tuple[int, int]:
    """(first item, index of the closing STOP or len) of the sentence holding item k."""
    sid = ctx.sid if ctx.sid is not None else ctx.index_sentences()
    return ctx.bounds[sid[k]]


def sentence_kinds(ctx: Ctx, k: int) -> set[str]:
    sid = ctx.sid if ctx.sid is not None else ctx.index_sentences()
    return ctx.skinds[sid[k]]


NO_KINDS: set[str] = set()


def is_question(ctx: Ctx, s: int, e: int, k: int | None = None) -> bool:
    """The sentence s..e asks something about trigger k: a "?", a question word in k's clause or
    before it ("kết nạp mấy đồng chí", but not "kết nạp 1 đv nhé, có gì anh nhắn em"), or a final
    "chưa"/"không" ("đã kết nạp chưa", "được không anh")."""
    items = ctx.items
    kinds = sentence_kinds(ctx, s) if s < len(items) else NO_KINDS
    if "QMARK" in kinds:
        return True
    if "Q" in kinds:
        if k is None:
            return True
        end = k
        while end < e and items[end].kind not in ("SEP", "STOP"):
            end += 1
        if any(items[j].kind == "Q" and _asks(items, j, e) for j in range(s, end)):
            return True
    # sentence-final "chưa"/"không" ("đã kết nạp chưa"), before any address word or particle
    last = e - 1
    while last >= s and (items[last].kind in ("SEP", "COLON") or items[last].f in TRAILING):
        last -= 1
    return (
        last > s
        and items[last].kind == "NEG"
        and items[last - 1].kind not in ("NEG", "COLON")  # "đoàn viên: không" answers, it does not ask
        and items[last - 1].kind not in ATTRIBUTES  # "tôn giáo không" neither
        and items[last].f in ("chua", "khong", "ko", "k", "hong", "hok")
    )


# The breakdown attributes (as in lexicon.ATTRS; repeated here, which the lexicon cannot import).
ATTRIBUTES = frozenset({"FEMALE", "MALE", "YOUTH", "NOYOUTH", "REL", "NOREL", "ETH", "KINH", "EDU", "LOWEDU"})
PROCEDURE = frozenset({"xet", "xem xet", "dang xem xet", "de nghi", "tham dinh"})


def _asks(items: list[Item], j: int, e: int) -> bool:
    """A question word that asks: not "không có gì mới" (nothing), not a filler "à" opening a sentence."""
    if j > 0 and items[j - 1].kind in ("NEG", "NONE"):
        return False
    # a final particle asks at the end of what is said; before a comma it stresses ("có 1 người à, ...")
    return items[j].f not in FINAL_PARTICLES or (
        j >= e - 2 and not any(items[x].kind == "SEP" for x in range(j + 1, e))
    )


FINAL_PARTICLES = frozenset({"a", "nhi", "the"})
# Words that close a question after its "không"/"chưa": "được không anh", "chưa ạ", "không nhỉ".
TRAILING = frozenset(
    {"anh", "chi", "em", "a", "ha", "nhe", "nha", "nhi", "vay", "the", "ban", "dong chi", "bac"}
)


def in_plan(items: list[Item], s: int, k: int) -> bool:
    """A plan word earlier in the same clause chain governs this trigger, unless "đã" intervenes. A
    step of the procedure ("xét", "đề nghị") governs only the verb right after it: "xét kết nạp" is
    not done yet, "họp xét và kết nạp" is."""
    for j in range(k - 1, s - 1, -1):
        kind = items[j].kind
        if kind == "PAST" and items[j].f in ("da", "vua", "vua moi", "da duoc"):
            return False
        if kind == "PLAN":
            if items[j].f in PROCEDURE and any(items[x].kind in ("AND", "SEP") for x in range(j + 1, k)):
                continue
            if any(items[x].kind in ("CARRY", "PROG") for x in range(max(s, j - 3), j)):
                continue  # "thực hiện Nghị quyết", "căn cứ kế hoạch": what was done under it
            # "hoàn thành chỉ tiêu kết nạp 12", "vượt chỉ tiêu": an achievement, not a plan
            return not (
                j > s and (items[j - 1].kind == "DONE" or items[j - 1].f in ("dat", "vuot", "vuot muc"))
            )
    return False


def blocked(items: list[Item], k: int) -> bool:
    """ "để kết nạp", "hồ sơ kết nạp", "đối tượng kết nạp": the trigger is a purpose or a noun."""
    if k > 1 and items[k - 1].f == "viec" and items[k - 2].kind in ("DONE", "CARRY", "PAST"):
        return False  # "đã hoàn thành việc kết nạp 2 đồng chí": done, not discussed
    if (
        k > 0
        and items[k - 1].kind in ("BLOCK", "CAND")
        and items[k - 1].f not in ("quan chung", "qcut", "qc")
    ):
        return items[k - 1].kind == "BLOCK" or items[k - 1].f in ("doi tuong", "ho so", "hoc vien")
    if k > 0 and items[k - 1].kind == "CLASS":
        return True
    return k > 1 and items[k - 1].f in ("cho", "cua") and items[k - 2].kind in ("BLOCK", "CLASS")


class Ctx:
    """The item stream, what is being asked, and sentence indexes so scope checks are lookups."""

    __slots__ = (
        "ambiguous",
        "bounds",
        "extra",
        "items",
        "kinds",
        "period_kinds",
        "periods",
        "questions",
        "sid",
        "skinds",
        "today",
        "uncounted",
    )

    def __init__(self, items: list[Item]) -> None:
        self.items = items  # a plain list: indexing a list subclass is three times slower
        self.ambiguous: list[str] = []
        self.questions: list[str] = []
        self.sid: list[int] | None = None  # sentence index built lazily: most messages never need it
        self.bounds: list[tuple[int, int]] = []
        self.skinds: list[set[str]] = []
        self.period_kinds: list[str] = []  # kind of each PERIOD item's hit ("day", "month"...), by index
        self.periods: list[Period | None] = []  # the period of each PERIOD item's hit, by index
        self.today: date | None = None
        self.kinds: set[str] = set()  # every kind in the message: the checks of rare kinds start here
        # "kết nạp" seen without a count: asked once the whole message is read, if nothing else counts
        self.uncounted: list[int] = []
        self.extra: Vocabulary | None = None  # the phrases of the breakdowns the caller's tree adds

    def index_sentences(self) -> list[int]:
        n = len(self.items)
        if "STOP" not in self.kinds and self.kinds:  # the usual one-sentence message
            self.sid = [0] * n
            self.bounds = [(0, n)]
            self.skinds = [self.kinds]
            return self.sid
        kinds = [it.kind for it in self.items]
        sid: list[int] = []
        bounds: list[tuple[int, int]] = []
        skinds: list[set[str]] = []
        start = 0
        for k in [k for k, kind in enumerate(kinds) if kind == "STOP"]:
            cur = set(kinds[start:k])
            if self.items[k].f == "?":
                cur.add("QMARK")
            sid += [len(bounds)] * (k + 1 - start)
            bounds.append((start, k))
            skinds.append(cur)
            start = k + 1
        sid += [len(bounds)] * (n - start)
        bounds.append((start, n))
        skinds.append(set(kinds[start:]))
        self.sid = sid
        self.bounds = bounds
        self.skinds = skinds
        return sid

    def child(self, items: list[Item]) -> Ctx:
        """A context over part of the stream (one time frame) that asks into the same lists."""
        sub = Ctx(items)
        sub.kinds = {it.kind for it in items}
        sub.uncounted = self.uncounted
        sub.period_kinds = self.period_kinds
        sub.periods = self.periods
        sub.today = self.today
        sub.ambiguous = self.ambiguous
        sub.questions = self.questions
        sub.extra = self.extra
        return sub

    def ask(self, key: str, question: str) -> None:
        if key not in self.ambiguous:
            self.ambiguous.append(key)
            self.questions.append(question)
