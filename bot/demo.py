"""The demo campaign: seed 001's shape (four phases, three deliverables, a 90% target) shifted so that
today falls inside its 自查整改阶段, with units, liaisons, coordinators and issues in every status."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.channels import Platform
from core.statuses import ContactStatus, IssueStatus
from plan.schema import validate_plan
from plan.sync import load_plan
from storage.models import Campaign, Contact, Coordinator, StatsReport, Submission, Unit, WeeklyReport
from storage.repos import Deliverables, Issues, People, Units

DEMO_NAME = "自然资源领域行政执法不作为慢作为乱作为专项整治（演示）"
DEMO_LOGIN = "demo"
ZONE = ZoneInfo("Asia/Shanghai")


def demo_plan(today: date) -> dict[str, Any]:
    """Seed 001's calendar (6月4日 – 11月30日) moved so that today is day 60 of 180."""
    start = today - timedelta(days=60)

    def day(offset: int) -> date:
        return start + timedelta(days=offset)

    return {
        "campaign": {
            "name": DEMO_NAME,
            "issuer": "中卫市自然资源局",
            "timezone": "Asia/Shanghai",
            "start": start,
            "end": day(179),
            "target": {"rate": 0.9, "by": day(98)},
        },
        "phases": [
            {"name": "安排部署阶段", "end": day(6)},
            {"name": "自查整改阶段", "start": day(7), "end": day(118)},
            {"name": "巩固提高阶段", "start": day(119), "end": day(149)},
            {"name": "抽查检查阶段", "end": day(169)},
        ],
        "deliverables": [
            {"name": "专项整治联系人", "due": day(6), "to": "局法制科", "kind": "contacts"},
            {"name": "自查整改报告及统计表", "due": day(63), "to": "局法制科"},
            {"name": "行政裁量基准", "due": day(118), "to": "同级司法行政机关备案"},
            {"name": "专项整治工作总结及统计表", "due": day(138), "to": "局法制科"},
        ],
        "weekly_report": {"weekday": "周五", "remind_at": ["09:00", "11:00"], "due": "12:00"},
        "units": [
            {
                "name": "办公室",
                "contacts": [
                    {"name": "王芳", "phone": "13909550001", "title": "办公室副主任", "wecom_userid": "WangFang"}
                ],
            },
            {
                "name": "法制科",
                "contacts": [
                    {
                        "name": "陆和建",
                        "phone": "13909551234",
                        "title": "法制科科长",
                        "email": "lu@example.cn",
                        "wecom_userid": "LuHeJian",
                    }
                ],
            },
            {
                "name": "执法监察支队",
                "aliases": ["支队", "监察支队"],
                "contacts": [{"name": "马强", "phone": "13909550003", "title": "副支队长", "wecom_userid": "MaQiang"}],
            },
            {
                "name": "耕地保护科",
                "contacts": [{"name": "李娜", "phone": "13909550004", "title": "科员", "wecom_userid": "LiNa"}],
            },
            {
                "name": "不动产登记中心",
                "contacts": [{"name": "张伟", "phone": "13909550005", "title": "副主任", "wecom_userid": "ZhangWei"}],
            },
            {"name": "国土空间规划科", "contacts": [{"name": "刘洋", "phone": "13909550006", "title": "科长"}]},
            {"name": "矿产资源管理科"},
            {"name": "自然资源调查监测科"},
        ],
        "groups": [{"name": "专项整治工作群", "channel": "sim"}],
        "coordinators": [
            {"name": "俞建奎", "phone": "13909550100", "wecom_userid": "YuJianKui"},
            {"name": "祁少波", "wecom_userid": "QiShaoBo"},
        ],
    }


# (unit, title, source, focus area, due offset from today, status, percent)
DEMO_ISSUES = [
    ("法制科", "执法证件未按期年检", "专项检查", "队伍建设", 20, IssueStatus.IN_PROGRESS, 60),
    ("法制科", "行政裁量基准未及时修订", "上级机关督查督办", "制度建设", 40, IssueStatus.OPEN, 0),
    ("法制科", "案卷评查制度未落实", "例行督察", "责任追究", -10, IssueStatus.RECTIFIED, 100),
    ("执法监察支队", "违法占地案件查处超期", "信访举报", "履行职责", -5, IssueStatus.IN_PROGRESS, 40),
    ("执法监察支队", "执法辅助人员单独执法", "媒体曝光", "队伍建设", -12, IssueStatus.OPEN, 0),
    ("执法监察支队", "卫片图斑核查不及时", "卫片执法检查", "履行职责", 2, IssueStatus.IN_PROGRESS, 80),
    ("执法监察支队", "执法文书格式不统一", "专项检查", "制度建设", -20, IssueStatus.RECTIFIED, 100),
    ("耕地保护科", "耕地占补平衡台账不全", "巡视巡察", "履行职责", 15, IssueStatus.IN_PROGRESS, 30),
    ("耕地保护科", "群众举报回复超期", "信访举报", "回应群众诉求", -3, IssueStatus.RECTIFIED, 100),
    ("不动产登记中心", "登记办理超出承诺时限", "信访举报", "回应群众诉求", 10, IssueStatus.IN_PROGRESS, 50),
    ("不动产登记中心", "依申请公开答复不规范", "行政复议", "回应群众诉求", -2, IssueStatus.OPEN, 0),
    ("办公室", "监督举报电话未公开", "专项检查", "回应群众诉求", -30, IssueStatus.RECTIFIED, 100),
    ("办公室", "负责人出庭应诉制度未落实", "行政诉讼", "制度建设", 25, IssueStatus.OPEN, 0),
    ("国土空间规划科", "规划许可公示不完整", "专项检查", "制度建设", 30, IssueStatus.OPEN, 0),
]


def load_demo(session: Session, *, now: datetime) -> bool:
    """Load (or refresh) the demo plan; seed its conversation history the first time. True if created."""
    today = now.astimezone(ZONE).date()
    result = load_plan(session, validate_plan(demo_plan(today), "demo"), now=now, actor="demo")
    if not result.created:
        return False
    campaign = result.campaign
    units = {u.name: u for u in Units(session).all(campaign)}
    liaisons = {c.unit_id: c for c in People(session).active_liaisons([u.id for u in units.values()])}

    def moment(days_ago: int, hour: int = 10) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(hour), tzinfo=ZONE)

    issues = Issues(session)
    for index, (unit_name, title, source, area, due_offset, status, percent) in enumerate(DEMO_ISSUES):
        unit = units[unit_name]
        created = moment(40 - index)
        issue = issues.create(
            campaign,
            unit,
            now=created,
            created_by=liaisons.get(unit.id),
            year=today.year,
            title=title,
            source=source,
            focus_area=area,
            content=f"自查发现：{title}。",
            measures="明确责任人，制定整改方案，逐项整改。",
            goal="问题按期整改到位，建立长效机制。",
            owner=liaisons[unit.id].name if unit.id in liaisons else "科室负责人",
            due=today + timedelta(days=due_offset),
            due_text=None,
            remark=None,
        )
        if status is not IssueStatus.OPEN:
            issues.add_progress(
                issue,
                status=status,
                percent=percent,
                note="按计划推进" if percent < 100 else "已销号",
                contact=liaisons.get(unit.id),
                now=moment(max(1, 20 - index)),
            )

    _seed_reports(session, campaign.id, units, liaisons, today, moment)
    pending = Contact(
        campaign_id=campaign.id,
        unit_id=units["矿产资源管理科"].id,
        name="赵磊",
        title="科员",
        phone="13909550007",
        status=ContactStatus.PENDING,
        created_at=moment(1),
        updated_at=moment(1),
    )
    session.add(pending)
    session.flush()
    People(session).bind(campaign, Platform.WECOM, "ZhaoLei", contact=pending, now=moment(1))
    return True


def _seed_reports(
    session: Session, campaign_id: int, units: dict[str, Unit], liaisons: dict[int, Contact], today: date, moment: Any
) -> None:
    """Past weekly reports for most units, this week's for three; one deliverable in, some stats."""
    for weeks_back in range(1, 6):
        iso = (today - timedelta(weeks=weeks_back)).isocalendar()
        for name in ("办公室", "法制科", "执法监察支队", "耕地保护科", "不动产登记中心"):
            unit = units[name]
            session.add(
                WeeklyReport(
                    campaign_id=campaign_id,
                    unit_id=unit.id,
                    iso_year=iso.year,
                    iso_week=iso.week,
                    text="本周开展执法案卷自查，梳理问题线索。",
                    contact_id=liaisons[unit.id].id,
                    submitted_at=moment(weeks_back * 7, 10),
                    late=name == "耕地保护科",
                )
            )
    iso = today.isocalendar()
    for name in ("法制科", "执法监察支队", "办公室"):
        unit = units[name]
        session.add(
            WeeklyReport(
                campaign_id=campaign_id,
                unit_id=unit.id,
                iso_year=iso.year,
                iso_week=iso.week,
                text="本周完成执法案卷评查3件，整改问题2个。",
                contact_id=liaisons[unit.id].id,
                submitted_at=moment(0, 9),
                late=False,
            )
        )
    # The contact form came in with each active liaison (the plan names it `kind: contacts`), on time.
    contact_form = Deliverables(session).contact_form(units["法制科"].campaign)
    assert contact_form is not None
    for submission in session.scalars(select(Submission).where(Submission.deliverable_id == contact_form.id)):
        submission.submitted_at, submission.late = moment(56), False
    for name, area, handled, disciplined in (("执法监察支队", "队伍建设", 2, 1), ("法制科", "责任追究", 1, 0)):
        session.add(
            StatsReport(
                campaign_id=campaign_id,
                unit_id=units[name].id,
                focus_area=area,
                handled=handled,
                disciplined=disciplined,
                contact_id=liaisons[units[name].id].id,
                updated_at=moment(3),
            )
        )
    session.flush()


def demo_login(session: Session) -> str:
    """A fresh dashboard password for the demo coordinator 俞建奎 (login `demo`), returned to be printed.

    Random rather than fixed, so a demo database that ends up on a reachable server has no well-known
    password; `duban demo` prints it each time it runs (and so replaces the previous one)."""
    coordinator = session.scalars(
        select(Coordinator).join(Campaign).where(Campaign.name == DEMO_NAME, Coordinator.name == "俞建奎")
    ).one()
    password = secrets.token_urlsafe(9)
    coordinator.login, coordinator.password_hash = DEMO_LOGIN, PasswordHasher().hash(password)
    return password
