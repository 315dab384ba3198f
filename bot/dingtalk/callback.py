"""POST /dingtalk/callback: the robot's HTTP receiving mode (消息接收模式: HTTP).

Order of checks: body size (the BodyLimit middleware, 413), the `sign` header (403), the `timestamp`
header within DUBAN_CALLBACK_MAX_SKEW of the server clock (default one hour, DingTalk's own rule; 403),
then the JSON body (400), then the signature's first use (403). Nothing is written before all of them pass.

DingTalk's signature covers only the timestamp, so for as long as the timestamp is accepted the same headers
would carry any body: each signature is recorded, in the database every replica shares, with the body it first
came with, and refused with another (storage.repos.Signatures). Two genuine messages signed in the same
millisecond look exactly like that too; the second is refused and logged (Stream mode has no such signature).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from bot.dingtalk.channel import RobotChannel
from bot.dingtalk.clients import text_reply
from bot.dingtalk.inbound import PayloadError, parse
from bot.dingtalk.signing import is_valid, millis
from bot.observability import note_callback
from bot.services import Services
from core.channels import Platform
from storage.db import transaction
from storage.repos import Signatures

log = logging.getLogger("duban.dingtalk")
router = APIRouter(tags=["dingtalk"])

DEFAULT_MAX_SKEW = 3600  # seconds: DingTalk treats a timestamp an hour off as forged


def _channel(request: Request) -> RobotChannel:
    channel: RobotChannel | None = getattr(request.app.state, "dingtalk", None)
    if channel is None:
        raise HTTPException(404, "钉钉通道未配置（DUBAN_DINGTALK_APP_KEY、DUBAN_DINGTALK_APP_SECRET）")
    return channel


@router.post("/dingtalk/callback", summary="钉钉机器人消息（HTTP 模式）")
async def callback(
    request: Request, timestamp: Annotated[str | None, Header()] = None, sign: Annotated[str | None, Header()] = None
) -> JSONResponse:
    channel = _channel(request)
    settings = channel.services.settings
    secret = settings.dingtalk_app_secret
    assert secret is not None  # a channel exists only with an app secret
    if not timestamp or not sign or not is_valid(timestamp, sign, secret.get_secret_value()):
        log.warning("dingtalk callback refused: bad signature")
        raise HTTPException(403, "签名校验失败")
    if not timestamp.isdigit():
        raise HTTPException(403, "timestamp 应为毫秒时间戳")
    skew = abs(millis(channel.services.clock.now()) - int(timestamp)) / 1000
    max_skew = settings.callback_max_skew or DEFAULT_MAX_SKEW
    if skew > max_skew:
        log.warning(
            "dingtalk callback refused: timestamp is %.0f s from the server clock (limit %d s)",
            skew,
            max_skew,
            extra={"skew_seconds": round(skew), "max_skew_seconds": max_skew},
        )
        note_callback("stale")
        raise HTTPException(403, f"timestamp 与服务器时间相差 {skew:.0f} 秒，超过 {max_skew} 秒")
    try:
        payload: Any = json.loads(await request.body())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # RecursionError: [[[[… nested too deep
        raise HTTPException(400, "消息体不是有效的 JSON") from error
    try:
        inbound = parse(payload, now=channel.services.clock.now())
    except PayloadError as error:
        raise HTTPException(400, str(error)) from error
    signed_at = datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC)
    if not await asyncio.to_thread(
        _first_use, channel.services, sign, await request.body(), signed_at + timedelta(seconds=max_skew)
    ):
        log.warning(
            "dingtalk callback refused: signature already used with another body", extra={"msg_id": inbound.msg_id}
        )
        raise HTTPException(403, "签名已被另一条消息使用过（疑似重放），已拒绝")
    log.info(
        "dingtalk message", extra={"msg_id": inbound.msg_id, "group": inbound.is_group, "addressed": inbound.addressed}
    )
    reply = await channel.answer(inbound)
    if reply is None or not reply.texts:
        return JSONResponse({})
    return JSONResponse(
        text_reply("\n\n".join(reply.texts), inbound.staff_id if inbound.is_group else None, reply.markdown)
    )


def _first_use(services: Services, signature: str, body: bytes, expires_at: datetime) -> bool:
    with transaction(services.sessions) as session:
        return Signatures(session).first_use(
            Platform.DINGTALK,
            signature,
            hashlib.sha256(body).hexdigest(),
            now=services.clock.now(),
            expires_at=expires_at,
        )
