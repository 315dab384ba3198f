"""The FastAPI application factory: database, dispatcher and channels wired from Settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.limits import BodyLimit
from bot.senders import running_scheduler
from bot.settings import Settings, get_settings
from bot.wecom.callback import router as wecom_router
from handlers.clock import Clock, SystemClock
from handlers.dispatch import Dispatcher
from storage.db import make_engine, make_session_factory, upgrade_schema

log = logging.getLogger("duban.app")
STATIC = Path(__file__).with_name("static")


@dataclass
class Services:
    """What request handlers need, built once per app (tests build their own)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    clock: Clock


def route_for(settings: Settings) -> Callable[[str], str]:
    """Which outbound channel reaches a user of each platform: the platform's app if configured, else the
    simulator outbox (so `make run` shows every notification without any account)."""

    def route(platform: str) -> str:
        if platform == "wecom" and settings.wecom_enabled:
            return "wecom_app"
        if platform == "dingtalk" and settings.dingtalk_enabled:
            return "dingtalk_work"
        return "sim"

    return route


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    dispatcher = Dispatcher(sessions, route=route_for(settings), campaign_name=settings.campaign)
    return Services(settings, engine, sessions, dispatcher, clock or SystemClock())


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = build_services(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade_schema(services.engine)
        log.info("duban started", extra={"database": services.engine.url.get_backend_name()})
        async with AsyncExitStack() as channels:
            if settings.dingtalk_enabled:
                from bot.dingtalk import running as dingtalk_running

                await channels.enter_async_context(dingtalk_running(app, services))
            if settings.scheduler == "on":
                await channels.enter_async_context(running_scheduler(settings, services))
            yield
        services.engine.dispose()

    app = FastAPI(title="duban 督办", version="0.1.0", lifespan=lifespan,
                  description="专项整治联络员机器人：企业微信、钉钉与模拟器通道，协调人汇总与导出。")
    app.state.services = services

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(SQLAlchemyError)
    async def database_unavailable(_request: Request, error: SQLAlchemyError) -> JSONResponse:
        # Platforms retry on 5xx; 503 says "try again", and nothing was committed.
        log.error("database error", extra={"error": type(error).__name__})
        return JSONResponse({"detail": "数据库暂不可用，请稍后重试"}, status_code=503)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        try:
            with services.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    if settings.simulator:
        from bot.sim import router as sim_router

        app.include_router(sim_router)
    if settings.dingtalk_enabled:
        from bot.dingtalk import router as dingtalk_router

        app.include_router(dingtalk_router)
    app.include_router(wecom_router)  # 404 with the missing DUBAN_WECOM_* names until configured
    from bot.dashboard import install as install_dashboard

    install_dashboard(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
