"""Parser for cell secretaries' chat reports: admissions of new members and awareness-class attendance.

Pipeline (one pass each, regexes precompiled at import), one module per concern:
1. `tokens`: normalize -> fold; periods, phone numbers and birth years are found on the folded text
   and masked so their digits never become counts; then tokenize. Accented and cased forms are kept
   beside the folded ones (same positions) because accents and capitals settle what folding loses:
   "năm"/"nam", "từ"/"tư", "Nam" as a name.
2. `names`: names and place names ("thôn 5", "Chi bộ Hà Nam") are recognised and taken out of the
   stream.
3. `tokens` + `lexicon` + `numbers`: a longest-match lexicon (the word lists) turns tokens into
   items (ADMIT, HEAD, FEMALE, NUM, ...); number words count only with a counting context.
4. `admissions`, `classes`: facts: admission head (trigger + count), its breakdown clauses, class
   attendance; plans, questions and totals are filtered out by scope rules (`context`).
5. `intents`: what a message that reports nothing is (progress, help, unknown); `questions`: what
   the bot asks about what the message left open.

Decision rules for the ambiguous words (documented here because tests and users rely on them):
- "dv"/"ĐV" right after a count that follows "kết nạp"/"KN" is đảng viên (the head noun). In the
  breakdown after the head, a counted "dv" standing alone ("1 dv") is đoàn viên; "dv" followed by
  another attribute ("1 dv nữ") is just the head noun repeated. "ĐVTN" / "đoàn viên" are Youth Union.
  When a Youth Union subject ("chi đoàn", "đoàn thanh niên") admits "dv", or "thêm N dv" stands
  without any admission verb, the meaning is asked ("dv_meaning").
- "nam" without diacritics: a count when a noun follows ("nam dv", "nam dong chi"); male after a
  count or classifier ("2 nam", "dv nam") or before a count ("nam 2"); a year when a year follows
  (masked as a period earlier). "nu nam" with no other number is asked ("nam_meaning"); a bare
  "ket nap nam" asks for the count ("admission_count"). With diacritics "năm" is five/year, "nam" male.
- A bare attribute without a number applies to everyone admitted ("kết nạp 2 đv nữ", "đều là đoàn
  viên"); after "có" ("trong đó có nữ") it gives no number and the bot asks.
- A male count implies female = count - males; "không theo đạo", "người Kinh", "9/12" likewise give
  the complement.
- Breakdowns larger than the admission count are dropped and asked about ("<field>_exceeds").
"""

from __future__ import annotations

from handlers.parser.intents import parse_message
from handlers.parser.result import (
    BREAKDOWN_FIELDS,
    MAX_COUNT,
    AdmissionFacts,
    ClassAttendanceFacts,
    Fact,
    ParseResult,
)

__all__ = [
    "BREAKDOWN_FIELDS",
    "MAX_COUNT",
    "AdmissionFacts",
    "ClassAttendanceFacts",
    "Fact",
    "ParseResult",
    "parse_message",
]
