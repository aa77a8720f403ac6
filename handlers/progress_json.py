"""Progress figures as plain JSON data: for `tiendo progress --json`, dashboards, Excel and charts.

Shares and percentages are fractions (0.898 = 89,8%); dates are ISO strings. The shape is stable:
add keys, never rename them.
"""

from typing import Any

from handlers.progress_text import SHARES
from storage.progress import TargetProgress, UnitProgress


def target_json(target: TargetProgress, threshold: float) -> dict[str, Any]:
    t = target.target
    expected = target.expected_now
    return {
        "source": t.source,
        "metric": t.metric,
        "start": t.start_date.isoformat(),
        "end": t.end_date.isoformat(),
        "value": t.value,
        "max": t.max_value,
        "achieved": target.achieved,
        "reached": target.share,
        "reached_of_max": target.share_of_max,
        "elapsed": target.elapsed_days / target.total_days,
        "expected_now": round(expected, 2),
        "expected_whole": target.expected_whole,
        "shortfall": max(0, target.expected_whole - target.achieved),
        "started": target.started,
        "lagging": target.is_lagging(threshold),
    }


def progress_json(progress: UnitProgress, threshold: float = 1.0) -> dict[str, Any]:
    totals = progress.totals
    data: dict[str, Any] = {
        "unit": {"code": progress.unit.code, "name": progress.unit.name, "level": progress.unit.level},
        "as_of": progress.as_of.isoformat(),
        "period": {
            "start": progress.window_start.isoformat() if progress.window_start else None,
            "end": progress.as_of.isoformat(),
        },
        "reports": totals.reports,
        "admissions": totals.admissions,
        "targets": [target_json(t, threshold) for t in progress.targets],
        "class_targets": [target_json(t, threshold) for t in progress.class_targets],
        "shares": {
            name: {
                "count": getattr(totals, name),
                "known": getattr(totals, f"{name}_known"),
                "share": getattr(totals, name) / getattr(totals, f"{name}_known")
                if getattr(totals, f"{name}_known")
                else None,
            }
            for name in SHARES
        },
        # the breakdowns the tree adds to the five, in its order (empty for a tree that adds none)
        "breakdowns": [
            {
                "key": figure.breakdown.key,
                "label": figure.breakdown.label,
                "title": figure.breakdown.title,
                "share_of_members": figure.breakdown.share,
                "count": figure.value,
                "known": figure.known,
                "share": figure.share,
            }
            for figure in progress.breakdowns
        ],
        "classes": {"opened": totals.classes_opened, "sent": totals.sent, "completed": totals.completed},
        "pool": progress.pool,
        "members_total": None
        if progress.members_total is None
        else {"value": progress.members_total.value, "as_of": progress.members_total.as_of.isoformat()},
        "lagging": progress.is_lagging(threshold),
    }
    if progress.children:
        data["children"] = [progress_json(child, threshold) for child in progress.children]
    return data
