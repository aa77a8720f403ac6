"""Find a unit by what people type: a code, a name with or without diacritics, a short name, a typo."""

import difflib
import re

from handlers.text import fold
from storage.models import Unit

# Level words that names start with; people leave them out ("Kiện Khê" for "Đảng bộ thị trấn Kiện Khê").
_LEVEL_PREFIX = re.compile(
    r"^(?:(?:dang bo|chi bo|dang uy|huyen uy|tinh uy|thanh uy|ban|co so|cap uy)\s+)*"
    r"(?:(?:thi tran|thi xa|thanh pho|xa|phuong|huyen|tinh|quan|dac khu|khoi)\s+)?"
)
_SPACES = re.compile(r"\s+")


def core_name(name: str) -> str:
    """The distinctive part of a unit's name, folded: "đảng bộ thị trấn Kiện Khê" -> "kien khe"."""
    folded = _SPACES.sub(" ", fold(name)).strip()
    return _LEVEL_PREFIX.sub("", folded).strip() or folded


def match_units(candidates: list[Unit], query: str, *, fuzzy: bool = True) -> list[Unit]:
    """The best matches for `query`, best first; several when equally good (the caller asks).

    `fuzzy=False`: no typo-tolerant matches (the name or its distinctive words must be there).
    """
    wanted = _SPACES.sub(" ", fold(query)).strip()
    if not wanted:
        return []
    code = query.strip().lower()
    exact_code = [u for u in candidates if u.code.lower() == code]
    if exact_code:
        return exact_code
    wanted_core = core_name(query)
    tiers: list[list[Unit]] = [[], [], [], []]
    close: list[tuple[float, Unit]] = []
    wanted_words = set(wanted_core.split())
    for unit in candidates:
        name = _SPACES.sub(" ", fold(unit.name)).strip()
        core = core_name(unit.name)
        if wanted in (name, core) or wanted_core == core:
            tiers[0].append(unit)
        elif re.search(rf"(?:^| ){re.escape(wanted_core)}(?: |$)", name):
            tiers[1].append(unit)
        elif wanted_words and wanted_words <= set(name.split()):
            tiers[2].append(unit)
        elif wanted_core in name:
            tiers[3].append(unit)
        elif fuzzy:
            ratio = difflib.SequenceMatcher(None, wanted_core, core).ratio()
            if ratio >= 0.8:
                close.append((ratio, unit))
    for tier in tiers:
        if tier:
            # Among equals, the units highest in the tree ("Kiện Khê": the town, not its cells).
            top = min(u.path.count("/") for u in tier)
            return sorted((u for u in tier if u.path.count("/") == top), key=lambda u: u.name)
    close.sort(key=lambda pair: (-pair[0], pair[1].name))
    return [unit for ratio, unit in close if ratio == close[0][0]] if close else []
