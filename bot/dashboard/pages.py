"""The coordinator dashboard (/dashboard): server-rendered pages, every asset served by the app itself
(government intranets have no internet), usable on a phone."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import Response

from bot.dashboard import reminders
from bot.dashboard.auth import (
    CAMPAIGN_PARAM,
    PageViewer,
    Seat,
    ServicesDep,
    UnitViewer,
    Viewer,
    attempt_login,
    campaign_url,
    check_csrf,
    csrf_token,
    current_viewer,
    end_session,
    platform_sign_ins,
    read_session,
    safe_next,
    start_session,
    write_session,
)
from bot.dashboard.queries import (
    IssueFilter,
    campaign_weeks,
    issue_with_history,
    ledger,
    liaison_names,
    unit_page,
    weekly_matrix,
    weekly_report_of,
)
from bot.services import Services, route_for
from core.dates import format_cn, format_week
from core.statuses import STATUS_TEXT, IssueStatus
from exports.bulletin_docx import write_bulletin
from exports.tables import export_contacts, export_issues, export_stats, file_name
from handlers.bulletin import BulletinError, compile_bulletin, parse_week
from handlers.charts import Bar, choose_bars
from handlers.coordination import LIGHT_NAMES, reasons
from handlers.registration import RegistrationError, decide_registration
from handlers.rollup import RolledUp, child_dashboard_path, rolled_up_status
from handlers.summary import WEEKLY_STATE_TEXT, CampaignStatus, Light, phase_spans
from storage.db import transaction
from storage.models import Campaign, Unit
from storage.repos import Campaigns, Issues, People, Units, fits_integer

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.filters["cn_date"] = lambda d: format_cn(d) if d else ""
templates.env.filters["percent"] = lambda x, digits=1: f"{x:.{digits}%}" if x is not None else "—"
templates.env.globals.update(
    STATUS_TEXT={s.value: t for s, t in STATUS_TEXT.items()},
    LIGHTS=LIGHT_NAMES,
    Light=Light,
    WEEKLY_TEXT=WEEKLY_STATE_TEXT,
)

EXPORT_KINDS = {"contacts": "附件1 联系人", "issues": "附件2 问题清单", "stats": "附件3 统计表"}


def render(
    request: Request, template: str, context: dict[str, Any], *, viewer: Viewer | None = None, status_code: int = 200
) -> HTMLResponse:
    token, fresh = csrf_token(request)
    response = templates.TemplateResponse(
        request, template, {"viewer": viewer, "csrf": token, **context}, status_code=status_code
    )
    if fresh:  # a visitor without a session (the login page) gets one that holds only the token
        write_session(request, response, {"x": token})
    elif (chosen := getattr(request.state, "chosen_campaign", None)) is not None:
        # A campaign picked by ?campaign= (the switcher, a link): the one pages without it show from now on.
        write_session(request, response, {**read_session(request), "c": chosen})
    return response


def _campaign(session: Session, viewer: Viewer) -> Campaign:
    """The campaign the request is about (the viewer may open it: bot.dashboard.auth.current_viewer)."""
    campaign = session.get(Campaign, viewer.campaign_id)
    if campaign is None:
        raise HTTPException(404, "没有这个专项整治。")
    return campaign


def switch_url(request: Request, viewer: Viewer, seat: Seat) -> str:
    """Where the switcher takes the viewer in another campaign: the same list page for a coordinator, else the
    campaign's first page for them."""
    path = request.url.path
    if seat.coordinator_id is not None and viewer.is_coordinator and path in SWITCHABLE:
        return campaign_url(path, seat.campaign_id)
    return seat.home


# Pages that are the same list in every campaign (an issue or a unit belongs to one, so it is not).
SWITCHABLE = frozenset(
    "/dashboard" + tail
    for tail in (
        "",
        "/units",
        "/issues",
        "/weekly",
        "/registrations",
        "/notices",
        "/materials",
        "/reminders",
        "/plan",
        "/exports",
        "/import",
    )
)


@pass_context
def _url(context: Mapping[str, Any], path: str) -> str:
    """A link in a page: about the campaign on screen when the viewer has more than one (Viewer.url)."""
    viewer = context.get("viewer")
    return viewer.url(path) if isinstance(viewer, Viewer) else path


@pass_context
def _campaign_field(context: Mapping[str, Any]) -> Markup:
    """What a GET form adds to carry the campaign (a browser drops the query of a GET form's action)."""
    viewer = context.get("viewer")
    if not isinstance(viewer, Viewer) or not viewer.switches:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CAMPAIGN_PARAM, viewer.campaign_id)


templates.env.globals.update(switch_url=switch_url, url=_url, campaign_field=_campaign_field)


def _now(services: Services, campaign: Campaign) -> datetime:
    return services.clock.now().astimezone(ZoneInfo(campaign.timezone))


def _login_form(
    request: Request, services: Services, next: str | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The login page: a button per platform sign-in configured, and the password form unless turned off."""
    settings = services.settings
    return render(
        request,
        "login.html",
        {
            "next": safe_next(next),
            "error": None,
            "login": "",
            "passwords": settings.dashboard_passwords,
            "platforms": platform_sign_ins(settings),
            **context,
        },
        status_code=status_code,
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    viewer = current_viewer(request)
    if viewer is not None:
        return RedirectResponse(safe_next(next) if viewer.is_coordinator else viewer.home, status_code=303)
    return _login_form(request, services, next)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    services: ServicesDep,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/dashboard",
) -> Response:
    check_csrf(request, csrf)
    if not services.settings.dashboard_passwords:
        return _login_form(request, services, next, 403, error="本系统已关闭密码登录，请用企业微信或钉钉登录。")
    address = request.client.host if request.client else "unknown"
    with transaction(services.sessions) as session:
        served = Campaigns(session).serving(services.settings.campaign)
        result = attempt_login(session, served, login.strip(), password, address=address, now=services.clock.now())
        if result.coordinator is None:
            return _login_form(request, services, next, result.status, error=result.error, login=login)
        response = RedirectResponse(safe_next(next), status_code=303)
        start_session(request, response, session, result.coordinator, now=services.clock.now())
        return response


@router.post("/logout")
def logout(request: Request, services: ServicesDep, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/dashboard/login", status_code=303)
    with transaction(services.sessions) as session:
        end_session(request, response, session)
    return response


def timeline(campaign: Campaign, today: date) -> dict[str, Any]:
    """Phases as segments of the campaign's span (percentages), and where today falls."""
    span = max((campaign.end - campaign.start).days, 1)

    def at(day: date) -> float:
        return round(min(max((day - campaign.start).days / span, 0), 1) * 100, 2)

    phases = [
        {
            "name": phase.name,
            "start": start,
            "end": end,
            "left": at(start),
            "width": max(at(end) - at(start), 1.5),
            "current": start <= today <= end,
        }
        for phase, start, end in phase_spans(campaign)
    ]
    target = campaign.target_by
    return {
        "phases": phases,
        "today": at(today),
        "today_inside": campaign.start <= today <= campaign.end,
        "target": at(target) if target else None,
    }


def _status_context(status: CampaignStatus) -> dict[str, Any]:
    bars = choose_bars([Bar(u.unit.name, u.counts.rate, u.counts.logged, u.light.value) for u in status.units])
    return {
        "status": status,
        "bars": bars,
        "lights": {light: status.by_light(light) for light in Light},
        "reasons": {u.unit.id: reasons(u, status) for u in status.units},
    }


def _rolled_context(rolled: RolledUp) -> dict[str, Any]:
    """The status with the child campaigns counted in, and each child unit's row linking to its child's pages."""
    children = {
        unit_id: {"figures": figures, "link": child_dashboard_path(figures.child)}
        for unit_id, figures in rolled.children.items()
    }
    rows = [(u, children[u.unit.id]) for u in rolled.status.units if u.unit.id in children]
    return {**_status_context(rolled.status), "children": children, "child_rows": rows}


@router.get("", response_class=HTMLResponse)
def overview(request: Request, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        today = _now(services, campaign).date()
        rolled = rolled_up_status(session, campaign, today)
        return render(
            request,
            "overview.html",
            {"campaign": campaign, "today": today, "timeline": timeline(campaign, today), **_rolled_context(rolled)},
            viewer=viewer,
        )


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        today = _now(services, campaign).date()
        rolled = rolled_up_status(session, campaign, today)
        names = liaison_names(session, [u.unit.id for u in rolled.status.units])
        return render(
            request,
            "units.html",
            {"campaign": campaign, "today": today, "liaisons": names, **_rolled_context(rolled)},
            viewer=viewer,
        )


def _filter(
    unit: Annotated[str, Query(max_length=12)] = "",
    status: Annotated[str, Query(max_length=24)] = "",
    focus_area: Annotated[str, Query(max_length=50)] = "",
    source: Annotated[str, Query(max_length=50)] = "",
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> IssueFilter:
    """The ledger filters from a query string; an empty field (a form's 全部) means no filter."""
    try:
        return IssueFilter.model_validate(
            {
                "unit": unit or None,
                "status": status or None,
                "focus_area": focus_area or None,
                "source": source or None,
                "overdue": overdue,
                "page": page,
            }
        )
    except ValidationError as error:
        raise HTTPException(400, "筛选条件无效：" + "；".join(str(e["loc"][0]) for e in error.errors())) from error


FilterDep = Annotated[IssueFilter, Depends(_filter)]


def _unit(session: Session, campaign: Campaign, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id) if fits_integer(unit_id) else None
    if unit is None or unit.campaign_id != campaign.id:
        raise HTTPException(404, "没有这个单位。")
    return unit


def _seen_by(viewer: Viewer, unit_id: int) -> None:
    """A liaison sees their own unit's pages and nothing of any other unit's."""
    if not viewer.may_see(unit_id):
        raise HTTPException(403, "联络员只能查看本单位的情况。")


@router.get("/units/{unit_id}", response_class=HTMLResponse)
def unit_detail(request: Request, unit_id: int, viewer: UnitViewer, services: ServicesDep) -> Response:
    """One unit: its light and why, its people, every week's report, its issues and its deliverables (for its
    liaisons too: their own unit, read-only)."""
    _seen_by(viewer, unit_id)
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        now = _now(services, campaign)
        data = unit_page(session, campaign, _unit(session, campaign, unit_id), now)
        unit_status = data.unit_status
        return render(
            request,
            "unit.html",
            {
                "campaign": campaign,
                "page": data,
                "today": now.date(),
                "zone": ZoneInfo(campaign.timezone),
                "unit_status": unit_status,
                "reasons": reasons(unit_status, data.status) if unit_status else [],
                "child_link": child_dashboard_path(data.child.child) if data.child else None,
            },
            viewer=viewer,
        )


@router.get("/units/{unit_id}/weekly/{week}", response_class=HTMLResponse)
def weekly_report_page(
    request: Request, unit_id: int, week: str, viewer: UnitViewer, services: ServicesDep
) -> Response:
    """The text of one unit's report of one week (the weekly matrix links each reported cell here)."""
    _seen_by(viewer, unit_id)
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        unit = _unit(session, campaign, unit_id)
        report = weekly_report_of(session, unit, week)
        if report is None:
            raise HTTPException(404, f"「{unit.name}」没有这一周的周报。")
        monday = date.fromisocalendar(report.iso_year, report.iso_week, 1)
        return render(
            request,
            "report.html",
            {
                "campaign": campaign,
                "unit": unit,
                "report": report,
                "span": format_week(monday),
                "zone": ZoneInfo(campaign.timezone),
            },
            viewer=viewer,
        )


@router.get("/issues", response_class=HTMLResponse)
def issues_page(request: Request, viewer: PageViewer, services: ServicesDep, filters: FilterDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        today = _now(services, campaign).date()
        page = ledger(session, campaign, filters, today)
        query = {k: v for k, v in filters.model_dump(exclude={"page"}).items() if v not in (None, False, "")}
        return render(
            request,
            "issues.html",
            {
                "campaign": campaign,
                "today": today,
                "ledger": page,
                "filters": filters,
                "units": Units(session).all(campaign),
                "statuses": list(IssueStatus),
                "query": "&".join(f"{k}={quote(str(getattr(v, 'value', v)))}" for k, v in query.items()),
            },
            viewer=viewer,
        )


@router.get("/issues/{number}", response_class=HTMLResponse)
def issue_page(request: Request, number: int, viewer: UnitViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        issue = issue_with_history(session, campaign, number)
        if issue is None:
            raise HTTPException(404, f"没有编号为 #{number} 的问题。")
        _seen_by(viewer, issue.unit_id)
        zone = ZoneInfo(campaign.timezone)
        return render(
            request,
            "issue.html",
            {"campaign": campaign, "issue": issue, "zone": zone, "today": _now(services, campaign).date()},
            viewer=viewer,
        )


@router.get("/weekly", response_class=HTMLResponse)
def weekly_page(
    request: Request, viewer: PageViewer, services: ServicesDep, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        matrix = weekly_matrix(session, campaign, Units(session).all(campaign), _now(services, campaign), page)
        return render(request, "weekly.html", {"campaign": campaign, "matrix": matrix}, viewer=viewer)


@router.get("/registrations", response_class=HTMLResponse)
def registrations_page(
    request: Request, viewer: PageViewer, services: ServicesDep, done: str | None = None
) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        pending = People(session).pending(campaign)
        return render(
            request,
            "registrations.html",
            {"campaign": campaign, "pending": pending, "done": done, "zone": ZoneInfo(campaign.timezone)},
            viewer=viewer,
        )


@router.post("/registrations/{contact_id}/{decision}")
def decide(
    request: Request,
    contact_id: int,
    decision: str,
    viewer: PageViewer,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    if decision not in ("approve", "reject"):
        raise HTTPException(404, "未知操作")
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        try:
            contact = decide_registration(
                session,
                campaign,
                contact_id,
                approve=decision == "approve",
                reason=reason.strip() or None,
                actor=viewer.actor,
                now=services.clock.now(),
                route=route_for(services.settings),
            )
        except RegistrationError as error:
            raise HTTPException(409, str(error)) from error
        verb = "已批准" if decision == "approve" else "已驳回"
        done = f"{verb}登记号 {contact.id}（{contact.unit.name} {contact.name}），已通知本人。"
    return RedirectResponse(viewer.url(f"/dashboard/registrations?done={quote(done)}"), status_code=303)


@router.get("/reminders", response_class=HTMLResponse)
def reminders_page(
    request: Request, viewer: PageViewer, services: ServicesDep, days: Annotated[int, Query(ge=1, le=60)] = 7
) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        start = _now(services, campaign)
        items = reminders.upcoming_reminders(
            session, campaign, route_for(services.settings), start, start + timedelta(days=days)
        )
        zone = ZoneInfo(campaign.timezone)
        return render(
            request,
            "reminders.html",
            {
                "campaign": campaign,
                "by_day": reminders.by_day(items, zone),
                "total": len(items),
                "days": days,
                "zone": zone,
            },
            viewer=viewer,
        )


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        weeks = campaign_weeks(campaign, _now(services, campaign))[::-1]
        return render(
            request,
            "exports.html",
            {
                "campaign": campaign,
                "kinds": EXPORT_KINDS,
                "units": Units(session).all(campaign),
                "weeks": weeks,
                "issue_count": Issues(session).count(campaign),
            },
            viewer=viewer,
        )


@router.get("/export/bulletin.docx")
def export_bulletin(
    viewer: PageViewer, services: ServicesDep, week: Annotated[str, Query(max_length=10)] = ""
) -> Response:
    """The 工作简报 of a week (default: this one) as a Word document."""
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        today = _now(services, campaign).date()
        try:
            iso_year, iso_week = parse_week(week) if week else today.isocalendar()[:2]
            bulletin = compile_bulletin(session, campaign, iso_year, iso_week, today=today)
        except BulletinError as error:
            raise HTTPException(400, str(error)) from error
        path = _spool(".docx")
        try:
            write_bulletin(bulletin, str(path))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return FileResponse(
        path,
        filename=bulletin.file_name,
        background=BackgroundTask(path.unlink, missing_ok=True),
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )


@router.get("/export/{kind}.xlsx")
def export(
    kind: str,
    viewer: PageViewer,
    services: ServicesDep,
    unit: Annotated[str, Query(max_length=12)] = "",
    sheet_per_unit: bool = False,
) -> Response:
    if kind not in EXPORT_KINDS:
        raise HTTPException(404, "没有这种附件表格")
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        chosen: Unit | None = None
        if unit:
            unit_id = int(unit) if unit.isdigit() else None
            chosen = session.scalars(select(Unit).where(Unit.id == unit_id, Unit.campaign_id == campaign.id)).first()
            if chosen is None:
                raise HTTPException(404, "没有这个单位")
        today = _now(services, campaign).date()
        path = _spool()
        try:
            if kind == "contacts":
                export_contacts(session, campaign, path, today=today, unit=chosen)
            elif kind == "issues":
                export_issues(session, campaign, path, today=today, unit=chosen, sheet_per_unit=sheet_per_unit)
            else:
                export_stats(session, campaign, path, today=today, unit=chosen)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        name = file_name(kind, campaign, chosen, today)
    # Written to a temporary file first: a large workbook never sits in memory, and the file goes once sent.
    return FileResponse(
        path,
        filename=name,
        background=BackgroundTask(path.unlink, missing_ok=True),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _spool(suffix: str = ".xlsx") -> Path:
    handle, name = tempfile.mkstemp(prefix="duban-export-", suffix=suffix)
    os.close(handle)
    return Path(name)
