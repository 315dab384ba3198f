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

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Upload paths with their own, larger limit: their bodies stream on to the route (which spools them to
        # disk) instead of being buffered here, and are cut off past the limit all the same.
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        upload_limit = self.uploads.get(scope["path"])
        limit = upload_limit or self.max_bytes
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, send, limit)
            return
        if upload_limit is not None:
            await self.app(scope, _counted(receive, upload_limit), send)
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
                await self._refuse(scope, send, self.max_bytes)
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

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        # Counted as too_large on callback paths by bot.observability.CallbackMetrics, which wraps this.
        log.warning("request body over the limit", extra={"path": scope["path"], "max_bytes": limit})
        payload = json.dumps({"detail": f"请求体超过 {limit} 字节"}, ensure_ascii=False).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


class BodyTooLarge(Exception):
    """A streamed upload went past its limit (the route answers 413)."""


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge
        return message

    return counted
