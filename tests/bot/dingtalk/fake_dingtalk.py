"""A fake DingTalk on loopback: the APIs duban calls, checking what DingTalk checks, recording every request; and
DingTalk's sign-in: the sign-in page (as the browser meets it), the user token, contact/users/me, getbyunionid and
the in-app 免登 code's getuserinfo.

Served by uvicorn in a thread on 127.0.0.1 (a socket bound and listening before the thread starts, so no
request can arrive too early). Tests point DUBAN_DINGTALK_API_BASE, DUBAN_DINGTALK_STREAM_API_BASE and the
sign-in page's address at it. Its signature check is written here independently of bot/dingtalk/signing.py, as
DingTalk documents it.
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
from urllib.parse import quote, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
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
AUTHORIZE = "/oauth2/auth"  # on login.dingtalk.com
USER_TOKEN = "/v1.0/oauth2/userAccessToken"  # new-style OpenAPI (api.dingtalk.com)
ME = "/v1.0/contact/users/me"
BY_UNIONID = "/topapi/user/getbyunionid"
INAPP_USERINFO = "/topapi/v2/user/getuserinfo"
FILE_DOWNLOAD = "/v1.0/robot/messageFiles/download"  # new-style OpenAPI: downloadCode → a short-lived URL
FILE_URL = "/fake-oss/{key}"  # where that URL points
ROBOT_CODE = "dingq1w2e3r4t5y6u7i8"  # the robot of the recorded payloads (their robotCode)
OUTSIDER = "outsider:"  # signed_in_as("outsider:…"): a DingTalk user who is not in the organisation


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
        self.app = Starlette(
            routes=[
                Route(GETTOKEN, self._gettoken, methods=["GET"]),
                Route(WORK, self._work, methods=["POST"]),
                Route(UPLOAD, self._upload, methods=["POST"]),
                Route(ROBOT, self._robot, methods=["POST"]),
                Route(SESSION, self._session, methods=["POST"]),
                Route(OPEN_CONNECTION, self._open_connection, methods=["POST"]),
                Route(AUTHORIZE, self._authorize, methods=["GET"]),
                Route(USER_TOKEN, self._user_token, methods=["POST"]),
                Route(ME, self._me, methods=["GET"]),
                Route(BY_UNIONID, self._by_unionid, methods=["POST"]),
                Route(INAPP_USERINFO, self._inapp_userinfo, methods=["POST"]),
                Route(FILE_DOWNLOAD, self._file_download, methods=["POST"]),
                Route(FILE_URL, self._file_url, methods=["GET"]),
                WebSocketRoute(STREAM, self._stream),
            ],
            lifespan=self._lifespan,
        )

    def reset(self) -> None:
        with self._lock:
            self._ids = itertools.count(1)
            self._calls: list[Call] = []
            self._scripted: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            self.robots: dict[str, str | None] = {}  # access_token → 加签 secret (None: unsigned robot)
            self.tokens: list[str] = []
            self.revoked: set[str] = set()
            self.redirect_host = "testserver"  # the app's 重定向URL (回调域名)
            self.signed_in_as: str | None = None  # who the sign-in page (or the DingTalk client) says is there
            self.auth_codes: dict[str, str] = {}  # authCode → user, until exchanged
            self.user_tokens: dict[str, str] = {}  # user access token → user
            self.inapp_codes: dict[str, str] = {}  # 免登码 → user, until used
            self.files: dict[str, tuple[str, bytes]] = {}  # downloadCode → (file name, bytes)

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

    def inapp_code(self, user: str) -> str:
        """What requestAuthCode gives a page inside DingTalk when `user` is signed in to the client."""
        code = f"inapp-{next(self._ids)}"
        with self._lock:
            self.inapp_codes[code] = user
        return code

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
            body: Any = {
                "filename": getattr(media, "filename", None),
                "png": data.startswith(b"\x89PNG"),
                "bytes": len(data),
            }
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

    async def _authorize(self, request: Request) -> Response:
        """The sign-in page: check what DingTalk checks, then send the browser back with an authCode."""
        query, _, scripted = await self._receive(request)
        if scripted:
            return scripted
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.APP_KEY or query.get("response_type") != "code":
            return PlainTextResponse("应用不存在或参数错误", status_code=400)
        if "openid" not in query.get("scope", "").split() or query.get("prompt") != "consent":
            return PlainTextResponse("scope 或 prompt 参数错误", status_code=400)
        if urlsplit(redirect_uri).netloc != self.redirect_host:
            return PlainTextResponse("redirect_uri 与应用配置的重定向URL不一致", status_code=400)
        if self.signed_in_as is None:
            return PlainTextResponse("请扫码登录", status_code=400)
        code = f"authcode-{next(self._ids)}"
        with self._lock:
            self.auth_codes[code] = self.signed_in_as
        back = urlencode({"authCode": code, "state": query.get("state", "")})
        return RedirectResponse(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{back}", status_code=302)

    async def _user_token(self, request: Request) -> JSONResponse:
        _, body, scripted = await self._receive(request)
        if scripted:
            return scripted
        if body.get("clientId") != self.APP_KEY or body.get("clientSecret") != self.APP_SECRET:
            return JSONResponse({"code": "invalidClientId", "message": "无效的clientId"}, status_code=400)
        with self._lock:
            user = (
                self.auth_codes.pop(body.get("code", ""), None)
                if body.get("grantType") == "authorization_code"
                else None
            )
            if user is None:
                return JSONResponse({"code": "invalidAuthCode", "message": "不合法的临时授权码"}, status_code=400)
            token = f"user-token-{next(self._ids)}"
            self.user_tokens[token] = user
        return JSONResponse({"accessToken": token, "refreshToken": "refresh", "expireIn": 7200})

    async def _me(self, request: Request) -> JSONResponse:
        _, _, scripted = await self._receive(request)
        if scripted:
            return scripted
        user = self.user_tokens.get(request.headers.get("x-acs-dingtalk-access-token", ""))
        if user is None:
            return JSONResponse({"code": "InvalidAuthentication", "message": "不合法的access_token"}, status_code=401)
        return JSONResponse({"nick": user, "unionId": f"union-{user}", "openId": f"open-{user}", "stateCode": "86"})

    async def _with_app_token(self, request: Request) -> tuple[Any, JSONResponse | None]:
        """The body of an old-style call made with the app's token; the answer instead, if scripted or refused."""
        query, body, scripted = await self._receive(request)
        token = query.get("access_token")
        if not scripted and (token not in self.tokens or token in self.revoked):
            scripted = JSONResponse({"errcode": 40014, "errmsg": "不合法的access_token"})
        return body, scripted

    async def _file_download(self, request: Request) -> JSONResponse:
        _, body, scripted = await self._receive(request)
        if scripted:
            return scripted
        token = request.headers.get("x-acs-dingtalk-access-token")
        if token not in self.tokens or token in self.revoked:
            return JSONResponse({"code": "InvalidAuthentication", "message": "不合法的access_token"}, status_code=401)
        if body.get("robotCode") != ROBOT_CODE:
            return JSONResponse({"code": "invalidParameter", "message": "robotCode 不正确"}, status_code=400)
        if body.get("downloadCode") not in self.files:
            return JSONResponse({"code": "invalidParameter", "message": "downloadCode 无效"}, status_code=400)
        key = str(list(self.files).index(body["downloadCode"]))
        return JSONResponse({"downloadUrl": f"{self.base_url}{FILE_URL.format(key=key)}"})

    async def _file_url(self, request: Request) -> Response:
        self._record(request.method, FILE_URL, {}, None)
        name, data = list(self.files.values())[int(request.path_params["key"])]
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    async def _by_unionid(self, request: Request) -> JSONResponse:
        body, answered = await self._with_app_token(request)
        if answered:
            return answered
        user = str(body.get("unionid", "")).removeprefix("union-")
        if not body.get("unionid", "").startswith("union-") or user.startswith(OUTSIDER):
            return JSONResponse({"errcode": 60121, "errmsg": "找不到该用户"})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "result": {"contact_type": 0, "userid": user}})

    async def _inapp_userinfo(self, request: Request) -> JSONResponse:
        body, answered = await self._with_app_token(request)
        if answered:
            return answered
        with self._lock:
            user = self.inapp_codes.pop(body.get("code", ""), None)
        if user is None:
            return JSONResponse({"errcode": 40078, "errmsg": "不存在的临时授权码"})
        return JSONResponse(
            {"errcode": 0, "errmsg": "ok", "result": {"userid": user, "unionid": f"union-{user}", "name": user}}
        )

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
