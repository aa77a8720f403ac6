"""Recognise text typed with the legacy Vietnamese encodings TCVN3 (ABC) and VNI.

Old fonts on office PCs still produce it: "kÕt n¹p" (TCVN3) or "keát naïp" (VNI) instead of
"kết nạp". The parser cannot read it reliably, so the bot asks for Unicode instead of guessing.
"""

import re

# Signs of TCVN3: its letters for ă â ê ô ơ ư đ and toned a are Latin-1 symbols (¸ µ ¶ · ¹ ¨ © ª …),
# and its toned ê/ô/ơ/ư are Latin-1 capitals in the middle of a lower-case word ("kÕt").
_TCVN3 = re.compile("[¸µ¶·¹¨©ª«¬®§¾»¼½]|(?<=[a-z])[ÆÇÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÛÜÝÞ]")
# Signs of VNI: a vowel followed by a mark no Vietnamese letter has (aï, aû, oø, eå, aä, eë), or ñ for đ.
# (Vowel + à/á/â/ê… also occurs in real Vietnamese, "hoà", so those do not count.)
_VNI = re.compile("[aeiouyAEIOUY][øûïåäë]|[ñÑ]")
# Real Vietnamese letters outside Latin-1: text with these is Unicode already.
_UNICODE_VI = re.compile("[ăĂđĐơƠưƯ\u1ea0-\u1ef9]")


def legacy_encoding(text: str) -> str | None:
    """ "TCVN3" or "VNI" when the text looks typed in that encoding, else None."""
    if _UNICODE_VI.search(text):
        return None
    if len(_VNI.findall(text)) >= 2:
        return "VNI"
    if len(_TCVN3.findall(text)) >= 2:
        return "TCVN3"
    return None
