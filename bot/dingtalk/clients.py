"""DingTalk outbound clients behind scheduler.outbound's Sender interface, plus the session-webhook reply.

- dingtalk_robot: custom group robots (robot/send?access_token=…, signed with timestamp + sign when the
  robot's 加签 secret starts with SEC), text or markdown, @-mentioning mobiles.
- dingtalk_work: work notifications (工作通知, topapi/message/corpconversation/asyncsend_v2) to staffIds,
  with the app's access token cached in the database so every process shares one.

Every request goes to DUBAN_DINGTALK_API_BASE: a robot webhook or a sessionWebhook keeps only its path and
query, so private deployments, proxies and tests reach DingTalk through one configured address, and a forged
URL can never make the bot post elsewhere. No maintained async client covers these three old-style APIs
(the official SDKs are blocking), so this is a thin httpx layer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.dingtalk.signing import millis, sign
from bot.settings import Settings
from core.channels import Channel
from core.clock import Clock
from handlers.message import Image
from scheduler.outbound import OutboundMessage, Sender, SendResult
from storage.db import transaction
from storage.repos import Tokens

log = logging.getLogger("duban.dingtalk")
# httpx logs every request URL at INFO, and DingTalk puts credentials in query strings (appsecret,
# access_token, sign): keep those lines out of the service log.
logging.getLogger("httpx").setLevel(logging.WARNING)

GETTOKEN_PATH = "/gettoken"
WORK_PATH = "/topapi/message/corpconversation/asyncsend_v2"
UPLOAD_PATH = "/media/upload"  # multipart field `media`; images up to 20 MB, media_id valid for 3 days
HTTP_TIMEOUT = httpx.Timeout(10.0)
TOKEN_MARGIN = timedelta(minutes=5)  # refresh a little before DingTalk's 7200 s run out
ROBOT_RATE_WINDOW = 60.0  # a custom robot takes 20 messages a minute; 130101 means wait for the next minute
SYSTEM_BUSY = -1
ROBOT_TOO_FAST = 130101
TOKEN_REJECTED = frozenset({40014, 42001})  # invalid / expired access_token
AUTH_ERROR = 88  # new-style gateway wrapper: the real reason is in sub_code


def on_api_base(api_base: str, url: str) -> str:
    """`url`'s path and query on the configured API base."""
    parts = urlsplit(url)
    return f"{api_base.rstrip('/')}{parts.path}" + (f"?{parts.query}" if parts.query else "")


async def _call(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> dict[str, Any] | SendResult:
    """One request; the JSON answer, or a failure for transport errors and HTTP statuses."""
    path = urlsplit(url).path
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        return SendResult.retryable(f"{path}: timeout")
    except httpx.TransportError as error:
        return SendResult.retryable(f"{path}: {type(error).__name__}")
    if response.status_code == 429 or response.status_code >= 500:
        return SendResult.retryable(f"{path}: HTTP {response.status_code}")
    if response.status_code >= 400:
        return SendResult.permanent(f"{path}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        return SendResult.retryable(f"{path}: not JSON (HTTP {response.status_code})")
    if not isinstance(answer, dict):
        return SendResult.retryable(f"{path}: unexpected answer")
    return answer


def _errcode(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("errcode", 0))
    except (TypeError, ValueError):
        return SYSTEM_BUSY


def _detail(path: str, answer: dict[str, Any]) -> str:
    sub = f" sub_code={answer['sub_code']}" if "sub_code" in answer else ""
    return f"{path}: errcode={answer.get('errcode')}{sub} {answer.get('errmsg', '')}".strip()


def with_mentions(text: str, mobiles: Sequence[str]) -> str:
    """DingTalk highlights an @ only when "@<mobile>" is in the text itself (required for markdown)."""
    missing = [m for m in mobiles if f"@{m}" not in text]
    return text + ("\n" + " ".join(f"@{m}" for m in missing) if missing else "")


def _title(message: OutboundMessage) -> str:
    """A markdown message's title: what the chat list shows; the first line of the plain text."""
    first = message.text.strip().splitlines()[0] if message.text.strip() else "督办提醒"
    return first.lstrip("#").strip()[:30] or "督办提醒"


def _content(message: OutboundMessage, mentions: Sequence[str] = ()) -> dict[str, Any]:
    if message.markdown:
        return {
            "msgtype": "markdown",
            "markdown": {"title": _title(message), "text": with_mentions(message.markdown, mentions)},
        }
    return {"msgtype": "text", "text": {"content": with_mentions(message.text, mentions)}}


class RobotSender:
    """Custom group robots (自定义机器人): the webhook and 加签 secret come with each message (from the plan)."""

    channels: frozenset[str] = frozenset({Channel.DINGTALK_ROBOT})

    def __init__(self, *, api_base: str, clock: Clock, http: httpx.AsyncClient) -> None:
        self.api_base = api_base
        self.clock = clock
        self.http = http

    async def send(self, message: OutboundMessage) -> SendResult:
        url = on_api_base(self.api_base, message.address or "")
        # httpx replaces a URL's query when given params, so the webhook's own query joins them here.
        params = dict(parse_qsl(urlsplit(url).query))
        if not params.get("access_token"):
            return SendResult.permanent("robot webhook has no access_token")
        # Only a 加签 secret (SEC…) signs; a robot secured by keywords or an IP list takes plain requests.
        if message.secret and message.secret.startswith("SEC"):
            timestamp = str(millis(self.clock.now()))
            params |= {"timestamp": timestamp, "sign": sign(timestamp, message.secret)}
        body = _content(message, message.mentions) | {"at": {"atMobiles": list(message.mentions), "isAtAll": False}}
        answer = await _call(self.http, "POST", url.split("?", 1)[0], params=params, json=body)
        if isinstance(answer, SendResult):
            return answer
        code = _errcode(answer)
        detail = _detail(urlsplit(url).path, answer)
        if code == 0:
            return SendResult.ok()
        if code == ROBOT_TOO_FAST:
            return SendResult.retryable(detail, retry_after=ROBOT_RATE_WINDOW)
        if code == SYSTEM_BUSY:
            return SendResult.retryable(detail)
        # 310000 (sign mismatch, keyword missing, IP not allowed), 300001 (no such robot) …: fix the plan.
        return SendResult.permanent(detail)


class TokenUnavailable(Exception):
    def __init__(self, result: SendResult) -> None:
        super().__init__(result.detail)
        self.result = result


class AccessTokens:
    """The app's access token (appkey/appsecret, valid 7200 s), kept in the database for every process."""

    def __init__(
        self, *, settings: Settings, sessions: sessionmaker[Session], clock: Clock, http: httpx.AsyncClient
    ) -> None:
        assert settings.dingtalk_app_key and settings.dingtalk_app_secret
        self.app_key = settings.dingtalk_app_key
        self.app_secret = settings.dingtalk_app_secret
        self.api_base = settings.dingtalk_api_base.rstrip("/")
        self.sessions = sessions
        self.clock = clock
        self.http = http
        self.name = f"dingtalk:{self.app_key}"
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A valid token: the stored one, else a fresh one from gettoken (one fetch at a time per process)."""
        async with self._lock:
            token = await asyncio.to_thread(self._stored)
            if token is not None:
                return token
            answer = await _call(
                self.http,
                "GET",
                f"{self.api_base}{GETTOKEN_PATH}",
                params={"appkey": self.app_key, "appsecret": self.app_secret.get_secret_value()},
            )
            if isinstance(answer, SendResult):
                raise TokenUnavailable(answer)
            code = _errcode(answer)
            if code != 0 or not answer.get("access_token"):
                detail = _detail(GETTOKEN_PATH, answer)
                raise TokenUnavailable(
                    SendResult.retryable(detail) if code == SYSTEM_BUSY else SendResult.permanent(detail)
                )
            token = str(answer["access_token"])
            lifetime = timedelta(seconds=int(answer.get("expires_in", 7200)))
            await asyncio.to_thread(self._store, token, self.clock.now() + lifetime - TOKEN_MARGIN)
            log.info("dingtalk access token refreshed", extra={"token_name": self.name})
            return token

    async def reject(self, token: str) -> None:
        """Forget a token DingTalk refused, so the next get() fetches a new one."""
        await asyncio.to_thread(self._drop, token)

    def _stored(self) -> str | None:
        with transaction(self.sessions) as session:
            row = Tokens(session).get(self.name)
            return row.token if row is not None and row.expires_at > self.clock.now() else None

    def _store(self, token: str, expires_at: datetime) -> None:
        with transaction(self.sessions) as session:
            Tokens(session).put(self.name, token, expires_at=expires_at, now=self.clock.now())

    def _drop(self, token: str) -> None:
        with transaction(self.sessions) as session:
            Tokens(session).drop(self.name, token)


class WorkNotificationSender:
    """Work notifications (工作通知) from the app to one staffId.

    DingTalk quirk: it accepts but silently drops a notification whose content the same user already got
    that day, and more than 500 a day per user; the call still answers errcode 0.
    """

    channels: frozenset[str] = frozenset({Channel.DINGTALK_WORK})

    def __init__(self, *, settings: Settings, tokens: AccessTokens, http: httpx.AsyncClient) -> None:
        self.agent_id = settings.dingtalk_agent_id
        self.url = f"{settings.dingtalk_api_base.rstrip('/')}{WORK_PATH}"
        self.upload_url = f"{settings.dingtalk_api_base.rstrip('/')}{UPLOAD_PATH}"
        self.tokens = tokens
        self.http = http

    async def send(self, message: OutboundMessage) -> SendResult:
        return await self._send(message.target, _content(message))

    async def send_image(self, target: str, image: Image) -> SendResult:
        """A picture (a chart) to one staffId: media/upload, then an image work notification."""
        if self.agent_id is None:
            return SendResult.permanent("DUBAN_DINGTALK_AGENT_ID is not set")
        data = await asyncio.to_thread(lambda: image.data)  # drawing a chart would stall the event loop
        for attempt in (1, 2):
            try:
                token = await self.tokens.get()
            except TokenUnavailable as error:
                return error.result
            answer = await _call(
                self.http,
                "POST",
                self.upload_url,
                params={"access_token": token, "type": "image"},
                files={"media": (image.name, data, image.mime)},
            )
            if isinstance(answer, SendResult):
                return answer
            code = _errcode(answer)
            if code in TOKEN_REJECTED and attempt == 1:
                await self.tokens.reject(token)
                continue
            media_id = answer.get("media_id")
            if code != 0 or not isinstance(media_id, str) or not media_id:
                detail = _detail(UPLOAD_PATH, answer)
                return SendResult.retryable(detail) if code == SYSTEM_BUSY else SendResult.permanent(detail)
            return await self._send(target, {"msgtype": "image", "image": {"media_id": media_id}})
        raise AssertionError("unreachable")

    async def _send(self, target: str, msg: dict[str, Any]) -> SendResult:
        if self.agent_id is None:
            return SendResult.permanent("DUBAN_DINGTALK_AGENT_ID is not set")
        body = {"agent_id": self.agent_id, "userid_list": target, "msg": msg}
        for attempt in (1, 2):
            try:
                token = await self.tokens.get()
            except TokenUnavailable as error:
                return error.result
            answer = await _call(self.http, "POST", self.url, params={"access_token": token}, json=body)
            if isinstance(answer, SendResult):
                return answer
            code = _errcode(answer)
            if code == 0:
                return SendResult.ok(f"task_id={answer.get('task_id')}")
            rejected = code in TOKEN_REJECTED or (code == AUTH_ERROR and _sub_code(answer) in TOKEN_REJECTED)
            if rejected and attempt == 1:
                await self.tokens.reject(token)
                continue
            # -1 is "system busy"; 900xx are DingTalk's flow-control (限流) codes.
            if code == SYSTEM_BUSY or 90000 <= code < 91000 or rejected:
                return SendResult.retryable(_detail(WORK_PATH, answer))
            return SendResult.permanent(_detail(WORK_PATH, answer))
        raise AssertionError("unreachable")


def _sub_code(answer: dict[str, Any]) -> int | None:
    try:
        return int(answer["sub_code"])
    except (KeyError, TypeError, ValueError):
        return None


def text_reply(text: str, at_staff_id: str | None, markdown: str | None = None) -> dict[str, Any]:
    """An answer to a robot conversation (response body or sessionWebhook), @-ing the sender in groups:
    markdown when the reply has a markdown version (DingTalk highlights the @ only when "@<id>" is in it)."""
    body: dict[str, Any]
    if markdown:
        title = (text.splitlines() or ["督办"])[0][:30] or "督办"
        mention = f"@{at_staff_id}\n\n" if at_staff_id else ""
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": mention + markdown}}
    else:
        body = {"msgtype": "text", "text": {"content": text}}
    if at_staff_id:
        body["at"] = {"atUserIds": [at_staff_id], "isAtAll": False}
    return body


class SessionWebhookClient:
    """Answers a conversation through the sessionWebhook of one of its messages (no token needed)."""

    def __init__(self, *, api_base: str, http: httpx.AsyncClient) -> None:
        self.api_base = api_base
        self.http = http

    async def reply(self, url: str, text: str, *, at_staff_id: str | None, markdown: str | None = None) -> SendResult:
        target = on_api_base(self.api_base, url)
        answer = await _call(self.http, "POST", target, json=text_reply(text, at_staff_id, markdown))
        if isinstance(answer, SendResult):
            return answer
        code = _errcode(answer)
        if code == 0:
            return SendResult.ok()
        detail = _detail(urlsplit(target).path, answer)
        return SendResult.retryable(detail) if code == SYSTEM_BUSY else SendResult.permanent(detail)


def build_senders(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock, http: httpx.AsyncClient
) -> list[Sender]:
    """The DingTalk senders this configuration allows: group robots always, work notifications with an app."""
    senders: list[Sender] = [RobotSender(api_base=settings.dingtalk_api_base, clock=clock, http=http)]
    if settings.dingtalk_enabled:
        tokens = AccessTokens(settings=settings, sessions=sessions, clock=clock, http=http)
        senders.append(WorkNotificationSender(settings=settings, tokens=tokens, http=http))
    return senders
