"""The demo's workflow and the committee's documents: the Word briefing and the statistics workbook
open in LibreOffice (converted to PDF headless) and show the same figures as /tiendo."""

import csv
import io
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook

from bot import demo
from bot.cli import main
from handlers.conversation import handle
from handlers.documents import briefing_docx, statistics_xlsx
from handlers.types import Incoming, Services
from storage import units
from storage.db import Database
from storage.models import Account, Role
from storage.progress import unit_progress

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice is not installed (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui; "
    ".ci/run installs it)",
)
ARTICLE = ("539", "89,8%", "82,9%", "921", "406", "7.025")


@pytest.fixture
def loaded(database: Database, services: Services) -> Services:
    with database.session() as session:
        demo.load(session)
        root = units.get_by_code(session, demo.ROOT)
        session.add(
            Account(
                channel="zalo",
                channel_user_id="staff",
                role=Role.staff,
                unit_id=root.id or 0,
                created_at=services.now(),
            )
        )
    return services


def say(services: Services, text: str) -> list:
    return handle(Incoming(channel="zalo", user_id="staff", chat_id="staff", text=text), services)


def to(folder: Path, path: Path, fmt: str) -> Path:
    """LibreOffice headless, its own profile: what a committee's office would open the file with."""
    assert SOFFICE is not None
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(folder),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    out = folder / f"{path.stem}.{fmt.split(':')[0]}"
    assert out.exists() and out.stat().st_size > 0, f"LibreOffice did not convert {path.name}"
    return out


def test_the_demo_keeps_the_article_and_shows_the_workflow(loaded: Services) -> None:
    text = say(loaded, "/tiendo")[0].text
    for figure in ARTICLE:
        assert figure in text
    assert (
        "Số liệu tạm (chưa được duyệt): 12/539 đảng viên kết nạp, thuộc 6 báo cáo, trong đó 1 bị trả lại."
        in text
    )
    assert (
        "Đảng viên dự bị chưa được công nhận chính thức: 209; hết thời gian dự bị trong tháng 11/2023: 8"
        in text
    )
    assert "Quá hạn xét công nhận (quá 30 ngày làm việc): 8, trong đó 5 quá 3 tháng" in text
    assert (
        "đến 30/06/2025 đạt 143,2% chỉ tiêu Nghị quyết Đại hội; còn thiếu 61, cần 4 đồng chí mỗi tháng"
        in text
    )
    # The 2025 merger does not change the view of 2023: the fifteen committees of 2023.
    assert "Các đơn vị trực thuộc (15 đơn vị" in text and "Đảng bộ xã Thanh Hà: 44/42" in text
    kien_khe = say(loaded, "/tiendo Kiện Khê năm 2023")[0].text
    assert "đã kết nạp 12 đảng viên" in kien_khe and "12/12, đạt 100,0%" in kien_khe
    assert "Đảng bộ xã Thanh Hà: 10/12" in say(loaded, "/thidua 2023")[0].text


def test_units_history_shows_a_merged_communes_path(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["units", "history", "TL-TH"]) == 0
    out = capsys.readouterr().out
    assert "đến 30/06/2025: Đảng bộ huyện Thanh Liêm (TL) > Đảng bộ xã Thanh Hà (TL-TH)" in out
    assert "01/07/2025: sáp nhập vào Đảng bộ xã Thanh Liêm (TL-XTL)" in out
    assert "01/07/2020–30/06/2025: chỉ tiêu 42 (TL-TH); đã kết nạp 44, đạt 104,8%" in out
    assert main(["units", "history", "TL-XTL"]) == 0
    out = capsys.readouterr().out
    assert "Đảng bộ xã Thanh Hà (TL-TH), ngày 01/07/2025" in out
    assert "01/07/2025–30/06/2030: chỉ tiêu 120 (TL-XTL)" in out


def test_the_briefing_shows_the_figures_of_tiendo(
    loaded: Services, database: Database, tmp_path: Path
) -> None:
    replies = say(loaded, "/xuat baocao tháng 10/2023")
    assert replies[0].files and replies[0].files[0].filename.endswith(".docx")
    document = Document(io.BytesIO(replies[0].files[0].data))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for table in document.tables for row in table.rows for c in row.cells)
    assert "ĐẢNG CỘNG SẢN VIỆT NAM" in cells and "Thanh Liêm, ngày 01 tháng 11 năm 2023" in cells
    assert "T/M BAN TỔ CHỨC" in cells
    for heading in (
        "1. Kết quả",
        "2. Công tác tạo nguồn",
        "3. Đơn vị chậm",
        "4. Đảng viên dự bị",
        "5. Những thay đổi",
    ):
        assert heading in text
    tiendo = say(loaded, "/tiendo")[0].text
    for figure in ARTICLE:
        assert figure in text and figure in tiendo
    for line in tiendo.splitlines():
        if line.startswith(("Cơ cấu đảng viên mới", "Đảng viên dự bị", "⚠ Quá hạn")):
            assert line in text  # the same sentence
    assert "Đơn vị chậm tiến độ (4)" in text


def test_the_statistics_add_up_as_tiendo(loaded: Services, database: Database) -> None:
    replies = say(loaded, "/xuat thongke năm 2023")
    sheet = load_workbook(io.BytesIO(replies[0].files[0].data))["Thống kê"]
    rows: list[list[Any]] = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[0] == "STT")
    body = [r for r in rows[header + 2 :] if isinstance(r[0], int)]
    total = next(r for r in rows if r[1] == "Tổng cộng")
    assert len(body) == 15
    with database.session() as session:
        root = units.get_by_code(session, demo.ROOT)
        figures = unit_progress(
            session, root, date(2023, 11, 1), period=(date(2023, 1, 1), date(2023, 12, 31))
        )
    assert total[2] == figures.totals.admissions == sum(r[2] for r in body)
    assert total[3] == figures.totals.female and total[4] == figures.totals.youth_union
    tiendo = say(loaded, "/tiendo năm 2023")[0].text
    assert f"đã kết nạp {figures.totals.admissions} đảng viên" in tiendo
    assert f"nữ {figures.totals.female} (" in tiendo


@needs_libreoffice
def test_both_documents_open_in_libreoffice(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        demo.load(session)
        root = units.get_by_code(session, demo.ROOT)
        (tmp_path / "giao-ban.docx").write_bytes(
            briefing_docx(session, root, date(2023, 10, 1), date(2023, 11, 1))
        )
        (tmp_path / "thong-ke.xlsx").write_bytes(
            statistics_xlsx(session, root, date(2023, 7, 1), date(2023, 9, 30), date(2023, 11, 1))
        )
        quarter = unit_progress(
            session, root, date(2023, 11, 1), period=(date(2023, 7, 1), date(2023, 9, 30))
        )
    for name in ("giao-ban.docx", "thong-ke.xlsx"):
        pdf = to(tmp_path, tmp_path / name, "pdf")
        assert pdf.read_bytes().startswith(b"%PDF")
    # What LibreOffice reads back: the briefing's text, the workbook's cells.
    text = to(tmp_path, tmp_path / "giao-ban.docx", "txt:Text (encoded):UTF8").read_text(encoding="utf-8-sig")
    assert "đã kết nạp 539 đảng viên từ 01/07/2020, đạt 89,8% chỉ tiêu Nghị quyết Đại hội" in text
    table = to(tmp_path, tmp_path / "thong-ke.xlsx", "csv:Text - txt - csv (StarCalc):44,34,76").read_text(
        encoding="utf-8", errors="replace"
    )
    total = next(row for row in csv.reader(io.StringIO(table)) if len(row) > 2 and row[1] == "Tổng cộng")
    assert int(total[2].replace(",", "").replace(".", "")) == quarter.totals.admissions
