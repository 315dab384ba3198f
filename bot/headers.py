"""Security headers on every response: dashboard pages, the simulator, static files and /api alike.

Nothing the app serves is meant to be framed, sniffed as another type or load anything from elsewhere (government
intranets have no internet), and what coordinators read (/api, /dashboard, the simulator's answers) is never kept
by a browser or a proxy. A route that sets one of these headers itself keeps its own value.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The API documentation pages (fastapi-offline's Swagger UI and ReDoc) start their bundled script inline and
# style themselves inline; they show nobody's data.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PAGES = ("/docs", "/redoc")
HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
PRIVATE = ("/api/", "/dashboard", "/sim/api/")  # coordinator data


class SecurityHeaders:
    """Pure ASGI, outermost: it also sees the body limit's 413s and the error pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = dict(HEADERS, **{"Content-Security-Policy": DOCS_CSP if path in DOCS_PAGES else CSP})
        if path.startswith(PRIVATE):
            extra["Cache-Control"] = "no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
