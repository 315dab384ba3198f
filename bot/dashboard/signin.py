"""Signing in to the dashboard with WeCom or DingTalk (the platforms' OAuth2 and in-app 免登).

`GET /dashboard/login/<platform>` sends the browser to the platform's authorisation with a fresh `state`, kept in
the browser's session cookie; the platform sends it back to `<DUBAN_PUBLIC_URL>/dashboard/login/<platform>/callback`
with a code. The callback checks the state against the cookie (one use, ten minutes), records the code as used
(one sign-in per code, whatever the platform would say to it again), asks the platform whose code it is and maps
that user through the plan: a coordinator gets the dashboard, an active liaison a read-only page of their unit,
anyone else a page saying why not. The redirect URI always comes from DUBAN_PUBLIC_URL, never from the request.
The session then is the same server-side session as a password login's, ended the same ways.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.dashboard.auth import (
    LOGIN_FAILED,
    PLATFORM_NAMES,
    ServicesDep,
    address_locked,
    campaign_url,
    current_viewer,
    identities_of,
    platform_sign_ins,
    read_session,
    safe_next,
    start_session,
    write_session,
)
from bot.dashboard.pages import render
from bot.dingtalk import signin as dingtalk
from bot.dingtalk.clients import AccessTokens
from bot.services import Services
from bot.wecom import signin as wecom
from bot.wecom.client import AppCredentials, WeComApi, WeComError
from core.channels import Platform
from core.statuses import ContactStatus
from storage.db import transaction
from storage.repos import Audit, Campaigns, DashboardSessions

log = logging.getLogger("duban.dashboard")
router = APIRouter(prefix="/dashboard/login", include_in_schema=False)

STATE_MINUTES = 10  # from leaving for the platform to coming back: a QR code scanned at leisure
CODE_KEPT = timedelta(minutes=30)  # platforms' codes die after 5 minutes; kept longer than any clock skew
HTTP_TIMEOUT = httpx.Timeout(10.0)
INAPP = "dingtalk_inapp"  # the in-app 免登 flow's state is its own: an OAuth state cannot finish it
Code = Annotated[str, Query(max_length=512)]  # WeCom: "code长度最大为512字节"


def callback_url(services: Services, flow: str) -> str:
    """Where the platform sends the browser back: fixed by DUBAN_PUBLIC_URL, whatever host the request named."""
    assert services.settings.public_url
    path = "dingtalk/inapp/callback" if flow == INAPP else f"{flow}/callback"
    return f"{services.settings.public_url}/dashboard/login/{path}"


def _configured(services: Services, platform: str) -> None:
    if platform not in platform_sign_ins(services.settings):
        raise HTTPException(
            404,
            f"本系统尚未配置{PLATFORM_NAMES[platform]}登录（需要 DUBAN_PUBLIC_URL 和"
            f"{PLATFORM_NAMES[platform]}应用的设置），请用其他方式登录或联系管理员。",
        )


def _set_session(request: Request, response: Response, data: dict[str, Any]) -> None:
    """The session cookie this response leaves, replacing one the page rendering may have set already."""
    del response.headers["set-cookie"]
    write_session(request, response, data)


def _begin(
    request: Request, services: Services, response: Response, flow: str, state: str, next_url: str | None
) -> None:
    """Bind `state` to this browser: its session cookie keeps it (beside the CSRF token, without any old session)."""
    data = {key: value for key, value in read_session(request).items() if key == "x"}
    data["o"] = {"f": flow, "t": state, "n": safe_next(next_url), "at": services.clock.now().timestamp()}
    _set_session(request, response, data)


def _already_in(request: Request, next_url: str | None) -> Response | None:
    viewer = current_viewer(request)
    if viewer is None:
        return None
    return RedirectResponse(safe_next(next_url) if viewer.is_coordinator else viewer.home, status_code=303)


def _to_platform(
    request: Request, services: Services, platform: str, next_url: str | None, authorize: Callable[[str, str], str]
) -> Response:
    """Redirect to the platform's authorisation (`authorize(redirect_uri, state)`), the state bound to this browser;
    someone already signed in goes straight on."""
    _configured(services, platform)
    if (signed_in := _already_in(request, next_url)) is not None:
        return signed_in
    state = secrets.token_urlsafe(24)
    response = RedirectResponse(authorize(callback_url(services, platform), state), status_code=302)
    _begin(request, services, response, platform, state, next_url)
    return response


@router.get("/wecom")
def wecom_start(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    """To WeCom: its web authorisation inside WeCom (silent), its QR-code login in any other browser."""
    inside = wecom.in_wecom(request.headers.get("user-agent", ""))
    return _to_platform(
        request,
        services,
        Platform.WECOM,
        next,
        lambda redirect_uri, state: wecom.authorize_url(
            services.settings, redirect_uri=redirect_uri, state=state, inside_wecom=inside
        ),
    )


@router.get("/dingtalk")
def dingtalk_start(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    """To DingTalk's sign-in page (a QR code in a browser, a confirmation inside DingTalk)."""
    return _to_platform(
        request,
        services,
        Platform.DINGTALK,
        next,
        lambda redirect_uri, state: dingtalk.authorize_url(services.settings, redirect_uri=redirect_uri, state=state),
    )


@router.get("/dingtalk/inapp", response_class=HTMLResponse)
def dingtalk_inapp(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    """The workbench's entry and DingTalk users' links: inside DingTalk the page asks the client for a code (no
    tap); anywhere else, or without DUBAN_DINGTALK_CORP_ID, it goes on to the sign-in page."""
    _configured(services, Platform.DINGTALK)
    if (signed_in := _already_in(request, next)) is not None:
        return signed_in
    fallback = f"/dashboard/login/dingtalk?next={quote(safe_next(next), safe='')}"
    corp_id = services.settings.dingtalk_corp_id
    if not corp_id:
        return RedirectResponse(fallback, status_code=303)
    state = secrets.token_urlsafe(24)
    response = render(
        request,
        "dingtalk_inapp.html",
        {
            "corp_id": corp_id,
            "client_id": services.settings.dingtalk_app_key,
            "fallback": fallback,
            "state": state,
            "callback": "/dashboard/login/dingtalk/inapp/callback",
        },
    )
    _begin(request, services, response, INAPP, state, next)
    return response


@router.get("/wecom/callback", response_class=HTMLResponse)
async def wecom_callback(request: Request, services: ServicesDep, code: Code = "", state: str = "") -> Response:
    async def exchange(http: httpx.AsyncClient) -> str | None:
        api = WeComApi(
            AppCredentials.from_settings(services.settings), sessions=services.sessions, clock=services.clock, http=http
        )
        return await wecom.user_id(api, code)

    return await _finish(request, services, Platform.WECOM, Platform.WECOM, code, state, exchange)


@router.get("/dingtalk/callback", response_class=HTMLResponse)
async def dingtalk_callback(
    request: Request,
    services: ServicesDep,
    code: Code = "",
    state: str = "",
    auth_code: Annotated[str, Query(alias="authCode", max_length=512)] = "",
) -> Response:
    code = code or auth_code  # DingTalk's sign-in page sends authCode

    async def exchange(http: httpx.AsyncClient) -> str | None:
        return await _dingtalk(services, http).user_from_authorization(code)

    return await _finish(request, services, Platform.DINGTALK, Platform.DINGTALK, code, state, exchange)


@router.get("/dingtalk/inapp/callback", response_class=HTMLResponse)
async def dingtalk_inapp_callback(
    request: Request, services: ServicesDep, code: Code = "", state: str = ""
) -> Response:
    async def exchange(http: httpx.AsyncClient) -> str | None:
        return await _dingtalk(services, http).user_from_inapp(code)

    return await _finish(request, services, Platform.DINGTALK, INAPP, code, state, exchange)


def _dingtalk(services: Services, http: httpx.AsyncClient) -> dingtalk.DingTalkSignIn:
    tokens = AccessTokens(settings=services.settings, sessions=services.sessions, clock=services.clock, http=http)
    return dingtalk.DingTalkSignIn(settings=services.settings, tokens=tokens, http=http)


def _refused(request: Request, status: int, title: str, detail: str, *, retry: str | None = None) -> HTMLResponse:
    response = render(
        request, "signin_refused.html", {"title": title, "detail": detail, "retry": retry}, status_code=status
    )
    _set_session(request, response, {k: v for k, v in read_session(request).items() if k == "x"})
    return response


async def _finish(
    request: Request,
    services: Services,
    platform: str,
    flow: str,
    code: str,
    state: str,
    exchange: Callable[[httpx.AsyncClient], Awaitable[str | None]],
) -> Response:
    """The callback: state, code once, who it is, and then a session or a page that says why not."""
    _configured(services, platform)
    name = PLATFORM_NAMES[platform]
    address = request.client.host if request.client else "unknown"
    pending = read_session(request).get("o")
    next_url = pending.get("n") if isinstance(pending, dict) else None
    retry = f"/dashboard/login/{'dingtalk/inapp' if flow == INAPP else platform}?next={quote(safe_next(next_url))}"
    now = services.clock.now()

    def fail(reason: str) -> None:
        with transaction(services.sessions) as session:
            Audit(session).record(
                campaign=next(iter(Campaigns(session).serving(services.settings.campaign)[-1:]), None),
                actor=f"{platform}:?",
                action=LOGIN_FAILED,
                at=now,
                address=address,
                reason=reason,
            )

    def admit() -> str | None:
        """None when the platform may be asked (the address is not locked out, the state is this browser's, the code
        unused — and from now on used); else why not."""
        with transaction(services.sessions) as session:
            if address_locked(session, address, now):
                return "locked"
            if not _state_matches(pending, flow, state, now.timestamp()):
                return "state"
            if not code:
                return "no code"
            if not DashboardSessions(session).use_code(platform, code, now=now, expires_at=now + CODE_KEPT):
                return "code used"
            return None

    refusal = await run_in_threadpool(admit)
    if refusal == "locked":
        log.warning("platform sign-in refused: too many failures", extra={"address": address})
        return _refused(request, 429, "登录失败次数过多", "登录失败次数过多，请 15 分钟后再试。")
    if refusal is not None:
        await run_in_threadpool(fail, refusal)
        log.warning("platform sign-in refused", extra={"platform": platform, "reason": refusal, "address": address})
        detail = (
            "这个登录链接已经用过了。"
            if refusal == "code used"
            else f"{name}没有给出登录码，可能是您取消了授权。"
            if refusal == "no code"
            else "登录请求已过期，或不是从本浏览器发起的。"
        )
        return _refused(request, 400, "登录没有完成", detail + "请重新登录。", retry=retry)

    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            user_id = await exchange(http)
    except (WeComError, dingtalk.SignInFailed) as error:
        await run_in_threadpool(fail, "platform refused")
        log.warning(
            "platform sign-in: the platform did not confirm the user",
            extra={"platform": platform, "detail": str(error)[:200]},
        )
        return _refused(
            request, 502, "登录没有完成", f"{name}没有确认您的身份（{str(error)[:120]}），请重新登录。", retry=retry
        )
    return await run_in_threadpool(_admit_user, request, services, platform, user_id, next_url, address)


def _state_matches(pending: Any, flow: str, state: str, now: float) -> bool:
    if not isinstance(pending, dict) or pending.get("f") != flow or not state:
        return False
    expected, issued = pending.get("t"), pending.get("at")
    return (
        isinstance(expected, str)
        and isinstance(issued, (int, float))
        and 0 <= now - issued <= STATE_MINUTES * 60
        and hmac.compare_digest(expected.encode(), state.encode())
    )


def _admit_user(
    request: Request, services: Services, platform: str, user_id: str | None, next_url: str | None, address: str
) -> Response:
    """A session for someone the plans of the served campaigns name as a coordinator or an active liaison (opened
    under the newest campaign where they coordinate, else the newest where they are a liaison; the session then
    opens all of them); a clear page for anyone else."""
    name = PLATFORM_NAMES[platform]
    now = services.clock.now()
    with transaction(services.sessions) as session:
        served = Campaigns(session).serving(services.settings.campaign)
        identities = identities_of(session, [c.id for c in served], platform, user_id) if user_id else []
        coordinators = [i for i in identities if i.coordinator is not None]
        liaisons = [i for i in identities if i.contact is not None and i.contact.status is ContactStatus.ACTIVE]
        chosen = coordinators[-1] if coordinators else liaisons[-1] if liaisons else None
        campaign = next((c for c in served if chosen is not None and c.id == chosen.campaign_id), None)
        if chosen is not None and campaign is not None:
            coordinator, liaison = chosen.coordinator, None if chosen.coordinator is not None else chosen.contact
            if liaison is not None:  # a liaison lands on their unit's page, or on a page of a unit of theirs
                owned = [f"/dashboard/units/{i.contact.unit_id}" for i in liaisons if i.contact is not None]
                path = urlsplit(next_url or "").path
                own = f"/dashboard/units/{liaison.unit_id}"
                sent = next_url is not None and any(path == unit or path.startswith(unit + "/") for unit in owned)
                target = (
                    next_url if sent and next_url else own if len(identities) == 1 else campaign_url(own, campaign.id)
                )
                role, entity_id = "contact", liaison.id
            else:
                assert coordinator is not None
                target, role, entity_id = safe_next(next_url), "coordinator", coordinator.id
            response = RedirectResponse(target, status_code=303)
            start_session(
                request,
                response,
                session,
                coordinator,
                contact=liaison,
                platform=platform,
                external_id=user_id,
                now=now,
            )
            Audit(session).record(
                campaign=campaign,
                actor=f"dashboard:{platform}:{user_id}",
                action="login",
                at=now,
                entity=role,
                entity_id=entity_id,
                address=address,
            )
            log.info("platform sign-in", extra={"platform": platform, "role": role})
            return response
        Audit(session).record(
            campaign=served[-1] if served else None,
            actor=f"{platform}:{user_id or '?'}",
            action=LOGIN_FAILED,
            at=now,
            address=address,
            reason="not in the plan",
        )
        pending = next(
            (i for i in identities if i.contact is not None and i.contact.status is ContactStatus.PENDING), None
        )
        pending_in = next((c.name for c in served if pending is not None and c.id == pending.campaign_id), "")
        names = "、".join(f"「{c.name}」" for c in served) or "本专项整治"
    if pending is not None and pending.contact is not None:
        detail = (
            f"您在「{pending_in}」的联络员登记（登记号 {pending.contact.id}）还在等待牵头部门审核，"
            "审核通过后即可查看本单位的情况。"
        )
    else:
        who = f"{name}账号（{user_id}）" if user_id else f"这个{name}账号（不是本组织的成员）"
        detail = (
            f"您的{who}不是{names}的牵头部门协调人，也不是已登记的单位联络员。"
            f"联络员请先在{name}中向督办机器人发送「登记」；协调人请联系牵头部门，在方案中写明您的{name}账号。"
        )
    return _refused(request, 403, "没有查看权限", detail)
