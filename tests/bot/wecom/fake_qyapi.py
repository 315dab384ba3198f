"""A fake qyapi.weixin.qq.com on loopback: gettoken, message/send and webhook/send, recording every request; and
WeCom's sign-in: the web authorisation and the web login pages (as the browser meets them) and auth/getuserinfo.

It runs under uvicorn in a thread for the whole test session; tests point DUBAN_WECOM_API_BASE (and the two sign-in
page addresses) at it, script refusals (`fail_next`), expire tokens on the server side, say who is holding the phone
(`signed_in_as`), and read what reached it (`requests`, `wait_for`).
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

CORP_ID = "wwduban00000001"
SECRET = "app-secret-for-tests"
ROBOT_KEY = "robot-key-0001"
GETTOKEN = "/cgi-bin/gettoken"
MESSAGE_SEND = "/cgi-bin/message/send"
WEBHOOK_SEND = "/cgi-bin/webhook/send"
MEDIA_UPLOAD = "/cgi-bin/media/upload"
MEDIA_GET = "/cgi-bin/media/get"
GETUSERINFO = "/cgi-bin/auth/getuserinfo"
AUTHORIZE = "/connect/oauth2/authorize"  # on open.weixin.qq.com
WEB_LOGIN = "/wwlogin/sso/login"  # on login.work.weixin.qq.com
OUTSIDER = "openid:"  # signed_in_as("openid:…"): a WeChat user who is no member of the organisation


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
        self.media: dict[str, tuple[str, bytes]] = {}  # media_id → (file name, bytes) that media/get serves
        self.app = Starlette(
            routes=[
                Route(GETTOKEN, self._gettoken),
                Route(MESSAGE_SEND, self._message_send, methods=["POST"]),
                Route(WEBHOOK_SEND, self._webhook_send, methods=["POST"]),
                Route(MEDIA_UPLOAD, self._media_upload, methods=["POST"]),
                Route(MEDIA_GET, self._media_get),
                Route(GETUSERINFO, self._getuserinfo),
                Route(AUTHORIZE, self._authorize),
                Route(WEB_LOGIN, self._authorize),
            ]
        )
        self.url = ""
        self.trusted_domain = "testserver"  # the app's 可信域名: where sign-ins may be sent back to
        self.signed_in_as: str | None = None  # who WeCom (or the phone that scans the QR code) says is there
        self.codes: dict[str, str] = {}  # code → user, until it is used

    # --- what tests use -----------------------------------------------------------------------------

    def reset(self) -> None:
        with self._changed:
            self.requests.clear()
            self._scripted.clear()
            self.valid_tokens.clear()
            self.issued_tokens.clear()
            self._serial = itertools.count(1)
            self.trusted_domain = "testserver"
            self.signed_in_as = None
            self.codes.clear()
            self.media.clear()

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
            body = {
                "filename": getattr(media, "filename", None),
                "content_type": getattr(media, "content_type", None),
                "png": data.startswith(b"\x89PNG"),
                "bytes": len(data),
            }
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
        return self._refused_token(request) or JSONResponse(
            {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "msg-1"}
        )

    async def _media_upload(self, request: Request) -> JSONResponse:
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        if request.query_params.get("type") != "image":
            return JSONResponse({"errcode": 40004, "errmsg": "invalid media type"})
        return self._refused_token(request) or JSONResponse(
            {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": f"MEDIA-{next(self._serial)}"}
        )

    async def _media_get(self, request: Request) -> Response:
        """The file behind a media_id, as WeCom serves it (errors as JSON with HTTP 200)."""
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        refused = self._refused_token(request)
        if refused is not None:
            return refused
        found = self.media.get(request.query_params.get("media_id", ""))
        if found is None:
            return JSONResponse({"errcode": 40007, "errmsg": "invalid media_id"})
        name, data = found
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    async def _authorize(self, request: Request) -> Response:
        """Both sign-in pages: check what WeCom checks, then send the browser back with a code for the user."""
        await self._record(request)
        query = request.query_params
        redirect_uri = query.get("redirect_uri", "")
        if query.get("appid") != CORP_ID:
            return PlainTextResponse("参数错误：appid", status_code=400)
        if request.url.path == AUTHORIZE and (
            query.get("response_type") != "code" or query.get("scope") != "snsapi_base"
        ):
            return PlainTextResponse("参数错误：response_type 或 scope", status_code=400)
        if request.url.path == WEB_LOGIN and (query.get("login_type") != "CorpApp" or not query.get("agentid")):
            return PlainTextResponse("参数错误：login_type 或 agentid", status_code=400)
        if urlsplit(redirect_uri).netloc != self.trusted_domain:
            return PlainTextResponse("redirect_uri参数错误", status_code=400)
        if self.signed_in_as is None:
            return PlainTextResponse("请在企业微信客户端打开链接", status_code=400)
        code = f"WWCODE-{next(self._serial)}"
        with self._changed:
            self.codes[code] = self.signed_in_as
        joiner = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(
            f"{redirect_uri}{joiner}{urlencode({'code': code, 'state': query.get('state', '')})}", status_code=302
        )

    async def _getuserinfo(self, request: Request) -> JSONResponse:
        scripted = await self._record(request)
        if scripted is not None:
            return JSONResponse(scripted)
        refused = self._refused_token(request)
        if refused is not None:
            return refused
        with self._changed:
            user = self.codes.pop(request.query_params.get("code", ""), None)  # a code is good once
        if user is None:
            return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
        if user.startswith(OUTSIDER):
            return JSONResponse({"errcode": 0, "errmsg": "ok", "openid": user.removeprefix(OUTSIDER)})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "userid": user})

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
