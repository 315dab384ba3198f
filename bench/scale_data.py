"""A generated campaign of any size, written in bulk through the real schema, for bench/scale.py.

Everything scales with the unit count: 2 liaisons per unit (each bound to a WeCom user id), 20 issues per
unit in a realistic mix (about half rectified, a quarter in progress, some overdue), 26 weeks of weekly
reports (about 90% sent, some late), and four deliverables, the past ones submitted by most units.
5,000 units make a province: 10,000 liaisons, 100,000 issues. Rows go in as Core multi-row inserts in
batches (no ORM unit of work), so 5,000 units take well under a minute on either backend.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.summary import AREAS, ISSUES_PER_UNIT, SOURCES, START, TODAY
from bench.summary import plan as summary_plan
from core.statuses import ContactStatus, IssueStatus
from plan.schema import validate_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Base, ChatIdentity, Contact, Deliverable, Issue, Submission, Unit, WeeklyReport

LIAISONS_PER_UNIT = 2
WEEKS = 26
BATCH = 5000
FRIDAY = TODAY + timedelta(days=(4 - TODAY.weekday()) % 7)  # the report day of TODAY's week (nobody reported yet)
COORDINATOR = "YuJianKui"


def liaison_user(contact_id: int) -> str:
    """The WeCom user id of a generated liaison."""
    return f"L{contact_id:06d}"


@dataclass(frozen=True)
class Campaign:
    """What the measurements need to know about a generated campaign."""

    name: str
    units: int
    liaison_users: tuple[str, ...]
    issues: int
    coordinator: str = COORDINATOR  # the WeCom user id of its coordinator


def plan(
    units: int, *, name: str | None = None, parent: dict[str, str] | None = None, coordinator: str = COORDINATOR
) -> dict[str, Any]:
    """bench/summary.py's plan with four deliverables (two past, one this week, one ahead) and Friday reports;
    `parent` makes it a child campaign (campaign.parent: the parent's name and the unit it is there)."""
    result = summary_plan(units)
    result["campaign"]["name"] = name or f"规模基准专项整治（{units}个单位）"
    if parent is not None:
        result["campaign"]["parent"] = parent
    result["coordinators"] = [{"name": "俞建奎", "wecom_userid": coordinator}]
    result["weekly_report"] = {"weekday": "周五", "remind_at": ["09:00", "11:00"], "due": "12:00"}
    result["deliverables"] = [
        {"name": "专项整治联系人", "due": START + timedelta(days=7)},
        {"name": "自查情况报告", "due": START + timedelta(days=60)},
        {"name": "自查整改报告", "due": TODAY + timedelta(days=2)},
        {"name": "工作总结", "due": TODAY + timedelta(days=60)},
    ]
    return result


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(session: Session, model: type[Base], rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    for batch in _batches(rows):
        session.execute(insert(model), batch)
        count += len(batch)
    return count


def _status(rng: random.Random) -> IssueStatus:
    roll = rng.random()
    return IssueStatus.RECTIFIED if roll < 0.5 else IssueStatus.IN_PROGRESS if roll < 0.75 else IssueStatus.OPEN


def _issues(campaign_id: int, unit_ids: Sequence[int], rng: random.Random, now: datetime) -> Iterator[dict[str, Any]]:
    number = 0
    for unit_id in unit_ids:
        for _ in range(ISSUES_PER_UNIT):
            number += 1
            status = _status(rng)
            due = START + timedelta(days=rng.randint(20, 240))  # about half already past TODAY
            rectified = (
                datetime.combine(min(due, TODAY) - timedelta(days=rng.randint(0, 10)), time(10), tzinfo=UTC)
                if status is IssueStatus.RECTIFIED
                else None
            )
            yield {
                "campaign_id": campaign_id,
                "unit_id": unit_id,
                "number": number,
                "year": 2020,
                "title": f"执法问题线索{number}",
                "source": rng.choice(SOURCES),
                "focus_area": rng.choice(AREAS),
                "content": "自查发现执法案卷归档不及时，部分文书要素不全，执法程序记录不完整。" * 2,
                "measures": "明确责任人，制定整改方案，逐卷补正并建立归档台账。",
                "goal": "整改到位，建立长效机制。",
                "owner": "张三",
                "due": due,
                "status": status,
                "percent": {
                    IssueStatus.OPEN: 0,
                    IssueStatus.IN_PROGRESS: rng.choice((30, 50, 80)),
                    IssueStatus.RECTIFIED: 100,
                }[status],
                "created_at": now,
                "updated_at": rectified or now,
                "rectified_at": rectified,
            }


def _reports(campaign_id: int, unit_ids: Sequence[int], rng: random.Random) -> Iterator[dict[str, Any]]:
    for week in range(WEEKS):
        friday = START + timedelta(weeks=week, days=4 - START.weekday())
        iso = friday.isocalendar()
        for unit_id in unit_ids:
            if rng.random() < 0.9:
                late = rng.random() < 0.1
                sent = datetime.combine(friday, time(14 if late else 3), tzinfo=UTC)
                yield {
                    "campaign_id": campaign_id,
                    "unit_id": unit_id,
                    "iso_year": iso.year,
                    "iso_week": iso.week,
                    "text": "本周完成执法案卷评查，整改问题线索若干。",
                    "submitted_at": sent,
                    "late": late,
                    "revisions": 1,
                }


def generate(
    sessions: sessionmaker[Session],
    units: int,
    *,
    name: str | None = None,
    parent: dict[str, str] | None = None,
    seed: int | None = None,
    coordinator: str = COORDINATOR,
) -> Campaign:
    """Load the plan through plan, then bulk-insert the units' rows."""
    rng = random.Random(units if seed is None else seed)
    now = datetime.combine(START, time(1), tzinfo=UTC)
    campaign_plan = plan(units, name=name, parent=parent, coordinator=coordinator)
    with transaction(sessions) as session:
        campaign = load_plan(session, validate_plan(campaign_plan, "bench"), now=now).campaign
        cid = campaign.id
        _bulk(
            session,
            Unit,
            (
                {
                    "campaign_id": cid,
                    "name": f"第{n:05d}执法单位",
                    "aliases": [],
                    "groups": [],
                    "position": n,
                    "retired": False,
                }
                for n in range(1, units + 1)
            ),
        )
        unit_ids = list(
            session.scalars(
                select(Unit.id).where(Unit.campaign_id == cid, Unit.name != "牵头科室").order_by(Unit.position)
            )
        )
        _bulk(
            session,
            Contact,
            (
                {
                    "campaign_id": cid,
                    "unit_id": unit_id,
                    "name": f"联络员{unit_id}-{k}",
                    "phone": f"139{unit_id:07d}{k}",
                    "status": ContactStatus.ACTIVE,
                    "created_at": now,
                    "updated_at": now,
                }
                for unit_id in unit_ids
                for k in range(LIAISONS_PER_UNIT)
            ),
        )
        contact_ids = list(session.scalars(select(Contact.id).where(Contact.campaign_id == cid).order_by(Contact.id)))
        _bulk(
            session,
            ChatIdentity,
            (
                {
                    "campaign_id": cid,
                    "platform": "wecom",
                    "external_id": liaison_user(c),
                    "contact_id": c,
                    "created_at": now,
                }
                for c in contact_ids
            ),
        )
        issues = _bulk(session, Issue, _issues(cid, unit_ids, rng, now))
        _bulk(session, WeeklyReport, _reports(cid, unit_ids, rng))
        for deliverable in session.scalars(select(Deliverable).where(Deliverable.campaign_id == cid)):
            if deliverable.due < TODAY:
                share = 0.97 if deliverable.due < START + timedelta(days=30) else 0.9
                submitted = datetime.combine(deliverable.due, time(2), tzinfo=UTC)
                _bulk(
                    session,
                    Submission,
                    (
                        {
                            "deliverable_id": deliverable.id,
                            "unit_id": unit_id,
                            "submitted_at": submitted,
                            "late": rng.random() < 0.05,
                        }
                        for unit_id in unit_ids
                        if rng.random() < share
                    ),
                )
    liaisons = tuple(liaison_user(c) for c in contact_ids)
    return Campaign(campaign_plan["campaign"]["name"], units, liaisons, issues, coordinator)


def database_size(engine: Engine) -> int:
    """Bytes the database takes on disk (PostgreSQL: pg_database_size; SQLite: page_count × page_size)."""
    with engine.connect() as connection:
        if engine.url.get_backend_name() == "sqlite":
            pages = connection.execute(text("PRAGMA page_count")).scalar_one()
            return int(pages) * int(connection.execute(text("PRAGMA page_size")).scalar_one())
        return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def friday_moment(hour: int, minute: int = 0) -> datetime:
    """A moment on FRIDAY in the campaign's zone (Asia/Shanghai), as an aware datetime."""
    from zoneinfo import ZoneInfo

    return datetime.combine(FRIDAY, time(hour, minute), tzinfo=ZoneInfo("Asia/Shanghai"))


def campaign_today() -> date:
    return TODAY
