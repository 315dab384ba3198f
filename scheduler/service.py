"""APScheduler set-up: one AsyncIOScheduler per process, whose reminder jobs run only while it leads.

Every process with DUBAN_SCHEDULER=on runs the election job; the one that wins adds the tick job
(enqueue due reminders, ReminderEngine.tick) and the delivery job (DeliveryWorker); a process that loses
the lock removes them again. Jobs live in APScheduler's in-memory job store of their own process — a
job store is never shared between schedulers — and what must survive a restart (which moments were
handled, what is still to send) lives in the database instead, so re-adding the jobs at boot loses
nothing: the first tick after an election catches up from the stored watermark. See scheduler/README.md.

Job functions are module-level and take only the service's id, as APScheduler recommends.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import Gauge
from sqlalchemy.orm import Session, sessionmaker

from core.channels import Route
from core.clock import Clock
from handlers.context import DashboardLink, no_dashboard_link
from scheduler.delivery import DEFAULT_LIMITS, DeliveryWorker, RateLimit
from scheduler.engine import DEFAULT_GRACE, ReminderEngine
from scheduler.leader import Leadership
from scheduler.outbound import Sender
from storage.db import transaction
from storage.repos import Campaigns

log = logging.getLogger("duban.scheduler")

ELECTION_JOB = "duban.scheduler.election"
TICK_JOB = "duban.reminders.tick"
DELIVERY_JOB = "duban.outbox.deliver"

_services: dict[str, SchedulerService] = {}

# Served on /metrics (bot/observability.py). One scheduler per process, so a process-wide gauge is its state.
LEADER = Gauge("duban_scheduler_leader", "1 while this process is the elected scheduler leader")
LAST_TICK = Gauge(
    "duban_scheduler_last_tick_timestamp_seconds", "When this process last completed a reminder tick (unix seconds)"
)


class FailureStreak:
    """How a job that keeps failing is logged: the first failure with its traceback, then one line per failed
    round, then the recovery. The delivery job runs every 2 seconds, and a database outage printed a traceback
    each time (1,800 an hour), burying whatever else the log had to say."""

    def __init__(self, job: str, service_id: str) -> None:
        self.job, self.service_id, self.failures = job, service_id, 0

    def failed(self, error: Exception) -> None:
        """Call from the except block."""
        self.failures += 1
        extra = {"service": self.service_id, "failures": self.failures, "error": type(error).__name__}
        if self.failures == 1:
            log.exception(f"{self.job} failed", extra=extra)
        else:
            log.warning(f"{self.job} still failing", extra=extra)

    def succeeded(self) -> None:
        if self.failures:
            log.info(f"{self.job} recovered", extra={"service": self.service_id, "failed_rounds": self.failures})
            self.failures = 0


@dataclass(frozen=True)
class Timing:
    """How often each job runs. A standby polls the election well within the 60 s takeover promise."""

    election_seconds: float = 15.0
    tick_seconds: float | None = None  # None: every minute on the minute, so 09:00 goes out at 09:00:00
    delivery_seconds: float = 2.0


class SchedulerService:
    """The reminder engine and the outbox worker behind a leader election, driven by APScheduler."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Clock,
        senders: Mapping[str, Sender],
        route: Route,
        leadership: Leadership,
        grace: timedelta = DEFAULT_GRACE,
        campaign_name: str | None = None,
        timing: Timing | None = None,
        limits: Mapping[str, RateLimit] = DEFAULT_LIMITS,
        link: DashboardLink = no_dashboard_link,
    ) -> None:
        self.id = f"scheduler-{uuid.uuid4().hex[:8]}"
        self.sessions, self.leadership, self.campaign_name = sessions, leadership, campaign_name
        self.timing = timing or Timing()
        self.engine = ReminderEngine(
            sessions, clock=clock, route=route, grace=grace, campaign_name=campaign_name, link=link
        )
        self.worker = DeliveryWorker(sessions, senders, clock=clock, route=route, limits=limits)
        self.scheduler: AsyncIOScheduler | None = None
        self.leading = False
        # elect() runs a tick and a delivery round at once, outside APScheduler, whose max_instances therefore
        # cannot keep the interval jobs from starting another alongside; these can (see tick_job).
        self.ticking = asyncio.Lock()
        self.delivering = asyncio.Lock()
        self.tick_failures = FailureStreak("reminder tick", self.id)
        self.delivery_failures = FailureStreak("outbox delivery", self.id)

    def _zone(self) -> ZoneInfo:
        with transaction(self.sessions) as session:
            # Jobs run every minute on the minute, so any served campaign's zone will do: the oldest one's.
            serving = Campaigns(session).serving(self.campaign_name)
            return ZoneInfo(serving[0].timezone if serving else "Asia/Shanghai")

    async def start(self) -> None:
        """Start the scheduler (explicit campaign timezone) and run the first election at once."""
        zone = await asyncio.to_thread(self._zone)
        self.scheduler = AsyncIOScheduler(
            timezone=zone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        _services[self.id] = self
        self.scheduler.add_job(
            election_job,
            IntervalTrigger(seconds=self.timing.election_seconds, timezone=zone),
            args=[self.id],
            id=ELECTION_JOB,
            replace_existing=True,
        )
        self.scheduler.start()
        await self.elect()

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await asyncio.to_thread(self.leadership.release)
        self.leading = False
        LEADER.set(0)
        _services.pop(self.id, None)

    async def elect(self) -> None:
        """Become leader when the lock is free; step down when it was lost."""
        assert self.scheduler is not None
        if self.leading:
            if not await asyncio.to_thread(self.leadership.still_held):
                self.leading = False
                LEADER.set(0)
                for job_id in (TICK_JOB, DELIVERY_JOB):
                    if self.scheduler.get_job(job_id):
                        self.scheduler.remove_job(job_id)
                log.warning("scheduler stepped down", extra={"service": self.id})
            return
        if not await asyncio.to_thread(self.leadership.try_acquire):
            return
        self.leading = True
        LEADER.set(1)
        log.info("scheduler elected leader", extra={"service": self.id})
        zone = self.scheduler.timezone
        tick_trigger = (
            CronTrigger(second=0, timezone=zone)
            if self.timing.tick_seconds is None
            else IntervalTrigger(seconds=self.timing.tick_seconds, timezone=zone)
        )
        self.scheduler.add_job(tick_job, tick_trigger, args=[self.id], id=TICK_JOB, replace_existing=True)
        self.scheduler.add_job(
            delivery_job,
            IntervalTrigger(seconds=self.timing.delivery_seconds, timezone=zone),
            args=[self.id],
            id=DELIVERY_JOB,
            replace_existing=True,
        )
        await tick_job(self.id)  # catch up at once on what passed while nobody led
        await delivery_job(self.id)


async def election_job(service_id: str) -> None:
    service = _services.get(service_id)
    if service is not None:
        await service.elect()


async def tick_job(service_id: str) -> None:
    service = _services.get(service_id)
    if service is None or not service.leading or service.ticking.locked():
        return  # a tick under way covers everything up to now; the next one carries on from its watermark
    try:
        async with service.ticking:
            await asyncio.to_thread(service.engine.tick)
    except Exception as error:  # a database hiccup must not kill the job; the next tick catches up from the watermark
        service.tick_failures.failed(error)
        return
    service.tick_failures.succeeded()
    LAST_TICK.set(service.engine.clock.now().timestamp())


async def delivery_job(service_id: str) -> None:
    service = _services.get(service_id)
    if service is None or not service.leading or service.delivering.locked():
        return  # the round under way drains what is due
    try:
        async with service.delivering:
            await service.worker.drain()
    except Exception as error:  # as above: rows stay pending (or claimed until their lease ends) and go next round
        service.delivery_failures.failed(error)
        return
    service.delivery_failures.succeeded()
