"""Parser for cell secretaries' chat reports: admissions of new members and awareness-class attendance.

Pipeline (one pass each, regexes precompiled at import), one module per concern:
1. `tables`: a table pasted from Excel or typed with "|" becomes label-value lines. Then normalize
   and fold (`handlers.text`); Telex and VNI leftovers are repaired (the text is read again).
2. `tokens`: periods, clock times, phone numbers and birth or school years are found on the folded
   text (`handlers.periods`) and masked so their digits never become counts; then tokenize.
   Accented and cased forms are kept beside the folded ones (same positions) because accents and
   capitals settle what folding loses: "năm"/"nam", "từ"/"tư", "Nam" as a name.
3. `names`: names and place names ("thôn 5", "Chi bộ Hà Nam") are recognised and taken out of the
   stream.
4. `tokens` + `lexicon` + `numbers`: a longest-match lexicon (the word lists) turns tokens into
   items (ADMIT, HEAD, FEMALE, NUM, HEARSAY, ...); number words count only with a counting context;
   ages, ordinals and schooling are told from counts and from the class.
5. `facts`: the stream is cut into time frames (several facts per message), each read by
   `admissions` (trigger, whose admission it is, count, breakdown) and `classes`; each fact takes the
   period its words give (not a letter's date, not background); plans dated in the future drop out.
6. `intents`: the result, or what a message that reports nothing is (progress, help, unknown);
   `questions`: what the bot asks about what the message left open, worded in the catalog.
   `extra`: when the caller passes the breakdowns its tree adds to the five (`parse_message`'s
   `breakdowns`), their counts are read in each admission's words, into `extra`; nothing else changes.
Commands come from `handlers.commands`, the table the conversation reads too.

Decision rules for the ambiguous words (documented here because tests and users rely on them):
- "dv"/"ĐV" right after a count that follows "kết nạp"/"KN" is đảng viên (the head noun). In the
  breakdown after the head, a counted "dv" standing alone ("1 dv") is đoàn viên when fewer than the
  count; "dv" with anything else ("1 dv nữ", "cả 2 dv đều...", "3 dv này") is the head noun repeated.
  "ĐVTN" / "đoàn viên" are Youth Union. When a Youth Union subject ("chi đoàn") admits "dv", or
  "thêm N dv" stands without any admission verb, the meaning is asked ("dv_meaning"); when it admits
  "đoàn viên", or anybody admits "hội viên", it is not the party's admission.
- "nam" without diacritics: a count when a noun follows ("nam dv", "nam dong chi"); male after a
  count or classifier ("2 nam", "dv nam") or before a count ("nam 2"); a year when a year follows
  (masked as a period earlier). "nu nam" with no other number is asked ("nam_meaning"); a bare
  "ket nap nam" asks for the count ("admission_count"). With diacritics "năm" is five/year, "nam" male.
- A bare attribute without a number applies to everyone admitted ("kết nạp 2 đv nữ", "đều là đoàn
  viên"), and so does a denied one ("không tôn giáo", "chưa ai là đoàn viên"); after "có" ("trong đó
  có nữ") it gives no number and the bot asks.
- A male count implies female = count - males; "không theo đạo", "người Kinh", "9/12" likewise give
  the complement.
- Breakdowns larger than the admission count are dropped and asked about ("<field>_exceeds"); a count
  that is not a whole number ("-5", "2,5") is asked about ("admission_count", "class_count").
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
