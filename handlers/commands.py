"""The bot's commands: one table for the conversation (what to do) and the parser (what it means).

A name is what follows "/" (ASCII, as Telegram requires); an alias is another spelling of the same
command. `intent` is what `parse_message` reports for the command, so `tiendo parse "/…"` says what
the bot does: "/tiendo quý 4" asks for progress, "/baocao kết nạp 2 đảng viên" is a report (the text
after it is read like any report), "/baocao" alone lists the latest receipts (not a report),
"/ketnap" and "/lop" start a report asked step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "canonical", "find"]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    intent: str  # "report" | "progress" | "help" | "unknown": what the parser reports for it
    reads_report: bool = False  # text after the command is a report, read as if typed alone
    reads_period: bool = False  # text after the command names a period ("/tiendo tháng 10")
    asks: str | None = None  # the parser's question for a command that starts a report (catalog key)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("start", "help"),
        Command("help", "help"),
        Command("huongdan", "help"),
        Command("trogiup", "help"),
        Command("dangky", "unknown"),
        Command("tiendo", "progress", reads_period=True),
        Command("thidua", "progress", reads_period=True),
        Command("xuat", "progress", reads_period=True),
        Command("nhacnho", "unknown"),
        Command("huy", "unknown"),
        Command("baocao", "unknown", reads_report=True),
        Command("sua", "unknown"),
        Command("ketnap", "report", asks="count"),
        Command("lop", "report", asks="sent"),
    )
}
ALIASES = {"tien_do": "tiendo", "progress": "tiendo", "bao_cao": "baocao", "report": "baocao"}


def canonical(name: str) -> str:
    """The command's own name for an alias ("tien_do" -> "tiendo"); any other name as given."""
    return ALIASES.get(name, name)


def find(name: str) -> Command | None:
    return COMMANDS.get(canonical(name))
