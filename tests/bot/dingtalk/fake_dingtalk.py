"""A fake DingTalk on loopback: the APIs duban calls, checking what DingTalk checks, recording every request.

Served by uvicorn in a thread on 127.0.0.1 (a socket bound and listening before the thread starts, so no
request can arrive too early). Tests point DUBAN_DINGTALK_API_BASE and DUBAN_DINGTALK_STREAM_API_BASE at it.
Its signature check is written here independently of bot/dingtalk/signing.py, as DingTalk documents it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

GETTOKEN = "/gettoken"
WORK = "/topapi/message/corpconversation/asyncsend_v2"
ROBOT = "/robot/send"
SESSION = "/robot/sendBySession"
UPLOAD = "/media/upload"
OPEN_CONNECTION = "/v1.0/gateway/connections/open"
STREAM = "/stream"
STREAM_ACK = "/stream#ack"


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """HmacSHA256 over timestamp + "\\n" + secret, keyed with the secret, then Base64 (DingTalk's docs)."""
    mac = hmac.new(secret.encode("utf-8"), (timestamp + "\n" + secret).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


class FakeDingTalk:
    APP_KEY = "dingfakeappkey0001"
    APP_SECRET = "fake-app-secret-Zx8Yw7Vu6Ts5"
    AGENT_ID = 2847561234

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frames: asyncio.Queue[dict[str, Any]] | None = None
        self.base_url = ""
        self.reset()
        self.app = Starlette(routes=[
            Route(GETTOKEN, self._gettoken, methods=["GET"]),
            Route(WORK, self._work, methods=["POST"]),
            Route(UPLOAD, self._upload, methods=["POST"]),
            Route(ROBOT, self._robot, methods=["POST"]),
            Route(SESSION, self._session, methods=["POST"]),
            Route(OPEN_CONNECTION, self._open_connection, methods=["POST"]),
            WebSocketRoute(STREAM, self._stream),
        ], lifespan=self._lifespan)

    def reset(self) -> None:
        with self._lock:
            self._ids = itertools.count(1)
            self._calls: list[Call] = []
            self._scripted: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            self.robots: dict[str, str | None] = {}  # access_token → 加签 secret (None: unsigned robot)
            self.tokens: list[str] = []
            self.revoked: set[str] = set()

    # --- what tests use -----------------------------------------------------------------------------------

    def add_robot(self, access_token: str, secret: str | None = None) -> str:
        self.robots[access_token] = secret
        return f"https://oapi.dingtalk.com{ROBOT}?access_token={access_token}"

    def script(self, path: str, answer: dict[str, Any], status: int = 200) -> None:
        """Answer the next request on `path` with this instead of the normal behaviour."""
        with self._lock:
            self._scripted.setdefault(path, []).append((status, answer))

    def calls(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `count` requests reached `path` (the bot sends some from background tasks)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len([c for c in self._calls if c.path == path]) >= count, timeout):
                raise AssertionError(f"expected {count} request(s) to {path}, got {len(self.calls(path))}")
            return [c for c in self._calls if c.path == path]

    def push_frame(self, frame: dict[str, Any]) -> None:
        """Send a frame to the connected Stream client."""
        assert self._loop is not None and self._frames is not None
        self._loop.call_soon_threadsafe(self._frames.put_nowait, frame)

    # --- the fake platform -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._loop, self._frames = asyncio.get_running_loop(), asyncio.Queue()
        yield

    def _record(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            self._calls.append(Call(method, path, query, body))
            self._lock.notify_all()
            queue = self._scripted.get(path)
            return queue.pop(0) if queue else None

    async def _receive(self, request: Request) -> tuple[dict[str, str], Any, JSONResponse | None]:
        query = dict(request.query_params)
        if request.url.path == UPLOAD:  # multipart: record what the `media` field held
            media = (await request.form()).get("media")
            data = await media.read() if hasattr(media, "read") else b""
            body: Any = {"filename": getattr(media, "filename", None), "png": data.startswith(b"\x89PNG"),
                         "bytes": len(data)}
        else:
            raw = await request.body()
            body = json.loads(raw) if raw else None
        scripted = self._record(request.method, request.url.path, query, body)
        return query, body, JSONResponse(scripted[1], status_code=scripted[0]) if scripted else None

    async def _gettoken(self, request: Request) -> JSONResponse:
        query, _, scripted = await self._receive(request)
        if scripted:
            return scripted
        if query.get("appkey") != self.APP_KEY or query.get("appsecret") != self.APP_SECRET:
            return JSONResponse({"errcode": 40089, "errmsg": "不合法的appKey或appSecret"})
        token = f"fake-token-{len(self.tokens) + 1}"
        self.tokens.append(token)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def _work(self, request: Request) -> JSONResponse:
        query, body, scripted = await self._receive(request)
        if scripted:
            return scripted
        token = query.get("access_token")
        if token not in self.tokens or token in self.revoked:
            return JSONResponse({"errcode": 40014, "errmsg": "不合法的access_token"})
        if body.get("agent_id") != self.AGENT_ID or not body.get("userid_list") or "msg" not in body:
            return JSONResponse({"errcode": 40035, "errmsg": "缺少参数"})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "task_id": next(self._ids), "request_id": "fake"})

    async def _upload(self, request: Request) -> JSONResponse:
        query, body, scripted = await self._receive(request)
        if scripted:
            return scripted
        if query.get("access_token") not in self.tokens or query.get("access_token") in self.revoked:
            return JSONResponse({"errcode": 40014, "errmsg": "不合法的access_token"})
        if query.get("type") != "image" or not body["bytes"]:
            return JSONResponse({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "type": "image", "media_id": f"@lADO{next(self._ids)}"})

    async def _robot(self, request: Request) -> JSONResponse:
        query, _, scripted = await self._receive(request)
        if scripted:
            return scripted
        token = query.get("access_token", "")
        if token not in self.robots:
            return JSONResponse({"errcode": 300001, "errmsg": "token is not exist"})
        secret = self.robots[token]
        if secret is not None:
            timestamp, signature = query.get("timestamp", ""), query.get("sign", "")
            if not timestamp or not hmac.compare_digest(signature, dingtalk_sign(timestamp, secret)):
                return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _session(self, request: Request) -> JSONResponse:
        _, _, scripted = await self._receive(request)
        return scripted or JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _open_connection(self, request: Request) -> JSONResponse:
        _, body, scripted = await self._receive(request)
        if scripted:
            return scripted
        if body.get("clientId") != self.APP_KEY or body.get("clientSecret") != self.APP_SECRET:
            return JSONResponse({"code": "InvalidAuthentication"}, status_code=401)
        endpoint = self.base_url.replace("http://", "ws://") + STREAM
        return JSONResponse({"endpoint": endpoint, "ticket": "fake-ticket-1"})

    async def _stream(self, websocket: WebSocket) -> None:
        assert self._frames is not None
        await websocket.accept()
        self._record("WS", STREAM, dict(websocket.query_params), None)

        async def acks() -> None:
            while True:
                self._record("WS", STREAM_ACK, {}, json.loads(await websocket.receive_text()))

        reader = asyncio.create_task(acks())
        try:
            while True:
                next_frame = asyncio.create_task(self._frames.get())
                await asyncio.wait({next_frame, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader.done():  # the client went away
                    next_frame.cancel()
                    break
                await websocket.send_text(json.dumps(next_frame.result(), ensure_ascii=False))
        except WebSocketDisconnect:
            pass
        finally:
            reader.cancel()


class LoopbackServer:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1, on a port the OS picks."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
