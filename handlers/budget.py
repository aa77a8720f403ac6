"""A monthly campaign within what each bot may still send this month.

A Zalo bot on the free plan sends 3,000 messages a month, replies included; a district's campaign
can be larger than what is left. The most useful messages go first: nudges to lagging units,
reminders to silent cells, summaries for staff, then praise. What does not fit waits for the next
month's quota, and the staff summaries that go say how many messages wait, for which units.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from handlers.campaign import CampaignPlan, Recipient
from handlers.formatting import day, number
from handlers.i18n import t
from storage.models import Role
from storage.outbox import NewMessage

PRIORITY = ("nudge", "reminder", "summary", "praise")


@dataclass(frozen=True)
class Budget:
    """What the runtime knows of the bots' quotas, handed to the campaign."""

    remaining: dict[str, int]  # messages a channel may spend on the campaign; a channel not here: no limit
    cost: Callable[[str, str], int]  # (channel, text) -> messages the text takes there
    next_quota: datetime  # when messages left out may go


@dataclass
class Fitted:
    now: list[NewMessage] = field(default_factory=list)
    later: list[NewMessage] = field(default_factory=list)  # wait for the next month's quota
    left_out: Counter[str] = field(default_factory=Counter)  # kinds of the messages that wait


def rank(recipient: Recipient) -> int:
    """A message is as useful as the most useful thing it says."""
    return min((PRIORITY.index(k) for k in recipient.kinds if k in PRIORITY), default=len(PRIORITY))


def fit(plan: CampaignPlan, budget: Budget | None) -> Fitted:
    pairs = list(zip(plan.recipients, plan.messages(), strict=True))
    if budget is None:
        return Fitted(now=[m for _, m in pairs])
    spent: Counter[str] = Counter()
    kept: list[tuple[Recipient, NewMessage]] = []
    waiting: list[tuple[Recipient, NewMessage]] = []
    for recipient, message in sorted(pairs, key=lambda p: rank(p[0])):  # stable: plan order within a rank
        channel = message.account.channel
        limit = budget.remaining.get(channel)
        cost = budget.cost(channel, message.text)
        if limit is None or spent[channel] + cost <= limit:
            spent[channel] += cost
            kept.append((recipient, message))
        else:
            waiting.append((recipient, message))
    fitted = Fitted(later=[m for _, m in waiting])
    fitted.left_out.update(PRIORITY[rank(r)] for r, _ in waiting)
    for recipient, message in kept:
        if recipient.account.role != Role.secretary and "summary" in recipient.kinds:
            message = _told(recipient, message, waiting, budget.next_quota)
        fitted.now.append(message)
    return fitted


def _told(
    recipient: Recipient, message: NewMessage, waiting: list[tuple[Recipient, NewMessage]], when: datetime
) -> NewMessage:
    """A staff summary that says which messages to its units wait for the next month's quota."""
    scope = recipient.unit.path
    theirs = Counter(PRIORITY[rank(r)] for r, _ in waiting if r.unit.path.startswith(scope))
    if not theirs:
        return message
    note = t(
        "campaign.summary.held",
        n=number(sum(theirs.values())),
        nudges=number(theirs["nudge"]),
        reminders=number(theirs["reminder"]),
        summaries=number(theirs["summary"]),
        praise=number(theirs["praise"]),
        when=day(when.date()),
    )
    closing = t("campaign.closing")
    text = message.text
    if text.endswith(closing):  # the note belongs to the summary, before the closing line
        text = text[: -len(closing)].rstrip("\n") + "\n" + note + "\n\n" + closing
    else:
        text += "\n" + note
    return replace(message, text=text)
