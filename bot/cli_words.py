"""argparse's own words (usage, section titles, errors) in Vietnamese with the English beside them.

argparse passes every word it prints through gettext (`argparse._`, `argparse.ngettext`), the hook
Python's documentation names for translating its output. A compiled catalog would only be found
when the system locale is Vietnamese, and a server's is usually C.UTF-8, so the tiendo command
installs this table in that hook instead. A word missing here stays in English: never lost.
"""

import argparse

WORDS: dict[str, str] = {
    "usage: ": "cách dùng / usage: ",
    "positional arguments": "tham số / positional arguments",
    "options": "tùy chọn / options",
    "show this help message and exit": "xem hướng dẫn này rồi thoát / show this help message and exit",
    "show program's version number and exit": (
        "xem phiên bản rồi thoát / show program's version number and exit"
    ),
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi / error: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "tham số / argument %(argument_name)s: %(message)s",
    "the following arguments are required: %s": (
        "thiếu tham số bắt buộc / the following arguments are required: %s"
    ),
    "one of the arguments %s is required": "cần một trong các tham số / one of the arguments %s is required",
    "unrecognized arguments: %s": "tham số không hiểu được / unrecognized arguments: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "giá trị không có trong danh sách / invalid choice: %(value)r "
        "(chọn một trong / choose from %(choices)s)"
    ),
    "invalid %(type)s value: %(value)r": "giá trị không hợp lệ / invalid %(type)s value: %(value)r",
    "expected one argument": "cần một giá trị / expected one argument",
    "expected at most one argument": "cần nhiều nhất một giá trị / expected at most one argument",
    "expected at least one argument": "cần ít nhất một giá trị / expected at least one argument",
    "not allowed with argument %s": "không dùng cùng với / not allowed with argument %s",
    "ambiguous option: %(option)s could match %(matches)s": (
        "tùy chọn chưa rõ / ambiguous option: %(option)s có thể là / could match %(matches)s"
    ),
    "ignored explicit argument %r": "giá trị bị bỏ qua / ignored explicit argument %r",
    "unexpected option string: %s": "tùy chọn không mong đợi / unexpected option string: %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "lệnh không có / unknown parser %(parser_name)r (chọn một trong / choices: %(choices)s)"
    ),
    "can't open '%(filename)s': %(error)s": "không mở được / can't open '%(filename)s': %(error)s",
}
PLURALS: dict[str, str] = {
    "expected %s argument": "cần %s giá trị / expected %s argument",
    "expected %s arguments": "cần %s giá trị / expected %s arguments",
}


def gettext(message: str) -> str:
    return WORDS.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    message = singular if n == 1 else plural
    return PLURALS.get(message, message)


def install() -> None:
    """Route argparse's words through the tables above (idempotent)."""
    argparse._ = gettext  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
