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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from bot.services import Services
from bot.settings import Settings
from core.channels import Platform
from core.statuses import ContactStatus
from storage.db import lock_names, transaction
from storage.models import AuditEntry, Campaign, Contact, Coordinator
from storage.repos import Audit, Campaigns, DashboardSessions, People

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
class Viewer:
    """Who is behind a request: a coordinator (everything), or a liaison (their own unit, read-only)."""

    name: str
    campaign_id: int
    csrf: str
    actor: str  # how the audit trail names them: dashboard:<login>, or dashboard:<platform>:<user id>
    coordinator_id: int | None = None
    unit_id: int | None = None  # a liaison's unit

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator_id is not None

    def may_see(self, unit_id: int) -> bool:
        return self.is_coordinator or self.unit_id == unit_id

    @property
    def home(self) -> str:
        return "/dashboard" if self.is_coordinator else f"/dashboard/units/{self.unit_id}"


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
    """The signed-in coordinator or liaison of the served campaign, or None (no, forged, ended or foreign session).

    A password session holds while the coordinator keeps that login and password (and passwords are on); a WeCom
    or DingTalk session while the plan still maps that platform user to the same coordinator, or to the same
    liaison, still active."""
    session = read_session(request)
    token = session.get("s")
    if not isinstance(token, str) or not token:
        return None
    svc = services(request)
    csrf = str(session.get("x", ""))
    with transaction(svc.sessions) as db:
        campaign = Campaigns(db).current(svc.settings.campaign)
        found = DashboardSessions(db).find(_digest(token), svc.clock.now())
        if campaign is None or found is None:
            return None
        if found.platform is None or found.external_id is None:
            coordinator = found.coordinator
            if (
                not svc.settings.dashboard_passwords
                or coordinator is None
                or coordinator.campaign_id != campaign.id
                or not coordinator.login
                or session.get("v") != fingerprint(coordinator.password_hash)
            ):
                return None
            return Viewer(
                coordinator.name, campaign.id, csrf, f"dashboard:{coordinator.login}", coordinator_id=coordinator.id
            )
        actor = People(db).actor(campaign, found.platform, found.external_id)
        label = f"dashboard:{found.platform}:{found.external_id}"
        if found.coordinator_id is not None:
            if actor.coordinator is None or actor.coordinator.id != found.coordinator_id:
                return None
            return Viewer(actor.coordinator.name, campaign.id, csrf, label, coordinator_id=actor.coordinator.id)
        contact = actor.contact
        if contact is None or contact.id != found.contact_id or contact.status is not ContactStatus.ACTIVE:
            return None
        return Viewer(contact.name, campaign.id, csrf, label, unit_id=contact.unit_id)


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
    return viewer


def require_api_viewer(request: Request) -> Viewer:
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
    session: Session, campaign: Campaign | None, login: str, password: str, *, address: str, now: datetime
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
    coordinator = None
    if campaign is not None and login:
        coordinator = session.scalars(
            select(Coordinator).where(Coordinator.login == login, Coordinator.campaign_id == campaign.id)
        ).first()
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
