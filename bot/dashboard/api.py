"""The JSON API under /api/ (in the OpenAPI document): campaign summary, units, the issue ledger.

Coordinator-only, through the same session as the dashboard: a request without one gets 401. Every route answers
about one campaign: `?campaign=<id>` (the ids GET /api/campaigns lists), else the one chosen last in the dashboard,
else the newest of the coordinator's; another campaign's id is a 403 or 404 with the reason.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from bot.dashboard.auth import ApiViewer, ServicesDep, Viewer
from bot.dashboard.queries import PAGE_SIZE, PRINTABLE, IssueFilter, issue_with_history, ledger, liaison_names
from core.statuses import IssueStatus
from handlers.coordination import reasons
from handlers.rollup import rolled_up_status
from handlers.summary import IssueCounts, Light
from storage.db import transaction
from storage.models import INTEGER_MAX, Campaign, Issue
from storage.repos import issue_record

router = APIRouter(prefix="/api", tags=["coordinators"])


class Counts(BaseModel):
    logged: int
    open: int
    in_progress: int
    rectified: int
    overdue: int
    due_soon: int
    rate: float

    @classmethod
    def of(cls, counts: IssueCounts) -> Counts:
        return cls(
            logged=counts.logged,
            open=counts.logged - counts.in_progress - counts.rectified,
            in_progress=counts.in_progress,
            rectified=counts.rectified,
            overdue=counts.overdue,
            due_soon=counts.due_soon,
            rate=round(counts.rate, 4),
        )


class UnitOut(BaseModel):
    id: int
    name: str
    light: str  # red / yellow / green
    reasons: list[str]
    registered: bool
    liaisons: list[str]
    weekly_reported: bool
    weekly_late: bool  # this week's report came after its due moment (迟报)
    missed_deliverables: list[str]
    counts: Counts


class DeliverableOut(BaseModel):
    name: str
    due: date
    days_left: int
    owing: list[str]


class SummaryOut(BaseModel):
    campaign: str
    today: date
    phase: str | None
    phase_end: date | None
    units: int
    registered_units: int
    pending_registrations: int
    totals: Counts
    target_rate: float | None
    target_by: date | None
    expected_rate: float | None
    week: str  # ISO week, e.g. 2020-W29
    weekly_reported: int
    weekly_missing: list[str]
    lights: dict[str, int]
    deliverables: list[DeliverableOut]


class IssueOut(BaseModel):
    number: int
    unit: str
    year: int
    title: str
    source: str
    focus_area: str | None
    content: str
    measures: str
    goal: str
    owner: str
    due: date
    remark: str | None
    status: IssueStatus
    percent: int
    overdue: bool
    rectified_at: datetime | None

    @classmethod
    def of(cls, issue: Issue, today: date) -> IssueOut:
        """The issue's record (the shape the exports read too), and whether it is overdue on `today`."""
        record = issue_record(issue)
        return cls(
            overdue=record.overdue(today),
            **{name: getattr(record, name) for name in cls.model_fields if name != "overdue"},
        )


class ProgressOut(BaseModel):
    at: datetime
    status: IssueStatus
    percent: int
    note: str | None
    by: str | None


class IssueDetailOut(IssueOut):
    progress: list[ProgressOut]


class IssuePage(BaseModel):
    total: int
    page: int
    pages: int
    per_page: int
    items: list[IssueOut]


def _campaign(session: Session, services: ServicesDep, viewer: Viewer) -> tuple[Campaign, date]:
    """The campaign the request is about (`?campaign=<id>`, else the one chosen last, else the newest of the
    viewer's) and today's date in its timezone."""
    campaign = session.get(Campaign, viewer.campaign_id)
    if campaign is None:
        raise HTTPException(404, "没有这个专项整治。")
    return campaign, services.clock.now().astimezone(ZoneInfo(campaign.timezone)).date()


class CampaignOut(BaseModel):
    id: int  # what ?campaign= takes
    name: str
    alias: str | None
    role: str  # 协调人, 上级协调人（只读）
    current: bool  # the one the other routes answer about without ?campaign=


@router.get("/campaigns", response_model=list[CampaignOut])
def campaigns(viewer: ApiViewer) -> list[CampaignOut]:
    """The campaigns the signed-in coordinator may open; every other route takes `?campaign=<id>` to pick one."""
    return [
        CampaignOut(
            id=s.campaign_id, name=s.name, alias=s.alias, role=s.role, current=s.campaign_id == viewer.campaign_id
        )
        for s in viewer.campaigns
        if s.coordinator_id is not None
    ]


@router.get("/summary", response_model=SummaryOut)
def summary(viewer: ApiViewer, services: ServicesDep) -> SummaryOut:
    """The numbers of 汇总: phase, registrations, ledger totals, rate against target, weekly reports, lights."""
    with transaction(services.sessions) as session:
        campaign, today = _campaign(session, services, viewer)
        status = rolled_up_status(session, campaign, today).status
        return SummaryOut(
            campaign=campaign.name,
            today=status.today,
            phase=status.phase.name if status.phase else None,
            phase_end=status.phase.end if status.phase else None,
            units=len(status.units),
            registered_units=status.registered,
            pending_registrations=status.pending_registrations,
            totals=Counts.of(status.totals),
            target_rate=campaign.target_rate,
            target_by=campaign.target_by,
            expected_rate=status.expected_rate,
            week=f"{status.week[0]}-W{status.week[1]:02d}",
            weekly_reported=len(status.units) - len(status.weekly_missing),
            weekly_missing=[u.name for u in status.weekly_missing],
            lights={light.value: len(status.by_light(light)) for light in Light},
            deliverables=[
                DeliverableOut(
                    name=d.deliverable.name,
                    due=d.deliverable.due,
                    days_left=d.days_left,
                    owing=[u.name for u in d.owing],
                )
                for d in status.deliverables
            ],
        )


@router.get("/units", response_model=list[UnitOut])
def units(viewer: ApiViewer, services: ServicesDep) -> list[UnitOut]:
    """Every unit with its counts and red/yellow/green light (and why)."""
    with transaction(services.sessions) as session:
        campaign, today = _campaign(session, services, viewer)
        status = rolled_up_status(session, campaign, today).status
        names = liaison_names(session, [u.unit.id for u in status.units])
        return [
            UnitOut(
                id=u.unit.id,
                name=u.unit.name,
                light=u.light.value,
                reasons=reasons(u, status),
                registered=u.registered,
                liaisons=names.get(u.unit.id, []),
                weekly_reported=u.weekly_reported,
                weekly_late=u.weekly_late,
                missed_deliverables=u.missed_deliverables,
                counts=Counts.of(u.counts),
            )
            for u in status.units
        ]


def _filter(
    unit: Annotated[int | None, Query(ge=1, le=INTEGER_MAX, description="unit id")] = None,
    status: IssueStatus | None = None,
    focus_area: Annotated[str | None, Query(max_length=50, pattern=PRINTABLE)] = None,
    source: Annotated[str | None, Query(max_length=50, pattern=PRINTABLE)] = None,
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> IssueFilter:
    """The ledger filters, typed in the OpenAPI document: a value outside its type is a 422 that names it
    (the dashboard's form, where an empty field means 全部, has its own reading in pages.py)."""
    return IssueFilter(
        unit=unit, status=status, focus_area=focus_area or None, source=source or None, overdue=overdue, page=page
    )


@router.get("/issues", response_model=IssuePage)
def issues(viewer: ApiViewer, services: ServicesDep, filters: Annotated[IssueFilter, Depends(_filter)]) -> IssuePage:
    """The ledger, newest first, 50 a page, filtered by unit id, status, focus area, source or overdue."""
    with transaction(services.sessions) as session:
        campaign, today = _campaign(session, services, viewer)
        page = ledger(session, campaign, filters, today)
        return IssuePage(
            total=page.total,
            page=page.page,
            pages=page.pages,
            per_page=PAGE_SIZE,
            items=[IssueOut.of(i, today) for i in page.issues],
        )


@router.get("/issues/{number}", response_model=IssueDetailOut)
def issue(number: int, viewer: ApiViewer, services: ServicesDep) -> IssueDetailOut:
    """One issue with its progress history."""
    with transaction(services.sessions) as session:
        campaign, today = _campaign(session, services, viewer)
        found = issue_with_history(session, campaign, number)
        if found is None:
            raise HTTPException(404, f"没有编号为 #{number} 的问题。")
        return IssueDetailOut(
            **IssueOut.of(found, today).model_dump(),
            progress=[
                ProgressOut(
                    at=p.created_at,
                    status=p.status,
                    percent=p.percent,
                    note=p.note,
                    by=p.contact.name if p.contact else None,
                )
                for p in found.progress
            ],
        )
