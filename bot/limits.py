"""Request body limit as pure ASGI middleware: over the limit → 413 before any route parses a byte."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("duban.http")


class BodyLimit:
    """Refuse request bodies over `max_bytes` (DUBAN_MAX_BODY_BYTES, 1 MB by default), declared or streamed.

    The body is read up front (at most max_bytes + 1) and replayed to the app, so a chunked upload
    without Content-Length cannot get past the limit either.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        # Counted as too_large on callback paths by bot.observability.CallbackMetrics, which wraps this.
        log.warning("request body over the limit", extra={"path": scope["path"], "max_bytes": self.max_bytes})
        payload = json.dumps({"detail": f"请求体超过 {self.max_bytes} 字节"}, ensure_ascii=False).encode()
        headers: list[Any] = [(b"content-type", b"application/json; charset=utf-8"),
                              (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
