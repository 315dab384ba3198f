"""The frames of WeCom's 智能机器人 long connection (deploy/wecom.md describes the protocol and its sources).

Every frame is one JSON text message: `{"cmd": …, "headers": {"req_id": …}, "body": {…}}`. WeCom answers a
command with a frame that has no `cmd`, the command's `req_id`, and `errcode`/`errmsg`. Callbacks from WeCom
carry their own `req_id`, which the bot's replies to that callback must reuse.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

DEFAULT_WS_URL = "wss://openws.work.weixin.qq.com"

# bot → WeCom
SUBSCRIBE = "aibot_subscribe"  # authenticate: body {bot_id, secret}
PING = "ping"  # heartbeat, no body
RESPOND = "aibot_respond_msg"  # reply to a message callback (its req_id)
RESPOND_WELCOME = "aibot_respond_welcome_msg"  # reply to enter_chat, within 5 seconds
RESPOND_UPDATE = "aibot_respond_update_msg"  # replace a clicked template card, within 5 seconds
SEND = "aibot_send_msg"  # proactive message to a chat: body {chatid, msgtype, …}
# WeCom → bot
MESSAGE_CALLBACK = "aibot_msg_callback"
EVENT_CALLBACK = "aibot_event_callback"

# Stream replies: one message grows as frames with the same stream id arrive; `content` is the whole text so
# far, at most 20,480 bytes of UTF-8.
STREAM_MAX_BYTES = 20480


class ProtocolError(ValueError):
    """A frame that is not JSON of the documented shape."""


@dataclass(frozen=True)
class Frame:
    """One frame in either direction; `cmd` is empty on WeCom's answers to the bot's commands."""

    cmd: str
    req_id: str
    body: dict[str, Any] = field(default_factory=dict)
    errcode: int | None = None
    errmsg: str = ""

    def encode(self) -> str:
        frame: dict[str, Any] = {"cmd": self.cmd, "headers": {"req_id": self.req_id}}
        if self.body:
            frame["body"] = self.body
        return json.dumps(frame, ensure_ascii=False)


def new_req_id(cmd: str) -> str:
    """A fresh request id, prefixed with the command as WeCom's SDKs do (`ping_…`)."""
    return f"{cmd}_{secrets.token_hex(8)}"


def decode(raw: str | bytes) -> Frame:
    """Parse one received frame; raise ProtocolError for anything but a JSON object with headers.req_id."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    headers = data.get("headers")
    req_id = headers.get("req_id") if isinstance(headers, dict) else None
    if not isinstance(req_id, str) or not req_id:
        raise ProtocolError("headers.req_id missing")
    cmd, body, errcode = data.get("cmd") or "", data.get("body") or {}, data.get("errcode")
    if not isinstance(cmd, str) or not isinstance(body, dict):
        raise ProtocolError("cmd or body of the wrong type")
    if errcode is not None and not isinstance(errcode, int):
        raise ProtocolError("errcode is not an integer")
    return Frame(cmd=cmd, req_id=req_id, body=body, errcode=errcode, errmsg=str(data.get("errmsg") or ""))


def stream_body(stream_id: str, content: str, *, finish: bool) -> dict[str, Any]:
    """A stream reply frame's body; content is markdown."""
    return {"msgtype": "stream", "stream": {"id": stream_id, "finish": finish, "content": content}}


def markdown_body(content: str) -> dict[str, Any]:
    """A proactive (aibot_send_msg) or welcome message's body."""
    return {"msgtype": "markdown", "markdown": {"content": content}}
