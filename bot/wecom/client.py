"""WeCom server API clients: the self-built app (access token, message/send) and group robots (webhook/send).

They implement scheduler.outbound.Sender. wechatpy's WeChatClient is synchronous (requests) and fetches its
token from a hard-coded qyapi host, so these are written on httpx.AsyncClient instead: every URL, the token
fetch included, starts at DUBAN_WECOM_API_BASE (private deployments, proxies, the tests' fake server).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from core.channels import Channel
from core.clock import Clock
from handlers.message import Image
from scheduler.outbound import OutboundMessage, Sender, SendResult, SendStatus
from storage.db import transaction
from storage.repos import Tokens

log = logging.getLogger("duban.wecom")
# httpx logs every request URL at INFO, and WeCom puts access_token, corpsecret and robot keys in the query.
logging.getLogger("httpx").setLevel(logging.WARNING)

TEXT_LIMIT = 2048  # bytes of UTF-8: app text and markdown, robot text, passive replies
ROBOT_MARKDOWN_LIMIT = 4096
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before WeCom's expires_in runs out
DUPLICATE_CHECK_SECONDS = 1800
# Calls one process has in flight to WeCom at a time. A burst of 汇总 replies would otherwise queue ~100
# requests inside httpcore's connection pool, whose assignment pass rescans the queue on every hand-over
# (quadratic; encode/httpcore#1035, still open): in bench/callback.py it took two thirds of the web process's
# CPU. WeCom limits an app's calls per minute anyway; a few connections keep up with what it accepts.
MAX_IN_FLIGHT = 8
MEDIA_UPLOAD = "/cgi-bin/media/upload"
# The token was refused: 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
# (On gettoken itself 40001 means a wrong secret, which no refresh can fix.)
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Refusals that pass with time, and how long to wait: system busy, call frequency (45009) and concurrency
# (45033) limits, and 60020, an IP missing from the app's 可信IP list, which an admin can still add.
RETRY_AFTER: dict[int, float] = {-1: 5.0, 45009: 60.0, 45033: 5.0, 60020: 600.0}

REQUIRED_SETTINGS = {
    "DUBAN_WECOM_CORP_ID": "wecom_corp_id",
    "DUBAN_WECOM_AGENT_ID": "wecom_agent_id",
    "DUBAN_WECOM_SECRET": "wecom_secret",
    "DUBAN_WECOM_TOKEN": "wecom_token",
    "DUBAN_WECOM_AES_KEY": "wecom_aes_key",
}


def missing_settings(settings: Settings) -> list[str]:
    """The DUBAN_WECOM_* variables the self-built app still needs (empty when it is fully configured)."""
    return [name for name, attribute in REQUIRED_SETTINGS.items() if getattr(settings, attribute) in (None, "")]


class WeComError(Exception):
    """A call that did not succeed, already classified as retryable or permanent."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.detail)
        self.result = result


def split_by_bytes(text: str, limit: int) -> list[str]:
    """Cut text into pieces of at most `limit` UTF-8 bytes, at line ends where possible, never inside a
    character; joined back together the pieces are the text again. WeCom truncates anything longer."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit:
            head = line.encode()[:limit].decode(errors="ignore")
            pieces.append(head)
            line = line[len(head) :]
        pieces.append(line)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len((current + piece).encode()) > limit:
            chunks.append(current)
            current = ""
        current += piece
    if current:
        chunks.append(current)
    return chunks


def classify(payload: dict[str, Any], action: str) -> SendResult:
    """WeCom answers HTTP 200 with an errcode: 0 is success, the rest are retryable or permanent refusals."""
    code = payload.get("errcode", 0)
    if code == 0:
        return SendResult.ok(action)
    detail = f"{action}: errcode {code} {str(payload.get('errmsg', ''))[:200]}".strip()
    if code == 60020:
        log.error("wecom refused this server's IP: add it to the app's 企业可信IP", extra={"action": action})
    if code in RETRY_AFTER:
        return SendResult.retryable(detail, retry_after=RETRY_AFTER[code])
    return SendResult.permanent(detail)


async def call_api(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    action: str,
    *,
    params: dict[str, str],
    payload: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One HTTP call to WeCom returning its JSON; transport and HTTP-level failures raise WeComError."""
    try:
        response = await http.request(method, url, params=params, json=payload, files=files)
    except httpx.TimeoutException as error:
        raise WeComError(SendResult.retryable(f"{action}: 超时")) from error
    except httpx.HTTPError as error:
        raise WeComError(SendResult.retryable(f"{action}: 网络错误 {type(error).__name__}")) from error
    status = response.status_code
    if status == 429 or status >= 500:
        raise WeComError(SendResult.retryable(f"{action}: HTTP {status}"))
    if status != 200:
        raise WeComError(SendResult.permanent(f"{action}: HTTP {status}"))
    try:
        body = response.json()
    except ValueError as error:
        raise WeComError(SendResult.retryable(f"{action}: 应答不是 JSON")) from error
    if not isinstance(body, dict):
        raise WeComError(SendResult.retryable(f"{action}: 应答不是 JSON 对象"))
    return body


@dataclass(frozen=True)
class AppCredentials:
    api_base: str
    corp_id: str
    agent_id: int
    secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AppCredentials:
        missing = missing_settings(settings)
        if missing:
            raise ValueError(f"企业微信自建应用未配置：缺少 {'、'.join(missing)}")
        assert settings.wecom_corp_id and settings.wecom_agent_id is not None and settings.wecom_secret
        return cls(
            api_base=settings.wecom_api_base.rstrip("/"),
            corp_id=settings.wecom_corp_id,
            agent_id=settings.wecom_agent_id,
            secret=settings.wecom_secret.get_secret_value(),
        )

    @property
    def token_name(self) -> str:
        return f"wecom:{self.corp_id}:{self.agent_id}"


class WeComApi:
    """The server API of one self-built app. Its access token lives in the database, shared by every process,
    and is fetched only when missing, about to expire, or refused — never per call (gettoken is rate limited
    and 45009 follows)."""

    def __init__(
        self, credentials: AppCredentials, *, sessions: sessionmaker[Session], clock: Clock, http: httpx.AsyncClient
    ) -> None:
        self.credentials = credentials
        self.sessions = sessions
        self.clock = clock
        self.http = http
        self._refreshing = asyncio.Lock()  # one gettoken at a time in this process
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        # The database row, remembered until it is due for refresh so that a send costs no query. Another
        # process may replace the row meanwhile: WeCom then refuses this copy, which sends us back to the row.
        self._remembered: tuple[str, datetime] | None = None

    async def call(
        self,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
        method: str = "POST",
    ) -> dict[str, Any]:
        """Call an API path with the access token (a JSON payload, or multipart `files` with extra `params`; GET
        takes `params` alone); a refused token is replaced once and the call repeated."""
        token = await self.access_token()
        body = await self._send(method, path, token, payload, params, files)
        if body.get("errcode") in TOKEN_ERRCODES:
            log.info("wecom access token refused, refreshing", extra={"errcode": body.get("errcode")})
            body = await self._send(method, path, await self.access_token(refused=token), payload, params, files)
        result = classify(body, path)
        if result.status is not SendStatus.OK:
            raise WeComError(result)
        return body

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        payload: dict[str, Any] | None,
        params: dict[str, str] | None,
        files: dict[str, Any] | None,
    ) -> dict[str, Any]:
        async with self._in_flight:
            return await call_api(
                self.http,
                method,
                self.credentials.api_base + path,
                path,
                params={"access_token": token, **(params or {})},
                payload=payload,
                files=files,
            )

    async def upload_image(self, image: Image) -> str:
        """media/upload (multipart field `media`, at most 1 MB): the media_id, valid for three days."""
        data = await anyio.to_thread.run_sync(lambda: image.data)  # drawing a chart would stall the loop
        body = await self.call(MEDIA_UPLOAD, params={"type": "image"}, files={"media": (image.name, data, image.mime)})
        media_id = body.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeComError(SendResult.retryable(f"{MEDIA_UPLOAD}: 应答缺少 media_id"))
        return media_id

    async def access_token(self, *, refused: str | None = None) -> str:
        """A valid token from memory or the database, or a fresh one from gettoken (stored for every process)."""
        remembered = self._remembered
        if remembered is not None:
            token, expires_at = remembered
            if token != refused and expires_at - TOKEN_REFRESH_MARGIN > self.clock.now():
                return token
            self._remembered = None
        cached = await anyio.to_thread.run_sync(self._cached, refused)
        if cached is not None:
            return cached
        async with self._refreshing:
            cached = await anyio.to_thread.run_sync(self._cached, refused)  # another task may have refreshed it
            if cached is not None:
                return cached
            return await self._fetch()

    def _cached(self, refused: str | None) -> str | None:
        with transaction(self.sessions) as session:
            row = Tokens(session).get(self.credentials.token_name)
            if row is None or row.token == refused or row.expires_at - TOKEN_REFRESH_MARGIN <= self.clock.now():
                return None
            self._remembered = (row.token, row.expires_at)
            return row.token

    async def _fetch(self) -> str:
        credentials = self.credentials
        async with self._in_flight:
            body = await call_api(
                self.http,
                "GET",
                f"{credentials.api_base}/cgi-bin/gettoken",
                "gettoken",
                params={"corpid": credentials.corp_id, "corpsecret": credentials.secret},
            )
        result = classify(body, "gettoken")
        token = body.get("access_token")
        if result.status is not SendStatus.OK:
            raise WeComError(result)
        if not isinstance(token, str) or not token:
            raise WeComError(SendResult.retryable("gettoken: 应答缺少 access_token"))
        now = self.clock.now()
        expires_at = now + timedelta(seconds=int(body.get("expires_in", 7200)))

        def store() -> None:  # overwrites the refused token, if that is what the row held
            try:
                with transaction(self.sessions) as session:
                    Tokens(session).put(credentials.token_name, token, expires_at=expires_at, now=now)
            except IntegrityError:
                # Another process inserted the first row at the same moment (PostgreSQL; SQLite's BEGIN IMMEDIATE
                # rules this out). WeCom hands out the same token while it is valid, so theirs will do.
                log.info("wecom access token stored by another process", extra={"name": credentials.token_name})

        await anyio.to_thread.run_sync(store)
        self._remembered = (token, expires_at)
        log.info("wecom access token fetched", extra={"expires_at": expires_at.isoformat()})
        return token


class WeComAppSender:
    """Channel wecom_app: text or markdown to one userid through message/send, long text in several parts."""

    channels: frozenset[str] = frozenset({Channel.WECOM_APP})

    def __init__(self, api: WeComApi) -> None:
        self.api = api

    async def send(self, message: OutboundMessage) -> SendResult:
        kind, content = ("markdown", message.markdown) if message.markdown else ("text", message.text)
        parts = split_by_bytes(content, TEXT_LIMIT)
        if not content.strip():
            return SendResult.permanent("消息内容为空")
        for number, part in enumerate(parts, 1):
            payload: dict[str, Any] = {
                "touser": message.target,
                "agentid": self.api.credentials.agent_id,
                "msgtype": kind,
                kind: {"content": part},
            }
            if message.key is not None:
                # A retried outbox row re-sends its earlier parts too; WeCom drops identical requests within the
                # interval, so the user sees each part once.
                payload |= {"enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}
            try:
                body = await self.api.call("/cgi-bin/message/send", payload)
            except WeComError as error:
                return _part_failed(error.result, number, len(parts))
            if body.get("invaliduser") or body.get("unlicenseduser"):
                # WeCom still answers 0 when some recipients were dropped, usually for being outside the app's
                # visible range (可见范围); with one recipient, that means nobody got it.
                return SendResult.permanent(f"接收人 {message.target} 不在应用可见范围内或无权限")
        return SendResult.ok(f"message/send: {len(parts)} 条")

    async def send_image(self, target: str, image: Image) -> SendResult:
        """A picture (a chart) to one userid: uploaded as media, then sent as an image app message."""
        try:
            media_id = await self.api.upload_image(image)
            await self.api.call(
                "/cgi-bin/message/send",
                {
                    "touser": target,
                    "agentid": self.api.credentials.agent_id,
                    "msgtype": "image",
                    "image": {"media_id": media_id},
                },
            )
        except WeComError as error:
            return error.result
        return SendResult.ok(f"image {image.name}")


class WeComRobotSender:
    """Channel wecom_robot: a group robot's webhook/send, text with @mobiles or markdown (docs/reminders.md)."""

    channels: frozenset[str] = frozenset({Channel.WECOM_ROBOT})

    def __init__(self, *, api_base: str, http: httpx.AsyncClient) -> None:
        self.url = api_base.rstrip("/") + "/cgi-bin/webhook/send"
        self.http = http

    async def send(self, message: OutboundMessage) -> SendResult:
        key = webhook_key(message.address)
        if key is None:
            return SendResult.permanent(f"群「{message.target}」的机器人 webhook 地址缺少 key")
        # Robot markdown cannot @ by mobile, so a message that mentions anyone goes as text.
        if message.markdown and not message.mentions:
            kind, content, limit = "markdown", message.markdown, ROBOT_MARKDOWN_LIMIT
        else:
            kind, content, limit = "text", message.text, TEXT_LIMIT
        if not content.strip():
            return SendResult.permanent("消息内容为空")
        parts = split_by_bytes(content, limit)
        for number, part in enumerate(parts, 1):
            body: dict[str, Any] = {"content": part}
            if kind == "text" and message.mentions and number == len(parts):
                body["mentioned_mobile_list"] = list(message.mentions)  # @ once, under the last part
            try:
                reply = await call_api(
                    self.http,
                    "POST",
                    self.url,
                    "webhook/send",
                    params={"key": key},
                    payload={"msgtype": kind, kind: body},
                )
            except WeComError as error:
                return _part_failed(error.result, number, len(parts))
            # Robots report errors as an errcode in an HTTP 200 body (45009 rate limit, 93000 invalid webhook).
            result = classify(reply, "webhook/send")
            if result.status is not SendStatus.OK:
                return _part_failed(result, number, len(parts))
        return SendResult.ok(f"webhook/send: {len(parts)} 条")


def webhook_key(address: str | None) -> str | None:
    """The key of a robot webhook, from its full URL (…/webhook/send?key=…) or given alone."""
    if not address or not address.strip():
        return None
    if "?" not in address and "/" not in address:
        return address.strip()
    keys = parse_qs(urlsplit(address.strip()).query).get("key")
    return keys[0] if keys else None


def _part_failed(result: SendResult, number: int, total: int) -> SendResult:
    if total == 1:
        return result
    return SendResult(result.status, f"第{number}/{total}段 {result.detail}", result.retry_after)


def build_senders(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock, http: httpx.AsyncClient
) -> list[Sender]:
    """The WeCom senders this configuration allows: robots always (a webhook key is all they need), the app
    once every DUBAN_WECOM_* setting is present."""
    senders: list[Sender] = [WeComRobotSender(api_base=settings.wecom_api_base, http=http)]
    if not missing_settings(settings):
        api = WeComApi(AppCredentials.from_settings(settings), sessions=sessions, clock=clock, http=http)
        senders.append(WeComAppSender(api))
    return senders
