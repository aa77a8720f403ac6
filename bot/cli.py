"""`tiendo …`: the admin command line. Help is bilingual: Vietnamese first, then English."""

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot import cli_words
from storage.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from bot.settings import Settings
    from storage.breakdowns import Breakdown
    from storage.models import Account, ChannelBot

# Modules are imported inside the commands that use them: `tiendo parse` and `--help` stay quick
# (no database layer, no Telegram library loaded for them).
METRICS = ("admissions", "class_completions")
ROLES = ("secretary", "staff", "admin")
FIGURE_KINDS = ("members_total", "candidate_pool")
# What the identifiers above (and the statuses of invites and accounts) are called in the CLI's
# sentences and tables; JSON output keeps the identifiers, which scripts match on.
SAID = {
    "admissions": "kết nạp đảng viên",
    "class_completions": "quần chúng hoàn thành lớp nhận thức về Đảng",
    "members_total": "tổng số đảng viên",
    "candidate_pool": "nguồn quần chúng ưu tú",
    "secretary": "bí thư chi bộ",
    "staff": "cán bộ theo dõi",
    "admin": "quản trị",
    "open": "còn dùng được",
    "used": "đã dùng",
    "cancelled": "đã hủy",
    "expired": "hết hạn",
    "active": "đang dùng",
    "revoked": "đã thu hồi",
    "unreachable": "không liên lạc được",
    "nudge": "nhắc việc",
    "praise": "biểu dương",
    "reminder": "nhắc hạn báo cáo",
    "summary": "tổng hợp",
}


def said(identifier: object) -> str:
    """An identifier as the CLI's Vietnamese says it (unknown ones as they are)."""
    return SAID.get(str(identifier), str(identifier))


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


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"Không có tệp {path}.") from None
    except IsADirectoryError:
        raise CliError(f"{path} là thư mục, không phải tệp.") from None


def cmd_units_import(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers import imports

    path = Path(args.file)
    data = _read_file(path)
    database = open_database(settings)
    with database.session() as session:
        preview = imports.import_units(session, data, path.name)
        if preview.problems:
            raise CliError(
                f"không nhập gì, tệp có {len(preview.problems)} lỗi:\n" + imports.problems_text(preview)
            )
        created = sum(1 for u in preview.units if u.new)
    print(f"Đã nhập {len(preview.units)} đơn vị: {created} mới, {len(preview.units) - created} cập nhật.")


def cmd_targets_import(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers import imports

    path = Path(args.file)
    data = _read_file(path)
    database = open_database(settings)
    with database.session() as session:
        preview = imports.import_targets(session, data, path.name)
        if preview.problems:
            raise CliError(
                f"không nhập gì, tệp có {len(preview.problems)} lỗi:\n" + imports.problems_text(preview)
            )
        replaced = sum(1 for p in preview.targets if p.replaces)
    print(
        f"Đã đặt {len(preview.targets)} chỉ tiêu: {len(preview.targets) - replaced} mới, {replaced} thay thế."
    )


def cmd_units_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units

    database = open_database(settings)
    with database.session() as session:
        rows = units.all_units(session)
        if args.json:
            codes = {unit.id: unit.code for unit in rows}
            listed = [
                {"code": u.code, "name": u.name, "parent_code": codes.get(u.parent_id), "level": u.level}
                for u in sorted(rows, key=lambda u: u.code)
            ]
            _print_json(listed)
            return
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
    from sqlmodel import select

    from bot.runtime import open_database
    from storage import units
    from storage.models import Unit

    on = _today(settings, args.on)
    database = open_database(settings)
    with database.session() as session:
        merged = [units.get_by_code(session, code) for code in [args.code, *args.more]]
        into = session.exec(select(Unit).where(Unit.code == args.into)).first()
        if into is None:
            if not args.name:
                raise CliError(
                    f'Không có đơn vị mã \'{args.into}\'. Tạo đơn vị mới: thêm --name "Tên" --level "Cấp".'
                )
            parent = session.get(Unit, merged[0].parent_id) if merged[0].parent_id else None
            into = units.create_unit(
                session,
                code=args.into,
                name=args.name,
                level=args.level or merged[0].level,
                parent=parent,
                valid_from=on,
            )
            print(f"Đã tạo {into.name} ({into.code}), hiệu lực từ {on:%d/%m/%Y}.")
        for unit in merged:
            units.merge_unit(session, unit, into, on=on)
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
        print(f"Đã ghi số liệu {said(args.kind)} của {unit.name} ngày {args.as_of:%d/%m/%Y}: {args.value}.")


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
        print(
            f"Đã đặt chỉ tiêu {said(args.metric)} cho {unit.name}: {value} "
            f"({args.date_from:%d/%m/%Y} → {args.date_to:%d/%m/%Y})."
        )


def cmd_invite(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.channels import configured_names
    from bot.runtime import open_database
    from storage import accounts, bots, units
    from storage.models import Role

    if not args.unit or not args.role:
        raise CliError(
            "Tạo mã: tiendo invite --unit MÃ_ĐƠN_VỊ --role secretary|staff|admin [--days N]; "
            "xem, hủy: tiendo invite list | tiendo invite cancel SỐ."
        )
    database = open_database(settings)
    configured = configured_names(settings)
    metered = [name for name, counted in configured.items() if counted]
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        code = accounts.create_invite(session, unit=unit, role=Role(args.role), days=args.days)
        print(f"Mã đăng ký cho {unit.name}, vai trò {said(args.role)}, hiệu lực {args.days} ngày.")
        # Several bots each serve a part of the tree (a bot's plan limits its users): say which one.
        bot = bots.serving(session, unit, metered) or (metered[0] if len(metered) == 1 else None)
        if bot is not None:
            users, limit = bots.users(session, bot), _user_limit(session, settings, bot)
            print(f"Người dùng nhắn cho bot «{bots.title(session, bot)}» ({bot}): /dangky MÃ")
            if users >= limit:
                print(
                    f"Lưu ý: bot {bot} đã có {users}/{limit} người dùng (giới hạn của gói); nên giao đơn vị "
                    "này cho bot khác: tiendo bots set TÊN --unit MÃ",
                    file=sys.stderr,
                )
        elif len(metered) > 1:
            print(
                f"Lưu ý: chưa giao {unit.name} cho bot nào ({', '.join(metered)}): "
                f"tiendo bots set TÊN --unit {unit.code}",
                file=sys.stderr,
            )
            print("Người dùng gửi cho bot: /dangky MÃ")
        else:
            print("Người dùng gửi cho bot: /dangky MÃ")
        print(code)


def _user_limit(session, settings: "Settings", channel: str) -> int:
    from storage import bots

    row = bots.get(session, channel)
    return row.user_limit if row is not None and row.user_limit is not None else settings.zalo_user_limit


def cmd_bots_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.channels import configured_names
    from bot.runtime import open_database
    from bot.usage import quota_month
    from storage import bots
    from storage.models import Unit

    database = open_database(settings)
    now = datetime.now(settings.zone)
    month = quota_month(now, settings.zone)
    configured = configured_names(settings)
    with database.session() as session:
        rows = {row.channel: row for row in bots.all_bots(session)}
        names = [*configured, *(name for name in rows if name not in configured)]
        if args.json:
            _print_json([_bot_json(session, settings, n, rows.get(n), configured, now) for n in names])
            return
        if not names:
            print("Chưa cấu hình bot nào. Xem .env.example (ZALO_BOT_TOKEN, ZALO_BOTS, TELEGRAM_BOT_TOKEN).")
            return
        for name in names:
            row = rows.get(name)
            unit = session.get(Unit, row.unit_id) if row is not None and row.unit_id is not None else None
            line = [name, f"«{bots.title(session, name)}»"]
            line.append(f"phục vụ {unit.code} ({unit.name})" if unit is not None else "chưa giao đơn vị")
            if configured.get(name, True):  # metered (or not configured here: shown in full)
                quota = (
                    row.monthly_quota
                    if row is not None and row.monthly_quota
                    else settings.zalo_monthly_quota
                )
                line.append(f"{bots.users(session, name)}/{_user_limit(session, settings, name)} người dùng")
                line.append(f"tháng {month:%m/%Y}: {bots.sent(session, name, month)}/{quota} tin nhắn")
                until = bots.exhausted_until(session, name, now)
                if until is not None:
                    line.append(f"hết hạn mức, chờ đến {until.astimezone(settings.zone):%H:%M %d/%m/%Y}")
            if name not in configured:
                line.append("(chưa cấu hình token ở máy này)")
            print("\t".join(line))


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _bot_json(
    session: "Session",
    settings: "Settings",
    name: str,
    row: "ChannelBot | None",
    configured: dict[str, bool],
    now: datetime,
) -> dict[str, object]:
    """One bot as `tiendo bots list --json` gives it: what the text line says, as fields."""
    from bot.usage import quota_month
    from storage import bots
    from storage.models import Unit

    unit = session.get(Unit, row.unit_id) if row is not None and row.unit_id is not None else None
    entry: dict[str, object] = {
        "name": name,
        "title": bots.title(session, name),
        "unit_code": unit.code if unit is not None else None,
        "configured": name in configured,
    }
    if configured.get(name, True):
        month = quota_month(now, settings.zone)
        until = bots.exhausted_until(session, name, now)
        entry |= {
            "users": bots.users(session, name),
            "user_limit": _user_limit(session, settings, name),
            "month": f"{month:%Y-%m}",
            "sent": bots.sent(session, name, month),
            "monthly_quota": (
                row.monthly_quota if row is not None and row.monthly_quota else settings.zalo_monthly_quota
            ),
            "exhausted_until": until.astimezone(settings.zone).isoformat() if until is not None else None,
        }
    return entry


def cmd_bots_set(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.channels import configured_names
    from bot.runtime import open_database
    from storage import bots, units

    configured = configured_names(settings)
    if args.name not in configured:
        known = ", ".join(configured) or "chưa có"
        raise CliError(f"Không có bot «{args.name}» trong cấu hình (các bot: {known}). Xem: tiendo bots list")
    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit) if args.unit else None
        row = bots.save(
            session,
            args.name,
            title=args.title,
            unit=unit,
            monthly_quota=args.quota,
            user_limit=args.users,
            now=datetime.now(settings.zone),
        )
        served = f", phục vụ {unit.name} và các đơn vị trực thuộc" if unit is not None else ""
        print(f"Đã lưu bot {row.channel} «{bots.title(session, row.channel)}»{served}.")
    if args.title is not None:
        print("Tên mới dùng để nhận ra khi bot được nhắc tên trong nhóm từ lần khởi động bot tới.")


def cmd_bots_resume(args: argparse.Namespace, settings: "Settings") -> None:
    """After a plan upgrade: the bot's messages held for the quota go now."""
    from bot.runtime import open_database
    from storage import bots, outbox

    database = open_database(settings)
    with database.session() as session:
        bots.clear_exhausted(session, args.name)
        released = outbox.release_held(session, args.name, now=datetime.now(settings.zone))
    print(f"Bot {args.name}: bỏ chờ hạn mức; {released} tin nhắn sẽ được gửi ở lượt gửi tới.")


def _local(moment: datetime | None, settings: "Settings") -> str:
    return "" if moment is None else f"{moment.astimezone(settings.zone):%Y-%m-%d %H:%M}"


def _print_table(rows: Sequence[Mapping[str, object]], columns: list[tuple[str, str]]) -> None:
    print("\t".join(title for _, title in columns))
    for row in rows:
        print("\t".join(_cell(key, row[key]) for key, _ in columns))


def _cell(key: str, value: object) -> str:
    if value is None:
        return ""
    if key.endswith("_at") and isinstance(value, str) and (moment := _iso_minute(value)) is not None:
        return f"{moment:%d/%m/%Y %H:%M}"  # people read dd/mm/yyyy; --json keeps the ISO form
    return said(value) if key in ("role", "status", "kind", "metric") else str(value)


def _iso_minute(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M")
    except ValueError:
        return None


def cmd_invite_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import accounts, units

    now = datetime.now(settings.zone)
    database = open_database(settings)
    with database.session() as session:
        within = units.get_by_code(session, args.within) if args.within else None
        rows = [
            {
                "id": invite.id,
                "unit_code": unit.code,
                "unit_name": unit.name,
                "role": invite.role,
                "status": accounts.invite_status(invite, now),
                "created_at": _local(invite.created_at, settings),
                "expires_at": _local(invite.expires_at, settings),
                "used_at": _local(invite.used_at, settings) or None,
                "used_by_account": invite.used_by_account_id,
                "cancelled_at": _local(invite.cancelled_at, settings) or None,
            }
            for invite, unit in accounts.list_invites(session, within=within)
            if args.all or accounts.invite_status(invite, now) == "open"
        ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("Không có mã đăng ký nào còn dùng được." if not args.all else "Chưa có mã đăng ký nào.")
    else:
        _print_table(
            rows,
            [("id", "số"), ("unit_code", "đơn vị"), ("role", "vai trò"), ("status", "trạng thái"),
             ("created_at", "tạo lúc"), ("expires_at", "hết hạn"), ("used_by_account", "tài khoản dùng")],
        )  # fmt: skip


def cmd_invite_cancel(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import accounts

    database = open_database(settings)
    with database.session() as session:
        for invite_id in args.ids:
            invite = accounts.cancel_invite(session, invite_id, now=datetime.now(settings.zone))
            print(
                f"Đã hủy mã đăng ký số {invite.id} (vai trò {said(invite.role)}); mã này không dùng được nữa."
            )


def _account_status(account: "Account") -> str:
    if account.revoked_at is not None:
        return "revoked"
    return "unreachable" if account.unreachable_at is not None else "active"


def cmd_accounts_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import accounts, units

    database = open_database(settings)
    with database.session() as session:
        within = units.get_by_code(session, args.within) if args.within else None
        rows = [
            {
                "id": account.id,
                "channel": account.channel,
                "user_id": account.channel_user_id,
                "display_name": account.display_name,
                "role": account.role,
                "unit_code": unit.code,
                "unit_name": unit.name,
                "status": _account_status(account),
                "created_at": _local(account.created_at, settings),
                "revoked_at": _local(account.revoked_at, settings) or None,
            }
            for account, unit in accounts.list_accounts(session, within=within, active_only=not args.all)
        ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("Chưa có tài khoản nào. Cấp mã đăng ký: tiendo invite --unit MÃ --role secretary")
    else:
        _print_table(
            rows,
            [("id", "số"), ("channel", "kênh"), ("user_id", "mã người dùng"), ("display_name", "tên"),
             ("role", "vai trò"), ("unit_code", "đơn vị"), ("status", "trạng thái")],
        )  # fmt: skip


def cmd_accounts_revoke(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import accounts
    from storage.errors import NotFound
    from storage.models import Account, Unit

    database = open_database(settings)
    with database.session() as session:
        for account_id in args.ids:
            account = session.get(Account, account_id)
            if account is None:
                raise NotFound("cli.account.not_found", account_id=str(account_id))
            unit = session.get(Unit, account.unit_id)
            name = account.display_name or account.channel_user_id
            who = f"{name} ({said(account.role)}, {unit.name if unit else '?'})"
            if accounts.revoke_account(
                session, account, by_account_id=None, via="cli", now=datetime.now(settings.zone)
            ):
                print(f"Đã thu hồi tài khoản số {account_id}: {who}.")
            else:
                print(f"Tài khoản số {account_id} đã được thu hồi trước đó: {who}.")


def cmd_prune(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import retention

    database = open_database(settings)
    with database.session() as session:
        removed = retention.prune(session, now=datetime.now(settings.zone), policy=settings.retention)
    print("Đã xóa: " + ", ".join(f"{table} {n}" for table, n in removed.items()) + ".")


def cmd_progress(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers import progress_text
    from handlers.progress_json import progress_json
    from handlers.progress_view import completeness_check, split_query, term_window
    from handlers.unit_match import match_units
    from storage import units
    from storage.progress import unit_progress

    today = _today(settings, args.today)
    database = open_database(settings)
    with database.session() as session:
        every = units.all_units(session)
        if not every:
            raise CliError("Chưa có đơn vị nào. Nhập bằng: tiendo units import FILE.csv, hoặc tiendo demo.")
        if args.unit:
            found = [u for u in match_units(every, args.unit) if units.active_on(u, today)]
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
        check = completeness_check(session, unit, today, period)
        if args.xlsx or args.png:
            from handlers import exports

            if args.xlsx:
                Path(args.xlsx).write_bytes(exports.progress_workbook(data))
            if args.png:
                Path(args.png).write_bytes(exports.progress_chart(data))
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            from handlers import workflow_text

            extra = workflow_text.progress_lines(session, figures, today, None, period=period is not None)
            print(progress_text.render(figures, settings.lagging_threshold, check, extra))


def cmd_demo(args: argparse.Namespace, settings: "Settings") -> None:
    from bot import demo
    from bot.runtime import open_database

    database = open_database(settings)
    print(
        f"Nạp dữ liệu mẫu Thanh Liêm (2023) vào cơ sở dữ liệu {_database_label(settings.database_url)}…",
        flush=True,
    )
    with database.session() as session:
        try:
            codes = demo.load(session, say=lambda step: print(step, flush=True))
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
            plan = plan_campaign(session, month, threshold=settings.lagging_threshold, as_of=now.date())
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
) -> None:
    """Compose the month's campaign and send it now, each message through its own channel."""
    import asyncio

    from bot.outbox_sender import OutboxSender
    from bot.scheduler import compose, in_quiet_hours
    from bot.serve import ConfigError, make_runtime
    from bot.usage import budget_for
    from handlers.i18n import t
    from storage import outbox

    try:
        runtime = make_runtime(settings, mode="send")
    except ConfigError as error:
        raise CliError(f"{error} {TOKEN_HELP} Xem trước: tiendo nudge --dry-run") from None
    campaign = f"{month:%Y-%m}"
    with database.session() as session:
        composed = outbox.campaign_row(session, month)
        by_status = outbox.counts(session, campaign)
    if composed is not None:
        # Composed before (by this command or by the running bot): say where it stands, send what waits.
        at = composed.composed_at.astimezone(settings.zone)
        print(
            f"Đợt nhắc việc tháng {month:%m/%Y} đã được soạn lúc {at:%H:%M %d/%m/%Y} "
            f"({composed.messages} tin nhắn): "
            f"đã gửi {by_status.get('sent', 0)}, còn chờ gửi {by_status.get('pending', 0)}"
            + "".join(
                f", {label} {by_status[key]}"
                for key, label in (
                    ("sending", "đang gửi"),
                    ("failed", "không gửi được"),
                    ("unreachable", "người nhận đã chặn bot"),
                    ("uncertain", "không chắc đã đến"),
                )
                if by_status.get(key)
            )
            + "."
        )
        if not by_status.get("pending"):
            return  # nothing waits; the channels were built but never opened a connection
    else:
        added = compose(
            database,
            month,
            now=now,
            threshold=settings.lagging_threshold,
            budget=budget_for(runtime.usage, runtime.channels),
        )
        if added is None:
            raise CliError("Một tiến trình khác đang soạn đợt nhắc việc; thử lại sau ít phút.")
        print(
            f"Đợt nhắc việc tháng {month:%m/%Y} (số liệu đến ngày {now:%d/%m/%Y}): "
            f"{added} tin nhắn mới vào hàng đợi."
        )
    if in_quiet_hours(now.time(), settings.quiet_window) and not args.ignore_quiet_hours:
        print(
            f"Đang trong giờ yên lặng ({settings.quiet_hours}): bot sẽ gửi khi hết giờ yên lặng "
            "(hoặc thêm --ignore-quiet-hours)."
        )
        return

    async def drain() -> None:
        try:
            sender = OutboxSender(database, runtime.channels, clock=lambda: datetime.now(settings.zone))
            result = await sender.drain()
        finally:
            for channel in runtime.channels.values():
                await channel.close()
        print(
            f"Đã gửi {result.sent}; sẽ thử lại {result.retried}; không gửi được {result.failed}; "
            f"người nhận đã chặn bot {result.unreachable}."
        )

    asyncio.run(drain())
    with database.session() as session:
        left = outbox.counts(session).get("pending", 0)
        # Messages possibly delivered before a crash or a time-out: never resent, so say so each run.
        uncertain = outbox.counts(session, f"{month:%Y-%m}").get("uncertain", 0)
        held = outbox.held(session, now=datetime.now(settings.zone), campaign=f"{month:%Y-%m}")
    if held:
        print(t("outbox.held", n=held))
    if left - held > 0:
        print(
            f"Còn {left - held} tin nhắn chờ gửi lại; bot đang chạy (tiendo run hoặc tiendo serve) "
            "sẽ gửi tiếp."
        )
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
    print(f"Đã {state} loại tin nhắn «{said(args.kind)}» cho {unit.name} và các đơn vị cấp dưới.")


def cmd_groups_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import groups
    from storage.models import Unit

    database = open_database(settings)
    with database.session() as session:
        rows = groups.all_groups(session)
        if args.json:
            listed = []
            for row in rows:
                unit = session.get(Unit, row.unit_id) if row.unit_id is not None else None
                listed.append(
                    {
                        "channel": row.channel,
                        "chat_id": row.chat_id,
                        "unit_code": unit.code if unit is not None else None,
                        "last_seen": row.last_seen.astimezone(settings.zone).isoformat(),
                    }
                )
            _print_json(listed)
            return
        if not rows:
            print("Bot chưa được nhắc tên trong nhóm nào.")
            return
        for row in rows:
            unit = session.get(Unit, row.unit_id) if row.unit_id is not None else None
            bound = f"gắn với {unit.code} ({unit.name})" if unit is not None else "chưa gắn đơn vị"
            seen = row.last_seen.astimezone(settings.zone)
            print(f"{row.channel}\t{row.chat_id}\t{bound}\tlần cuối {seen:%d/%m/%Y %H:%M}")


def cmd_groups_bind(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import groups, units

    database = open_database(settings)
    now = datetime.now(settings.zone)
    with database.session() as session:
        if args.groups_command == "bind":
            unit = units.get_by_code(session, args.unit)
            groups.bind(session, args.channel, args.chat_id, unit, now=now)
            print(
                f"Đã gắn nhóm {args.chat_id} ({args.channel}) với {unit.name}: bot trả lời các thành viên "
                "ngay trong nhóm (báo cáo, biên nhận, tiến độ mọi người trong nhóm đều thấy)."
            )
        else:
            groups.bind(session, args.channel, args.chat_id, None, now=now)
            print(f"Đã bỏ gắn nhóm {args.chat_id} ({args.channel}): bot trả lời riêng từng thành viên.")


def cmd_migrate(args: argparse.Namespace, settings: "Settings") -> None:
    """Apply the migrations (`tiendo serve` and `run` do it at start too) and say what was done."""
    from alembic.util.exc import CommandError

    from storage.db import Database, revisions_between

    where = _database_label(settings.database_url)
    database = Database(settings.database_url)
    try:
        before, after = database.migrate()
    except CommandError as error:  # e.g. a database migrated by a newer version of the code
        raise CliError(f"Không nâng cấp được cơ sở dữ liệu {where}: {error}") from None
    finally:
        database.dispose()
    if before == after:
        print(f"Cơ sở dữ liệu {where} đã ở phiên bản mới nhất ({after}): không có gì phải nâng cấp.")
    elif before is None:
        print(f"Đã tạo các bảng của cơ sở dữ liệu {where}, phiên bản {after}.")
    else:
        steps = ", ".join(revisions_between(before, after))
        print(f"Đã nâng cấp cơ sở dữ liệu {where} từ phiên bản {before} lên {after} ({steps}).")


def _database_label(url: str) -> str:
    """Where the database is, without its password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host}:{parsed.port or 5432}/{parsed.database}"


def cmd_backup(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.backup import backup, backup_into

    target = Path(args.target)
    # A folder: an existing one, a path ending in "/", or any path given with --keep-days.
    if target.is_dir() or args.target.endswith("/") or args.keep_days is not None:
        if args.keep_days == 0:
            raise CliError("--keep-days cần từ 1 ngày trở lên.")
        if target.exists() and not target.is_dir():
            raise CliError(
                f"{target} là một tệp: --keep-days dùng với một thư mục "
                "(tiendo backup THƯ_MỤC --keep-days N)."
            )
        written, pruned = backup_into(
            settings.database_url, target, keep_days=args.keep_days, now=datetime.now(settings.zone)
        )
        print(f"Đã sao lưu cơ sở dữ liệu vào {written}.")
        if pruned:
            names = ", ".join(path.name for path in pruned)
            print(f"Đã xóa {len(pruned)} bản sao lưu cũ hơn {args.keep_days} ngày: {names}.")
        return
    backup(settings.database_url, target)
    print(f"Đã sao lưu cơ sở dữ liệu vào {target}.")


def cmd_restore(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.backup import restore
    from bot.runtime import open_database

    if not args.yes:
        raise CliError("Khôi phục sẽ ghi đè toàn bộ dữ liệu hiện có. Dừng bot trước, rồi chạy lại với --yes.")
    restore(settings.database_url, Path(args.file))
    open_database(settings).dispose()  # a backup from an older version is migrated now
    print(f"Đã khôi phục cơ sở dữ liệu từ {args.file}.")


# --- the committee's workflow: approval, deadlines, probation, the tree's history, documents ---


def _month(value: str) -> date:
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"tháng không hợp lệ '{value}': cần dạng YYYY-MM / invalid month, expected YYYY-MM"
        ) from None


def _switch(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("on hoặc off / on or off")
    return value == "on"


def cmd_workflow_set(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units, workflow

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        row = workflow.set_setting(
            session,
            unit,
            approval=args.approval,
            deadline_day=args.deadline_day,
            quarter_deadline_day=args.quarter_deadline_day,
            year_deadline_day=args.year_deadline_day,
            grace_days=args.grace_days,
            no_lock=args.no_lock,
            remind_days=args.remind_days,
        )
        print(f"Đã đặt cho {unit.name} và các đơn vị cấp dưới:")
        _print_setting(row)


def _print_setting(row) -> None:
    lock = "không khóa sổ" if row.grace_days is None else f"khóa sổ {row.grace_days} ngày sau hạn"
    print(f"  duyệt báo cáo: {'có' if row.approval else 'không'}")
    print(
        f"  hạn báo cáo: tháng ngày {row.deadline_day}, quý và 6 tháng ngày {row.quarter_deadline_day}, "
        f"năm ngày {row.year_deadline_day} của tháng sau; {lock}; nhắc trước {row.remind_days} ngày"
    )


def cmd_workflow_show(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units, workflow

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        row = workflow.setting_for(session, unit)
        source = session.get(units.Unit, row.unit_id) if row.unit_id != unit.id else unit
        origin = (
            "mặc định"
            if source is None or session.get(workflow.WorkflowSetting, row.unit_id) is None
            else source.name
        )
        print(f"{unit.name} (theo {origin}):")
        _print_setting(row)


def cmd_approval_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import units, workflow

    database = open_database(settings)
    with database.session() as session:
        scope = units.get_by_code(session, args.unit) if args.unit else None
        items = workflow.waiting(session, scope, limit=1000, returned=args.returned)
        if args.json:
            listed = [
                {
                    "unit_code": item.unit.code,
                    "unit_name": item.unit.name,
                    "month": f"{item.period.month:%Y-%m}",
                    "admissions": item.period.admissions,
                    "class_completions": item.period.completed,
                    "reports": item.period.reports,
                    "late": item.period.late,
                    "note": item.period.note,
                }
                for item in items
            ]
            _print_json(listed)
            return
        if not items:
            print("Không có báo cáo nào " + ("bị trả lại." if args.returned else "chờ duyệt."))
            return
        for item in items:
            period = item.period
            late = ", nộp muộn" if period.late else ""
            note = f" — {period.note}" if period.note else ""
            print(
                f"{item.unit.code}\t{period.month:%m/%Y}\t{item.unit.name}: kết nạp {period.admissions}, "
                f"hoàn thành lớp {period.completed} ({period.reports} báo cáo{late}){note}"
            )


def cmd_approval_decide(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.review import decide_and_notify
    from storage import units

    approve = args.approval_command == "approve"
    if not approve and not (args.note or "").strip():
        raise CliError('Trả lại báo cáo cần --note "lý do".')
    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        result = decide_and_notify(
            session,
            unit,
            args.month,
            approve=approve,
            note=args.note,
            reviewer=None,
            now=datetime.now(settings.zone),
        )
        verb = "duyệt" if approve else "trả lại"
        print(f"Đã {verb} báo cáo tháng {args.month:%m/%Y} của {unit.name}.")
        print(
            f"Đã xếp tin báo cho {result.told} đồng chí bí thư (bot đang chạy sẽ gửi)."
            if result.told
            else f"{unit.name} chưa có bí thư đăng ký nhận tin."
        )


def cmd_periods_reopen(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.review import reopen_and_notify
    from storage import units

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        until, told = reopen_and_notify(
            session, unit, args.month, days=args.days, by=None, now=datetime.now(settings.zone)
        )
        print(
            f"Đã mở lại kỳ tháng {args.month:%m/%Y} cho {unit.name} "
            f"đến {until.astimezone(settings.zone):%d/%m/%Y %H:%M}."
        )
        if told:
            print(f"Đã xếp tin báo cho {told} đồng chí bí thư.")


def _unit_or_root(session, code: str | None):
    from storage import units

    if code:
        return units.get_by_code(session, code)
    roots = [u for u in units.all_units(session) if u.parent_id is None]
    if len(roots) != 1:
        raise CliError("Chọn đơn vị bằng --unit MÃ.")
    return roots[0]


def cmd_timeliness(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.formatting import percent
    from storage import units, workflow
    from storage.clock import month_start
    from storage.probation import add_months

    today = _today(settings, args.today)
    database = open_database(settings)
    with database.session() as session:
        unit = _unit_or_root(session, args.unit)
        last = month_start(add_months(today, -1))
        months = [add_months(last, -i) for i in range(args.months - 1, -1, -1)]
        print(f"Báo cáo đúng hạn của {unit.name} ({unit.cells} chi bộ):")
        print("tháng\thạn\tđã báo cáo\tđúng hạn\tmuộn\tđầy đủ\tđúng hạn %")
        for row in workflow.timeliness(session, unit, months):
            print(
                f"{row.month:%m/%Y}\t{row.deadline:%d/%m/%Y}\t{row.reported}/{row.cells}\t{row.on_time}\t{row.late}"
                f"\t{percent(row.completeness or 0)}\t{percent(row.on_time_rate or 0)}"
            )
        kids = units.active_children(session, unit)
        if kids:
            print("\nTheo đơn vị trực thuộc (" + f"{months[0]:%m/%Y}–{months[-1]:%m/%Y}" + "):")
            for kid in kids:
                rows = workflow.timeliness(session, kid, months)
                cells = sum(r.cells for r in rows)
                on_time = sum(r.on_time for r in rows)
                reported = sum(r.reported for r in rows)
                print(
                    f"  {kid.name}: đầy đủ {percent(reported / cells if cells else 0)}, "
                    f"đúng hạn {percent(on_time / cells if cells else 0)}"
                )


def cmd_probation(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import probation
    from storage.clock import month_start
    from storage.probation import add_months

    today = _today(settings, args.today)
    database = open_database(settings)
    with database.session() as session:
        unit = _unit_or_root(session, args.unit)
        status = probation.status(session, unit, today)
        print(f"Đảng viên dự bị của {unit.name}, tính đến ngày {today:%d/%m/%Y}:")
        print(f"  chưa được công nhận chính thức: {status.in_probation}")
        print(f"  hết thời gian dự bị trong tháng {today:%m/%Y}: {status.due_this_month}")
        print(f"  đã hết dự bị, trong hạn 30 ngày làm việc: {status.ended_waiting}")
        print(f"  quá hạn: {status.overdue} (quá 3 tháng, cần giải trình: {status.needs_explanation})")
        print(f"  đã công nhận trong tháng: {status.recognized_this_month}")
        months = probation.ending_by_month(
            session, unit, month_start(today), add_months(month_start(today), 11)
        )
        if months:
            print("Hết thời gian dự bị theo tháng (số hết dự bị / đã công nhận):")
            for month, (ending, recognized) in sorted(months.items()):
                print(f"  {month:%m/%Y}: {ending} / {recognized}")
        late = probation.overdue_units(session, unit, today)
        if late:
            print("Đơn vị quá hạn xét công nhận:")
            for item in late:
                print(
                    f"  {item.unit.code}\t{item.unit.name}: {item.overdue} (sớm nhất hết dự bị "
                    f"{item.oldest_end:%d/%m/%Y}; quá 3 tháng: {item.needs_explanation})"
                )


def cmd_recognize(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import reports, units

    day = args.on or _today(settings, None)
    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        report, _ = reports.confirm_report(
            session,
            reports.ReportInput(
                unit=unit,
                channel="cli",
                raw_text=f"tiendo recognize: công nhận {args.count} đảng viên chính thức ngày {day:%d/%m/%Y}",
                period_start=day,
                period_end=day,
                recognition=reports.RecognitionInput(count=args.count),
            ),
        )
        print(
            f"Đã ghi: {unit.name} công nhận {args.count} đảng viên chính thức. "
            f"Mã biên nhận: {report.receipt_code}."
        )


def cmd_units_history(args: argparse.Namespace, settings: "Settings") -> None:
    from datetime import timedelta

    from sqlmodel import select

    from bot.runtime import open_database
    from handlers.formatting import percent
    from storage import tree_history, units
    from storage.models import Target, UnitChange
    from storage.rollups import sum_totals

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.code)
        start = f"từ {unit.valid_from:%d/%m/%Y}" if unit.valid_from else "từ trước khi có dữ liệu"
        end = f"đến {unit.merged_on - timedelta(days=1):%d/%m/%Y}" if unit.merged_on else "đến nay"
        print(f"{unit.name} ({unit.code}), {unit.level}; hiệu lực {start} {end}.")

        def path(day: date) -> str:
            return " > ".join(f"{u.name} ({u.code})" for u in tree_history.path_on(session, unit, day))

        changes = tree_history.changes_of(session, unit)
        first = unit.valid_from or date(1900, 1, 1)
        print("Đường đi trong cây đơn vị:")
        own = [c for c in changes if c.unit_id == unit.id]
        print(
            f"  {'đến ' + format(own[0].on - timedelta(days=1), '%d/%m/%Y') if own else 'hiện nay'}: "
            f"{path(max(first, (own[0].on - timedelta(days=1)) if own else date.today()))}"
        )
        for change in own:
            target = units.get_by_id(session, change.new_parent_id) if change.new_parent_id else None
            if change.kind == "merge":
                into = units.get_by_id(session, change.into_id or 0)
                print(
                    f"  {change.on:%d/%m/%Y}: sáp nhập vào {into.name} ({into.code}); "
                    f"số liệu cũ tính cho {into.name}"
                )
            else:
                print(f"  {change.on:%d/%m/%Y}: chuyển về {target.name if target else '(gốc)'}")
            print(f"    từ {change.on:%d/%m/%Y}: {path(change.on)}")
        moved_out = session.exec(select(UnitChange).where(UnitChange.old_parent_id == unit.id)).all()
        if moved_out:
            names = ", ".join(units.get_by_id(session, c.unit_id).code for c in moved_out)
            print(f"  đơn vị cấp dưới chuyển đi: {names}")
        before = tree_history.predecessors(session, unit)
        if before:
            print("Hình thành từ (sáp nhập):")
            for old in before:
                print(f"  {old.name} ({old.code}), ngày {old.merged_on:%d/%m/%Y}")
        if unit.merged_on is not None:
            last_day = unit.merged_on - timedelta(days=1)
            admitted = tree_history.sum_totals_at(session, [unit.id or 0], None, None, last_day)[unit.id or 0]
            print(
                f"Đến {last_day:%d/%m/%Y} đơn vị đã kết nạp {admitted.admissions} đảng viên; "
                "từ khi sáp nhập, số liệu này tính cho đơn vị nhận."
            )
        else:
            admitted = sum_totals(session, unit.id or 0, None, None)
            print(f"Đảng viên kết nạp đã ghi nhận (cả đơn vị tiền thân): {admitted.admissions}.")
        # Congress terms side by side: the predecessors' 2020–2025 targets added up, and the unit's own.
        terms: dict[tuple[date, date], tuple[int, list[str]]] = {}
        for member in [unit, *before]:
            for term in session.exec(
                select(Target).where(Target.unit_id == member.id, Target.metric == "admissions")
            ).all():
                if "đại hội" not in term.source.lower():
                    continue
                value, codes = terms.get((term.start_date, term.end_date), (0, []))
                terms[(term.start_date, term.end_date)] = (value + term.value, [*codes, member.code])
        if terms:
            print("Chỉ tiêu nhiệm kỳ (Nghị quyết Đại hội):")
            for (t_start, t_end), (value, codes) in sorted(terms.items()):
                months = (t_start.replace(day=1), t_end.replace(day=1))
                if unit.merged_on is not None:  # merged away: its subtree as it was before
                    day = min(t_end, unit.merged_on - timedelta(days=1))
                    figures = tree_history.sum_totals_at(session, [unit.id or 0], *months, day)
                    achieved = figures[unit.id or 0].admissions
                else:  # today's subtree holds its predecessors' history too
                    achieved = sum_totals(session, unit.id or 0, *months).admissions
                share = percent(achieved / value) if value else "—"
                print(
                    f"  {t_start:%d/%m/%Y}–{t_end:%d/%m/%Y}: chỉ tiêu {value} ({', '.join(codes)}); "
                    f"đã kết nạp {achieved}, đạt {share}"
                )


def cmd_briefing(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.documents import briefing_docx

    today = _today(settings, args.today)
    database = open_database(settings)
    with database.session() as session:
        unit = _unit_or_root(session, args.unit)
        Path(args.out).write_bytes(briefing_docx(session, unit, args.month, today))
    print(f"Đã ghi báo cáo giao ban tháng {args.month:%m/%Y} của {unit.name} vào {args.out}.")


def cmd_statistics(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.documents import period_title, statistics_xlsx
    from handlers.progress_view import split_query

    today = _today(settings, args.today)
    query = split_query(args.period, today)
    if query.unit_text or query.period is None:
        raise CliError(f"Không hiểu kỳ '{args.period}'. Ví dụ: 'quý 3/2023', 'năm 2023'.")
    start, end = query.period
    database = open_database(settings)
    with database.session() as session:
        unit = _unit_or_root(session, args.unit)
        Path(args.out).write_bytes(statistics_xlsx(session, unit, start, end, today))
    print(f"Đã ghi biểu thống kê {period_title(start, end)} của {unit.name} vào {args.out}.")


TOKEN_HELP = (
    "Lấy token (xem README và .env.example). Zalo: trong ứng dụng Zalo, tìm OA «Zalo Bot Manager», chọn "
    "«Tạo bot» (Zalo Bot Creator), đặt tên bắt đầu bằng «Bot», rồi ghi token Zalo gửi về vào "
    "ZALO_BOT_TOKEN=... trong tệp .env. Telegram (nơi truy cập được): nhắn @BotFather lệnh /newbot, "
    "rồi ghi TELEGRAM_BOT_TOKEN=...."
)


def cmd_chat(args: argparse.Namespace, settings: "Settings") -> None:
    from bot import demo
    from bot.channels.terminal import CHANNEL, USER, chat
    from bot.runtime import make_services, open_database
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
                    # staff of the district with the admin role: the web page's administration too
                    role=Role.admin,
                    unit_id=root.id or 0,
                    display_name="Cán bộ Ban Tổ chức (demo)",
                    created_at=datetime.now(settings.zone),
                )
            )
        print(
            "Dữ liệu mẫu: Đảng bộ huyện Thanh Liêm (báo Hà Nam, 2023). "
            f"Hôm nay trong bản demo: {today:%d/%m/%Y}."
        )
        print(
            "Đồng chí đang là cán bộ Ban Tổ chức Huyện ủy (quyền quản trị). Thử: /tiendo, /tiendo Kiện Khê, "
            "/web (trang web trên máy này), /help."
        )
        print(
            f"Thử làm bí thư chi bộ: /dangky {codes['secretary']} (chọn 1 để đổi vai trò) "
            "rồi gửi: kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên"
        )
        print(f"Thử làm cán bộ Đảng bộ thị trấn Kiện Khê: /dangky {codes['staff']} (chọn 1 để đổi vai trò)")
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
    stop_web = _start_local_web(args, database, services)
    try:
        chat(services, sys.stdin, sys.stdout, prompt=interactive)
    except KeyboardInterrupt:
        print()
    finally:
        stop_web()


def _start_local_web(args: argparse.Namespace, database, services) -> Callable[[], None]:
    """The web page on this machine while the chat runs, so that /web gives a link that opens."""
    if args.no_web:
        return lambda: None
    from bot.webui.local import serve_in_background

    try:
        url, stop = serve_in_background(database, services, port=args.web_port)
    except OSError as error:
        print(f"(Không mở được trang web trên máy này: {error}. /web sẽ không có liên kết.)")
        return lambda: None
    services.web_base_url = url
    return stop


def cmd_start(args: argparse.Namespace, settings: "Settings") -> None:
    """What `make run` does: the bot when a token is set, otherwise the demo in the terminal."""
    from bot.channels import any_configured

    if any_configured(settings):
        cmd_run(args, settings)
        return
    print(
        "Chưa có token bot (ZALO_BOT_TOKEN, TELEGRAM_BOT_TOKEN) nên mở bản chạy thử trong cửa sổ "
        "dòng lệnh, với dữ liệu mẫu."
    )
    print(TOKEN_HELP + "\n")
    args.demo, args.today, args.web_port, args.no_web = True, None, 0, False
    cmd_chat(args, settings)


def cmd_parse(args: argparse.Namespace, settings: "Settings") -> None:
    from handlers.parser import parse_message

    today = _today(settings, args.today)
    if args.review:
        _parse_review(settings, today, args.days)
        return
    added = _added_breakdowns(settings, args.unit) if args.unit else ()
    if args.jsonl:
        out = sys.stdout
        for line in sys.stdin:
            text = _jsonl_message(line.rstrip("\n"))
            out.write(parse_message(text, today, added).to_json_line() + "\n")
        return
    if args.text is None:
        raise CliError("Cần nội dung tin nhắn, hoặc --jsonl để đọc từ đầu vào chuẩn.")
    print(
        json.dumps(parse_message(" ".join(args.text), today, added).to_json(), ensure_ascii=False, indent=2)
    )


def _added_breakdowns(settings: "Settings", code: str) -> tuple["Breakdown", ...]:
    """The breakdowns a unit's tree adds to the five, for `tiendo parse --unit`."""
    from bot.runtime import open_database
    from storage import extra_breakdowns, units

    database = open_database(settings)
    with database.session() as session:
        return extra_breakdowns.definitions_for(session, units.get_by_code(session, code))


def _parse_review(settings: "Settings", today: date, days: int | None) -> None:
    """The messages kept for review, one JSON line each, ready to become corpus entries: the text, the
    day it was sent (as "today"), why it was kept, the fix the secretary typed, and how it reads now."""
    from bot.runtime import open_database
    from handlers.parser import parse_message
    from storage import parse_review

    database = open_database(settings)
    with database.session() as session:
        parse_review.prune(session, before=today - timedelta(days=settings.review_keep_days))
        rows = parse_review.kept(session, since=None if days is None else today - timedelta(days=days))
        for row in rows:
            text, _, fix = row.text.partition("\n→ ")
            entry: dict[str, object] = {"text": text, "today": row.day.isoformat(), "kind": row.kind}
            if fix:
                entry["fix"] = fix
            entry["read"] = parse_message(text, row.day).to_json()
            print(json.dumps(entry, ensure_ascii=False))
    print(
        f"{len(rows)} tin nhắn / messages (giữ {settings.review_keep_days} ngày / kept "
        f"{settings.review_keep_days} days)",
        file=sys.stderr,
    )


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
    cli_words.install()
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
        help=_help("nhập đơn vị từ .xlsx hoặc CSV", "import units from .xlsx or CSV"),
        description=_help(
            "Nhập đơn vị từ tệp .xlsx hoặc CSV (mọi bảng mã Excel lưu, dấu phẩy, chấm phẩy hoặc tab) với các "
            "cột mã đơn vị, tên đơn vị, mã cấp trên, cấp (tiêu đề tiếng Việt hoặc "
            "code,name,parent_code,level). Có dòng sai thì không nhập gì và báo mọi dòng sai",
            "Import units from .xlsx or CSV (any encoding Excel saves, comma, semicolon or tab) with columns "
            "code,name,parent_code,level (or Vietnamese headers). Any bad line imports nothing; every one "
            "is named",
        ),
    )
    p.add_argument("file", metavar="FILE", help=_help("tệp .xlsx hoặc CSV", "the .xlsx or CSV file"))
    p.set_defaults(func=cmd_units_import)
    p = units_sub.add_parser(
        "list",
        help=_help("liệt kê đơn vị", "list units"),
        description=_help("Liệt kê cây đơn vị", "List the unit tree"),
    )
    p.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print as JSON"))
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
    p.add_argument(
        "--name",
        metavar="NAME",
        help=_help(
            "tạo đơn vị nhận mới với tên này (cùng cấp trên với đơn vị bị sáp nhập)",
            "create the unit it joins, with this name (under the merged unit's parent)",
        ),
    )
    p.add_argument("--level", metavar="LEVEL", help=_help("cấp của đơn vị mới", "level of the new unit"))
    p.add_argument(
        "more", nargs="*", metavar="CODE", help=_help("các đơn vị cùng sáp nhập", "more units merged")
    )
    p.set_defaults(func=cmd_units_merge)
    p = units_sub.add_parser(
        "history",
        help=_help("lịch sử một đơn vị: sáp nhập, chuyển, chỉ tiêu nhiệm kỳ", "a unit's history and terms"),
        description=_help(
            "Đường đi của một đơn vị trong cây qua các lần sáp nhập, chuyển; đơn vị tiền thân; "
            "so sánh chỉ tiêu các nhiệm kỳ",
            "A unit's path through mergers and moves, its predecessors, and its congress terms compared",
        ),
    )
    p.add_argument("code", metavar="CODE", help=_help("mã đơn vị", "unit code"))
    p.set_defaults(func=cmd_units_history)

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
    p = targets_sub.add_parser(
        "import",
        help=_help("đặt nhiều chỉ tiêu từ .xlsx hoặc CSV", "set many targets from .xlsx or CSV"),
        description=_help(
            "Đặt chỉ tiêu cho nhiều đơn vị từ tệp .xlsx hoặc CSV: mã đơn vị, loại chỉ tiêu, từ ngày, "
            "đến ngày, chỉ tiêu (số, hoặc tỷ lệ như 2%% số đảng viên), tối đa, nguồn. "
            "Có dòng sai thì không đặt gì",
            "Set targets for many units from .xlsx or CSV: unit, metric, from, to, value (a number, or a "
            "share such as 2%% of the members), max, source. Any bad line sets nothing; every one is named",
        ),
    )
    p.add_argument("file", metavar="FILE", help=_help("tệp .xlsx hoặc CSV", "the .xlsx or CSV file"))
    p.set_defaults(func=cmd_targets_import)

    bots_parser = sub.add_parser(
        "bots",
        help=_help("các bot Zalo: đơn vị phục vụ, hạn mức", "the Zalo bots: units served, quotas"),
        description=_help(
            "Các bot (token đặt trong ZALO_BOT_TOKEN, ZALO_BOTS): tên hiển thị, phần cây đơn vị mỗi bot phục "
            "vụ, số người dùng và tin nhắn đã gửi trong tháng so với hạn mức của gói",
            "The bots (tokens in ZALO_BOT_TOKEN, ZALO_BOTS): display name, the part of the unit tree each "
            "serves, users and messages sent this month against the plan's limits",
        ),
    )
    bots_sub = bots_parser.add_subparsers(dest="bots_command", metavar="ACTION", required=True)
    q = bots_sub.add_parser(
        "list",
        help=_help("liệt kê bot và mức dùng", "list bots and their usage"),
        description=_help("Liệt kê bot và mức dùng tháng này", "List bots and this month's usage"),
    )
    q.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print as JSON"))
    q.set_defaults(func=cmd_bots_list)
    q = bots_sub.add_parser(
        "set",
        help=_help("đặt tên, đơn vị phục vụ, hạn mức của một bot", "set a bot's name, units, limits"),
        description=_help(
            "Đặt tên hiển thị (để nhận ra khi được nhắc tên trong nhóm), đơn vị bot phục vụ (cùng các đơn vị "
            "trực thuộc: mã đăng ký của các đơn vị ấy chỉ ghi nhận qua bot này), hạn mức của gói",
            "Set the display name (to recognise @mentions in groups), the unit it serves (with its subtree: "
            "their invites are taken by this bot only), the plan's limits",
        ),
    )
    q.add_argument(
        "name", metavar="NAME", help=_help("tên bot, xem tiendo bots list", "bot name, see bots list")
    )
    q.add_argument(
        "--title", metavar="TEXT", help=_help("tên hiển thị, ví dụ 'Bot Tiến độ Thanh Hà'", "name")
    )
    q.add_argument("--unit", metavar="CODE", help=_help("mã đơn vị bot phục vụ", "unit the bot serves"))
    q.add_argument(
        "--quota",
        type=_positive,
        metavar="N",
        help=_help("số tin nhắn mỗi tháng của gói", "messages a month"),
    )
    q.add_argument(
        "--users", type=_positive, metavar="N", help=_help("số người dùng của gói", "users allowed")
    )
    q.set_defaults(func=cmd_bots_set)
    q = bots_sub.add_parser(
        "resume",
        help=_help("gửi tiếp tin nhắn đang chờ hạn mức", "send messages held for the quota now"),
        description=_help(
            "Sau khi nâng gói: bỏ chờ hạn mức, gửi tiếp tin nhắn đang chờ",
            "After upgrading the plan: stop waiting for the quota, send the held messages",
        ),
    )
    q.add_argument("name", metavar="NAME", help=_help("tên bot", "bot name"))
    q.set_defaults(func=cmd_bots_resume)

    p = sub.add_parser(
        "invite",
        help=_help("tạo mã đăng ký dùng một lần", "create a one-time invite code"),
        description=_help(
            "Tạo mã đăng ký dùng một lần; dòng cuối là mã",
            "Create a one-time invite code; the last line is the code",
        ),
    )
    p.add_argument("--unit", metavar="CODE", help=_help("mã đơn vị", "unit code"))
    p.add_argument("--role", choices=ROLES, help=_help("vai trò", "role"))
    p.add_argument(
        "--days",
        type=_positive,
        default=7,
        metavar="N",
        help=_help("số ngày hiệu lực (mặc định 7)", "days valid (default 7)"),
    )
    p.set_defaults(func=cmd_invite)
    invite_sub = p.add_subparsers(dest="invite_command", metavar="list|cancel")
    q = invite_sub.add_parser(
        "list",
        help=_help("các mã đăng ký (không in mã)", "the invites (never their codes)"),
        description=_help(
            "Các mã đăng ký còn dùng được (--all: cả mã đã dùng, đã hủy, hết hạn); bot chỉ giữ bản băm "
            "nên không in lại được mã",
            "Invites still usable (--all: used, cancelled, expired too); only hashes are kept, so the "
            "codes cannot be shown again",
        ),
    )
    q.add_argument(
        "--unit", dest="within", metavar="CODE", help=_help("trong đơn vị này", "within this unit")
    )
    q.add_argument("--all", action="store_true", help=_help("cả mã đã dùng, hủy, hết hạn", "all invites"))
    q.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print as JSON"))
    q.set_defaults(func=cmd_invite_list)
    q = invite_sub.add_parser(
        "cancel",
        help=_help("hủy mã đăng ký chưa dùng", "cancel unused invites"),
        description=_help(
            "Hủy mã đăng ký chưa dùng (số lấy từ tiendo invite list); có ghi nhật ký",
            "Cancel unused invites (numbers from tiendo invite list); audited",
        ),
    )
    q.add_argument("ids", nargs="+", type=int, metavar="SỐ", help=_help("số của mã", "invite number"))
    q.set_defaults(func=cmd_invite_cancel)

    p = sub.add_parser(
        "accounts",
        help=_help("tài khoản: xem, thu hồi", "accounts: list, revoke"),
        description=_help("Tài khoản đã đăng ký", "Registered accounts"),
    )
    accounts_sub = p.add_subparsers(dest="accounts_command", metavar="list|revoke", required=True)
    q = accounts_sub.add_parser(
        "list",
        help=_help("các tài khoản", "list accounts"),
        description=_help(
            "Các tài khoản đang dùng được (--all: cả tài khoản đã thu hồi)",
            "Accounts in use (--all: revoked ones too)",
        ),
    )
    q.add_argument(
        "--unit", dest="within", metavar="CODE", help=_help("trong đơn vị này", "within this unit")
    )
    q.add_argument("--all", action="store_true", help=_help("cả tài khoản đã thu hồi", "revoked ones too"))
    q.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print as JSON"))
    q.set_defaults(func=cmd_accounts_list)
    q = accounts_sub.add_parser(
        "revoke",
        help=_help("thu hồi tài khoản", "revoke accounts"),
        description=_help(
            "Thu hồi tài khoản (số lấy từ tiendo accounts list): không báo cáo, không xem số liệu, không "
            "nhận tin nhắc việc nữa; báo cáo đã gửi giữ nguyên; có ghi nhật ký",
            "Revoke accounts (numbers from tiendo accounts list): no more reports, figures or campaign "
            "messages; their reports stay; audited",
        ),
    )
    q.add_argument("ids", nargs="+", type=int, metavar="SỐ", help=_help("số của tài khoản", "account number"))
    q.set_defaults(func=cmd_accounts_revoke)

    p = sub.add_parser(
        "prune",
        help=_help("xóa dữ liệu quá hạn lưu giữ", "delete what the retention policy no longer keeps"),
        description=_help(
            "Xóa dữ liệu quá thời hạn lưu giữ (bot đang chạy tự làm mỗi giờ; xem docs/deploy.md)",
            "Delete what the retention policy no longer keeps (a running bot does it every hour)",
        ),
    )
    p.set_defaults(func=cmd_prune)

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

    groups_parser = sub.add_parser(
        "groups",
        help=_help("nhóm trò chuyện có bot", "group chats with the bot"),
        description=_help(
            "Nhóm trò chuyện (Zalo, Telegram) bot đã được nhắc tên. Mặc định bot trả lời riêng từng "
            "thành viên; nhóm gắn với một đơn vị thì bot trả lời ngay trong nhóm",
            "Group chats the bot was mentioned in. By default the bot answers each member privately; in a "
            "group bound to a unit it answers in the group",
        ),
    )
    groups_sub = groups_parser.add_subparsers(dest="groups_command", metavar="ACTION", required=True)
    q = groups_sub.add_parser(
        "list",
        help=_help("liệt kê nhóm và mã nhóm", "list groups and their ids"),
        description=_help("Liệt kê nhóm, mã nhóm và đơn vị được gắn", "List groups, their ids and units"),
    )
    q.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print as JSON"))
    q.set_defaults(func=cmd_groups_list)
    for name, vi, en in (
        (
            "bind",
            "gắn nhóm với một đơn vị (trả lời trong nhóm)",
            "bind a group to a unit (answers in the group)",
        ),
        (
            "unbind",
            "bỏ gắn nhóm (trả lời riêng từng người)",
            "unbind a group (answers each member privately)",
        ),
    ):
        q = groups_sub.add_parser(name, help=_help(vi, en), description=_help(vi, en))
        q.add_argument("channel", metavar="CHANNEL", help=_help("kênh, ví dụ zalo", "the channel, e.g. zalo"))
        q.add_argument(
            "chat_id", metavar="CHAT_ID", help=_help("mã nhóm (tiendo groups list)", "the group id")
        )
        if name == "bind":
            q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
        q.set_defaults(func=cmd_groups_bind)

    p = sub.add_parser(
        "backup",
        help=_help("sao lưu cơ sở dữ liệu", "back up the database"),
        description=_help(
            "Sao lưu nhất quán cơ sở dữ liệu đang chạy (SQLite: API sao lưu; PostgreSQL: pg_dump)",
            "A consistent copy of the running database (SQLite: the backup API; PostgreSQL: pg_dump)",
        ),
    )
    p.add_argument(
        "target",
        metavar="FILE|FOLDER",
        help=_help(
            "tệp sao lưu, hoặc thư mục: ghi tệp tiendo-NĂM-THÁNG-NGÀY-GIỜPHÚTGIÂY trong đó",
            "the backup file, or a folder: a dated file tiendo-YYYY-MM-DD-HHMMSS goes into it",
        ),
    )
    p.add_argument(
        "--keep-days",
        type=_positive,
        metavar="N",
        help=_help(
            "với thư mục: xóa các bản sao lưu cũ hơn N ngày (sau khi bản mới ghi xong)",
            "with a folder: delete its backups older than N days (once the new one is written)",
        ),
    )
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "migrate",
        help=_help("tạo, nâng cấp bảng của cơ sở dữ liệu", "create or upgrade the database's tables"),
        description=_help(
            "Đưa cơ sở dữ liệu lên phiên bản mới nhất (serve, run cũng tự làm khi khởi động), báo đã làm gì",
            "Bring the database to the newest version (serve and run do it at start too), say what was done",
        ),
    )
    p.set_defaults(func=cmd_migrate)
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
        help=_help("chạy bot (Zalo, Telegram)", "run the bot (Zalo, Telegram)"),
        description=_help(
            "Chạy bot trên mọi kênh đã cấu hình (long polling), kèm đợt nhắc việc hằng tháng",
            "Run the bot on every configured channel (long polling), with the monthly campaign",
        ),
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "serve",
        help=_help("máy chủ webhook cho Zalo và Telegram", "serve the Zalo and Telegram webhooks"),
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
    p.add_argument(
        "--web-port",
        type=_positive,
        default=0,
        metavar="PORT",
        help=_help(
            "cổng của trang web trên máy này (mặc định 8080, bận thì cổng khác)",
            "port of the page on this machine (default 8080, another when busy)",
        ),
    )
    p.add_argument(
        "--no-web", action="store_true", help=_help("không mở trang web", "do not serve the web page")
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
    p.add_argument(
        "--review",
        action="store_true",
        help=_help(
            "liệt kê (JSON mỗi dòng) tin nhắn bot chưa đọc được và báo cáo bị sửa ngay sau khi gửi, để"
            " bổ sung bộ mẫu; chỉ nội dung và ngày, giữ REVIEW_KEEP_DAYS ngày",
            "list (one JSON per line) the messages the bot could not read and reports corrected soon after,"
            " to grow the corpus; text and date only, kept REVIEW_KEEP_DAYS days",
        ),
    )
    p.add_argument(
        "--days",
        type=_positive,
        metavar="N",
        help=_help("với --review: chỉ N ngày gần đây", "with --review: only the last N days"),
    )
    p.add_argument(
        "--unit",
        metavar="CODE",
        help=_help(
            "đọc cả các nhóm bổ sung của cây đơn vị này (tiendo breakdowns)",
            "also read the breakdowns this unit's tree adds",
        ),
    )
    p.add_argument("text", nargs="*", default=None, metavar="TEXT", help=_help("tin nhắn", "the message"))
    p.set_defaults(func=cmd_parse)
    _workflow_parsers(sub)
    _breakdown_parsers(sub)
    return parser


def _workflow_parsers(sub) -> None:
    """The committee's workflow: approval, deadlines, probation, the tree's history, documents."""
    p = sub.add_parser(
        "workflow",
        help=_help(
            "cách một cây đơn vị báo cáo: duyệt, hạn, khóa sổ", "how a tree reports: approval, deadlines"
        ),
        description=_help(
            "Đặt cho một đơn vị và các đơn vị cấp dưới: có duyệt báo cáo không, hạn báo cáo, khóa sổ sau hạn",
            "Set for a unit and its subtree: approval, reporting deadlines, closing the books after them",
        ),
    )
    wf = p.add_subparsers(dest="workflow_command", metavar="ACTION", required=True)
    q = wf.add_parser("set", help=_help("đặt", "set"), description=_help("Đặt", "Set"))
    q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.add_argument(
        "--approval", type=_switch, metavar="on|off", help=_help("cấp trên duyệt báo cáo", "approval")
    )
    q.add_argument(
        "--deadline-day",
        type=int,
        metavar="N",
        help=_help("hạn báo cáo tháng: ngày N tháng sau", "monthly deadline day"),
    )
    q.add_argument(
        "--quarter-deadline-day",
        type=int,
        metavar="N",
        help=_help("hạn báo cáo quý, 6 tháng", "quarter deadline day"),
    )
    q.add_argument(
        "--year-deadline-day",
        type=int,
        metavar="N",
        help=_help("hạn báo cáo năm (tháng 1)", "year deadline day"),
    )
    q.add_argument(
        "--grace-days",
        type=_positive,
        metavar="N",
        help=_help("khóa sổ N ngày sau hạn", "lock N days after the deadline"),
    )
    q.add_argument("--no-lock", action="store_true", help=_help("không khóa sổ", "never lock"))
    q.add_argument(
        "--remind-days",
        type=_positive,
        metavar="N",
        help=_help("nhắc trước hạn N ngày", "remind N days before"),
    )
    q.set_defaults(func=cmd_workflow_set)
    q = wf.add_parser("show", help=_help("xem", "show"), description=_help("Xem cách đơn vị báo cáo", "Show"))
    q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.set_defaults(func=cmd_workflow_show)

    p = sub.add_parser(
        "approval",
        help=_help("duyệt, trả lại báo cáo", "approve or return reports"),
        description=_help(
            "Duyệt hoặc trả lại báo cáo tháng của một đơn vị", "Approve or return a unit's month"
        ),
    )
    ap = p.add_subparsers(dest="approval_command", metavar="ACTION", required=True)
    q = ap.add_parser(
        "list", help=_help("báo cáo chờ duyệt", "waiting"), description=_help("Báo cáo chờ duyệt", "Waiting")
    )
    q.add_argument("--unit", metavar="CODE", help=_help("trong đơn vị này", "within this unit"))
    q.add_argument("--returned", action="store_true", help=_help("báo cáo bị trả lại", "returned ones"))
    q.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print as JSON"))
    q.set_defaults(func=cmd_approval_list)
    for name, vi, en in (
        ("approve", "duyệt", "approve"),
        ("return", "trả lại (cần --note)", "return (needs --note)"),
    ):
        q = ap.add_parser(name, help=_help(vi, en), description=_help(vi, en))
        q.add_argument(
            "--unit", required=True, metavar="CODE", help=_help("mã đơn vị báo cáo", "reporting unit")
        )
        q.add_argument("--month", required=True, type=_month, metavar="YYYY-MM", help=_help("tháng", "month"))
        q.add_argument(
            "--note", default=None, metavar="TEXT", help=_help("lý do trả lại", "why it is returned")
        )
        q.set_defaults(func=cmd_approval_decide)

    p = sub.add_parser(
        "periods", help=_help("kỳ báo cáo", "reporting periods"), description=_help("Kỳ báo cáo", "Periods")
    )
    pp = p.add_subparsers(dest="periods_command", metavar="ACTION", required=True)
    q = pp.add_parser(
        "reopen",
        help=_help("mở lại kỳ đã khóa sổ cho một đơn vị", "reopen a closed month for one unit"),
        description=_help("Mở lại kỳ đã khóa sổ cho một đơn vị", "Reopen a closed month for one unit"),
    )
    q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.add_argument("--month", required=True, type=_month, metavar="YYYY-MM", help=_help("tháng", "month"))
    q.add_argument(
        "--days", type=_positive, default=7, metavar="N", help=_help("mở trong N ngày (7)", "for N days (7)")
    )
    q.set_defaults(func=cmd_periods_reopen)

    p = sub.add_parser(
        "timeliness",
        help=_help("tỷ lệ báo cáo đầy đủ, đúng hạn", "completeness and on-time rates"),
        description=_help(
            "Tỷ lệ chi bộ báo cáo đầy đủ và đúng hạn theo tháng", "Reporting and on-time rates per month"
        ),
    )
    p.add_argument(
        "--unit", metavar="CODE", help=_help("mã đơn vị (mặc định: gốc)", "unit code (default: root)")
    )
    p.add_argument(
        "--months", type=_positive, default=6, metavar="N", help=_help("số tháng (6)", "months (6)")
    )
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày giả định", "pretend today"))
    p.set_defaults(func=cmd_timeliness)

    p = sub.add_parser(
        "probation",
        help=_help("đảng viên dự bị: đến hạn, quá hạn công nhận", "probation: due and overdue recognitions"),
        description=_help("Đảng viên dự bị: đến hạn, quá hạn công nhận chính thức", "Probation clock"),
    )
    p.add_argument(
        "--unit", metavar="CODE", help=_help("mã đơn vị (mặc định: gốc)", "unit code (default: root)")
    )
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày giả định", "pretend today"))
    p.set_defaults(func=cmd_probation)

    p = sub.add_parser(
        "recognize",
        help=_help("ghi công nhận đảng viên chính thức", "record recognitions as full members"),
        description=_help("Ghi số đảng viên được công nhận chính thức của một chi bộ", "Record recognitions"),
    )
    p.add_argument("--unit", required=True, metavar="CODE", help=_help("mã chi bộ", "cell code"))
    p.add_argument(
        "--count", required=True, type=_positive, metavar="N", help=_help("số đồng chí", "how many")
    )
    p.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help=_help("ngày công nhận", "the day"))
    p.set_defaults(func=cmd_recognize)

    p = sub.add_parser(
        "briefing",
        help=_help("báo cáo giao ban tháng (Word)", "the monthly briefing (Word)"),
        description=_help("Báo cáo giao ban tháng dạng Word", "The monthly briefing as a Word document"),
    )
    p.add_argument(
        "--unit", metavar="CODE", help=_help("mã đơn vị (mặc định: gốc)", "unit code (default: root)")
    )
    p.add_argument("--month", required=True, type=_month, metavar="YYYY-MM", help=_help("tháng", "month"))
    p.add_argument("--out", required=True, metavar="FILE.docx", help=_help("tệp ghi ra", "output file"))
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày ký", "the document's date"))
    p.set_defaults(func=cmd_briefing)

    p = sub.add_parser(
        "statistics",
        help=_help("biểu thống kê quý, năm (Excel)", "quarterly or yearly statistics (Excel)"),
        description=_help("Biểu thống kê quý hoặc năm dạng Excel", "Quarterly or yearly statistics workbook"),
    )
    p.add_argument(
        "--unit", metavar="CODE", help=_help("mã đơn vị (mặc định: gốc)", "unit code (default: root)")
    )
    p.add_argument(
        "--period", required=True, metavar="TEXT", help=_help("'quý 3/2023', 'năm 2023'", "the period")
    )
    p.add_argument("--out", required=True, metavar="FILE.xlsx", help=_help("tệp ghi ra", "output file"))
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help=_help("ngày ký", "the document's date"))
    p.set_defaults(func=cmd_statistics)


# --- breakdowns a tree adds to the five -------------------------------------------------------


def cmd_breakdowns_list(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import extra_breakdowns, units

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit) if args.unit else None
        rows = extra_breakdowns.listed(session, unit)
        if args.json:
            data = [
                {
                    "key": d.key,
                    "label": d.label,
                    "words": [w for w in d.words.split("\n") if w],
                    "question": d.question,
                    "position": d.position,
                    "kind": "share" if d.share else "count",
                    "unit": where.code,
                }
                for d, where in rows
            ]
            print(json.dumps(data, ensure_ascii=False, indent=2))
            return
        scope = unit.name if unit is not None else "mọi cây đơn vị"
        print(
            "Năm nhóm có sẵn (nữ, đoàn viên, tôn giáo, dân tộc thiểu số, THPT trở lên); "
            f"nhóm bổ sung ({scope}):"
        )
        if not rows:
            print(
                "  (chưa có; thêm bằng: tiendo breakdowns add --unit MÃ --key KHÓA --label TÊN --words ...)"
            )
        for d, where in rows:
            kind = "tỷ lệ" if d.share else "số lượng"
            words = "; ".join(w for w in d.words.split("\n") if w)
            print(f"  {d.position}. {d.key}: {d.label} ({kind}; đặt tại {where.name}, {where.code})")
            print(f"     cách viết: {words}")
            print(f"     câu hỏi: Trong N đảng viên mới, bao nhiêu đồng chí {d.question}?")


def cmd_breakdowns_add(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers.parser.extra import word_problems
    from storage import extra_breakdowns, units
    from storage.errors import InvalidInput

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        # the checks of the stored tree and of the parser's own words, reported together
        label, words = " ".join(args.label.split()), extra_breakdowns.split_words(args.words)
        found = word_problems(label, words)
        if found:
            found = (
                extra_breakdowns.problems(
                    session,
                    unit,
                    key=args.key.strip(),
                    label=label,
                    words=words,
                    question=" ".join((args.question or label).split()),
                    position=args.position,
                )
                + found
            )
            raise InvalidInput("storage.breakdown.not_added", problems="; ".join(found))
        row = extra_breakdowns.add(
            session,
            unit,
            key=args.key,
            label=args.label,
            words=args.words,
            question=args.question,
            position=args.position,
            share=not args.count,
        )
        print(
            f"Đã đặt nhóm '{row.key}' ({row.label}) cho {unit.name} và các đơn vị cấp dưới: bot hỏi "
            "trong câu hỏi chi tiết, đọc trong báo cáo, cộng vào tiến độ và bảng Excel."
        )


def cmd_breakdowns_remove(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from storage import extra_breakdowns, units

    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        extra_breakdowns.remove(session, unit, args.key)
        print(f"Đã gỡ nhóm '{args.key}' khỏi {unit.name}; số liệu đã ghi vẫn được giữ.")


def cmd_breakdowns_import(args: argparse.Namespace, settings: "Settings") -> None:
    from bot.runtime import open_database
    from handlers import imports
    from storage import units

    path = Path(args.file)
    data = _read_file(path)
    database = open_database(settings)
    with database.session() as session:
        unit = units.get_by_code(session, args.unit)
        preview = imports.import_breakdowns(session, unit, data, path.name)
        if preview.problems:
            raise CliError(
                f"không nhập gì, tệp có {len(preview.problems)} lỗi:\n" + imports.problems_text(preview)
            )
    print(f"Đã đặt {len(preview.breakdowns)} nhóm cho {unit.name}.")


def _breakdown_parsers(sub) -> None:
    """Breakdowns a tree adds to the five shares of new members."""
    p = sub.add_parser(
        "breakdowns",
        help=_help(
            "nhóm cơ cấu đảng viên mới bổ sung (tuổi, nghề nghiệp...)",
            "breakdowns of new members a tree adds (age, occupation...)",
        ),
        description=_help(
            "Ngoài năm nhóm có sẵn (nữ, đoàn viên, tôn giáo, dân tộc thiểu số, THPT trở lên), một đơn vị đặt"
            " thêm nhóm cho mình và các đơn vị cấp dưới: bot hỏi, đọc trong báo cáo, cộng và xuất ra",
            "Besides the five, a unit adds breakdowns for its tree: asked, read, added up and exported",
        ),
    )
    bd = p.add_subparsers(dest="breakdowns_command", metavar="ACTION", required=True)
    q = bd.add_parser(
        "list",
        help=_help("xem danh sách", "list"),
        description=_help("Các nhóm bổ sung của một đơn vị (mặc định: mọi cây)", "List the added breakdowns"),
    )
    q.add_argument("--unit", metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.add_argument("--json", action="store_true", help=_help("in dạng JSON", "print JSON"))
    q.set_defaults(func=cmd_breakdowns_list)
    q = bd.add_parser(
        "add",
        help=_help("thêm hoặc sửa một nhóm", "add or change one"),
        description=_help(
            "Thêm (hoặc sửa, cùng khóa) một nhóm cho đơn vị và các đơn vị cấp dưới",
            "Add (or change, same key) a breakdown for a unit and its subtree",
        ),
    )
    q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.add_argument(
        "--key",
        required=True,
        metavar="KEY",
        help=_help("khóa không dấu, ví dụ under_30", "key, e.g. under_30"),
    )
    q.add_argument(
        "--label",
        required=True,
        metavar="TEXT",
        help=_help("tên nhóm trong câu, ví dụ 'dưới 30 tuổi'", "label, e.g. 'dưới 30 tuổi'"),
    )
    q.add_argument(
        "--words",
        required=True,
        action="append",
        metavar="TEXT",
        help=_help(
            "cách bí thư viết, cách nhau bởi dấu ';' (có dấu hay không dấu đều được)",
            "what secretaries type, separated by ';' (with or without diacritics)",
        ),
    )
    q.add_argument(
        "--question",
        metavar="TEXT",
        help=_help(
            "phần cuối câu hỏi 'bao nhiêu đồng chí …?' (mặc định: tên nhóm)",
            "the end of 'how many of them …?' (default: the label)",
        ),
    )
    q.add_argument(
        "--position", type=_positive, metavar="N", help=_help("thứ tự sau năm nhóm", "order after the five")
    )
    q.add_argument(
        "--count",
        action="store_true",
        help=_help("hiện số lượng, không tính tỷ lệ", "show a count, not a share of the new members"),
    )
    q.set_defaults(func=cmd_breakdowns_add)
    q = bd.add_parser(
        "remove",
        help=_help("gỡ một nhóm", "remove one"),
        description=_help(
            "Gỡ một nhóm của đơn vị (số liệu đã ghi vẫn giữ)", "Remove a breakdown (stored figures stay)"
        ),
    )
    q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.add_argument("--key", required=True, metavar="KEY", help=_help("khóa", "key"))
    q.set_defaults(func=cmd_breakdowns_remove)
    q = bd.add_parser(
        "import",
        help=_help("nhập danh sách từ .xlsx hoặc CSV", "import a list from .xlsx or CSV"),
        description=_help(
            "Nhập danh sách nhóm (cột: khóa, tên nhóm, cách viết, câu hỏi, thứ tự, loại); tệp có lỗi thì"
            " không nhập gì và nêu từng dòng lỗi",
            "Import a list (columns: key, label, words, question, position, kind);"
            " a bad file imports nothing",
        ),
    )
    q.add_argument("--unit", required=True, metavar="CODE", help=_help("mã đơn vị", "unit code"))
    q.add_argument("file", metavar="FILE", help=_help("tệp .xlsx hoặc .csv", ".xlsx or .csv file"))
    q.set_defaults(func=cmd_breakdowns_import)


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
    bot_runs = args.command in ("run", "serve") or (args.command == "start" and _any_channel(settings))
    configure_logging(
        settings.log_level if bot_runs else "WARNING",
        settings.secrets(),
        json_lines=settings.log_format == "json",
    )
    func: Callable[[argparse.Namespace, Settings], None] = args.func
    try:
        func(args, settings)
    except (CliError, StorageError) as error:
        from handlers.i18n import refusal

        print(
            f"Lỗi: {refusal(error, surface='cli') if isinstance(error, StorageError) else error}",
            file=sys.stderr,
        )
        return 1
    except _database_errors() as error:
        print(f"Lỗi cơ sở dữ liệu ({settings.database_url.split('@')[-1]}): {error.orig}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


def _any_channel(settings: "Settings") -> bool:
    from bot.channels import any_configured

    return any_configured(settings)


def _database_errors() -> "tuple[type[OperationalError], ...]":
    """Evaluated only when an exception is being handled, so the import costs nothing otherwise."""
    from sqlalchemy.exc import OperationalError

    return (OperationalError,)
