"""Whatever a user types, the bot answers and stores nothing unconfirmed (property tests)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from handlers.answers import yes_no
from handlers.conversation import _CONTROL, handle
from handlers.text import fold
from handlers.types import Incoming, Kind, Services
from storage.db import Database
from storage.models import AdmissionEntry, ClassAttendance, Report, Role
from tests.utils.builders import build_tree, invite

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

# Fragments that look like reports, numbers, SQL and noise, to mix with arbitrary text.
FRAGMENTS = st.sampled_from(
    [
        "kết nạp",
        "ket nap",
        "KN",
        "đảng viên",
        "dv",
        "nữ",
        "nam",
        "đoàn viên",
        "tôn giáo",
        "cử",
        "đi học",
        "hoàn thành",
        "tháng 10/2023",
        "quý III/2023",
        "năm 2023",
        "hai mươi mốt",
        "1.025",
        "99999999999999999999",
        "'; DROP TABLE report; --",
        '" OR 1=1 --',
        "/tiendo",
        "/huy",
        "/sua BN-AAAAAA",
        "/ketnap",
        "/lop",
        "1",
        "0",
        "tất cả",
        "không rõ",
        "năm hiện tại",
        "quý này",
        "hôm qua",
        "Xác nhận",
        "🎉",
        "\u200b",
        "ｋết",
        "\u0301",
        "\x00",
        "\n",
        "chưa kết nạp được ai",
    ]
)
MESSAGES = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(FRAGMENTS, st.text(max_size=12), st.integers(-(10**30), 10**30).map(str)), max_size=12
    ).map(" ".join),
)


@pytest.fixture
def secretary_services(database: Database) -> Services:
    tree = build_tree(database)
    # No per-minute limit here: the clock stands still while hundreds of messages go through.
    services = Services(
        session=database.session,
        timezone=ZONE,
        clock=lambda: datetime(2023, 11, 1, 9, tzinfo=ZONE),
        messages_per_minute=0,
    )
    answer = handle(
        Incoming(
            channel="test",
            user_id="u",
            chat_id="c",
            text=f"/dangky {invite(database, tree.cell_a, Role.secretary)}",
        ),
        services,
    )
    assert "Đã đăng ký" in answer[0].text
    return services


def stored(database: Database) -> tuple[int, int, int]:
    with database.session() as session:
        return tuple(
            session.exec(select(func.count()).select_from(model)).one()  # type: ignore[return-value]
            for model in (Report, AdmissionEntry, ClassAttendance)
        )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(MESSAGES, min_size=1, max_size=6))
def test_any_text_gets_an_answer_and_nothing_unconfirmed_is_stored(
    secretary_services: Services, database: Database, messages: list[str]
) -> None:
    before = stored(database)
    for text in messages:
        # Never a confirm: options typed as "1" and any plain yes ("ok", "ừ", "o" for "ờ") could confirm,
        # so drop them as the bot reads them (without control characters: "1\x1b" is a "1" too).
        plain = _CONTROL.sub("", text)
        if fold(plain).strip(" .!") in ("1", "xac nhan") or yes_no(plain) is True:
            continue
        replies = handle(Incoming(channel="test", user_id="u", chat_id="c", text=text), secretary_services)
        assert replies and all(r.text.strip() for r in replies)
    assert stored(database) == before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.text(max_size=80), kind=st.sampled_from(list(Kind)))
def test_any_button_data_or_message_kind_is_answered_safely(
    secretary_services: Services, database: Database, data: str, kind: Kind
) -> None:
    before = stored(database)
    replies = handle(
        Incoming(channel="test", user_id="u", chat_id="c", kind=kind, choice=data, text=data),
        secretary_services,
    )
    assert replies
    assert stored(database) == before


@pytest.mark.parametrize(
    "data",
    [
        "unit:" + "9" * 45,
        "page:1:-:" + "9" * 5000,
        "xlsx:" + "9" * 200 + ":-",
        "chart:-1:-",
        "withdraw:" + "8" * 30,
        "keep:x",
        "ans:nodraft:" + "7" * 40,
        "confirm:",
        "page:1:2023130120231231:2",
    ],
)
def test_forged_button_data_is_answered_without_error(
    secretary_services: Services, database: Database, data: str
) -> None:
    replies = handle(
        Incoming(channel="test", user_id="u", chat_id="c", kind=Kind.choice, choice=data), secretary_services
    )
    assert replies and all(r.text for r in replies)
    assert stored(database) == (0, 0, 0)
