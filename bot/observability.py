"""Metrics (/metrics, prometheus-client) and readiness (/readyz) for operators.

Metric objects live in prometheus-client's process-wide default registry: each uvicorn process (two web
replicas, a scheduler process…) exposes its own counters, and Prometheus scrapes every process and adds them
up — no multiprocess mode, since duban never forks workers inside one process. The delivery and scheduler
metrics are defined beside the code they count (scheduler/delivery.py, scheduler/service.py), so scheduler/
needs nothing from bot/. Outbox depth and age are read from the database at scrape time (OutboxCollector),
so they are right whichever process delivers.

Callbacks are counted by one ASGI middleware from the response status (413 too_large, 403 bad_signature,
400/422 malformed, 503 unavailable, other errors error, 2xx ok); the channels add what a status cannot say
(stale, duplicate, deferred) with `note_callback`. Stream-mode DingTalk frames have no HTTP response and are
counted with `counting_callback`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from alembic.runtime.migration import MigrationContext
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.clock import Clock
from core.statuses import OutboxStatus
from handlers.message import IncomingMessage, Reply
from storage.db import migrations_head, transaction
from storage.models import Campaign, OutboxMessage

log = logging.getLogger("duban.observability")

Outcome = Literal[
    "ok", "duplicate", "bad_signature", "stale", "malformed", "too_large", "unavailable", "deferred", "error"
]
# The HTTP endpoints that receive chat messages, by platform label.
CALLBACK_PATHS = {"/wecom/callback": "wecom", "/dingtalk/callback": "dingtalk", "/sim/api/messages": "sim"}

CALLBACKS = Counter("duban_callbacks", "Chat callbacks received, by platform and outcome", ["platform", "outcome"])
# WeCom gives a callback 5 s; the reply budget is 3.5 s (DUBAN_WECOM_REPLY_BUDGET), DingTalk's 2 s.
HANDLER_SECONDS = Histogram(
    "duban_handler_duration_seconds",
    "Time to handle one chat message (the Dispatcher)",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 10.0),
)

MESSAGES = Counter(
    "duban_messages",
    "Chat messages handled, by platform and by the campaign they went to (its alias, else its name; none: a "
    "duplicate, or a question about which campaign)",
    ["platform", "campaign"],
)


@dataclass
class _Callback:
    outcome: Outcome | None = None


# Set by the middleware for the request; worker threads inherit it (anyio and asyncio copy the context), and
# they mutate the object, so what they note is seen when the response goes out.
_current: ContextVar[_Callback | None] = ContextVar("duban_callback", default=None)


def note_callback(outcome: Outcome) -> None:
    """Say how the callback being handled ended when its HTTP status alone cannot (stale, duplicate, deferred)."""
    current = _current.get()
    if current is not None:
        current.outcome = outcome


def _outcome_for(status: int) -> Outcome:
    if 200 <= status < 300:
        return "ok"
    outcomes: dict[int, Outcome] = {
        413: "too_large",
        403: "bad_signature",
        400: "malformed",
        422: "malformed",
        503: "unavailable",
    }
    return outcomes.get(status, "error")


@contextmanager
def counting_callback(platform: str) -> Iterator[_Callback]:
    """Count one callback without an HTTP response (DingTalk Stream): `ok` unless noted otherwise; an
    exception counts as `error`."""
    current = _Callback()
    token = _current.set(current)
    try:
        yield current
    except BaseException:
        CALLBACKS.labels(platform, "error").inc()
        raise
    finally:
        _current.reset(token)
    CALLBACKS.labels(platform, current.outcome or "ok").inc()


class CallbackMetrics:
    """Counts POSTs to the callback endpoints by outcome (pure ASGI: sits outside the body limit, so 413s count)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = CALLBACK_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if platform is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        current = _Callback()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = _current.set(current)
        try:
            await self.app(scope, receive, record_status)
        except BaseException:
            CALLBACKS.labels(platform, "error").inc()
            raise
        finally:
            _current.reset(token)
        outcome = _outcome_for(status)
        if current.outcome is not None and status < 500:
            outcome = current.outcome
        CALLBACKS.labels(platform, outcome).inc()


def timed(platform: str, handle: Callable[[IncomingMessage], Reply]) -> Callable[[IncomingMessage], Reply]:
    """`handle` (the Dispatcher's) timed into duban_handler_duration_seconds for this platform; a duplicate
    delivery is noted on the callback."""

    def run(message: IncomingMessage) -> Reply:
        with HANDLER_SECONDS.labels(platform).time():
            reply = handle(message)
        MESSAGES.labels(platform, reply.campaign or "none").inc()
        if reply.duplicate:
            note_callback("duplicate")
        return reply

    return run


# --- the outbox, read at scrape time ------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    pending: int  # messages not yet sent (due now or later)
    oldest_due_age: float  # seconds the oldest message that should have gone out has waited; 0 if none


def pending_by_campaign(session: Session) -> list[tuple[str, int]]:
    """Unsent outbox messages by campaign (its alias, else its name; none: a reply with no campaign)."""
    rows = session.execute(
        select(Campaign.alias, Campaign.name, func.count(OutboxMessage.id))
        .select_from(OutboxMessage)
        .outerjoin(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .group_by(Campaign.id, Campaign.alias, Campaign.name)
    ).all()
    return [(alias or name or "none", count) for alias, name, count in rows]


def outbox_backlog(session: Session, now: datetime) -> Backlog:
    """Two queries on the (status, not_before) index: a count of one status and a min over its first rows.

    Age counts from `not_before` (when a message became due), not from its creation: a reminder parked
    behind a rate limit or a retry back-off is not late. A message being sent is leased (`not_before` a few
    minutes ahead), so only messages that nobody is sending count.
    """
    pending = (
        session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
        or 0
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.not_before)).where(
            OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now
        )
    )
    return Backlog(pending=pending, oldest_due_age=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


class OutboxCollector(Collector):
    """duban_outbox_pending_messages (in all and by campaign), duban_outbox_oldest_due_age_seconds and
    duban_database_up, per scrape."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions, self.clock = sessions, clock

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("duban_database_up", "1 when this process could read the database at this scrape")
        try:
            with transaction(self.sessions) as session:
                backlog = outbox_backlog(session, self.clock.now())
                by_campaign = pending_by_campaign(session)
        except SQLAlchemyError as error:
            log.warning("metrics: database unreachable", extra={"error": type(error).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("duban_outbox_pending_messages", "Outbox messages not yet sent", value=backlog.pending)
        per_campaign = GaugeMetricFamily(
            "duban_campaign_outbox_pending_messages", "Outbox messages not yet sent, by campaign", labels=["campaign"]
        )
        for campaign, count in by_campaign:
            per_campaign.add_metric([campaign], count)
        yield per_campaign
        yield GaugeMetricFamily(
            "duban_outbox_oldest_due_age_seconds",
            "Seconds the oldest due, unsent outbox message has waited (0: none)",
            value=backlog.oldest_due_age,
        )


class _ProcessMetrics(Collector):
    """The process-wide default registry, seen through an app's own registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class ReadinessCollector(Collector):
    """duban_ready: what /readyz answers (1 ready, 0 not), so an alert can say a process stayed unready."""

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def collect(self) -> Iterable[Metric]:
        ready = all(check.ok for check in self.readiness.checks())
        yield GaugeMetricFamily(
            "duban_ready", "1 when /readyz would answer 200 (database, migrations, outbox)", value=1 if ready else 0
        )


BACKUP_PATTERN = "duban-*.dump"  # deploy/backup.sh renames a dump to this only once pg_restore can read it


class BackupCollector(Collector):
    """duban_backup_last_success_timestamp_seconds: when the newest complete backup in DUBAN_BACKUP_DIR was written
    (0: none), so Prometheus can alert on a backup that stopped happening wherever it runs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        try:
            newest = max((path.stat().st_mtime for path in self.directory.glob(BACKUP_PATTERN)), default=0.0)
        except OSError as error:  # an unmounted volume, a permission: say "no backup", which alerts
            log.warning("metrics: backup directory unreadable", extra={"error": type(error).__name__})
            newest = 0.0
        yield GaugeMetricFamily(
            "duban_backup_last_success_timestamp_seconds",
            "When the newest complete backup was written (unix seconds; 0: none found)",
            value=newest,
        )


def metrics_registry(
    sessions: sessionmaker[Session], clock: Clock, readiness: Readiness, backup_dir: Path | None = None
) -> CollectorRegistry:
    """What /metrics serves for one app: the process's metrics plus this app's database readings, its readiness and,
    where DUBAN_BACKUP_DIR is set, the backups' age (an app per registry, so tests can build many apps in one
    process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    registry.register(OutboxCollector(sessions, clock))
    registry.register(ReadinessCollector(readiness))
    if backup_dir is not None:
        registry.register(BackupCollector(backup_dir))
    return registry


# --- readiness -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str  # machine key: database, migrations, outbox
    ok: bool
    detail: str  # Chinese, for the operator


class Readiness:
    """/readyz: the database answers, its schema is at the migrations' head, and the outbox is moving."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session], clock: Clock, *, outbox_max_age: int) -> None:
        self.engine, self.sessions, self.clock, self.outbox_max_age = engine, sessions, clock, outbox_max_age

    def checks(self) -> list[Check]:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                revision = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as error:
            return [Check("database", False, f"数据库无法连接（{type(error).__name__}）")]
        checks = [Check("database", True, "数据库可连接")]
        head = migrations_head()
        if revision != head:
            checks.append(
                Check("migrations", False, f"数据库结构版本为 {revision}，程序需要 {head}，请运行 duban db upgrade")
            )
            return checks
        checks.append(Check("migrations", True, f"数据库结构为最新版本 {head}"))
        if self.outbox_max_age:
            checks.append(self._outbox())
        return checks

    def _outbox(self) -> Check:
        try:
            with transaction(self.sessions) as session:
                backlog = outbox_backlog(session, self.clock.now())
        except SQLAlchemyError as error:
            return Check("outbox", False, f"无法读取待发消息（{type(error).__name__}）")
        if backlog.oldest_due_age > self.outbox_max_age:
            return Check(
                "outbox",
                False,
                f"最早一条待发消息已等待 {backlog.oldest_due_age:.0f} 秒，超过 "
                f"{self.outbox_max_age} 秒：请检查调度进程（DUBAN_SCHEDULER=on）是否运行",
            )
        return Check("outbox", True, f"待发消息 {backlog.pending} 条，无积压")


def report(checks: list[Check]) -> dict[str, Any]:
    """The /readyz body: overall status, the first failed check's key and reason, and every check."""
    failed = next((check for check in checks if not check.ok), None)
    body: dict[str, Any] = {
        "status": "ok" if failed is None else "unavailable",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    if failed is not None:
        body["failed"], body["detail"] = failed.name, failed.detail
    return body
