"""A fake qyapi.weixin.qq.com on loopback: gettoken, message/send and webhook/send, recording every request.

It runs under uvicorn in a thread for the whole test session; tests point DUBAN_WECOM_API_BASE at it, script
refusals (`fail_next`), expire tokens on the server side, and read what reached it (`requests`, `wait_for`).
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CORP_ID = "wwduban00000001"
SECRET = "app-secret-for-tests"
ROBOT_KEY = "robot-key-0001"
GETTOKEN = "/cgi-bin/gettoken"
MESSAGE_SEND = "/cgi-bin/message/send"
WEBHOOK_SEND = "/cgi-bin/webhook/send"
MEDIA_UPLOAD = "/cgi-bin/media/upload"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    json: dict[str, Any] | None


class FakeQyapi:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.requests: list[Recorded] = []
        self._scripted: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._serial = itertools.count(1)
        self.valid_tokens: set[str] = set()
        self.issued_tokens: set[str] = set()
        self.app = Starlette(routes=[Route(GETTOKEN, self._gettoken), Route(MESSAGE_SEND, self._message_send,
                                                                           methods=["POST"]),
                                     Route(WEBHOOK_SEND, self._webhook_send, methods=["POST"]),
                                     Route(MEDIA_UPLOAD, self._media_upload, methods=["POST"])])
        self.url = ""

    # --- what tests use -----------------------------------------------------------------------------

    def reset(self) -> None:
        with self._changed:
            self.requests.clear()
            self._scripted.clear()
            self.valid_tokens.clear()
            self.issued_tokens.clear()
            self._serial = itertools.count(1)

    def fail_next(self, path: str, *answers: dict[str, Any]) -> None:
        """Answer the next calls to `path` with these bodies (HTTP 200, as WeCom does), then behave again."""
        with self._changed:
            self._scripted[path].extend(answers)

    def expire_tokens(self) -> None:
        """WeCom's side of expiry: every token issued so far now gets 42001."""
        with self._changed:
            self.valid_tokens.clear()

    def calls(self, path: str) -> list[Recorded]:
        with self._changed:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Block until `count` calls to `path` arrived (for sends made in the background after a response)."""
        with self._changed:
            self._changed.wait_for(lambda: len([r for r in self.requests if r.path == path]) >= count, timeout)
        return self.calls(path)

    # --- the fake API -----------------------------------------------------------------------------------

    async def _record(self, request: Request) -> dict[str, Any] | None:
        body = None
        if request.url.path == MEDIA_UPLOAD:  # multipart: record what the `media` field held
            form = await request.form()
            media = form.get("media")
            data = await media.read() if hasattr(media, "read") else b""
            body = {"filename": getattr(media, "filename", None), "content_type": getattr(media, "content_type", None),
                    "png": data.startswith(b"\x89PNG"), "bytes": len(data)}
        elif request.method == "POST":
            body = await request.json()
        with self._changed:
            self.requests.append(Recorded(request.method, request.url.path, dict(request.query_params), body))
            self._changed.notify_all()
            scripted = self._scripted[request.url.path]
            return scripted.pop(0) if scripted else None

    async def _gettoken(self, request: Request) -> JSONResponse:
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        if request.query_params.get("corpid") != CORP_ID:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid corpid"})
        if request.query_params.get("corpsecret") != SECRET:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        token = f"TOKEN-{next(self._serial)}"
        with self._changed:
            self.valid_tokens.add(token)
            self.issued_tokens.add(token)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    def _refused_token(self, request: Request) -> JSONResponse | None:
        token = request.query_params.get("access_token", "")
        if token not in self.issued_tokens:
            return JSONResponse({"errcode": 40014, "errmsg": "invalid access_token"})
        if token not in self.valid_tokens:
            return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def _message_send(self, request: Request) -> JSONResponse:
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        return self._refused_token(request) or JSONResponse({"errcode": 0, "errmsg": "ok", "invaliduser": "",
                                                             "msgid": "msg-1"})

    async def _media_upload(self, request: Request) -> JSONResponse:
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        if request.query_params.get("type") != "image":
            return JSONResponse({"errcode": 40004, "errmsg": "invalid media type"})
        return self._refused_token(request) or JSONResponse({"errcode": 0, "errmsg": "ok", "type": "image",
                                                             "media_id": f"MEDIA-{next(self._serial)}"})

    async def _webhook_send(self, request: Request) -> JSONResponse:
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        if request.query_params.get("key") != ROBOT_KEY:
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


class LoopbackServer:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1; the socket is bound before the thread starts,
    so the URL is usable at once (connections wait in the backlog until uvicorn accepts them)."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        host, port = self._socket.getsockname()
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
