"""The web page in-process (httpx against the app of bot/web.py), on SQLite and PostgreSQL: login by
a one-time link from /web, who sees what, CSRF, the article's figures, imports, invites, revocation."""

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot import demo
from bot.web import WebRuntime, create_app
from handlers.conversation import handle
from handlers.types import Incoming, Services
from storage import accounts, reports, units
from storage.db import Database
from storage.models import Account, AuditEvent, NudgeSetting, Role, Target, Unit, WebSession

BASE = "http://tiendo.test"


@dataclass
class Site:
    client: httpx.AsyncClient
    services: Services
    database: Database


@pytest.fixture
async def site(services: Services, database: Database) -> AsyncIterator[Site]:
    services.web_base_url = BASE
    runtime = WebRuntime(database, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url=BASE
    ) as client:
        yield Site(client, services, database)


def register(database: Database, services: Services, user: str, code: str, role: Role) -> None:
    with database.session() as session:
        invite = accounts.create_invite(session, unit=units.get_by_code(session, code), role=role)
    replies = handle(
        Incoming("telegram", user, user, f"/dangky {invite}", display_name=f"Đ/c {user}"), services
    )
    assert "Đã đăng ký" in replies[0].text or "đăng ký" in replies[0].text.lower()


def ask_link(services: Services, user: str, *, chat: str | None = None) -> str:
    replies = handle(Incoming("telegram", user, chat or user, "/web"), services)
    return replies[0].text


def link_path(text: str) -> str:
    match = re.search(r"http://tiendo\.test(/web/login/\S+)", text)
    assert match, text
    return match.group(1)


async def login(site: Site, user: str) -> None:
    path = link_path(ask_link(site.services, user))
    answer = await site.client.post(path)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def demo_site(site: Site) -> Site:
    with site.database.session() as session:
        demo.load(session)
    register(site.database, site.services, "100", demo.ROOT, Role.admin)
    return site


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- login ------------------------------------------------------------------------------------


async def test_web_in_the_chat_gives_a_one_time_link_that_opens_a_session(demo_site: Site) -> None:
    site = demo_site
    path = link_path(ask_link(site.services, "100"))
    # Opening the link (or a messenger's link preview fetching it) spends nothing.
    for _ in range(2):
        page = await site.client.get(path)
        assert page.status_code == 200 and "Đăng nhập" in page.text and 'method="post"' in page.text
    assert (await site.client.get("/web/")).status_code == 401
    opened = await site.client.post(path)
    assert opened.status_code == 303
    cookie = opened.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie
        and "Path=/web" in cookie
        and "Max-Age=" in cookie
    )
    home = await site.client.get("/web/", follow_redirects=True)
    assert home.status_code == 200 and "Đảng bộ huyện Thanh Liêm" in home.text
    assert "script" not in home.text.lower()  # plain HTML: nothing to run
    assert home.headers["content-security-policy"].startswith("default-src 'none'")
    # Spent: a second use, by anybody, opens nothing.
    async with httpx.AsyncClient(transport=site.client._transport, base_url=BASE) as other:
        assert (await other.post(path)).status_code == 410
        assert (await other.get("/web/")).status_code == 401


async def test_links_expire_and_sessions_end_at_logout(demo_site: Site) -> None:
    site = demo_site
    stale = link_path(ask_link(site.services, "100"))
    site.services.clock.advance(minutes=11)  # type: ignore[attr-defined]
    assert (await site.client.get(stale)).status_code == 410
    assert (await site.client.post(stale)).status_code == 410
    await login(site, "100")
    page = await site.client.get("/web/", follow_redirects=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert (await site.client.post("/web/logout", data={"csrf": "forged"})).status_code == 403
    out = await site.client.post("/web/logout", data={"csrf": csrf})
    assert out.status_code == 200 and "Đã đăng xuất" in out.text
    assert (await site.client.get("/web/")).status_code == 401
    with site.database.session() as session:
        assert session.exec(select(WebSession)).all() == []
    site.services.clock.advance(hours=9)  # type: ignore[attr-defined]


async def test_session_expires(demo_site: Site) -> None:
    await login(demo_site, "100")
    assert (await demo_site.client.get("/web/", follow_redirects=True)).status_code == 200
    demo_site.services.clock.advance(hours=8, minutes=1)  # type: ignore[attr-defined]
    assert (await demo_site.client.get("/web/")).status_code == 401


async def test_no_link_in_a_group_nor_for_strangers(demo_site: Site) -> None:
    site = demo_site
    group = ask_link(site.services, "100", chat="-1001")
    assert "tin nhắn riêng" in group and "/web/login/" not in group
    assert "/web/login/" not in ask_link(site.services, "999")  # not registered
    site.services.web_base_url = ""
    assert "chưa được bật" in ask_link(site.services, "100")


async def test_terminal_chat_web_link_works(demo_site: Site) -> None:
    replies = handle(Incoming("terminal", "terminal", "terminal", "/web"), demo_site.services)
    assert "đăng ký" in replies[0].text.lower()  # the terminal user of this test has no account


# --- who sees what ----------------------------------------------------------------------------


async def test_staff_see_their_subtree_only_and_secretaries_their_cell(demo_site: Site) -> None:
    site = demo_site
    register(site.database, site.services, "200", demo.KIEN_KHE, Role.staff)
    register(site.database, site.services, "300", "TL-KK-01", Role.secretary)
    with site.database.session() as session:
        root, kk = units.get_by_code(session, demo.ROOT), units.get_by_code(session, demo.KIEN_KHE)
        cell, other = units.get_by_code(session, "TL-KK-01"), units.get_by_code(session, "TL-TT-01")
    await login(site, "200")
    assert (await site.client.get(f"/web/unit/{kk.id}")).status_code == 200
    assert (await site.client.get(f"/web/unit/{cell.id}")).status_code == 200
    assert (await site.client.get(f"/web/unit/{root.id}")).status_code == 403
    assert (await site.client.get(f"/web/unit/{other.id}/tien-do.xlsx")).status_code == 403
    assert (await site.client.get(f"/web/reports?don_vi={root.id}")).status_code == 403
    assert (await site.client.get("/web/admin")).status_code == 403
    page = await site.client.get(f"/web/unit/{kk.id}")
    assert f"/web/unit/{root.id}" not in page.text  # the breadcrumb stops at the own unit
    site.client.cookies.clear()
    await login(site, "300")
    assert (await site.client.get(f"/web/unit/{cell.id}")).status_code == 200
    assert (await site.client.get(f"/web/unit/{kk.id}")).status_code == 403


# --- the article's figures ---------------------------------------------------------------------


async def test_the_page_shows_the_article_and_drills_down_to_kien_khe(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    root = text_of((await site.client.get("/web/", follow_redirects=True)).text)
    for figure in ("539 đảng viên", "89,8%", "82,9%", "921", "406", "7.025"):
        assert figure in root, figure
    assert "Chưa báo cáo tháng 10/2023" in root and "tháng 11/2023" not in root
    with site.database.session() as session:
        kk = units.get_by_code(session, demo.KIEN_KHE)
    page = (await site.client.get("/web/", follow_redirects=True)).text
    assert f'href="/web/unit/{kk.id}?' in page or f'href="/web/unit/{kk.id}"' in page
    kien_khe = text_of((await site.client.get(f"/web/unit/{kk.id}")).text)
    assert "đã kết nạp 36 đảng viên" in kien_khe and "Tôn giáo 9" in kien_khe
    year = text_of((await site.client.get(f"/web/unit/{kk.id}", params={"ky": "năm 2023"})).text)
    assert "đã kết nạp 12 đảng viên từ 01/01/2023, đạt 100,0% chỉ tiêu Kế hoạch năm 2023" in year
    assert "Nghị quyết Đại hội" not in year  # one period throughout


async def test_the_period_picker_and_its_errors(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    with site.database.session() as session:
        root = units.get_by_code(session, demo.ROOT)
    year = text_of((await site.client.get(f"/web/unit/{root.id}", params={"ky": "năm 2023"})).text)
    # The 2023 figure against the 2023 plan, not the term's 34/30.
    assert "Chi bộ Trường THPT A Thanh Liêm 20 Kế hoạch năm 2023 (01/01/2023–31/12/2023) 20/9 222,2%" in year
    assert "34/30" not in year
    term = text_of((await site.client.get(f"/web/unit/{root.id}", params={"ky": "nhiệm kỳ"})).text)
    assert "nhiệm kỳ 01/07/2020–30/06/2025" in term and "539" in term
    bad = text_of((await site.client.get(f"/web/unit/{root.id}", params={"ky": "hôm kia nữa"})).text)
    assert "Không hiểu kỳ" in bad and "539" in bad


async def test_excel_download_is_what_the_page_shows(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    with site.database.session() as session:
        root = units.get_by_code(session, demo.ROOT)
    answer = await site.client.get(
        f"/web/unit/{root.id}/tien-do.xlsx", params={"ky": "năm 2023", "sort": "name"}
    )
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content))["Kết nạp đảng viên"]
    first = next(row for row in range(1, 20) if sheet.cell(row, 2).value == "Đảng bộ huyện Thanh Liêm")
    names = [str(sheet.cell(row, 2).value) for row in range(first, first + 16)]
    assert names[0] == "Đảng bộ huyện Thanh Liêm" and names[1:] == sorted(names[1:])
    thpt = next(
        row for row in range(first, first + 16) if str(sheet.cell(row, 2).value).startswith("Chi bộ Trường")
    )
    assert (sheet.cell(thpt, 5).value, sheet.cell(thpt, 7).value) == (9, 20)
    chart = await site.client.get(f"/web/unit/{root.id}/chart.png")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


async def test_reports_list_shows_corrections_and_filters(demo_site: Site) -> None:
    site = demo_site
    register(site.database, site.services, "300", "TL-KK-01", Role.secretary)
    with site.database.session() as session:
        cell = units.get_by_code(session, "TL-KK-01")
        author = accounts.find_account(session, "telegram", "300")
        assert author is not None
        data = reports.ReportInput(
            unit=cell,
            channel="telegram",
            raw_text="kết nạp 2 đảng viên tháng 10",
            period_start=date(2023, 10, 1),
            period_end=date(2023, 10, 31),
            account_id=author.id,
            admission=reports.AdmissionInput(2),
        )
        now = site.services.now()  # the demo's day: October's books are still open
        first, _ = reports.confirm_report(session, data, now=now)
        second = reports.correct_report(
            session, first, replace(data, admission=reports.AdmissionInput(3)), account_id=author.id, now=now
        )
        codes = first.receipt_code, second.receipt_code
    await login(site, "100")
    with site.database.session() as session:
        kk = units.get_by_code(session, demo.KIEN_KHE)
    page = text_of(
        (await site.client.get("/web/reports", params={"don_vi": kk.id, "ky": "tháng 10/2023"})).text
    )
    assert f"đã sửa thành {codes[1]}" in page and f"thay cho {codes[0]}" in page
    assert "kết nạp 3" in page and "telegram" in page and "Đ/c 300" in page and "rút lúc" in page
    older = text_of(
        (await site.client.get("/web/reports", params={"don_vi": kk.id, "ky": "tháng 9/2023"})).text
    )
    assert codes[0] not in older


# --- administration ----------------------------------------------------------------------------


async def csrf_of(site: Site) -> str:
    page = await site.client.get("/web/admin")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


BAD_UNITS = (
    "Mã đơn vị;Tên đơn vị;Mã cấp trên;Cấp\r\n"
    "TL-KK-05;Chi bộ tổ dân phố 5 Kiện Khê;TL-KK;Chi bộ\r\n"
    "TL-KK-06;;TL-KK;Chi bộ\r\n"
    "TL-KK-07;Chi bộ tổ dân phố 7;KHONG-CO;Chi bộ\r\n"
    "TL KK 08;Chi bộ tổ dân phố 8;TL-KK;Chi bộ\r\n"
)


async def test_imports_preview_every_error_then_write_only_when_confirmed(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    csrf = await csrf_of(site)
    bad = BAD_UNITS.encode("utf-8-sig")
    refused = await site.client.post(
        "/web/admin/import/units", data={"csrf": csrf}, files={"file": ("don-vi.csv", bad, "text/csv")}
    )
    assert refused.status_code == 422
    listed = text_of(refused.text)
    assert "tệp có 3 lỗi" in listed and "Dòng 3" in listed and "Dòng 4" in listed and "Dòng 5" in listed
    assert 'id="confirm"' not in refused.text
    good = "\r\n".join(BAD_UNITS.split("\r\n")[:2]) + "\r\n"
    preview = await site.client.post(
        "/web/admin/import/units",
        data={"csrf": csrf},
        files={
            "file": (
                "don-vi.csv",
                good.encode("utf-8"),
                "text/csv",
            )
        },
    )
    assert preview.status_code == 200 and 'id="confirm"' in preview.text
    with site.database.session() as session:
        assert session.exec(select(Unit).where(Unit.code == "TL-KK-05")).first() is None  # previewed only
    data = re.search(r'name="data" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    forged = await site.client.post(
        "/web/admin/import/units", data={"step": "confirm", "data": data, "filename": "x.csv"}
    )
    assert forged.status_code == 403  # no CSRF token: nothing written
    done = await site.client.post(
        "/web/admin/import/units",
        data={"csrf": csrf, "step": "confirm", "data": data, "filename": "don-vi.csv"},
    )
    assert done.status_code == 200 and "Đã nhập xong 1 dòng" in text_of(done.text)
    with site.database.session() as session:
        assert units.get_by_code(session, "TL-KK-05").name == "Chi bộ tổ dân phố 5 Kiện Khê"


async def test_target_sheet_for_many_units_with_shares(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    csrf = await csrf_of(site)
    codes = [f"TL-KK-0{i}" for i in range(1, 5)]
    sheet = "ma_don_vi,chi_tieu,tu_ngay,den_ngay,nguon\n" + "".join(
        f"{code},3,01/01/2024,31/12/2024,Kế hoạch năm 2024\n" for code in codes
    )
    sheet += "TL,1%,01/01/2024,31/12/2024,1% số đảng viên\n"
    preview = await site.client.post(
        "/web/admin/import/targets",
        data={"csrf": csrf},
        files={"file": ("ct.csv", sheet.encode(), "text/csv")},
    )
    assert preview.status_code == 200, text_of(preview.text)
    assert "70 (1,0% của 7.025 đảng viên)" in text_of(preview.text)
    data = re.search(r'name="data" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    await site.client.post(
        "/web/admin/import/targets",
        data={"csrf": csrf, "step": "confirm", "data": data, "filename": "ct.csv"},
    )
    with site.database.session() as session:
        stored = session.exec(select(Target).where(Target.start_date == date(2024, 1, 1))).all()
    assert sorted(t.value for t in stored) == [3, 3, 3, 3, 70]


async def test_templates_download(demo_site: Site) -> None:
    await login(demo_site, "100")
    for path in ("units.xlsx", "units.csv", "targets.xlsx", "targets.csv"):
        answer = await demo_site.client.get(f"/web/admin/template/{path}")
        assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]


async def test_invite_cards_for_every_cell_of_a_subtree(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    csrf = await csrf_of(site)
    with site.database.session() as session:
        kk = units.get_by_code(session, demo.KIEN_KHE)
    sheet = await site.client.post(
        "/web/admin/invites", data={"csrf": csrf, "unit": kk.id, "who": "cells", "days": 30}
    )
    assert sheet.status_code == 200
    codes = re.findall(r'<p class="code">([A-Z0-9]{5}-[A-Z0-9]{5})</p>', sheet.text)
    assert len(codes) == 4 and sheet.text.count("<svg") == 4
    for i in range(1, 5):
        assert f"Chi bộ tổ dân phố {i} Kiện Khê" in sheet.text
    # Each code registers its cell's secretary.
    replies = handle(Incoming("telegram", "555", "555", f"/dangky {codes[1]}"), site.services)
    assert "Chi bộ tổ dân phố 2 Kiện Khê" in replies[0].text


async def test_revoking_an_account_ends_its_access_everywhere(demo_site: Site) -> None:
    site = demo_site
    register(site.database, site.services, "200", demo.KIEN_KHE, Role.staff)
    staff_client = httpx.AsyncClient(transport=site.client._transport, base_url=BASE)
    path = link_path(ask_link(site.services, "200"))
    assert (await staff_client.post(path)).status_code == 303
    await login(site, "100")
    with site.database.session() as session:
        target = accounts.find_account(session, "telegram", "200")
        assert target is not None
        kk = units.get_by_code(session, demo.KIEN_KHE)
    page = await site.client.get("/web/admin/accounts", params={"don_vi": kk.id})
    assert "Đ/c 200" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = await site.client.post(
        f"/web/admin/accounts/{target.id}/revoke", data={"csrf": csrf, "confirm": "1"}, follow_redirects=True
    )
    assert "Đã thu hồi tài khoản Đ/c 200" in done.text
    assert (await staff_client.get("/web/")).status_code == 401
    await staff_client.aclose()
    assert "/dangky" in handle(Incoming("telegram", "200", "200", "/tiendo"), site.services)[0].text
    with site.database.session() as session:
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == "account.revoke")).first() is not None
        )
    # A new invite registers the person again.
    register(site.database, site.services, "200", demo.KIEN_KHE, Role.staff)


async def test_campaign_preview_and_switches(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    with site.database.session() as session:
        root = units.get_by_code(session, demo.ROOT)
        kk = units.get_by_code(session, demo.KIEN_KHE)
    page = await site.client.get("/web/admin/campaign", params={"don_vi": root.id})
    shown = text_of(page.text)
    assert "Đợt nhắc việc tháng 11/2023" in shown and "Đôn đốc" in shown and "Biểu dương" in shown
    assert "Kính gửi" in shown or "đồng chí" in shown.lower()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf, "don_vi": str(root.id)}
    for unit_id in re.findall(r'name="on-(\d+)-nudge"', page.text):
        for kind in ("nudge", "praise", "reminder", "summary"):
            if not (unit_id == str(kk.id) and kind == "praise"):
                form[f"on-{unit_id}-{kind}"] = "1"
    saved = await site.client.post("/web/admin/campaign", data=form, follow_redirects=True)
    assert "Đã lưu" in saved.text
    with site.database.session() as session:
        assert [(s.unit_id, s.kind) for s in session.exec(select(NudgeSetting)).all()] == [(kk.id, "praise")]


async def test_admin_pages_need_the_admin_role(demo_site: Site) -> None:
    site = demo_site
    register(site.database, site.services, "200", demo.ROOT, Role.staff)
    await login(site, "200")
    assert (await site.client.get("/web/admin")).status_code == 403
    page = await site.client.get("/web/", follow_redirects=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    refused = await site.client.post(
        "/web/admin/import/units",
        data={"csrf": csrf},
        files={"file": ("u.csv", BAD_UNITS.encode(), "text/csv")},
    )
    assert refused.status_code == 403
    with site.database.session() as session:
        assert session.exec(select(Account).where(Account.role == "admin")).first() is not None


def test_terminal_demo_web_prints_a_link_that_opens(tmp_path) -> None:
    """`tiendo chat --demo`, `/web`: the link printed opens the page with the article's figures."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--demo", "--web-port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert chat.stdin is not None and chat.stdout is not None
        chat.stdin.write("/web\n")
        chat.stdin.flush()
        link = ""
        for line in chat.stdout:
            if "/web/login/" in line:
                link = line.strip()
                break
        assert link.startswith("http://127.0.0.1:"), link
        with httpx.Client() as browser:
            assert browser.get(link).status_code == 200
            opened = browser.post(link, follow_redirects=True)
            assert opened.status_code == 200
            shown = text_of(opened.text)
            for figure in ("539 đảng viên", "89,8%", "82,9%", "921", "406", "7.025"):
                assert figure in shown
    finally:
        if chat.stdin is not None:
            chat.stdin.close()
        chat.wait(timeout=30)


async def test_one_target_for_every_cell_of_a_commune_as_a_share_of_members(demo_site: Site) -> None:
    site = demo_site
    await login(site, "100")
    csrf = await csrf_of(site)
    with site.database.session() as session:
        kk = units.get_by_code(session, demo.KIEN_KHE)
    form = {
        "csrf": csrf,
        "unit": str(kk.id),
        "who": "cells",
        "metric": "kết nạp",
        "start": "01/01/2024",
        "end": "31/12/2024",
        "value": "2%",
        "max": "",
        "source": "2% số đảng viên",
    }
    # No member figure below Kiện Khê: every cell is named, nothing is set.
    refused = await site.client.post("/web/admin/targets", data=form)
    assert refused.status_code == 422 and text_of(refused.text).count("chưa có số liệu") == 4
    form["value"] = "2"
    preview = await site.client.post("/web/admin/targets", data=form)
    assert preview.status_code == 200 and 'id="confirm"' in preview.text
    data = re.search(r'name="data" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    await site.client.post(
        "/web/admin/import/targets",
        data={"csrf": csrf, "step": "confirm", "data": data, "filename": "ct.csv"},
    )
    with site.database.session() as session:
        stored = session.exec(select(Target).where(Target.source == "2% số đảng viên")).all()
    assert len(stored) == 4 and {t.value for t in stored} == {2}
