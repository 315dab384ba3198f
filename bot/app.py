"""The FastAPI application factory: database, dispatcher and channels wired from Settings."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from bot.headers import SecurityHeaders
from bot.limits import BodyLimit, BodyTooLarge
from bot.observability import CallbackMetrics, Readiness, metrics_registry, report
from bot.senders import running_scheduler
from bot.services import build_services
from bot.settings import Settings, get_settings
from bot.wecom.callback import router as wecom_router
from core.clock import Clock
from scheduler.outbound import Sender
from scheduler.service import SchedulerService
from storage.db import upgrade_schema
from storage.files import MAX_FILE_BYTES

log = logging.getLogger("duban.app")
STATIC = Path(__file__).with_name("static")
# Paths that take a file of up to MAX_FILE_BYTES (plus the multipart envelope) instead of the 1 MB body limit.
UPLOAD_LIMITS = {"/sim/api/files": MAX_FILE_BYTES + 64 * 1024}


def printable(value: Any) -> Any:
    """`value` (JSON-like) with every string encodable as UTF-8: lone surrogates become backslash escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(key): printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable(item) for item in value]
    return value


def freeze_startup_objects() -> None:
    """Put what the process holds once the app is built out of the cyclic garbage collector's reach.

    Modules, the ORM's mappers, compiled statements and settings — some 175,000 objects — live as long as the
    process, yet every full collection scanned them all again, and a request that allocates a lot (汇总 over
    5,000 units) set off several: half of its time went to the collector (bench/NOTES.md).
    gc.freeze() is the standard library's answer for exactly this; `duban serve` calls it once, after
    create_app. Not in create_app itself: tests build many apps in one process, and frozen cycles are never
    freed.
    """
    gc.collect()  # what is already garbage is freed, not frozen
    gc.freeze()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = build_services(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade_schema(services.engine)
        log.info("duban started", extra={"database": services.engine.url.get_backend_name()})
        if settings.simulator_needs_login:
            log.warning(
                "the simulator is on beside a configured platform: /sim can speak as any real user and "
                "answers only coordinators logged in to the dashboard; set DUBAN_SIMULATOR=off in production"
            )
        async with AsyncExitStack() as channels:
            if settings.dingtalk_enabled:
                from bot.dingtalk import running as dingtalk_running

                await channels.enter_async_context(dingtalk_running(app, services))
            clients: list[Sender] = []
            reminders: list[SchedulerService] = []  # the robot's connection goes with the scheduler's lead
            if settings.wecom_robot_enabled and settings.scheduler == "on":
                from bot.wecom_robot import running as wecom_robot_running
                from bot.wecom_robot.sender import RobotSender

                robot = await channels.enter_async_context(
                    wecom_robot_running(app, services, eligible=lambda: any(r.leading for r in reminders))
                )
                clients.append(RobotSender(robot.connection))
            if settings.scheduler == "on":
                reminders.append(await channels.enter_async_context(running_scheduler(settings, services, clients)))
            yield
        services.handler_threads.shutdown(wait=False)
        services.engine.dispose()

    # /docs and /redoc with Swagger UI and ReDoc from the fastapi-offline package, not from public CDNs:
    # government intranets cannot reach them, and a CDN script would run with the coordinators' session.
    app = FastAPIOffline(
        title="duban 督办",
        version="0.1.0",
        lifespan=lifespan,
        static_url="/docs-assets",
        description="专项整治联络员机器人：企业微信、钉钉与模拟器通道，协调人汇总与导出。",
    )
    app.state.services = services

    # Outermost last: security headers on every response, then the request id (every log line of the request
    # carries it, the response echoes it; nginx's $request_id is kept), then callback counting, which sees the
    # body limit's 413s.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, uploads=UPLOAD_LIMITS)
    app.add_middleware(CallbackMetrics)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SQLAlchemyError)
    async def database_unavailable(_request: Request, error: SQLAlchemyError) -> JSONResponse:
        # Platforms retry on 5xx; 503 says "try again", and nothing was committed.
        log.error("database error", extra={"error": type(error).__name__})
        return JSONResponse({"detail": "数据库暂不可用，请稍后重试"}, status_code=503)

    @app.exception_handler(BodyTooLarge)
    async def upload_too_large(_request: Request, _error: BodyTooLarge) -> JSONResponse:
        return JSONResponse({"detail": f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB"}, status_code=413)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input; a lone surrogate ("\ud800" is valid JSON but no UTF-8) made
        # that echo fail, a 500. The same answer, with such characters shown as escapes.
        return JSONResponse({"detail": printable(jsonable_encoder(error.errors()))}, status_code=422)

    @app.get("/healthz", tags=["ops"], summary="存活检查：进程在响应即为 200，不访问数据库")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    readiness = Readiness(
        services.engine, services.sessions, services.clock, outbox_max_age=settings.ready_outbox_max_age
    )

    @app.get("/readyz", tags=["ops"], summary="就绪检查：数据库可连接、结构为最新版本、待发消息无积压")
    def readyz() -> JSONResponse:
        body = report(readiness.checks())
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    registry = metrics_registry(services.sessions, services.clock, readiness, settings.backup_dir)

    @app.get("/metrics", tags=["ops"], response_class=Response, summary="Prometheus 指标（本进程）")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    if settings.simulator_on:
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
