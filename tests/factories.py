"""A hand-built ledger for tests/plan.yaml's campaign on 2020-07-15, with every number known in advance.

    unit            issues (number: due, status, focus area)                       lights
    法制科           #1 9-10 open 队伍建设, #2 7-10 open 制度建设 (overdue),         red: #2 overdue
                    #3 7-20 rectified 制度建设, #4 7-01 rectified 履行职责
    执法监察支队      #5 7-17 in progress 50% 队伍建设 (due in 2 days),              yellow: #5 due soon
                    #6 8-30 rectified 回应群众诉求
    办公室           #7 8-01 rectified 制度建设                                      green
    耕地保护科        none; owes 专项整治联系人 (due 6-10)                            red: missed deliverable

Weekly reports: week 29 (this week) from 法制科 and 办公室; week 28 from 法制科 (on time), 办公室 (late).
专项整治联系人 submitted by 法制科, 执法监察支队, 办公室. Stats (处理/处分): 法制科 队伍建设 2/1, 执法监察支队
队伍建设 1/0, 办公室 制度建设 3/2. One pending registration: 李娜 for 耕地保护科.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.statuses import ContactStatus, IssueStatus
from storage.db import transaction
from storage.models import Campaign, Contact, Deliverable, StatsReport, Submission, Unit, WeeklyReport
from storage.repos import Campaigns, Issues, People, Units
from tests.conftest import Database, at

TODAY = date(2020, 7, 15)

LEDGER: list[tuple[str, str, date, IssueStatus, int, str, str]] = [
    # unit, title, due, status, percent, focus area, source
    ("法制科", "执法证件未按期年检", date(2020, 9, 10), IssueStatus.OPEN, 0, "队伍建设", "专项检查"),
    ("法制科", "案卷不规范", date(2020, 7, 10), IssueStatus.OPEN, 0, "制度建设", "信访举报"),
    ("法制科", "公示不全", date(2020, 7, 20), IssueStatus.RECTIFIED, 100, "制度建设", "专项检查"),
    ("法制科", "超期办案", date(2020, 7, 1), IssueStatus.RECTIFIED, 100, "履行职责", "媒体曝光"),
    ("执法监察支队", "辅助人员单独执法", date(2020, 7, 17), IssueStatus.IN_PROGRESS, 50, "队伍建设", "信访举报"),
    ("执法监察支队", "举报回复超期", date(2020, 8, 30), IssueStatus.RECTIFIED, 100, "回应群众诉求", "信访举报"),
    ("办公室", "监督电话未公开", date(2020, 8, 1), IssueStatus.RECTIFIED, 100, "制度建设", "例行督察"),
]


def campaign_of(session: Session) -> Campaign:
    campaign = Campaigns(session).current()
    assert campaign is not None
    return campaign


def unit_named(session: Session, name: str) -> Unit:
    unit = Units(session).find(campaign_of(session), name)
    assert unit is not None
    return unit


def add_issue(
    session: Session,
    unit_name: str,
    title: str,
    due: date,
    *,
    status: IssueStatus = IssueStatus.OPEN,
    percent: int = 0,
    focus_area: str | None = "制度建设",
    source: str = "专项检查",
    now: datetime | None = None,
    **fields: Any,
) -> int:
    """An issue as a liaison would log it, moved to `status`; returns its number."""
    now = now or at("2020-07-01 09:00")
    values: dict[str, Any] = {
        "year": 2020,
        "content": f"{title}的具体情况",
        "measures": "限期整改",
        "goal": "整改到位",
        "owner": "张三",
        "due_text": None,
        "remark": None,
    }
    values.update(fields)
    issue = Issues(session).create(
        campaign_of(session),
        unit_named(session, unit_name),
        now=now,
        created_by=None,
        title=title,
        due=due,
        focus_area=focus_area,
        source=source,
        **values,
    )
    if status is not IssueStatus.OPEN:
        Issues(session).add_progress(
            issue, status=status, percent=percent, note="按计划推进", contact=None, now=at("2020-07-10 15:00")
        )
    return issue.number


def build_ledger(db: Database) -> None:
    with transaction(db.sessions) as session:
        campaign = campaign_of(session)
        for unit_name, title, due, status, percent, area, source in LEDGER:
            add_issue(session, unit_name, title, due, status=status, percent=percent, focus_area=area, source=source)
        for unit_name, week, submitted, late in (
            ("法制科", 29, "2020-07-14 10:00", False),
            ("办公室", 29, "2020-07-15 09:00", False),
            ("法制科", 28, "2020-07-10 09:30", False),
            ("办公室", 28, "2020-07-10 16:00", True),
        ):
            session.add(
                WeeklyReport(
                    campaign_id=campaign.id,
                    unit_id=unit_named(session, unit_name).id,
                    iso_year=2020,
                    iso_week=week,
                    text="本周工作",
                    submitted_at=at(submitted),
                    late=late,
                )
            )
        contacts = session.scalars(select(Deliverable).where(Deliverable.name == "专项整治联系人")).one()
        for unit_name in ("法制科", "执法监察支队", "办公室"):
            session.add(
                Submission(
                    deliverable_id=contacts.id,
                    unit_id=unit_named(session, unit_name).id,
                    submitted_at=at("2020-06-09 10:00"),
                    late=False,
                )
            )
        for unit_name, area, handled, disciplined in (
            ("法制科", "队伍建设", 2, 1),
            ("执法监察支队", "队伍建设", 1, 0),
            ("办公室", "制度建设", 3, 2),
        ):
            session.add(
                StatsReport(
                    campaign_id=campaign.id,
                    unit_id=unit_named(session, unit_name).id,
                    focus_area=area,
                    handled=handled,
                    disciplined=disciplined,
                    updated_at=at("2020-07-14 10:00"),
                )
            )
        pending = Contact(
            campaign_id=campaign.id,
            unit_id=unit_named(session, "耕地保护科").id,
            name="李娜",
            title="科员",
            phone="13909550004",
            status=ContactStatus.PENDING,
            created_at=at("2020-07-14 09:00"),
            updated_at=at("2020-07-14 09:00"),
        )
        session.add(pending)
        session.flush()
        People(session).bind(campaign, "wecom", "LiNa", contact=pending, now=at("2020-07-14 09:00"))


def set_password(db: Database, *, name: str = "俞建奎", login: str = "yu", password: str = "correct horse") -> None:
    """Give a coordinator a dashboard login, as `duban user add-coordinator` does."""
    from argon2 import PasswordHasher

    from storage.models import Coordinator

    with transaction(db.sessions) as session:
        coordinator = session.scalars(select(Coordinator).where(Coordinator.name == name)).one()
        coordinator.login, coordinator.password_hash = login, PasswordHasher().hash(password)
