"""The composition root: the services one process runs on, built once from Settings.

The app factory, the channels, the dashboard and the command line take what they need from here; nothing in
handlers/, scheduler/, storage/ or core/ imports it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.observability import timed
from bot.settings import Settings
from core.channels import Channel, Platform
from core.clock import Clock, SystemClock
from handlers.context import DashboardLink
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from storage.db import make_engine, make_session_factory
from storage.files import Files


@dataclass
class Services:
    """What request handlers need, built once per app (tests build their own)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    clock: Clock

    @cached_property
    def handler_threads(self) -> ThreadPoolExecutor:
        """The threads that run the Dispatcher for every channel of this process, as many as can write at once.

        Every message writes (at least its dedupe record) and SQLite has one writer: more threads would only
        queue in its busy handler, which sleeps up to 100 ms between tries, so messages take turns here
        instead. PostgreSQL gets one per pooled connection.
        """
        size = 4
        if self.engine.url.get_backend_name() == "sqlite":
            size = 1
        elif callable(pool_size := getattr(self.engine.pool, "size", None)):
            size = max(1, pool_size())
        return ThreadPoolExecutor(size, "duban-handler")

    def handle(self, platform: str, message: IncomingMessage) -> asyncio.Future[Reply]:
        """The Dispatcher's reply to `message`, from a handler thread, timed for /metrics.

        The loop's own executor rather than anyio.to_thread or asyncio.to_thread's default pool: anyio's
        capacity limiter and backend lookups cost more loop time per message than the hand-over itself
        (measured by bench/callback.py's web path), and the default pool is not sized for the database. The
        context goes along, so the handler can note a duplicate on the callback.
        """
        run = contextvars.copy_context().run
        return asyncio.get_running_loop().run_in_executor(
            self.handler_threads, run, timed(platform, self.dispatcher.handle), message
        )


def route_for(settings: Settings) -> Callable[[str], str]:
    """Which outbound channel reaches a user of each platform: the platform's app if configured (for WeCom, else
    the 智能机器人's one-to-one chat), else the simulator outbox (so `make run` shows every notification without
    any account)."""

    def route(platform: str) -> str:
        if platform == Platform.WECOM and settings.wecom_enabled:
            return Channel.WECOM_APP
        if platform == Platform.WECOM and settings.wecom_robot_enabled:
            return Channel.WECOM_AIBOT_CHAT
        if platform == Platform.DINGTALK and settings.dingtalk_enabled:
            return Channel.DINGTALK_WORK
        return Channel.SIM

    return route


def dashboard_link_for(settings: Settings) -> DashboardLink:
    """Links to dashboard pages in chat replies and reminders: through the sign-in of the recipient's platform where
    it is configured (inside WeCom or DingTalk the page then opens signed in), else straight to the page (its
    login asks for a password); none without DUBAN_PUBLIC_URL."""

    def link(platform: str, path: str) -> str | None:
        if settings.public_url is None:
            return None
        if platform not in settings.sign_in_platforms:
            return f"{settings.public_url}{path}"
        # DingTalk's entry tries the in-app 免登 first and goes on to the sign-in page outside DingTalk.
        start = "dingtalk/inapp" if platform == Platform.DINGTALK else platform
        return f"{settings.public_url}/dashboard/login/{start}?next={quote(path, safe='')}"

    return link


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    dispatcher = Dispatcher(
        sessions,
        route=route_for(settings),
        campaign_name=settings.campaign,
        link=dashboard_link_for(settings),
        files=Files.from_setting(settings.file_store, settings.files_dir),
    )
    return Services(settings, engine, sessions, dispatcher, clock or SystemClock())
