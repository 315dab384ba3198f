"""A notice's missing receipts chased once (the plan's notice_receipt_reminder_hours), walked with the clock and
counted at the fake WeCom server; the moment is kept to office hours on working days."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from handlers.broadcast import chase_moment
from handlers.context import campaign_calendar
from scheduler.preview import preview
from scheduler.rules import NOTICE_RECEIPT
from storage.db import transaction
from storage.models import Campaign, Notice
from tests.conftest import SimChat, at
from tests.scheduler.conftest import Reminders, route, set_campaign


def chases(reminders: Reminders, user: str) -> list[str]:
    return [text for text in reminders.fake.to_user(user) if text.startswith("【回执提醒】")]


def test_liaisons_who_have_not_acknowledged_are_reminded_once(reminders: Reminders, chat: SimChat) -> None:
    set_campaign(reminders.db, notice_receipt_reminder_hours=24)
    reminders.at("2020-07-15 09:59")
    reminders.clock.set(at("2020-07-15 10:00"))
    reply = chat.send("YuJianKui", "通知 请各单位于7月24日前报送典型案例1至2个。")
    assert "7月16日 10:00 仍未回执的联络员，督办会再提醒一次" in reply
    reminders.clock.set(at("2020-07-15 11:00"))
    assert "已确认收到通知〔1〕" in chat.send("MaQiang", "收到")

    reminders.at("2020-07-16 09:59")
    assert chases(reminders, "WangFang") == []
    reminders.at("2020-07-16 10:00:30")
    assert chases(reminders, "WangFang") == [
        "【回执提醒】通知〔1〕「请各单位于7月24日前报送典型案例1至2个。」您还没有确认收到，请回复「收到」。"
    ]
    assert chases(reminders, "MaQiang") == []  # acknowledged the day before

    reminders.restart()  # a new process ticks over the same moments: nothing twice
    reminders.walk("2020-07-16", 7, "10:00", "16:00")
    assert len(chases(reminders, "WangFang")) == 1
    assert "回执：1/2 个单位已确认收到" in chat.send("YuJianKui", "回执")


def test_no_reminder_without_the_plan_option_or_once_everyone_acknowledged(reminders: Reminders, chat: SimChat) -> None:
    reminders.at("2020-07-15 09:59")
    assert "再提醒" not in chat.send("YuJianKui", "通知 请报送典型案例")
    set_campaign(reminders.db, notice_receipt_reminder_hours=2)  # later notices only: the first had none
    reminders.clock.set(at("2020-07-15 10:05"))
    assert "12:05 仍未回执" in chat.send("YuJianKui", "通知 请报送工作小结")
    chat.send("MaQiang", "收到")
    chat.send("WangFang", "已阅")
    reminders.walk("2020-07-15", 3, "12:10", "18:00")
    assert chases(reminders, "WangFang") == [] and chases(reminders, "MaQiang") == []


def test_the_reminder_shows_in_the_preview_at_the_next_working_morning(reminders: Reminders, chat: SimChat) -> None:
    set_campaign(reminders.db, notice_receipt_reminder_hours=24)
    reminders.clock.set(at("2020-07-17 17:00"))  # a Friday afternoon: 24 hours later is a Saturday
    assert "7月20日 09:00 仍未回执" in chat.send("YuJianKui", "通知 请报送典型案例")
    with transaction(reminders.db.sessions) as session:
        campaign = session.scalars(select(Campaign)).one()
        items = [
            item.reminder
            for item in preview(session, campaign, route, at("2020-07-17 17:00"), at("2020-07-21 00:00"))
            if item.reminder.rule == NOTICE_RECEIPT
        ]
        assert session.scalars(select(Notice.remind_at)).one() == at("2020-07-20 09:00")
    assert [(item.at, item.recipient) for item in items] == [
        (at("2020-07-20 09:00"), "王芳（办公室）"),
        (at("2020-07-20 09:00"), "马强（执法监察支队）"),
    ]


@pytest.mark.parametrize(
    ("sent", "hours", "reminded"),
    [
        ("2020-07-15 10:00", 24, "2020-07-16 10:00"),  # within office hours on a working day
        ("2020-07-15 10:00", 1, "2020-07-15 11:00"),
        ("2020-07-15 20:30", 2, "2020-07-16 09:00"),  # at night: the next working morning
        ("2020-07-15 04:00", 2, "2020-07-15 09:00"),  # before office hours: that morning
        ("2020-07-17 17:00", 24, "2020-07-20 09:00"),  # a Saturday: Monday
        ("2020-09-30 10:00", 24, "2020-10-09 09:00"),  # 国庆 and 中秋 2020 (10-01 … 10-08): the first working day after
        ("2020-09-26 10:00", 24, "2020-09-27 10:00"),  # a Sunday worked in lieu (调休) is a working day
    ],
)
def test_the_reminder_moment_keeps_to_office_hours(sent: str, hours: int, reminded: str) -> None:
    calendar = campaign_calendar(Campaign(holidays=[], workdays=[]))
    moment: datetime = chase_moment(at(sent), hours, calendar)
    assert moment == at(reminded)
