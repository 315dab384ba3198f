"""`/wecom/callback`: the self-built app's URL verification (GET) and encrypted messages (POST), docs/architecture.md.

A POST is checked in this order, and nothing is written unless all pass: body size (413, BodyLimit), a
well-formed envelope without DTD (400), the signature (403), the timestamp skew (403), decryption for this
corp (400). Text goes through the Dispatcher in a worker thread; its reply goes back passively as encrypted
XML if it is ready within the reply budget, otherwise the callback answers an empty 200 (so WeCom does not
retry) and the reply follows as an app message. A database outage inside the budget answers 503, so WeCom
retries.
"""

from __future__ import annotations

import functools
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated

import anyio.to_thread
import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from wechatpy.messages import BaseMessage
from wechatpy.work.messages import TextMessage

from bot.inbound import Answering, patiently, queue_reply
from bot.media import RETRY_PAUSES, download
from bot.observability import note_callback
from bot.services import Services
from bot.wecom import media, texts
from bot.wecom.client import (
    TEXT_LIMIT,
    AppCredentials,
    WeComApi,
    WeComAppSender,
    missing_settings,
    split_by_bytes,
)
from bot.wecom.crypto import CallbackRejected, WeComCrypto, message_type, read_envelope
from core.channels import Channel, Platform
from handlers.message import IncomingMessage, Reply
from scheduler.outbound import OutboundMessage, SendStatus

log = logging.getLogger("duban.wecom")

PLATFORM = Platform.WECOM
DEFAULT_MAX_SKEW = 300  # seconds (DUBAN_CALLBACK_MAX_SKEW, README: 配置)
GREETED_EVENTS = frozenset({"enter_agent", "subscribe"})
HELP = "帮助"
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# The event loop and the Dispatcher's thread share the GIL. The thread lets go of it in every SQLite call and
# when it hands its result to the loop, and with Python's default 5 ms interval it can then wait that long for
# the loop to give it back while it holds the database's only write lock. 1 ms hands it back sooner
# (bench/NOTES.md has the measurements).
GIL_SWITCH_INTERVAL = 0.001  # seconds


@dataclass
class WeComChannel:
    """What the callback needs once the app has started: keys, the app-message sender and its budget."""

    crypto: WeComCrypto
    sender: WeComAppSender
    answering: Answering  # the reply budget, and replies still going out as app messages
    max_skew: int
    agent_id: int | None = None  # DUBAN_WECOM_AGENT_ID: messages for another app are refused
    media_pauses: tuple[float, ...] = RETRY_PAUSES  # between tries of a failed media download


@asynccontextmanager
async def wecom_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the channel with one HTTP client for the app's life, when every DUBAN_WECOM_* setting is there."""
    services: Services = app.state.services
    settings = services.settings
    app.state.wecom = None
    if missing_settings(settings):
        yield
        return
    assert settings.wecom_token and settings.wecom_aes_key and settings.wecom_corp_id
    crypto = WeComCrypto(
        token=settings.wecom_token.get_secret_value(),
        aes_key=settings.wecom_aes_key.get_secret_value(),
        corp_id=settings.wecom_corp_id,
    )
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        api = WeComApi(
            AppCredentials.from_settings(settings), sessions=services.sessions, clock=services.clock, http=http
        )
        channel = WeComChannel(
            crypto=crypto,
            sender=WeComAppSender(api),
            answering=Answering(services, channel=PLATFORM, budget=settings.wecom_reply_budget),
            max_skew=settings.callback_max_skew or DEFAULT_MAX_SKEW,
            agent_id=settings.wecom_agent_id,
        )
        app.state.wecom = channel
        log.info("wecom channel on", extra={"corp_id": settings.wecom_corp_id, "agent_id": settings.wecom_agent_id})
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, GIL_SWITCH_INTERVAL))
        try:
            yield
        finally:
            sys.setswitchinterval(switch_interval)
            await channel.answering.drain(timeout=HTTP_TIMEOUT.read)  # let replies on their way finish


router = APIRouter(tags=["wecom"], lifespan=wecom_lifespan)


async def wecom_channel(request: Request) -> WeComChannel:
    """The started channel. Async on purpose: FastAPI runs a sync dependency in a worker thread, one more
    thread hop per callback for a dictionary lookup."""
    channel: WeComChannel | None = getattr(request.app.state, "wecom", None)
    if channel is None:
        missing = missing_settings(request.app.state.services.settings)
        if missing:
            raise HTTPException(404, f"企业微信通道未启用：缺少 {'、'.join(missing)}")
        raise HTTPException(503, "企业微信通道尚未启动")
    return channel


ChannelDep = Annotated[WeComChannel, Depends(wecom_channel)]
SignatureQuery = Annotated[str | None, Query(max_length=128)]


def _required(**params: str | None) -> dict[str, str]:
    missing = [name for name, value in params.items() if not value]
    if missing:
        raise CallbackRejected(400, f"缺少参数 {'、'.join(missing)}")
    return {name: value for name, value in params.items() if value}


def _reject(rejected: CallbackRejected) -> HTTPException:
    log.warning("wecom callback rejected", extra={"status": rejected.status, "reason": rejected.reason})
    return HTTPException(rejected.status, rejected.reason)


@router.get(
    "/wecom/callback", response_class=PlainTextResponse, summary="企业微信回调 URL 验证：解密 echostr 并原样返回明文"
)
def verify_url(
    channel: ChannelDep,
    msg_signature: SignatureQuery = None,
    timestamp: SignatureQuery = None,
    nonce: SignatureQuery = None,
    echostr: Annotated[str | None, Query(max_length=4096)] = None,
) -> PlainTextResponse:
    try:
        query = _required(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr)
        # base64 has no spaces: a space is a '+' that a proxy left unencoded and the query parser decoded.
        encrypted = query["echostr"].replace(" ", "+")
        channel.crypto.check_signature(query["msg_signature"], query["timestamp"], query["nonce"], encrypted)
        plaintext = channel.crypto.decrypt(encrypted)
    except CallbackRejected as rejected:
        raise _reject(rejected) from None
    log.info("wecom callback URL verified")
    return PlainTextResponse(plaintext)  # the bare plaintext: WeCom refuses to save the URL on anything else


@router.post("/wecom/callback", response_class=Response, summary="企业微信加密消息回调（被动回复加密 XML）")
async def receive(
    request: Request,
    channel: ChannelDep,
    msg_signature: SignatureQuery = None,
    timestamp: SignatureQuery = None,
    nonce: SignatureQuery = None,
) -> Response:
    services: Services = request.app.state.services
    now = services.clock.now()
    try:
        query = _required(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce)
        envelope = read_envelope(await request.body())
        channel.crypto.check_signature(query["msg_signature"], query["timestamp"], query["nonce"], envelope.encrypt)
        _check_skew(query["timestamp"], now, channel.max_skew)
        message = channel.crypto.read_message(channel.crypto.decrypt(envelope.encrypt))
        channel.crypto.check_agent(message, channel.agent_id)
        incoming, greeting = _incoming(message, now)
    except CallbackRejected as rejected:
        raise _reject(rejected) from None
    msg_type = message_type(message)
    log.info("wecom callback", extra={"msg_type": msg_type, "wecom_event": getattr(message, "event", None)})

    if incoming is None and msg_type in media.MEDIA_TYPES:
        try:
            media.check(message)
        except CallbackRejected as rejected:
            raise _reject(rejected) from None
        # Acknowledged at once (a 20 MB download does not fit WeCom's 5 seconds); the reply follows as an app message.
        channel.answering.later(_receive_media(channel, services, message, now))
        return Response(status_code=200)
    if incoming is None:
        if msg_type == "event":
            return Response(status_code=200)  # events without a greeting need no answer
        return _passive(channel, message, texts.TEXT_ONLY, now)
    reply = await channel.answering.answer(
        PLATFORM,
        incoming,
        deliver=lambda late: _reply_late(channel, services, incoming, greeting, late),
        failed=lambda: _send(channel, incoming.user_id, texts.LATE_FAILURE),
    )
    if reply is None:
        return Response(status_code=200)
    if not reply.duplicate and (reply.markdown or reply.images):
        # A passive reply carries text only: markdown and charts go as app messages (a retry of this message
        # gets the plain text passively, from the record).
        channel.answering.later(_send_rich(channel, services, incoming, greeting, reply))
        if reply.markdown:
            return Response(status_code=200)
    text = greeting + "\n\n".join(reply.texts)
    parts = split_by_bytes(text, TEXT_LIMIT)
    if len(parts) > 1 and not reply.duplicate:  # a redelivery's overflow already went out the first time
        channel.answering.later(_send(channel, incoming.user_id, "".join(parts[1:])))
    return _passive(channel, message, parts[0], now)


def _check_skew(timestamp: str, now: datetime, max_skew: int) -> None:
    if not timestamp.isdigit():
        raise CallbackRejected(400, "timestamp 不是整数")
    skew = int(now.timestamp()) - int(timestamp)
    if abs(skew) > max_skew:
        log.warning("wecom callback timestamp skew too large", extra={"skew_seconds": skew, "max_skew": max_skew})
        note_callback("stale")
        raise CallbackRejected(403, f"timestamp 与服务器时间相差 {skew} 秒，超过 {max_skew} 秒")


def _incoming(message: BaseMessage, now: datetime) -> tuple[IncomingMessage | None, str]:
    """The message for the Dispatcher (None when there is nothing to dispatch) and a greeting to put first.

    Events carry no MsgId; WeCom's retries repeat FromUserName and CreateTime, which identify them instead.
    A greeted event is dispatched as 帮助, so the user gets the menu for their role, and a retried event the
    same menu again without a second record.
    """
    try:
        if isinstance(message, TextMessage):
            if not message.id:
                raise CallbackRejected(400, "文本消息缺少 MsgId")
            content = message.content if message.content is not None else ""
            if not isinstance(content, str):
                raise CallbackRejected(400, "Content 格式错误")
            return IncomingMessage(
                platform=PLATFORM, user_id=message.source, text=content, received_at=now, message_id=str(message.id)
            ), ""
        if str(getattr(message, "event", "")).lower() in GREETED_EVENTS:
            if not message.time:
                raise CallbackRejected(400, "事件缺少 CreateTime")
            event_id = f"event:{message.source}:{message.time}"
            return IncomingMessage(
                platform=PLATFORM, user_id=message.source, text=HELP, received_at=now, message_id=event_id
            ), texts.GREETING + "\n"
    except (TypeError, ValueError) as error:  # wechatpy converts fields (MsgId, CreateTime) when they are read
        raise CallbackRejected(400, "消息字段格式错误") from error
    return None, ""


async def _reply_late(
    channel: WeComChannel, services: Services, incoming: IncomingMessage, greeting: str, reply: Reply
) -> None:
    """A reply that missed the budget, as app messages."""
    if reply.markdown or reply.images:
        await _send_rich(channel, services, incoming, greeting, reply)
    if not reply.markdown:
        await _send(channel, incoming.user_id, greeting + "\n\n".join(reply.texts))


async def _send_rich(
    channel: WeComChannel, services: Services, incoming: IncomingMessage, greeting: str, reply: Reply
) -> None:
    """What a passive reply cannot carry, as app messages: the reply as markdown, then its charts."""
    if reply.markdown:
        message = OutboundMessage(
            channel=Channel.WECOM_APP,
            target=incoming.user_id,
            text=greeting + "\n\n".join(reply.texts),
            markdown=greeting + reply.markdown,
            key=f"wecom-reply:{incoming.message_id}",
        )
        result = await patiently(lambda: channel.sender.send(message))
        if result.status is SendStatus.PERMANENT:  # markdown refused (an old client, a bad tag): plain text then
            message = replace(message, markdown=None)
            result = await patiently(lambda: channel.sender.send(message))
        if result.status is SendStatus.RETRYABLE:
            # The user already has WeCom's 200 and nothing else: leave the reply to the outbox, which retries.
            try:
                await anyio.to_thread.run_sync(queue_reply, services, message)
            except SQLAlchemyError as error:
                log.error(
                    "wecom reply lost: platform and database both unavailable", extra={"error": type(error).__name__}
                )
        elif result.status is not SendStatus.OK:
            log.error("wecom reply not delivered", extra={"status": str(result.status), "detail": result.detail})
    for image in reply.images:
        result = await patiently(functools.partial(channel.sender.send_image, incoming.user_id, image))
        if result.status is not SendStatus.OK:  # the numbers are in the text; the chart only illustrates them
            log.warning("wecom chart not delivered", extra={"status": str(result.status), "detail": result.detail})


async def _receive_media(channel: WeComChannel, services: Services, message: BaseMessage, now: datetime) -> None:
    """Fetch a picture or file (retried with back-off), hand it to the Dispatcher, send its reply."""
    fields = message._data  # wechatpy models no file message; the parsed XML has MediaId and, for files, Title
    media_id, msg_id = str(fields.get("MediaId") or ""), str(fields.get("MsgId") or "")
    fallback = "图片.jpg" if message_type(message) == "image" else ""
    name = str(fields.get("Title") or fields.get("FileName") or fallback)
    attachment = await download(
        lambda: media.fetch(channel.sender.api, media_id, name),
        name=name,
        platform=PLATFORM,
        pauses=channel.media_pauses,
    )
    incoming = IncomingMessage(
        platform=PLATFORM,
        user_id=message.source,
        text="",
        received_at=now,
        message_id=msg_id or None,
        attachment=attachment,
    )
    try:
        reply = await services.handle(PLATFORM, incoming)
    except SQLAlchemyError as error:
        log.error("wecom file failed: database error", extra={"error": type(error).__name__})
        await _send(channel, incoming.user_id, texts.LATE_FAILURE)
        return
    finally:
        if attachment.staged is not None:
            attachment.staged.discard()
    if not reply.duplicate:
        await _send(channel, incoming.user_id, "\n\n".join(reply.texts))


async def _send(channel: WeComChannel, user_id: str, text: str) -> None:
    """Send a late reply (or its overflow) as an app message, logging what could not be delivered."""
    result = await patiently(
        lambda: channel.sender.send(OutboundMessage(channel=Channel.WECOM_APP, target=user_id, text=text))
    )
    if result.status is not SendStatus.OK:
        log.error("wecom app message not delivered", extra={"status": str(result.status), "detail": result.detail})


def _passive(channel: WeComChannel, message: BaseMessage, text: str, now: datetime) -> Response:
    xml = channel.crypto.encrypt_reply(message, text, timestamp=int(now.timestamp()), nonce=secrets.token_hex(8))
    return Response(xml, media_type="application/xml; charset=utf-8")
