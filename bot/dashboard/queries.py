"""What the dashboard pages and the JSON API both show: the ledger with filters, the weekly-report matrix,
the unit table, a unit's page. One query each, paged, so a campaign of thousands of units stays quick."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from core.dates import format_week
from core.statuses import ContactStatus, IssueStatus
from handlers.context import campaign_calendar, report_due_moment
from handlers.rollup import ChildFigures, rolled_up_status
from handlers.summary import CampaignStatus, UnitStatus, WeeklyState
from storage.models import INTEGER_MAX, Campaign, Contact, Deliverable, Issue, Progress, Submission, Unit, WeeklyReport
from storage.repos import Deliverables, Issues, Reports, fits_integer

PAGE_SIZE = 50
WEEK_KEY = re.compile(r"(\d{4})-W(\d{2})")
# Filter text is compared with VARCHAR columns: PostgreSQL refuses a NUL outright, and no value holds a control.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class IssueFilter(BaseModel):
    """The ledger's filters, as query parameters (`?unit=3&status=open&overdue=true`)."""

    unit: int | None = Field(default=None, ge=1, le=INTEGER_MAX, description="unit id")
    status: IssueStatus | None = None
    focus_area: str | None = Field(default=None, max_length=50, pattern=PRINTABLE)
    source: str | None = Field(default=None, max_length=50, pattern=PRINTABLE)
    overdue: bool = False
    page: int = Field(default=1, ge=1, le=100_000)

    def apply(self, stmt: Select[Any], today: date) -> Select[Any]:
        if self.unit is not None:
            stmt = stmt.where(Issue.unit_id == self.unit)
        if self.status is not None:
            stmt = stmt.where(Issue.status == self.status)
        if self.focus_area:
            stmt = stmt.where(Issue.focus_area == self.focus_area)
        if self.source:
            stmt = stmt.where(Issue.source == self.source)
        if self.overdue:
            stmt = stmt.where(Issue.status != IssueStatus.RECTIFIED, Issue.due < today)
        return stmt


@dataclass
class LedgerPage:
    issues: Sequence[Issue]
    total: int
    page: int
    pages: int


def ledger(
    session: Session, campaign: Campaign, filters: IssueFilter, today: date, per_page: int = PAGE_SIZE
) -> LedgerPage:
    base = filters.apply(select(Issue).where(Issue.campaign_id == campaign.id), today)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    pages = max(1, -(-total // per_page))
    page = min(filters.page, pages)
    issues = session.scalars(
        base.options(selectinload(Issue.unit))
        .order_by(Issue.number.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return LedgerPage(issues, total, page, pages)


def issue_with_history(session: Session, campaign: Campaign, number: int) -> Issue | None:
    if not fits_integer(number):
        return None
    return session.scalars(
        select(Issue)
        .where(Issue.campaign_id == campaign.id, Issue.number == number)
        .options(selectinload(Issue.unit), selectinload(Issue.progress).selectinload(Progress.contact))
    ).first()


def liaison_names(session: Session, unit_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    rows = session.execute(
        select(Contact.unit_id, Contact.name)
        .where(Contact.unit_id.in_(list(unit_ids)), Contact.status == ContactStatus.ACTIVE)
        .order_by(Contact.id)
    )
    for unit_id, name in rows:
        names.setdefault(unit_id, []).append(name)
    return names


@dataclass
class WeekColumn:
    iso_year: int
    iso_week: int
    monday: date
    due: datetime

    @property
    def key(self) -> str:
        """2020-W29, as the report page's address spells the week."""
        return f"{self.iso_year}-W{self.iso_week:02d}"

    @property
    def span(self) -> str:
        return format_week(self.monday)

    def state(self, late: bool | None, now: datetime) -> WeeklyState:
        """A unit's report of this week, given whether it came late (None: no report)."""
        if late is not None:
            return WeeklyState.LATE if late else WeeklyState.ON_TIME
        return WeeklyState.MISSING if now >= self.due else WeeklyState.OPEN


@dataclass
class WeeklyMatrix:
    weeks: list[WeekColumn]
    rows: list[tuple[Unit, list[WeeklyState]]]
    total_units: int
    page: int
    pages: int
    missing_counts: list[int] = field(default_factory=list)  # per week, over every unit


def campaign_weeks(campaign: Campaign, now: datetime) -> list[WeekColumn]:
    """The ISO weeks from the campaign's first to this one (or its last), each with its report's due moment."""
    calendar = campaign_calendar(campaign)
    last_day = min(now.astimezone(ZoneInfo(campaign.timezone)).date(), campaign.end)
    monday = campaign.start - timedelta(days=campaign.start.weekday())
    weeks: list[WeekColumn] = []
    while monday <= last_day:
        iso = monday.isocalendar()
        weeks.append(WeekColumn(iso.year, iso.week, monday, report_due_moment(campaign, calendar, monday)))
        monday += timedelta(weeks=1)
    return weeks


def weekly_matrix(
    session: Session, campaign: Campaign, units: Sequence[Unit], now: datetime, page: int = 1, per_page: int = PAGE_SIZE
) -> WeeklyMatrix:
    """Unit × week since the campaign began: on time, late, missing (past its due moment) or still open."""
    weeks = campaign_weeks(campaign, now)
    pages = max(1, -(-len(units) // per_page))
    page = min(max(page, 1), pages)
    shown = list(units[(page - 1) * per_page : page * per_page])
    reports: dict[tuple[int, int, int], bool] = {}
    if shown and weeks:
        rows = session.execute(
            select(WeeklyReport.unit_id, WeeklyReport.iso_year, WeeklyReport.iso_week, WeeklyReport.late).where(
                WeeklyReport.unit_id.in_([u.id for u in shown])
            )
        )
        reports = {(unit_id, year, week): late for unit_id, year, week, late in rows}
    matrix_rows = [
        (unit, [week.state(reports.get((unit.id, week.iso_year, week.iso_week)), now) for week in weeks])
        for unit in shown
    ]
    missing = _missing_per_week(session, campaign, weeks, len(units), now)
    return WeeklyMatrix(weeks, matrix_rows, len(units), page, pages, missing)


@dataclass
class WeekEntry:
    week: WeekColumn
    state: WeeklyState
    report: WeeklyReport | None


@dataclass
class UnitPage:
    """What a unit's page shows: its status today, people, weekly reports week by week, issues, deliverables."""

    unit: Unit
    status: CampaignStatus  # computed for this unit alone, its child campaigns counted in (handlers.rollup)
    contacts: Sequence[Contact]
    weeks: list[WeekEntry]  # newest first
    issues: Sequence[Issue]
    deliverables: list[tuple[Deliverable, Submission | None]]
    child: ChildFigures | None = None  # the campaigns below it, when the unit runs one

    @property
    def unit_status(self) -> UnitStatus | None:
        return self.status.unit(self.unit.id)


def unit_page(session: Session, campaign: Campaign, unit: Unit, now: datetime) -> UnitPage:
    today = now.astimezone(ZoneInfo(campaign.timezone)).date()
    reports = {(r.iso_year, r.iso_week): r for r in Reports(session).unit_history(unit)}
    weeks = []
    for week in reversed(campaign_weeks(campaign, now)):
        report = reports.get((week.iso_year, week.iso_week))
        weeks.append(WeekEntry(week, week.state(report.late if report else None, now), report))
    contacts = session.scalars(
        select(Contact)
        .where(
            Contact.unit_id == unit.id,
            Contact.status.in_([ContactStatus.ACTIVE, ContactStatus.PRELISTED, ContactStatus.PENDING]),
        )
        .order_by(Contact.id)
    ).all()
    rolled = rolled_up_status(session, campaign, today, unit_id=unit.id)
    return UnitPage(
        unit,
        rolled.status,
        contacts,
        weeks,
        Issues(session).of_unit(campaign, unit),
        Deliverables(session).of_unit(campaign, unit),
        rolled.children.get(unit.id),
    )


def weekly_report_of(session: Session, unit: Unit, week_key: str) -> WeeklyReport | None:
    """A unit's report of the week spelled 2020-W29, with who sent it; None for a week it has none."""
    found = WEEK_KEY.fullmatch(week_key)
    if found is None:
        return None
    return Reports(session).weekly(unit, int(found[1]), int(found[2]), with_contact=True)


def _missing_per_week(
    session: Session, campaign: Campaign, weeks: list[WeekColumn], unit_count: int, now: datetime
) -> list[int]:
    counts = dict(
        ((year, week), int(n))
        for year, week, n in session.execute(
            select(WeeklyReport.iso_year, WeeklyReport.iso_week, func.count())
            .join(Unit, Unit.id == WeeklyReport.unit_id)
            .where(WeeklyReport.campaign_id == campaign.id, Unit.retired.is_(False))
            .group_by(WeeklyReport.iso_year, WeeklyReport.iso_week)
        )
    )
    return [unit_count - counts.get((w.iso_year, w.iso_week), 0) if now >= w.due else 0 for w in weeks]
