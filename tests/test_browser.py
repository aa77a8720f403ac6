"""The web page in a real browser: headless Chromium from the system (Debian's package), driven by
Playwright, against `tiendo chat`'s loopback server on the demo data (01/11/2023).

Log in by link, drill down, change period, download Excel, import a file with errors and see every one,
import a good one, make invite cards. With TIENDO_SCREENSHOTS=1 the main pages are saved to
docs/screenshots/ (how the README's pictures are made).
"""

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot import demo
from bot.webui.local import serve_in_background
from handlers.conversation import handle
from handlers.types import Incoming, Services
from storage import units
from storage.db import Database
from storage.models import Account, Role, Target, Unit

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("TIENDO_CHROMIUM", ""),
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
        shutil.which("chromium-browser") or "",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright missing: pip install -e '.[dev]' (the dev extra has it)"
)
CHROMIUM = chromium_path()
if CHROMIUM is None and os.environ.get("TIENDO_BROWSER_REQUIRED"):
    raise RuntimeError("TIENDO_BROWSER_REQUIRED is set but no Chromium was found")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine: apt-get install -y chromium (or set TIENDO_CHROMIUM); .ci/run does",
)


class Demo:
    def __init__(self, url: str, services: Services, database: Database, folder: Path) -> None:
        self.url = url
        self.services = services
        self.database = database
        self.folder = folder

    def link(self) -> str:
        reply = handle(Incoming("terminal", "terminal", "terminal", "/web"), self.services)[0].text
        match = re.search(r"http://127\.0\.0\.1:\d+/web/login/\S+", reply)
        assert match, reply
        return match.group(0)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("browser")
    database = Database(f"sqlite:///{folder}/demo.db")
    database.migrate()
    with database.session() as session:
        demo.load(session)
        root = units.get_by_code(session, demo.ROOT)
        session.add(
            Account(
                channel="terminal",
                channel_user_id="terminal",
                role=Role.admin,
                unit_id=root.id or 0,
                display_name="Cán bộ Ban Tổ chức (demo)",
                created_at=datetime.now(ZONE),
            )
        )
    services = Services(
        session=database.session,
        timezone=ZONE,
        clock=lambda: datetime.combine(demo.DEMO_TODAY, datetime.now(ZONE).time(), tzinfo=ZONE),
    )
    url, stop = serve_in_background(database, services)
    services.web_base_url = url
    yield Demo(url, services, database, folder)
    stop()
    database.dispose()


@pytest.fixture(scope="module")
def browser(site: Demo) -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        profile = tempfile.mkdtemp(prefix="tiendo-chromium-")
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=FLAGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
            locale="vi-VN",
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser, site: Demo):
    tab = browser.new_page()
    tab.goto(site.link())
    tab.get_by_role("button", name="Đăng nhập").click()
    tab.wait_for_url(re.compile(r"/web/unit/\d+"))
    return tab


def shot(tab, name: str, *, full: bool = True) -> None:
    if os.environ.get("TIENDO_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def test_login_by_link_shows_the_article(page, site: Demo) -> None:
    headline = page.locator("#headline").inner_text()
    assert "đã kết nạp 539 đảng viên" in headline and "89,8%" in headline and "82,9%" in headline
    body = page.locator("main").inner_text()
    for figure in ("921", "406", "7.025"):
        assert figure in body
    assert page.locator("#children tbody tr").count() == 15
    assert page.locator("img.chart").evaluate("img => img.complete && img.naturalWidth > 500")
    shot(page, "tien-do-huyen")


def test_a_used_link_does_not_open_a_second_browser(browser, site: Demo) -> None:
    link = site.link()
    first = browser.new_page()
    first.goto(link)
    first.get_by_role("button", name="Đăng nhập").click()
    first.wait_for_url(re.compile(r"/web/unit/\d+"))
    first.close()
    again = browser.new_page()
    again.goto(link)
    assert "Liên kết không dùng được" in again.locator("h1").inner_text()
    again.close()


def test_drill_down_to_kien_khe_and_back(page, site: Demo) -> None:
    page.get_by_role("link", name="Đảng bộ thị trấn Kiện Khê").click()
    assert "đã kết nạp 36 đảng viên" in page.locator("#headline").inner_text()
    assert "Tôn giáo" in page.locator("table.shares").inner_text()
    assert re.search(r"Tôn giáo\s+9\s", page.locator("table.shares").inner_text())
    page.locator("#ky").fill("năm 2023")
    page.get_by_role("button", name="Xem").click()
    headline = page.locator("#headline").inner_text()
    assert "đã kết nạp 12 đảng viên từ 01/01/2023, đạt 100,0% chỉ tiêu Kế hoạch năm 2023" in headline
    shot(page, "kien-khe-nam-2023")
    page.locator(".crumbs a", has_text="Đảng bộ huyện Thanh Liêm").click()
    assert "Đảng bộ huyện Thanh Liêm" in page.locator("h1").inner_text()
    # The period travels with the drill-down and back up.
    assert page.locator("#ky").input_value() == "năm 2023"
    assert "168 đảng viên từ 01/01/2023" in page.locator("#headline").inner_text()


def test_change_period_and_sort(page, site: Demo) -> None:
    page.get_by_role("link", name="nhiệm kỳ", exact=True).click()
    assert "nhiệm kỳ 01/07/2020–30/06/2025" in page.locator("#period-label").inner_text()
    page.locator("#children thead").get_by_role("link", name="Đơn vị").click()
    names = page.locator("#children tbody tr td:nth-child(2)").all_inner_texts()
    assert names == sorted(names)


def test_download_excel_of_what_is_on_screen(page, site: Demo) -> None:
    from openpyxl import load_workbook

    with page.expect_download() as download:
        page.locator("#excel").click()
    target = site.folder / "tien-do.xlsx"
    download.value.save_as(target)
    sheet = load_workbook(target)["Kết nạp đảng viên"]
    names = [row[1] for row in sheet.iter_rows(values_only=True) if row and row[1]]
    shown = page.locator("#children tbody tr td:nth-child(2)").all_inner_texts()
    start = names.index("Đảng bộ huyện Thanh Liêm")
    assert names[start + 1 : start + 1 + len(shown)] == shown


def test_import_with_errors_lists_them_all_then_a_good_file(page, site: Demo) -> None:
    bad = site.folder / "don-vi-loi.csv"
    bad.write_bytes(
        (
            "Mã đơn vị;Tên đơn vị;Mã cấp trên;Cấp\r\n"
            "TL-KK-05;Chi bộ tổ dân phố 5 Kiện Khê;TL-KK;Chi bộ\r\n"
            "TL-KK-06;;TL-KK;Chi bộ\r\n"
            "TL-KK-07;Chi bộ tổ dân phố 7 Kiện Khê;KHONG-CO;Chi bộ\r\n"
            "TL KK 08;Chi bộ tổ dân phố 8 Kiện Khê;TL-KK;Chi bộ\r\n"
        ).encode("utf-8-sig")
    )
    page.goto(f"{site.url}/web/admin")
    shot(page, "quan-tri")
    page.locator("#import-units input[type=file]").set_input_files(str(bad))
    page.locator("#import-units button").click()
    problems = page.locator("#problems li").all_inner_texts()
    assert [p.split(":")[0] for p in problems] == ["Dòng 3", "Dòng 4", "Dòng 5"]
    assert "tệp có 3 lỗi" in page.locator("#problems").inner_text()
    assert page.locator("#confirm").count() == 0
    shot(page, "nhap-tep-loi")
    with site.database.session() as session:
        assert session.exec(select(Unit).where(Unit.code == "TL-KK-05")).first() is None

    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    good = site.folder / "chi-tieu.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.append(["Mã đơn vị", "Loại chỉ tiêu", "Từ ngày", "Đến ngày", "Chỉ tiêu", "Tối đa", "Nguồn"])
    for i in range(1, 5):
        sheet.append(
            [f"TL-KK-0{i}", "kết nạp", datetime(2024, 1, 1), datetime(2024, 12, 31), 3, None, "Kế hoạch 2024"]
        )
    workbook.save(good)
    page.goto(f"{site.url}/web/admin")
    page.locator("#import-targets input[type=file]").set_input_files(str(good))
    page.locator("#import-targets button").click()
    assert "Tệp hợp lệ" in page.locator("#ready").inner_text()
    with site.database.session() as session:
        assert session.exec(select(Target).where(Target.source == "Kế hoạch 2024")).all() == []
    page.locator("#confirm").click()
    assert "Đã nhập xong 4 dòng" in page.locator("#done").inner_text()
    with site.database.session() as session:
        assert len(session.exec(select(Target).where(Target.source == "Kế hoạch 2024")).all()) == 4


def test_invite_cards_for_a_subtree(page, site: Demo) -> None:
    page.goto(f"{site.url}/web/admin")
    page.locator("#invites select[name=unit]").select_option(label="Đảng bộ thị trấn Kiện Khê")
    page.locator("#invites button").click()
    cards = page.locator("#cards .card")
    assert cards.count() == 4
    assert cards.nth(0).locator("svg").count() == 1
    code = cards.nth(0).locator(".code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code)
    shot(page, "the-ma-dang-ky")
    reply = handle(Incoming("zalo", "z-1", "z-1", f"/dangky {code}"), site.services)[0].text
    assert "Chi bộ tổ dân phố 1 Kiện Khê" in reply


def test_reports_page_and_a_phone_screen(page, browser, site: Demo) -> None:
    page.goto(f"{site.url}/web/reports")
    assert page.locator("#reports tbody tr").count() == 50
    shot(page, "bao-cao", full=False)
    phone = browser.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(site.link())
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url(re.compile(r"/web/unit/\d+"))
    # Readable on a phone: the page itself does not scroll sideways, only the wide tables do.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "dien-thoai", full=False)
    phone.close()
