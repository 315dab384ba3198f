"""A coordinator's 本周周报 for a campaign of many units: one reply that a channel can cut at line ends without
cutting a unit's report, and that stops at a size a chat can hold, saying what it left out."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from handlers.weekly_reading import REPLY_BYTES
from storage.db import transaction
from storage.models import Unit, WeeklyReport
from tests.conftest import Database, at
from tests.factories import campaign_of

UNITS = 60
REPORT = "本周组织专项整治推进会一次，逐项梳理问题线索，督促整改到位。" * 12  # 372 characters: clipped in the reply


def many_units_reporting(db: Database) -> None:
    with transaction(db.sessions) as session:
        campaign = campaign_of(session)
        start = int(session.scalar(select(func.max(Unit.position))) or 0) + 1
        for number in range(UNITS):
            unit = Unit(campaign_id=campaign.id, name=f"第{number + 1}乡镇", position=start + number)
            session.add(unit)
            session.flush()
            session.add(
                WeeklyReport(
                    campaign_id=campaign.id,
                    unit_id=unit.id,
                    iso_year=2020,
                    iso_week=29,
                    text=REPORT,
                    submitted_at=at("2020-07-17 11:00"),
                    late=number % 7 == 0,
                )
            )


def test_every_units_report_in_one_reply_of_whole_lines_within_the_size_a_chat_holds(plan_loaded: Database) -> None:
    many_units_reporting(plan_loaded)
    reply = Dispatcher(plan_loaded.sessions).handle(
        IncomingMessage("wecom", "YuJianKui", "本周周报", at("2020-07-17 14:00"), message_id="all-units")
    )
    (text,) = reply.texts
    assert len(text.encode()) <= REPLY_BYTES
    assert text.startswith(f"第29周（7月13日–7月17日）周报：{UNITS}/{UNITS + 4} 个单位已报送，其中迟报 9 个")
    entries = [line for line in text.splitlines() if line.startswith("【第")]
    assert 10 < len(entries) < UNITS
    assert entries[0].startswith("【第1乡镇】（迟报）") and entries[1].startswith("【第2乡镇】7月17日 周五 11:00：")
    assert all(line.endswith("……") and len(line.encode()) < 2048 for line in entries)  # one line each, clipped
    assert f"……另有 {UNITS - len(entries)} 个单位已报送" in text
    assert "未报送（4 个）：办公室、执法监察支队、法制科、耕地保护科" in text
