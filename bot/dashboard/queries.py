"""What the dashboard pages and the JSON API both show: the ledger with filters, the weekly-report matrix,
the unit table. One query each, paged, so a campaign of thousands of units stays quick."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from handlers.context import campaign_calendar, report_due_moment
from storage.models import (
    INTEGER_MAX,
    Campaign,
    Contact,
    ContactStatus,
    Issue,
    IssueStatus,
    Progress,
    Unit,
    WeeklyReport,
)
from storage.repos import fits_integer

PAGE_SIZE = 50
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

    def apply(self, stmt: Select, today: date) -> Select:  # type: ignore[type-arg]
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


def ledger(session: Session, campaign: Campaign, filters: IssueFilter, today: date,
           per_page: int = PAGE_SIZE) -> LedgerPage:
    base = filters.apply(select(Issue).where(Issue.campaign_id == campaign.id), today)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    pages = max(1, -(-total // per_page))
    page = min(filters.page, pages)
    issues = session.scalars(base.options(selectinload(Issue.unit)).order_by(Issue.number.desc())
                             .offset((page - 1) * per_page).limit(per_page)).all()
    return LedgerPage(issues, total, page, pages)


def issue_with_history(session: Session, campaign: Campaign, number: int) -> Issue | None:
    if not fits_integer(number):
        return None
    return session.scalars(
        select(Issue).where(Issue.campaign_id == campaign.id, Issue.number == number)
        .options(selectinload(Issue.unit), selectinload(Issue.progress).selectinload(Progress.contact))
    ).first()


def liaison_names(session: Session, unit_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    rows = session.execute(select(Contact.unit_id, Contact.name).where(
        Contact.unit_id.in_(list(unit_ids)), Contact.status == ContactStatus.ACTIVE).order_by(Contact.id))
    for unit_id, name in rows:
        names.setdefault(unit_id, []).append(name)
    return names


class WeekState:
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"  # the week's due moment has passed with no report
    OPEN = "open"  # not due yet


@dataclass
class WeekColumn:
    iso_year: int
    iso_week: int
    monday: date
    due: datetime


@dataclass
class WeeklyMatrix:
    weeks: list[WeekColumn]
    rows: list[tuple[Unit, list[str]]]
    total_units: int
    page: int
    pages: int
    missing_counts: list[int] = field(default_factory=list)  # per week, over every unit


def weekly_matrix(session: Session, campaign: Campaign, units: Sequence[Unit], now: datetime, page: int = 1,
                  per_page: int = PAGE_SIZE) -> WeeklyMatrix:
    """Unit × week since the campaign began: on time, late, missing (past its due moment) or still open."""
    zone = ZoneInfo(campaign.timezone)
    calendar = campaign_calendar(campaign)
    today = now.astimezone(zone).date()
    last_day = min(today, campaign.end)
    monday = campaign.start - timedelta(days=campaign.start.weekday())
    weeks: list[WeekColumn] = []
    while monday <= last_day:
        iso = monday.isocalendar()
        weeks.append(WeekColumn(iso.year, iso.week, monday, report_due_moment(campaign, calendar, monday)))
        monday += timedelta(weeks=1)
    pages = max(1, -(-len(units) // per_page))
    page = min(max(page, 1), pages)
    shown = list(units[(page - 1) * per_page: page * per_page])
    reports: dict[tuple[int, int, int], bool] = {}
    if shown and weeks:
        rows = session.execute(select(WeeklyReport.unit_id, WeeklyReport.iso_year, WeeklyReport.iso_week,
                                      WeeklyReport.late)
                               .where(WeeklyReport.unit_id.in_([u.id for u in shown])))
        reports = {(unit_id, year, week): late for unit_id, year, week, late in rows}
    matrix_rows = []
    for unit in shown:
        states = []
        for week in weeks:
            late = reports.get((unit.id, week.iso_year, week.iso_week))
            if late is not None:
                states.append(WeekState.LATE if late else WeekState.ON_TIME)
            else:
                states.append(WeekState.MISSING if now >= week.due else WeekState.OPEN)
        matrix_rows.append((unit, states))
    missing = _missing_per_week(session, campaign, weeks, len(units), now)
    return WeeklyMatrix(weeks, matrix_rows, len(units), page, pages, missing)


def _missing_per_week(session: Session, campaign: Campaign, weeks: list[WeekColumn], unit_count: int,
                      now: datetime) -> list[int]:
    counts = dict(((year, week), int(n)) for year, week, n in session.execute(
        select(WeeklyReport.iso_year, WeeklyReport.iso_week, func.count())
        .join(Unit, Unit.id == WeeklyReport.unit_id)
        .where(WeeklyReport.campaign_id == campaign.id, Unit.retired.is_(False))
        .group_by(WeeklyReport.iso_year, WeeklyReport.iso_week)))
    return [unit_count - counts.get((w.iso_year, w.iso_week), 0) if now >= w.due else 0 for w in weeks]
