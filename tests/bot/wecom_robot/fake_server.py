"""A fake WeCom 智能机器人 gateway on loopback, speaking the long-connection protocol as WeCom's page (document
path 101463) and its Node SDK (WecomTeam/aibot-node-sdk) describe it — plus a fake media host for downloads.

The gateway runs its own event loop in a thread, so the code under test can run in any loop (a test's
asyncio.run, or the app's under TestClient). It checks the bot id and secret of `aibot_subscribe`, answers
`ping`, acknowledges replies and proactive messages (refusing a reply whose req_id this connection never
issued, errcode 846605, as WeCom does after a reconnect), pushes callbacks, and records every frame. Knobs
script the failures: a refused or unanswered subscribe, unanswered pings, a dropped or superseded connection.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

BOT_ID = "aibRobotForTests01"
SECRET = "robot-secret-for-tests"
INVALID_REQ_ID = 846605
REPLY_COMMANDS = ("aibot_respond_msg", "aibot_respond_welcome_msg", "aibot_respond_update_msg")


@dataclass
class Connection:
    ws: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)  # req_ids of the callbacks pushed on this connection
    authenticated: bool = False
    open: bool = True


class FakeRobotServer:
    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.connections: list[Connection] = []
        self.auth_errcode = 0  # non-zero: refuse every subscribe with it
        self.answer_subscribe = True
        self.answer_pings = True
        self._serial = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-wecom-robot", daemon=True)
        self.url = ""

    def __enter__(self) -> FakeRobotServer:
        self._thread.start()
        self._server = self._run(self._serve())
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.close()
        self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def reset(self) -> None:
        self.drop()
        with self.changed:
            self.connections.clear()
            self.auth_errcode, self.answer_subscribe, self.answer_pings = 0, True, True

    # --- what tests read -----------------------------------------------------------------------------------

    def live(self) -> list[Connection]:
        with self.changed:
            return [c for c in self.connections if c.open]

    def frames(self, cmd: str) -> list[dict[str, Any]]:
        """Every frame with this cmd the bot sent, across connections, in order."""
        with self.changed:
            return [f for c in self.connections for f in c.received if f.get("cmd") == cmd]

    def replies(self) -> list[str]:
        """The finished stream replies' texts and the proactive markdown messages, in the order they arrived."""
        with self.changed:
            frames = [f for c in self.connections for f in c.received]
        texts = []
        for frame in frames:
            body = frame.get("body") or {}
            if frame.get("cmd") == "aibot_respond_msg" and body["stream"]["finish"]:
                texts.append(body["stream"]["content"])
            elif frame.get("cmd") == "aibot_send_msg" and body["msgtype"] == "markdown":
                texts.append(body["markdown"]["content"])
        return texts

    def cards(self) -> list[dict[str, Any]]:
        """The template cards the bot sent to chats (aibot_send_msg), each with its chatid."""
        return [
            {**f["body"]["template_card"], "chatid": f["body"]["chatid"]}
            for f in self.frames("aibot_send_msg")
            if f["body"]["msgtype"] == "template_card"
        ]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise AssertionError("the fake WeCom robot gateway never saw what the test waited for")

    # --- what tests do -------------------------------------------------------------------------------------

    def push(self, body: dict[str, Any], *, event: bool = False) -> str:
        """Deliver a callback on the newest authenticated connection; return its req_id."""
        [connection] = [c for c in self.live() if c.authenticated][-1:]
        req_id = f"callback-{next(self._serial)}"
        connection.issued.add(req_id)
        frame = {
            "cmd": "aibot_event_callback" if event else "aibot_msg_callback",
            "headers": {"req_id": req_id},
            "body": body,
        }
        self._run(connection.ws.send(json.dumps(frame, ensure_ascii=False)))
        return req_id

    def drop(self) -> None:
        """Close the live connections cleanly, as WeCom does when it restarts a gateway. Returns at once: the
        closing handshake needs the bot's loop, which may be the caller's."""
        for connection in self.live():
            asyncio.run_coroutine_threadsafe(connection.ws.close(), self._loop)

    # --- the gateway ---------------------------------------------------------------------------------------

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=5)

    async def _serve(self) -> Server:
        return await serve(self._handle, "127.0.0.1", 0)

    async def _handle(self, ws: ServerConnection) -> None:
        connection = Connection(ws)
        with self.changed:
            self.connections.append(connection)
            self.changed.notify_all()
        try:
            async for raw in ws:
                frame = json.loads(raw)
                with self.changed:
                    connection.received.append(frame)
                    self.changed.notify_all()
                answer = self._answer(connection, frame)
                if answer is not None:
                    await ws.send(json.dumps({"headers": {"req_id": frame["headers"]["req_id"]}, **answer}))
        except ConnectionClosed:
            pass
        finally:
            with self.changed:
                connection.open = False
                self.changed.notify_all()

    def _answer(self, connection: Connection, frame: dict[str, Any]) -> dict[str, Any] | None:
        cmd, body = frame.get("cmd"), frame.get("body") or {}
        if cmd == "aibot_subscribe":
            if not self.answer_subscribe:
                return None
            if self.auth_errcode or body.get("bot_id") != BOT_ID or body.get("secret") != SECRET:
                return {"errcode": self.auth_errcode or 40058, "errmsg": "invalid bot_id or secret"}
            with self.changed:
                connection.authenticated = True
                self.changed.notify_all()
            return {"errcode": 0, "errmsg": "ok"}
        if cmd == "ping":
            return {"errcode": 0, "errmsg": "ok"} if self.answer_pings else None
        if cmd in REPLY_COMMANDS and frame["headers"]["req_id"] not in connection.issued:
            return {"errcode": INVALID_REQ_ID, "errmsg": "invalid req_id"}
        return {"errcode": 0, "errmsg": "ok"}


# --- messages as WeCom sends them ---------------------------------------------------------------------------

_msg_ids = itertools.count(1)


def text_message(user: str, text: str, *, group: str | None = None, msg_id: str | None = None) -> dict[str, Any]:
    """An aibot_msg_callback body: a one-to-one text, or a group text (whose text keeps its @-mentions)."""
    body: dict[str, Any] = {
        "msgid": msg_id or f"CAIQ16HMjQYY{next(_msg_ids):06d}",
        "aibotid": BOT_ID,
        "chattype": "group" if group else "single",
        "from": {"userid": user},
        "msgtype": "text",
        "text": {"content": text},
    }
    if group:
        body["chatid"] = group
    return body


def event(user: str, event_type: str, **details: Any) -> dict[str, Any]:
    """An aibot_event_callback body, details nested under the event type's name as WeCom's page shows."""
    payload: dict[str, Any] = {"eventtype": event_type}
    if details:
        payload[event_type] = details
    return {
        "msgid": f"EVT{next(_msg_ids):06d}",
        "create_time": 1700000000,
        "aibotid": BOT_ID,
        "chattype": "single",
        "from": {"userid": user},
        "msgtype": "event",
        "event": payload,
    }


def click(user: str, card: dict[str, Any], label: str, *, msg_id: str | None = None) -> dict[str, Any]:
    """The template_card_event WeCom pushes when `user` clicks the button labelled `label` on `card`."""
    [button] = [b for b in card["button_list"] if b["text"] == label]
    body = event(
        user, "template_card_event", card_type="button_interaction", event_key=button["key"], task_id=card["task_id"]
    )
    if msg_id:
        body["msgid"] = msg_id
    if card["chatid"] != user:
        body |= {"chattype": "group", "chatid": card["chatid"]}
    return body


# --- the media host -----------------------------------------------------------------------------------------


def encrypt(plaintext: bytes, aes_key: str) -> bytes:
    """What WeCom serves at an attachment's url: AES-256-CBC, IV = key[:16], PKCS#7 padded to 32 bytes."""
    key = base64.b64decode(aes_key + "=" * (-len(aes_key) % 4))
    pad = 32 - len(plaintext) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()


def new_aes_key() -> str:
    """A per-message key as WeCom writes it: base64 of 32 bytes, without the trailing '='."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


class FakeMediaHost:
    """Serves encrypted attachments for five minutes' worth of tests: `put` returns the url to put in a message."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.base_url = ""
        self.app = Starlette(routes=[Route("/media/{name}", self._get)])

    def put(self, ciphertext: bytes, filename: str) -> str:
        name = f"m{len(self.files) + 1}"
        self.files[name] = (ciphertext, filename)
        return f"{self.base_url}/media/{name}"

    async def _get(self, request: Request) -> Response:
        found = self.files.get(request.path_params["name"])
        if found is None:
            return Response(status_code=404)
        data, filename = found
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
        )
