"""Who may see the dashboard and /api: coordinators with an argon2 password or a WeCom or DingTalk sign-in
(bot/dashboard/signin.py), liaisons with a platform sign-in (their own unit, read-only); a signed session cookie,
CSRF tokens and login attempts limited through the audit log (so the limit holds across replicas).

The session lives on the server (storage.models.DashboardSession); the cookie, signed with itsdangerous, HttpOnly,
SameSite=Lax and Secure when the request came over https, carries its random token. Logout, a new password
(`duban user add-coordinator`) and `duban user sessions --revoke` delete the row, which ends the session whatever a
copied cookie says. The cookie also carries a fingerprint of the password hash, so a password changed any other
way ends every session opened with the old one too. Every form carries the
session's CSRF token (the synchronizer-token pattern: a dozen lines here, where the middleware libraries
would guard the platform callbacks and /sim/api too, which must not be).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Query, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from starlette.responses import Response

from bot.services import Services
from bot.settings import Settings
from core.channels import Platform
from core.statuses import ContactStatus
from handlers.context import CAMPAIGN_PARAM, campaign_url
from storage.db import lock_names, transaction
from storage.models import AuditEntry, Campaign, ChatIdentity, Contact, Coordinator, DashboardSession
from storage.repos import Audit, Campaigns, DashboardSessions, fits_integer

log = logging.getLogger("duban.dashboard")

COOKIE = "duban_session"
SESSION_HOURS = 12  # a working day and some: a coordinator logs in once a day
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20
LOGIN_FAILED = "login.failed"

_hasher = PasswordHasher()
# Verifying against this when the login name is unknown takes as long as a real check: no timing oracle.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class LoginRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class Redirect(Exception):
    """Raised by page dependencies for a viewer who belongs elsewhere (a liaison on the overview)."""

    def __init__(self, url: str) -> None:
        self.url = url


@dataclass(frozen=True)
class Seat:
    """A campaign a signed-in person may open in the dashboard, and as whom there."""

    campaign_id: int
    name: str  # the campaign's
    alias: str | None
    person: str  # the coordinator's or liaison's name in that campaign
    coordinator_id: int | None = None
    unit_id: int | None = None  # a liaison's unit
    read_only: bool = False  # a coordinator of a campaign this one reports up to, looking in

    @property
    def label(self) -> str:
        return self.alias or self.name

    @property
    def home(self) -> str:
        """Their first page in this campaign: the overview, or a liaison's unit."""
        page = "/dashboard" if self.coordinator_id is not None else f"/dashboard/units/{self.unit_id}"
        return campaign_url(page, self.campaign_id)

    @property
    def role(self) -> str:
        if self.read_only:
            return "上级协调人（只读）"
        return "协调人" if self.coordinator_id is not None else "联络员"


@dataclass(frozen=True)
class Viewer:
    """Who is behind a request, in the campaign it is about: a coordinator (everything), a parent campaign's
    coordinator (everything, read-only), or a liaison (their own unit, read-only); and every campaign they may open."""

    name: str
    campaign_id: int
    csrf: str
    actor: str  # how the audit trail names them: dashboard:<login>, or dashboard:<platform>:<user id>
    coordinator_id: int | None = None
    unit_id: int | None = None  # a liaison's unit
    read_only: bool = False
    campaigns: tuple[Seat, ...] = ()

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator_id is not None

    def may_see(self, unit_id: int) -> bool:
        return self.is_coordinator or self.unit_id == unit_id

    @property
    def switches(self) -> bool:
        """More than one campaign to choose from: the header shows a switcher and links name the campaign."""
        return len(self.campaigns) > 1

    def url(self, path: str) -> str:
        """A dashboard address about the campaign on screen (unchanged for someone with only one campaign)."""
        return campaign_url(path, self.campaign_id) if self.switches else path

    @property
    def home(self) -> str:
        return self.url("/dashboard" if self.is_coordinator else f"/dashboard/units/{self.unit_id}")


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


def _serializer(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    if not hasattr(state, "session_serializer"):
        configured = services(request).settings.secret_key
        if configured is None:
            log.warning("DUBAN_SECRET_KEY is not set: dashboard sessions end when this process stops")
        secret = configured.get_secret_value() if configured else secrets.token_urlsafe(32)
        state.session_serializer = URLSafeTimedSerializer(secret, salt="duban.dashboard.session")
    return state.session_serializer


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def read_session(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(request).loads(raw, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_session(request: Request, response: Response, data: dict[str, Any]) -> None:
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(data),
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def csrf_token(request: Request) -> tuple[str, bool]:
    """The session's CSRF token, and whether it is new (the caller then stores it in a fresh cookie)."""
    token = read_session(request).get("x")
    if isinstance(token, str) and token:
        return token, False
    return secrets.token_urlsafe(24), True


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = read_session(request).get("x")
    if not isinstance(expected, str) or not submitted or not hmac.compare_digest(expected, submitted):
        raise HTTPException(403, "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")


def _digest(token: str) -> str:
    """What the database keeps of a session token: a copy of the table (a backup) opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in coordinator or liaison, in the campaign the request is about; None for no, a forged, an ended
    or a foreign session, or one with no campaign served to it.

    A password session holds while the coordinator keeps that login and password (and passwords are on), and opens
    that coordinator's campaign. A WeCom or DingTalk session holds while the plan it was opened under still maps that
    platform user to the same coordinator, or to the same liaison, still active; it opens every served campaign
    whose plan names that platform user (docs: README, 多个专项整治). Either way a coordinator also looks into the
    campaigns that report up to theirs, read-only.

    Under /dashboard and /api the campaign is the one `?campaign=<id>` names (403 or 404 with a reason when it is
    not theirs), else the one this browser chose last, else the newest they coordinate (_chosen)."""
    session = read_session(request)
    token = session.get("s")
    if not isinstance(token, str) or not token:
        return None
    svc = services(request)
    csrf = str(session.get("x", ""))
    with transaction(svc.sessions) as db:
        found = DashboardSessions(db).find(_digest(token), svc.clock.now())
        if found is None:
            return None
        served = {campaign.id: campaign for campaign in Campaigns(db).serving(svc.settings.campaign)}
        if found.platform is None or found.external_id is None:
            coordinator = found.coordinator
            if (
                not svc.settings.dashboard_passwords
                or coordinator is None
                or not coordinator.login
                or session.get("v") != fingerprint(coordinator.password_hash)
            ):
                return None
            actor = f"dashboard:{coordinator.login}"
            campaign = served.get(coordinator.campaign_id)
            seats = [] if campaign is None else [_seat(campaign, coordinator.name, coordinator_id=coordinator.id)]
        else:
            actor = f"dashboard:{found.platform}:{found.external_id}"
            platform_seats = _platform_seats(db, found, served)
            if platform_seats is None:
                return None
            seats = platform_seats
        seats = _with_children(seats, served)
    if not seats:
        return None
    seat = _chosen(request, seats, served)
    return Viewer(
        seat.person,
        seat.campaign_id,
        csrf,
        actor,
        coordinator_id=seat.coordinator_id,
        unit_id=seat.unit_id,
        read_only=seat.read_only,
        campaigns=tuple(seats),
    )


def identities_of(db: Session, campaign_ids: Iterable[int], platform: str, external_id: str) -> Sequence[ChatIdentity]:
    """Who a platform user is in each of these campaigns (a coordinator, or a liaison with their unit), oldest
    campaign first."""
    return db.scalars(
        select(ChatIdentity)
        .where(
            ChatIdentity.platform == platform,
            ChatIdentity.external_id == external_id,
            ChatIdentity.campaign_id.in_(list(campaign_ids)),
        )
        .options(joinedload(ChatIdentity.contact), joinedload(ChatIdentity.coordinator))
        .order_by(ChatIdentity.campaign_id)
    ).all()


def _seat(campaign: Campaign, person: str, **role: Any) -> Seat:
    return Seat(campaign.id, campaign.name, campaign.alias, person, **role)


def _platform_seats(db: Session, found: DashboardSession, served: dict[int, Campaign]) -> list[Seat] | None:
    """The served campaigns whose plans name the session's platform user, as a coordinator or an active liaison;
    None when the plan the session was opened under no longer maps that user to the same person."""
    owner = found.coordinator or found.contact
    if owner is None:
        return None
    assert found.platform is not None and found.external_id is not None
    identities = identities_of(db, [*served, owner.campaign_id], found.platform, found.external_id)
    own = next((i for i in identities if i.campaign_id == owner.campaign_id), None)
    if own is None:
        return None
    if found.coordinator_id is not None:
        if own.coordinator_id != found.coordinator_id:
            return None
    elif own.contact is None or own.contact.id != found.contact_id or own.contact.status is not ContactStatus.ACTIVE:
        return None
    seats = []
    for identity in identities:
        campaign = served.get(identity.campaign_id)
        if campaign is None:
            continue
        if identity.coordinator is not None:
            seats.append(_seat(campaign, identity.coordinator.name, coordinator_id=identity.coordinator.id))
        elif identity.contact is not None and identity.contact.status is ContactStatus.ACTIVE:
            seats.append(_seat(campaign, identity.contact.name, unit_id=identity.contact.unit_id))
    return seats


def _with_children(seats: list[Seat], served: dict[int, Campaign]) -> list[Seat]:
    """The seats, and read-only ones in every served campaign that reports up to a campaign they coordinate (its
    children, theirs, …); being its coordinator or liaison is what counts where the person is one. Read from the
    served campaigns' parents, without a query: this runs on every request."""
    by_campaign = {seat.campaign_id: seat for seat in seats}
    children: dict[int, list[Campaign]] = {}
    for campaign in served.values():
        if campaign.parent_id is not None:
            children.setdefault(campaign.parent_id, []).append(campaign)
    looking = [seat for seat in seats if seat.coordinator_id is not None]
    while looking:
        parent = looking.pop()
        for child in children.get(parent.campaign_id, []):
            present = by_campaign.get(child.id)
            if present is not None and present.coordinator_id is not None:
                continue
            seat = _seat(child, parent.person, coordinator_id=parent.coordinator_id, read_only=True)
            by_campaign[child.id] = seat
            looking.append(seat)
    return sorted(by_campaign.values(), key=lambda seat: seat.campaign_id)


def _chosen(request: Request, seats: list[Seat], served: dict[int, Campaign]) -> Seat:
    """The seat of the campaign the request is about (see current_viewer)."""
    by_campaign = {seat.campaign_id: seat for seat in seats}
    wanted = request.query_params.get(CAMPAIGN_PARAM)
    if wanted is not None and request.url.path.startswith(("/dashboard", "/api")):
        campaign_id = int(wanted) if wanted.isdigit() and fits_integer(int(wanted)) else None
        if campaign_id in by_campaign:
            if read_session(request).get("c") != campaign_id:
                request.state.chosen_campaign = campaign_id  # render() remembers it in the session cookie
            return by_campaign[campaign_id]
        if campaign_id in served:
            raise HTTPException(
                403, "您不是这个专项整治的协调人或联络员，无权查看。请在页面顶部切换到您参与的专项整治。"
            )
        raise HTTPException(404, "没有这个专项整治（编号不对，或它已归档、不由本系统提供）。")
    remembered = read_session(request).get("c")
    if isinstance(remembered, int) and remembered in by_campaign:
        return by_campaign[remembered]
    # The newest where they coordinate (what a deployment serving one campaign at a time showed), else where they are
    # a liaison, else a child they look into.
    return max(
        seats,
        key=lambda seat: (seat.coordinator_id is not None and not seat.read_only, not seat.read_only, seat.campaign_id),
    )


def require_unit_viewer(request: Request) -> Viewer:
    """A coordinator, or a liaison (the page then shows only what belongs to their unit)."""
    viewer = current_viewer(request)
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return viewer


def require_page_viewer(request: Request) -> Viewer:
    viewer = require_unit_viewer(request)
    if not viewer.is_coordinator:
        if request.method == "GET" and request.url.path == "/dashboard":
            raise Redirect(viewer.home)
        raise HTTPException(403, "联络员只能查看本单位的情况。")
    if viewer.read_only and request.method != "GET":
        raise HTTPException(
            403, "您是上级专项整治的协调人，在下级专项整治中只能查看；审核、导入、加载方案请由它的协调人操作。"
        )
    return viewer


def require_api_viewer(
    request: Request,
    # Read by current_viewer; declared here for the OpenAPI document.
    campaign: Annotated[
        int | None,
        Query(
            alias=CAMPAIGN_PARAM,
            ge=1,
            description="campaign id (GET /api/campaigns); default: the one chosen last, else the newest",
        ),
    ] = None,
) -> Viewer:
    viewer = current_viewer(request)
    if viewer is None or not viewer.is_coordinator:
        raise HTTPException(401, "请先以牵头部门协调人身份登录督办网页（/dashboard/login）。")
    return viewer


PageViewer = Annotated[Viewer, Depends(require_page_viewer)]
UnitViewer = Annotated[Viewer, Depends(require_unit_viewer)]
ApiViewer = Annotated[Viewer, Depends(require_api_viewer)]


PLATFORM_NAMES: dict[str, str] = {Platform.WECOM: "企业微信", Platform.DINGTALK: "钉钉"}


def platform_sign_ins(settings: Settings) -> dict[str, str]:
    """The platforms this deployment signs people in with (platform → its name, for the login page)."""
    return {platform: PLATFORM_NAMES[platform] for platform in settings.sign_in_platforms}


def login_url(next_url: str) -> str:
    return f"/dashboard/login?next={quote(next_url, safe='')}"


def safe_next(next_url: str | None) -> str:
    """Only the dashboard's pages and the simulator's: a login link must not bounce the coordinator to another
    site."""
    if next_url and (next_url == "/sim" or next_url.startswith(("/dashboard", "/sim?"))):
        return next_url
    return "/dashboard"


@dataclass(frozen=True)
class LoginResult:
    coordinator: Coordinator | None
    error: str | None
    status: int = 200


def _recent_failures(session: Session, now: datetime, **match: Any) -> int:
    stmt = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == LOGIN_FAILED, AuditEntry.at >= now - LOGIN_WINDOW)
    )
    if "actor" in match:
        stmt = stmt.where(AuditEntry.actor == match["actor"])
    if "address" in match:
        stmt = stmt.where(AuditEntry.detail["address"].as_string() == match["address"])
    return int(session.scalar(stmt) or 0)


def address_locked(session: Session, address: str, now: datetime) -> bool:
    """Too many failed sign-ins from this address lately: wrong passwords and refused platform sign-ins alike."""
    return _recent_failures(session, now, address=address) >= MAX_FAILURES_PER_ADDRESS


def attempt_login(
    session: Session, served: Sequence[Campaign], login: str, password: str, *, address: str, now: datetime
) -> LoginResult:
    """Check a password, counting failures per login name and per client address over the last 15 minutes.

    Counting, checking and recording happen under locks on the login name and the address, held to the end of the
    caller's transaction: parallel guesses take turns, so each one sees the failures recorded before it.
    """
    actor = f"dashboard:{login}"
    lock_names(session, f"login:{login}", f"login-address:{address}")
    if (
        _recent_failures(session, now, actor=actor) >= MAX_FAILURES_PER_LOGIN
        or _recent_failures(session, now, address=address) >= MAX_FAILURES_PER_ADDRESS
    ):
        log.warning("login refused: too many failures", extra={"address": address})
        return LoginResult(None, "登录失败次数过多，请 15 分钟后再试。", 429)
    # A login is one coordinator of one campaign (logins are unique across campaigns); one that is not served here
    # (archived, or DUBAN_CAMPAIGN names another) signs nobody in.
    coordinator = None
    if login and served:
        coordinator = session.scalars(
            select(Coordinator).where(
                Coordinator.login == login, Coordinator.campaign_id.in_([campaign.id for campaign in served])
            )
        ).first()
    campaign = next((c for c in served if coordinator is not None and c.id == coordinator.campaign_id), None)
    if campaign is None and served:
        campaign = served[-1]  # where a failure is recorded
    try:
        _hasher.verify(
            coordinator.password_hash if coordinator and coordinator.password_hash else _DUMMY_HASH, password
        )
        verified = coordinator is not None and coordinator.password_hash is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified or coordinator is None:
        Audit(session).record(campaign=campaign, actor=actor, action=LOGIN_FAILED, at=now, address=address)
        return LoginResult(None, "登录名或密码不正确。", 401)
    if coordinator.password_hash and _hasher.check_needs_rehash(coordinator.password_hash):
        coordinator.password_hash = _hasher.hash(password)
    Audit(session).record(
        campaign=campaign,
        actor=actor,
        action="login",
        at=now,
        entity="coordinator",
        entity_id=coordinator.id,
        address=address,
    )
    return LoginResult(coordinator, None)


def start_session(
    request: Request,
    response: Response,
    db: Session,
    coordinator: Coordinator | None = None,
    *,
    now: datetime,
    contact: Contact | None = None,
    platform: str | None = None,
    external_id: str | None = None,
) -> None:
    """A fresh session (and CSRF token) after login: a token planted before login is worthless after it.

    A password login gives a coordinator; a platform sign-in names the platform user, a coordinator or a liaison."""
    token = secrets.token_urlsafe(32)
    DashboardSessions(db).open(
        _digest(token),
        coordinator=coordinator,
        contact=contact,
        platform=platform,
        external_id=external_id,
        address=request.client.host if request.client else None,
        now=now,
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    data = {"s": token, "x": secrets.token_urlsafe(24)}
    if platform is None and coordinator is not None:
        data["v"] = fingerprint(coordinator.password_hash)
    write_session(request, response, data)


def end_session(request: Request, response: Response, db: Session) -> None:
    """Logout: the session ends on the server, so a copy of the cookie is worthless too."""
    token = read_session(request).get("s")
    if isinstance(token, str) and token:
        DashboardSessions(db).end(_digest(token))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")
