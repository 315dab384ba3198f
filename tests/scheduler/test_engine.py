"""The rules of docs/reminders.md, walked through the test campaign with the clock, counted at a fake server."""

from __future__ import annotations

from datetime import date

import yaml
from sqlalchemy import delete, select

from plan.schema import validate_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Campaign
from storage.repos import Issues, Units
from tests.bot.test_sim_stories import REGISTER_LU
from tests.conftest import FIXTURES, SimChat
from tests.scheduler.conftest import ROBOT_KEY, Reminders, set_campaign

ISSUE_DUE_0720 = (
    "问题\n线索名称：执法证件未按期年检\n线索来源：专项检查\n整治重点：队伍建设\n"
    "线索内容：3名执法人员证件过期\n整改措施：组织补办年检\n整改目标：全部持证上岗\n责任人：张三\n"
    "完成时限：2020年7月20日"
)


# --- weekly report --------------------------------------------------------------------------------------


def test_friday_reminders_go_only_to_units_that_have_not_reported(reminders: Reminders, chat: SimChat) -> None:
    fake = reminders.fake
    reminders.at("2020-07-17 08:59")
    assert fake.requests == []

    chat.send("MaQiang", "周报 本周完成执法案卷评查3件")
    reminders.at("2020-07-17 09:00:30")
    assert len(fake.to_user("WangFang")) == 1 and "办公室第29周" in fake.to_user("WangFang")[0]
    assert fake.to_user("MaQiang") == []  # 支队 has reported

    reminders.at("2020-07-17 10:00")
    chat.send("WangFang", "周报 本周开展制度梳理")
    reminders.at("2020-07-17 11:00:30")
    assert len(fake.to_user("WangFang")) == 1  # reported before 11:00: no second reminder
    assert fake.to_user("MaQiang") == []

    reminders.at("2020-07-17 12:00:30")
    [summary] = fake.to_user("YuJianKui")
    assert "尚有2个单位未报送：法制科、耕地保护科" in summary

    # A new week: nobody has reported yet, both liaisons are reminded at 09:00 and 11:00.
    reminders.walk("2020-07-18", 7, "08:00")
    reminders.at("2020-07-24 09:00:30")
    reminders.at("2020-07-24 11:00:30")
    assert len(fake.to_user("WangFang")) == 3 and len(fake.to_user("MaQiang")) == 2
    assert "第30周" in fake.to_user("MaQiang")[-1]
    assert fake.robot_messages() == []  # weekly reminders are private


def test_holiday_friday_moves_to_the_last_working_day_before(reminders: Reminders, plan_loaded: object) -> None:
    load_2026_plan(reminders)
    reminders.walk("2026-09-28", 5, "09:01", "11:01")  # Mon 09-28 … Fri 10-02 (国庆)
    assert occurrence_days(reminders, "weekly.remind") == ["2026-09-30"]  # Wednesday: 10-01 and 10-02 are 国庆 holidays
    assert len(reminders.fake.to_user("WangFang")) == 2  # 09:00 and 11:00 on Wednesday


# --- deadlines ------------------------------------------------------------------------------------------


def test_deadline_nudges_at_7_3_1_0_days_name_the_units_that_still_owe_it(reminders: Reminders, chat: SimChat) -> None:
    # 行政裁量基准 is due Wed 2020-09-30 from 法制科 and 支队. 09-27 is a Sunday, but a 调休 working day.
    reminders.walk("2020-09-22", 6)  # 09-22 … 09-27
    nudges = reminders.fake.robot_messages()
    assert [n.content.split("」")[1][:6] for n in nudges] == ["还有7天截止", "还有3天截止"]
    assert all(n.query["key"] == ROBOT_KEY for n in nudges)
    assert "未报送的单位（2个）：执法监察支队、法制科" in nudges[0].content
    assert nudges[0].mentions == ["13909550003"]  # 马强; 法制科's 陆和建 has not registered yet

    chat.send("MaQiang", "报送 行政裁量基准")
    chat.send("LuHeJian", REGISTER_LU)
    reminders.at("2020-09-28 09:01")
    reminders.at("2020-09-29 09:01")
    one_day = reminders.fake.robot_messages()[-1]
    assert "还有1天截止" in one_day.content and "（1个）：法制科" in one_day.content
    assert one_day.mentions == ["13909551234"]

    chat.send("LuHeJian", "报送 行政裁量基准")
    reminders.at("2020-09-30 09:01")
    assert len(reminders.fake.robot_messages()) == 3  # met by every unit: nothing on the day
    # 自查整改阶段 also ends 09-30, and no unit has an issue due by then: never a nudge for it.
    assert not any("自查整改阶段" in n.content for n in reminders.fake.robot_messages())


def test_private_nudges_and_counts_only_when_public_naming_is_off(reminders: Reminders) -> None:
    set_campaign(reminders.db, public_naming=False)
    reminders.at("2020-09-23 09:01")
    [group] = reminders.fake.robot_messages()
    assert "尚有2个单位未报送" in group.content and "法制科" not in group.content and group.mentions == []
    [private] = reminders.fake.to_user("MaQiang")
    assert "执法监察支队未报送，请抓紧办理" in private


def test_a_saturday_that_is_a_working_day_gets_its_nudge(reminders: Reminders) -> None:
    load_2026_plan(reminders, deliverable_due="2026-10-13")
    with transaction(reminders.db.sessions) as session:
        campaign = session.scalars(select(Campaign)).one()
        unit = Units(session).find(campaign, "支队")
        assert unit is not None
        Issues(session).create(
            campaign,
            unit,
            now=reminders.clock.now(),
            created_by=None,
            year=2026,
            title="执法案卷不规范",
            source="专项检查",
            content="…",
            measures="…",
            goal="…",
            owner="张三",
            due=date(2026, 9, 29),
        )
    reminders.walk("2026-09-29", 15)  # 09-29 … 10-13
    # 7 days before is 10-06 (国庆) → 09-30; 3 days before is Sat 10-10, a 调休 working day; then 1 and 0.
    assert occurrence_days(reminders, "deadline.nudge", "deliverable") == [
        "2026-09-30",
        "2026-10-10",
        "2026-10-12",
        "2026-10-13",
    ]
    digests = occurrence_days(reminders, "issue.overdue")
    assert digests == ["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12", "2026-10-13"]


# --- issues ---------------------------------------------------------------------------------------------


def test_issue_due_reminder_and_overdue_digest(reminders: Reminders, chat: SimChat) -> None:
    assert "已登记问题 #1" in chat.send("MaQiang", ISSUE_DUE_0720)
    reminders.at("2020-07-17 09:01")  # Friday, 3 days before Mon 07-20
    due = [t for t in reminders.fake.to_user("MaQiang") if "整改时限提醒" in t]
    assert len(due) == 1 and "#1「执法证件未按期年检」还有3天截止（7月20日）" in due[0]
    assert reminders.fake.to_user("YuJianKui") == []  # not overdue yet

    reminders.walk("2020-07-18", 4)  # Sat … Tue 07-21: overdue from 07-21
    [digest] = reminders.fake.to_user("YuJianKui")
    assert digest.startswith("【逾期问题日报】截至2020年7月21日，逾期未整改问题1个")
    assert "【执法监察支队】1个" in digest and "#1 执法证件未按期年检" in digest and "已逾期1天" in digest

    chat.send("MaQiang", "进展 #1 已整改 证件已全部年检")
    reminders.at("2020-07-22 09:01")
    assert len(reminders.fake.to_user("YuJianKui")) == 1  # rectified: no digest


# --- calendar -------------------------------------------------------------------------------------------


def test_coordinators_are_told_once_from_1_december_when_next_year_is_not_covered(reminders: Reminders) -> None:
    load_2026_plan(reminders, campaign_end="2027-03-31")
    reminders.walk("2026-11-27", 7)  # Fri 11-27 … Thu 12-03
    notices = [t for t in reminders.fake.to_user("YuJianKui") if "节假日数据" in t]
    assert len(notices) == 1 and "尚未包含2027年" in notices[0]
    first = [r for r in reminders.rows() if r.key and r.key.startswith("calendar.uncovered")]
    assert first[0].sent_at is not None and first[0].sent_at.date() == date(2026, 12, 1)


# --- helpers --------------------------------------------------------------------------------------------


def load_2026_plan(
    reminders: Reminders, *, deliverable_due: str = "2026-12-30", campaign_end: str = "2026-12-31"
) -> None:
    """The test campaign moved to autumn 2026 (国庆 10-01..10-07, 调休 Sun 09-20 and Sat 10-10)."""
    data = yaml.safe_load((FIXTURES / "plan.yaml").read_text(encoding="utf-8"))
    data["campaign"].update(start=date(2026, 9, 1), end=date.fromisoformat(campaign_end), target=None)
    data["phases"] = [{"name": "自查整改阶段", "start": "2026-09-01", "end": "2026-12-31"}]
    data["deliverables"] = [{"name": "自查整改报告", "due": deliverable_due}]
    data["groups"] = []
    with transaction(reminders.db.sessions) as session:
        session.execute(delete(Campaign))
    with transaction(reminders.db.sessions) as session:
        load_plan(session, validate_plan(data, "plan-2026"), now=reminders.clock.now())
        assert session.scalars(select(Campaign)).one().name
    reminders.restart()


def occurrence_days(reminders: Reminders, rule: str, subject: str = "") -> list[str]:
    """The days of the outbox's reminders of `rule` (about `subject`).

    A key reads rule:campaign/subject:recipient:YYYY-MM-DDTHH:MM."""
    return sorted(
        {
            row.key[-16:-6]
            for row in reminders.rows()
            if row.key and row.key.startswith(f"{rule}:") and f"/{subject}" in row.key
        }
    )


def test_moments_follow_the_campaigns_timezone(reminders: Reminders) -> None:
    set_campaign(reminders.db, timezone="Asia/Urumqi")  # UTC+6: 09:00 there is 11:00 in Shanghai
    reminders.at("2020-07-17 09:00:30")
    assert reminders.fake.to_user("WangFang") == []
    reminders.at("2020-07-17 11:00:30")
    assert len(reminders.fake.to_user("WangFang")) == 1
    assert {row.key[-5:] for row in reminders.rows() if row.key} == {"09:00"}
