"""The coordinator dashboard (/dashboard) and the JSON API (/api)."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from bot.dashboard.api import router as api_router
from bot.dashboard.auth import LoginRequired, Redirect, login_url
from bot.dashboard.import_pages import router as import_router
from bot.dashboard.materials_pages import router as materials_router
from bot.dashboard.notice_pages import router as notice_router
from bot.dashboard.pages import render
from bot.dashboard.pages import router as pages_router
from bot.dashboard.plan_pages import router as plan_router
from bot.dashboard.signin import router as signin_router


def install(app: FastAPI) -> None:
    app.include_router(pages_router)
    app.include_router(plan_router)
    app.include_router(import_router)
    app.include_router(notice_router)
    app.include_router(materials_router)
    app.include_router(signin_router)
    app.include_router(api_router)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, error: LoginRequired) -> Response:
        return RedirectResponse(login_url(error.next_url), status_code=303)

    @app.exception_handler(Redirect)
    async def elsewhere(_request: Request, error: Redirect) -> Response:
        return RedirectResponse(error.url, status_code=303)

    @app.exception_handler(HTTPException)
    async def dashboard_errors(request: Request, error: HTTPException) -> Response:
        # Dashboard pages answer errors with a page a person can read; everything else keeps FastAPI's JSON.
        if request.url.path.startswith("/dashboard"):
            return render(
                request,
                "error.html",
                {"status": error.status_code, "detail": error.detail},
                status_code=error.status_code,
            )
        return await http_exception_handler(request, error)
