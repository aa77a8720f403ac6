"""`tiendo …`: the admin command line. Help is bilingual: Vietnamese first, then English."""

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from storage.errors import StorageError

if TYPE_CHECKING:
    from bot.settings import Settings

# Modules are imported inside the commands that use them: `tiendo parse` and `--help` stay quick
# (no database layer, no Telegram library loaded for them).
METRICS = ("admissions", "class_completions")
ROLES = ("secretary", "staff", "admin")
FIGURE_KINDS = ("members_total", "candidate_pool")

log = logging.getLogger(__name__)


class CliError(Exception):
    """A failure to report in one line and exit 1."""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ngày không hợp lệ '{value}': cần dạng YYYY-MM-DD / invalid date, expected YYYY-MM-DD"
        ) from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"cần số nguyên không âm / expected a whole number ≥ 0: '{value}'")
    return number


def _today(settings: "Settings", override: date | None) -> date:
    return override or datetime.now(settings.zone).date()


# --- commands ---------------------------------------------------------------------------------


def cmd_units_import(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"Không có tệp {path}.") from None
    except UnicodeDecodeError as error:
        raise CliError(
            f"Tệp {path} không phải UTF-8 (byte {error.start}); hãy lưu lại dạng CSV UTF-8."
        ) from None
    rows = units.read_units_csv(text)
    database = open_database(settings)
    with database.session() as session:
        created, updated = units.import_units(session, rows)
    print(f"Đã nhập {len(rows)} đơn vị: {created} mới, {updated} cập nhật.")


def cmd_units_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units

    database = open_database(settings)
    with database.session() as session:
        rows = units.all_units(session)
        if not rows:
            print("Chưa có đơn vị nào. Nhập bằng: tiendo units import FILE.csv")
            return
        by_parent: dict[int | None, list] = {}
        for unit in rows:
            by_parent.setdefault(unit.parent_id, []).append(unit)

        def show(parent: int | None, depth: int) -> None:
            for unit in sorted(by_parent.get(parent, []), key=lambda u: u.code):
                print(f"{'  ' * depth}{unit.code}\t{unit.name}\t({unit.level})")
                show(unit.id, depth + 1)

        show(None, 0)


def cmd_units_move(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units

    database = open_database(settings)
    with database.session() as session:
        unit, parent = units.get_by_code(session, args.code), units.get_by_code(session, args.to)
        units.move_unit(session, unit, parent)
        print(f"Đã chuyển {unit.name} về {parent.name}; số liệu đã tính lại cho các cấp trên.")


def cmd_units_merge(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units

    database = open_database(settings)
    with database.session() as session:
        unit, into = units.get_by_code(session, args.code), units.get_by_code(session, args.into)
        units.merge_unit(session, unit, into, on=_today(settings, args.on))
        print(f"Đã sáp nhập {unit.name} vào {into.name}; số liệu cũ được tính cho {into.name}.")


def cmd_figures_set(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import figures, units
    from storage.models import FigureKind

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        figures.set_figure(
            session,
            unit=unit,
            kind=FigureKind(args.kind),
            as_of=args.as_of,
            value=args.value,
            source=args.source,
        )
        print(f"Đã ghi số liệu {args.kind} của {unit.name} ngày {args.as_of:%d/%m/%Y}: {args.value}.")


def cmd_targets_set(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import targets, units
    from storage.models import Metric

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        target = targets.set_target(
            session,
            unit=unit,
            metric=Metric(args.metric),
            start=args.date_from,
            end=args.date_to,
            value=args.value,
            max_value=args.max,
            source=args.source,
        )
        value = f"{target.value}–{target.max_value}" if target.max_value else str(target.value)
        print(f"Đã đặt chỉ tiêu {args.metric} cho {unit.name}: {value} ({args.date_from} → {args.date_to}).")


def cmd_invite(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import accounts, units
    from storage.models import Role

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        code = accounts.create_invite(session, unit=unit, role=Role(args.role), days=args.days)
        print(f"Mã đăng ký cho {unit.name}, vai trò {args.role}, hiệu lực {args.days} ngày.")
        print("Người dùng gửi cho bot: /dangky MÃ")
        print(code)


def cmd_progress(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers import progress_text
    from handlers.progress_json import progress_json
    from handlers.progress_view import split_query, term_window
    from handlers.unit_match import match_units
    from storage import units
    from storage.progress import completeness, unit_progress

    today = _today(settings, args.today)
    database = open_database(settings)
    with database.session() as session:
        every = units.all_units(session)
        if not every:
            raise CliError("Chưa có đơn vị nào. Nhập bằng: tiendo units import FILE.csv, hoặc tiendo demo.")
        if args.unit:
            found = [u for u in match_units(every, args.unit) if u.merged_into_id is None]
            if not found:
                raise CliError(f"Không tìm thấy đơn vị '{args.unit}'. Xem danh sách: tiendo units list")
            if len(found) > 1:
                raise CliError(
                    f"Nhiều đơn vị khớp với '{args.unit}': "
                    + ", ".join(f"{u.code} ({u.name})" for u in found[:10])
                )
            unit = found[0]
        else:
            roots = [u for u in every if u.parent_id is None]
            if len(roots) > 1:
                raise CliError(
                    "Có nhiều đơn vị gốc; chọn một bằng --unit: " + ", ".join(u.code for u in roots)
                )
            unit = roots[0]
        period = None
        if args.period:
            # The same reading of a period as /tiendo in chat; here nothing else may be in the text.
            query = split_query(args.period, today)
            if query.unit_text or (query.period is None and not query.term):
                raise CliError(
                    f"Không hiểu kỳ '{args.period}'. Ví dụ: 'tháng 10/2023', 'quý 3', 'năm 2023', "
                    "'nhiệm kỳ', 'từ 11/2023 đến 6/2025'."
                )
            period = term_window(session, unit, today) if query.term else query.period
            if query.term and period is None:
                raise CliError(f"{unit.name} chưa có chỉ tiêu nhiệm kỳ (nguồn 'Nghị quyết Đại hội').")
        figures = unit_progress(session, unit, today, period=period)
        data = progress_json(figures, settings.lagging_threshold)
        check = (
            completeness(session, unit, today) if period is None or period[0] <= today <= period[1] else None
        )
        if args.xlsx or args.png:
            from handlers import exports

            if args.xlsx:
                Path(args.xlsx).write_bytes(exports.progress_workbook(data))
            if args.png:
                Path(args.png).write_bytes(exports.progress_chart(data))
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            print(progress_text.render(figures, settings.lagging_threshold, check))


def cmd_demo(args: argparse.Namespace, settings: "Settings") -> None:
    from bot import demo
    from bot.runtime import open_database

    database = open_database(settings)
    with database.session() as session:
        try:
            codes = demo.load(session)
        except demo.DemoAlreadyLoaded as error:
            raise CliError(str(error)) from None
    print("Đã nạp dữ liệu mẫu Thanh Liêm (2023). Xem: tiendo progress --today 2023-11-01")
    print(f"Mã đăng ký thử (bí thư chi bộ tổ dân phố 1 Kiện Khê): {codes['secretary']}")
    print(f"Mã đăng ký thử (cán bộ theo dõi Đảng bộ thị trấn Kiện Khê): {codes['staff']}")


def cmd_run(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.serve import ConfigError, run_polling

    try:
        run_polling(settings)
    except ConfigError as error:
        raise CliError(f"{error} {TOKEN_HELP}") from None


def cmd_serve(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.serve import ConfigError, serve

    try:
        serve(settings, host=args.host, port=args.port)
    except ConfigError as error:
        raise CliError(str(error)) from None


def cmd_nudge(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.campaign import plan_campaign, preview_text
    from storage.clock import month_start

    now = datetime.now(settings.zone)
    if args.today:
        now = datetime.combine(args.today, now.time(), tzinfo=settings.zone)
    month = month_start(now.date())
    if not args.dry_run and not args.send:
        raise CliError("Chọn --dry-run (xem trước) hoặc --send (gửi ngay); bật/tắt: tiendo nudge off|on.")
    database = open_database(settings)
    if args.dry_run:
        with database.session() as session:
            plan = plan_campaign(session, month, threshold=settings.lagging_threshold)
            print(preview_text(plan, None))
            for recipient, message in zip(plan.recipients, plan.messages(), strict=True):
                who = recipient.account.display_name or recipient.account.channel_user_id
                kinds = ", ".join(recipient.kinds)
                print(f"\n→ {who} ({recipient.account.channel}, {recipient.unit.name}) [{kinds}]")
                print(message.text)
        return
    _send_campaign(args, settings, database, month, now)


def _send_campaign(
    args: argparse.Namespace, settings: "Settings", database, month: date, now: datetime
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from telegram.ext import ExtBot

    from bot.outbox_sender import OutboxSender, telegram_deliver
    from bot.scheduler import compose, in_quiet_hours
    from bot.telegram_channel import smooth_rate_limiter
    from handlers.i18n import t
    from storage import outbox

    if not settings.telegram_bot_token:
        raise CliError("Cần TELEGRAM_BOT_TOKEN để gửi. Xem trước: tiendo nudge --dry-run")
    added = compose(database, month, now=now, threshold=settings.lagging_threshold)
    if added is None:
        raise CliError("Một tiến trình khác đang soạn đợt nhắc việc; thử lại sau ít phút.")
    print(f"Đợt nhắc việc tháng {month:%m/%Y}: {added} tin nhắn mới vào hàng đợi.")
    if in_quiet_hours(now.time(), settings.quiet_window) and not args.ignore_quiet_hours:
        print(
            f"Đang trong giờ yên lặng ({settings.quiet_hours}): bot sẽ gửi khi hết giờ yên lặng "
            "(hoặc thêm --ignore-quiet-hours)."
        )
        return

    async def drain() -> None:
        bot = ExtBot(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_base_url,
            # No retries inside the limiter: a 429 goes back to the outbox, which reschedules that
            # one message after retry_after while the others keep going.
            rate_limiter=smooth_rate_limiter(max_retries=0),
        )
        async with bot:
            sender = OutboxSender(database, telegram_deliver(bot), clock=lambda: datetime.now(settings.zone))
            result = await sender.drain()
        print(
            f"Đã gửi {result.sent}; sẽ thử lại {result.retried}; không gửi được {result.failed}; "
            f"người nhận đã chặn bot {result.unreachable}."
        )

    asyncio.run(drain())
    with database.session() as session:
        left = outbox.counts(session).get("pending", 0)
        # Messages possibly delivered before a crash or a time-out: never resent, so say so each run.
        uncertain = outbox.counts(session, f"{month:%Y-%m}").get("uncertain", 0)
    if left:
        print(f"Còn {left} tin nhắn chờ gửi lại; bot đang chạy (tiendo run) sẽ gửi tiếp.")
    if uncertain:
        print(t("outbox.uncertain", n=uncertain))


def cmd_nudge_switch(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import campaigns, units

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        campaigns.set_kind(
            session, unit, args.kind, enabled=args.nudge_command == "on", now=datetime.now(settings.zone)
        )
    state = "bật" if args.nudge_command == "on" else "tắt"
    print(f"Đã {state} loại tin nhắn '{args.kind}' cho {unit.name} và các đơn vị cấp dưới.")


def cmd_backup(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.backup import backup

    backup(settings.database_url, Path(args.file))
    print(f"Đã sao lưu cơ sở dữ liệu vào {args.file}.")


def cmd_restore(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.backup import restore
    from bot.runtime import open_database

    if not args.yes:
        raise CliError("Khôi phục sẽ ghi đè toàn bộ dữ liệu hiện có. Dừng bot trước, rồi chạy lại với --yes.")
    restore(settings.database_url, Path(args.file))
    open_database(settings).dispose()  # a backup from an older version is migrated now
    print(f"Đã khôi phục cơ sở dữ liệu từ {args.file}.")


TOKEN_HELP = (
    "Lấy token: mở Telegram, nhắn @BotFather lệnh /newbot, làm theo hướng dẫn, rồi ghi "
    "TELEGRAM_BOT_TOKEN=... vào tệp .env (xem .env.example)."
)


def cmd_chat(args: argparse.Namespace, settings: "Settings") -> None:
    from bot import demo
    from bot.runtime import make_services, open_database
    from bot.terminal import CHANNEL, USER, chat
    from storage import units
    from storage.models import Account, Role

    interactive = sys.stdin.isatty()
    if args.demo:
        folder = tempfile.mkdtemp(prefix="tiendo-demo-")
        settings = settings.model_copy(update={"database_url": f"sqlite:///{folder}/demo.db"})
        database = open_database(settings)
        today = args.today or demo.DEMO_TODAY
        with database.session() as session:
            codes = demo.load(session)
            root = units.get_by_code(session, demo.ROOT)
            session.add(
                Account(
                    channel=CHANNEL,
                    channel_user_id=USER,
                    role=Role.staff,
                    unit_id=root.id or 0,
                    display_name="Cán bộ Ban Tổ chức (demo)",
                    created_at=datetime.now(settings.zone),
                )
            )
        print(
            "Dữ liệu mẫu: Đảng bộ huyện Thanh Liêm (báo Hà Nam, 2023). "
            f"Hôm nay trong bản demo: {today:%d/%m/%Y}."
        )
        print("Đồng chí đang là cán bộ Ban Tổ chức Huyện ủy. Thử: /tiendo, /tiendo Kiện Khê, /help.")
        print(
            f"Thử làm bí thư chi bộ: /dangky {codes['secretary']} "
            "rồi gửi: kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên"
        )
        print(f"Thử làm cán bộ Đảng bộ thị trấn Kiện Khê: /dangky {codes['staff']}")
        print("Thoát: /quit hoặc Ctrl-D.\n")
    else:
        database = open_database(settings)
        today = args.today
        if interactive:
            print("Trò chuyện với bot trên cơ sở dữ liệu đã cấu hình. Đăng ký: /dangky MÃ. Thoát: /quit.\n")
    zone = settings.zone
    clock = None
    if today is not None:
        # A fixed calendar day, with the real time of day so that drafts still age.
        def clock() -> datetime:
            return datetime.combine(today, datetime.now(zone).time(), tzinfo=zone)

    services = make_services(settings, database, clock=clock)
    try:
        chat(services, sys.stdin, sys.stdout, prompt=interactive)
    except KeyboardInterrupt:
        print()


def cmd_start(args: argparse.Namespace, settings: "Settings") -> None:
    """What `make run` does: the bot when a token is set, otherwise the demo in the terminal."""
    if settings.telegram_bot_token or settings.zalo_bot_token:
        cmd_run(args, settings)
        return
    print("Chưa có TELEGRAM_BOT_TOKEN nên mở bản chạy thử trong cửa sổ dòng lệnh, với dữ liệu mẫu.")
    print(TOKEN_HELP + "\n")
    args.demo, args.today = True, None
    cmd_chat(args, settings)


def cmd_parse(args: argparse.Namespace, settings: "Settings") -> None:
    from handlers.parser import parse_message

    today = _today(settings, args.today)
    if args.jsonl:
        out = sys.stdout
        for line in sys.stdin:
            text = _jsonl_message(line.rstrip("\n"))
            out.write(parse_message(text, today).to_json_line() + "\n")
        return
    if args.text is None:
        raise CliError("Cần nội dung tin nhắn, hoặc --jsonl để đọc từ đầu vào chuẩn.")
    print(json.dumps(parse_message(" ".join(args.text), today).to_json(), ensure_ascii=False, indent=2))


def _jsonl_message(line: str) -> str:
    """A line is a message as typed; a line that is a JSON string ("…\\n…") can carry line breaks."""
    if line.startswith('"') and line.endswith('"') and len(line) > 1:
        try:
            decoded = json.loads(line)
        except ValueError:
            return line
        if isinstance(decoded, str):
            return decoded
    return line


# --- the parser -------------------------------------------------------------------------------


def _help(vi: str, en: str) -> str:
    return f"{vi} / {en}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiendo",
        description=_help(
            "Tiến độ: bot báo cáo kết nạp đảng viên và lớp nhận thức về Đảng; lệnh quản trị",
            "Tiến độ: a chat bot for party member development reports; admin commands",
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    units_parser = sub.add_parser(
        "units",
        help=_help("quản lý cây đơn vị", "manage the unit tree"),
        description=_help("Quản lý cây đơn vị", "Manage the unit tree"),
    )
    units_sub = units_parser.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    p = units_sub.add_parser(
        "import",
        help=_help("nhập đơn vị từ CSV", "import units from CSV"),
        description=_help(
            "Nhập đơn vị từ tệp CSV UTF-8 với các cột code,name,parent_code,level. Một dòng sai thì "
            "không nhập gì và báo số dòng",
            "Import units from a UTF-8 CSV with columns code,name,parent_code,level. A bad line imports "
            "nothing and is named",
        ),
    )
    p.add_argument("file", metavar="FILE.csv", help=_help("tệp CSV", "the CSV file"))
    p.set_defaults(func=cmd_units_import)
    p = units_sub.add_parser(
        "list",
        help=_help("liệt kê đơn vị", "list units"),
        description=_help("Liệt kê cây đơn vị", "List the unit tree"),
    )
    p.set_defaults(func=cmd_units_list)
    p = units_sub.add_parser(
        "move",
        help=_help("chuyển đơn vị sang cấp trên khác", "move a unit under another parent"),
        description=_help(
            "Chuyển một đơn vị (cùng các đơn vị cấp dưới và toàn bộ số liệu) sang cấp trên khác",
            "Move a unit, with its sub-units and all its history, under another parent",
        ),
    )
    p.add_argument("code", metavar="CODE", help=_help("mã đơn vị cần chuyển", "the unit to move"))
    p.add_argument("--to", required=True, metavar="PARENT", help=_help("mã cấp trên mới", "the new parent"))
    p.set_defaults(func=cmd_units_move)
    p = units_sub.add_parser(
        "merge",
        help=_help("sáp nhập đơn vị", "merge a unit into another"),
        description=_help(
            "Sáp nhập một đơn vị vào đơn vị khác: số liệu cũ được tính cho đơn vị mới ở mọi kỳ, "
            "tài khoản và đơn vị cấp dưới chuyển sang đơn vị mới",
            "Merge a unit into another: its history counts there for every period; its accounts and "
            "sub-units pass to it",
        ),
    )
    p.add_argument("code", metavar="CODE", help=_help("mã đơn vị bị sáp nhập", "the unit merged away"))
    p.add_argument("--into", required=True, metavar="CODE", help=_help("mã đơn vị nhận", "the unit it joins"))
    p.add_argument(
        "--on",
        type=_date,
        metavar="YYYY-MM-DD",
        help=_help("ngày sáp nhập (mặc định hôm nay)", "date of the merger (default today)"),
    )
    p.set_defaults(func=cmd_units_merge)

    p = sub.add_parser(
        "figures",
        help=_help("nhập số liệu của đơn vị", "enter a unit's figures"),
        description=_help(
            "Nhập tổng số đảng viên hoặc số quần chúng đã học lớp nhận thức chưa kết nạp (nguồn đầu kỳ) "
            "của một đơn vị tại một ngày",
            "Enter a unit's total members, or its opening pool of trained candidates, as of a day",
        ),
    )
    figures_sub = p.add_subparsers(dest="figures_command", metavar="ACTION", required=True)
    p = figures_sub.add_parser(
        "set",
        help=_help("nhập một số liệu", "enter a figure"),
        description=_help("Nhập một số liệu", "Enter a figure"),
    )
    p.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    p.add_argument(
        "--kind",
        required=True,
        choices=FIGURE_KINDS,
        help=_help(
            "tổng số đảng viên, hoặc nguồn quần chúng đầu kỳ", "total members, or the opening candidate pool"
        ),
    )
    p.add_argument(
        "--as-of",
        dest="as_of",
        required=True,
        type=_date,
        metavar="YYYY-MM-DD",
        help=_help("số liệu tại ngày", "as of this day"),
    )
    p.add_argument("--value", required=True, type=_positive, metavar="N", help=_help("giá trị", "the value"))
    p.add_argument("--source", default="", metavar="TEXT", help=_help("nguồn số liệu", "where it comes from"))
    p.set_defaults(func=cmd_figures_set)

    targets_parser = sub.add_parser(
        "targets", help=_help("chỉ tiêu", "targets"), description=_help("Quản lý chỉ tiêu", "Manage targets")
    )
    targets_sub = targets_parser.add_subparsers(dest="targets_command", metavar="ACTION", required=True)
    p = targets_sub.add_parser(
        "set",
        help=_help("đặt chỉ tiêu", "set a target"),
        description=_help(
            "Đặt chỉ tiêu cho một đơn vị (thay chỉ tiêu cùng đơn vị, loại, thời gian và nguồn)",
            "Set a target for a unit (replaces one with the same unit, metric, window and source)",
        ),
    )
    p.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    p.add_argument(
        "--metric",
        required=True,
        choices=METRICS,
        help=_help("kết nạp hoặc hoàn thành lớp nhận thức", "admissions or class completions"),
    )
    p.add_argument(
        "--from",
        dest="date_from",
        required=True,
        type=_date,
        metavar="YYYY-MM-DD",
        help=_help("ngày bắt đầu", "start date"),
    )
    p.add_argument(
        "--to",
        dest="date_to",
        required=True,
        type=_date,
        metavar="YYYY-MM-DD",
        help=_help("ngày kết thúc", "end date"),
    )
    p.add_argument(
        "--value",
        required=True,
        type=_positive,
        metavar="N",
        help=_help("chỉ tiêu (mức tối thiểu nếu có --max)", "target (the minimum with --max)"),
    )
    p.add_argument("--max", type=_positive, metavar="M", help=_help("mức tối đa của khoảng", "range maximum"))
    p.add_argument(
        "--source",
        default="",
        metavar="TEXT",
        help=_help("nguồn, ví dụ 'Nghị quyết Đại hội'", "source, e.g. 'Nghị quyết Đại hội'"),
    )
    p.set_defaults(func=cmd_targets_set)

    p = sub.add_parser(
        "invite",
        help=_help("tạo mã đăng ký dùng một lần", "create a one-time invite code"),
        description=_help(
            "Tạo mã đăng ký dùng một lần; dòng cuối là mã",
            "Create a one-time invite code; the last line is the code",
        ),
    )
    p.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    p.add_argument("--role", required=True, choices=ROLES, help=_help("vai trò", "role"))
    p.add_argument(
        "--days",
        type=_positive,
        default=7,
        metavar="N",
        help=_help("số ngày hiệu lực (mặc định 7)", "days valid (default 7)"),
    )
    p.set_defaults(func=cmd_invite)

    p = sub.add_parser(
        "progress",
        help=_help("xem tiến độ như /tiendo", "show progress as /tiendo does"),
        description=_help(
            "Tiến độ của một đơn vị, như lệnh /tiendo", "A unit's progress, as the /tiendo command shows it"
        ),
    )
    p.add_argument(
        "--unit",
        metavar="TEXT",
        help=_help(
            "mã hoặc tên đơn vị, có dấu hay không (mặc định: đơn vị gốc)",
            "unit code or name, with or without diacritics (default: the root)",
        ),
    )
    p.add_argument(
        "--period",
        metavar="TEXT",
        help=_help(
            "kỳ: 'tháng 10/2023', 'quý 3', 'năm 2023', 'nhiệm kỳ', 'từ 11/2023 đến 6/2025'",
            "period, in the same words as in chat",
        ),
    )
    p.add_argument(
        "--today", type=_date, metavar="YYYY-MM-DD", help=_help("tính đến ngày này", "as of this day")
    )
    p.add_argument(
        "--json", action="store_true", help=_help("in số liệu dạng JSON", "print the figures as JSON")
    )
    p.add_argument("--xlsx", metavar="FILE", help=_help("ghi bảng Excel", "write the Excel workbook"))
    p.add_argument("--png", metavar="FILE", help=_help("ghi biểu đồ PNG", "write the PNG chart"))
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser(
        "nudge",
        help=_help("đợt nhắc việc hằng tháng", "the monthly campaign of nudges and praise"),
        description=_help(
            "Đợt nhắc việc hằng tháng: đôn đốc đơn vị chậm, biểu dương đơn vị tốt, nhắc báo cáo, "
            "gửi tổng hợp cho Ban Tổ chức. Mỗi người nhận tối đa một tin nhắn mỗi đợt; "
            "chạy lại không gửi trùng",
            "The monthly campaign: nudges, praise, reminders and staff summaries; at most one message per "
            "recipient per campaign; running it again sends nothing twice",
        ),
    )
    action = p.add_mutually_exclusive_group()
    action.add_argument(
        "--dry-run", action="store_true", help=_help("chỉ in ra ai nhận gì", "print who gets what")
    )
    action.add_argument("--send", action="store_true", help=_help("soạn và gửi ngay", "compose and send now"))
    p.add_argument(
        "--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày chạy giả định", "pretend today")
    )
    p.add_argument(
        "--ignore-quiet-hours",
        action="store_true",
        help=_help("gửi cả trong giờ yên lặng", "send even in quiet hours"),
    )
    p.set_defaults(func=cmd_nudge)
    nudge_sub = p.add_subparsers(dest="nudge_command", metavar="on|off")
    for name, vi, en in (
        ("off", "tắt một loại tin nhắn cho một đơn vị", "switch a kind off for a unit"),
        ("on", "bật lại một loại tin nhắn", "switch a kind back on"),
    ):
        q = nudge_sub.add_parser(name, help=_help(vi, en), description=_help(vi, en))
        q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
        q.add_argument(
            "--kind",
            required=True,
            choices=("nudge", "praise", "reminder", "summary"),
            help=_help("đôn đốc, biểu dương, nhắc báo cáo, tổng hợp", "nudge, praise, reminder, summary"),
        )
        q.set_defaults(func=cmd_nudge_switch)

    p = sub.add_parser(
        "backup",
        help=_help("sao lưu cơ sở dữ liệu", "back up the database"),
        description=_help(
            "Sao lưu nhất quán cơ sở dữ liệu đang chạy (SQLite: API sao lưu; PostgreSQL: pg_dump)",
            "A consistent copy of the running database (SQLite: the backup API; PostgreSQL: pg_dump)",
        ),
    )
    p.add_argument("file", metavar="FILE", help=_help("tệp sao lưu", "the backup file"))
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "restore",
        help=_help("khôi phục từ bản sao lưu", "restore a backup"),
        description=_help(
            "Khôi phục cơ sở dữ liệu từ bản sao lưu (ghi đè; dừng bot trước)",
            "Restore the database from a backup (overwrites it; stop the bot first)",
        ),
    )
    p.add_argument("file", metavar="FILE", help=_help("tệp sao lưu", "the backup file"))
    p.add_argument("--yes", action="store_true", help=_help("xác nhận ghi đè", "confirm overwriting"))
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "demo",
        help=_help("nạp dữ liệu mẫu Thanh Liêm", "load the Thanh Liêm demo data"),
        description=_help(
            "Nạp dữ liệu mẫu vào cơ sở dữ liệu đã cấu hình",
            "Load the demo dataset into the configured database",
        ),
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "run",
        help=_help("chạy bot (Telegram, Zalo)", "run the bot (Telegram, Zalo)"),
        description=_help(
            "Chạy bot trên mọi kênh đã cấu hình (long polling), kèm đợt nhắc việc hằng tháng",
            "Run the bot on every configured channel (long polling), with the monthly campaign",
        ),
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "serve",
        help=_help("máy chủ webhook cho Telegram và Zalo", "serve the Telegram and Zalo webhooks"),
        description=_help(
            "Chạy máy chủ web: webhook của các kênh đã cấu hình (đăng ký tại PUBLIC_BASE_URL), /healthz, "
            "liên kết tải tệp, và đợt nhắc việc hằng tháng",
            "Run the web backend: webhooks of every configured channel (registered at PUBLIC_BASE_URL), "
            "/healthz, file links, and the monthly campaign",
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help=_help("địa chỉ lắng nghe", "address to listen on"))
    p.add_argument(
        "--port", type=int, default=8080, help=_help("cổng (mặc định 8080)", "port (default 8080)")
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "chat",
        help=_help("trò chuyện với bot trong cửa sổ dòng lệnh", "chat in the terminal"),
        description=_help(
            "Trò chuyện với bot trong cửa sổ dòng lệnh (đọc đầu vào chuẩn)",
            "Chat with the bot in the terminal (reads standard input)",
        ),
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help=_help("dùng cơ sở dữ liệu tạm với dữ liệu mẫu", "use a throw-away database with the demo"),
    )
    p.add_argument(
        "--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày hôm nay giả định", "pretend today")
    )
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "start",
        help=_help("như make run", "what make run does"),
        description=_help(
            "Chạy bot nếu có TELEGRAM_BOT_TOKEN, nếu không thì mở bản chạy thử",
            "Run the bot if TELEGRAM_BOT_TOKEN is set, otherwise the terminal demo",
        ),
    )
    p.set_defaults(func=cmd_start)

    p = sub.add_parser(
        "parse",
        help=_help("xem bot hiểu tin nhắn thế nào", "show what the parser understood"),
        description=_help(
            "In ra JSON những gì bot hiểu từ tin nhắn", "Print what the parser understood, as JSON"
        ),
    )
    p.add_argument(
        "--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày hôm nay giả định", "pretend today")
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help=_help(
            "mỗi dòng vào là một tin nhắn (hoặc chuỗi JSON nếu tin nhắn có xuống dòng); mỗi dòng ra là JSON",
            "one message per line (or a JSON string, for messages with line breaks); one JSON object out",
        ),
    )
    p.add_argument("text", nargs="*", default=None, metavar="TEXT", help=_help("tin nhắn", "the message"))
    p.set_defaults(func=cmd_parse)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "text", None) == []:
        args.text = None
    from pydantic import ValidationError

    from bot.logs import configure_logging
    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        print(f"Lỗi cấu hình: {problems}", file=sys.stderr)
        return 1
    # Admin commands print their own results; the long-running bot logs at the configured level.
    bot_runs = args.command in ("run", "serve") or (
        args.command == "start" and (settings.telegram_bot_token or settings.zalo_bot_token)
    )
    configure_logging(settings.log_level if bot_runs else "WARNING")
    func: Callable[[argparse.Namespace, Settings], None] = args.func
    try:
        func(args, settings)
    except (CliError, StorageError) as error:
        print(f"Lỗi: {error}", file=sys.stderr)
        return 1
    except _database_errors() as error:
        print(f"Lỗi cơ sở dữ liệu ({settings.database_url.split('@')[-1]}): {error.orig}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


def _database_errors() -> tuple[type[Exception], ...]:
    """Evaluated only when an exception is being handled, so the import costs nothing otherwise."""
    from sqlalchemy.exc import OperationalError

    return (OperationalError,)
