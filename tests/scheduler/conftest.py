"""The reminder engine and outbox worker driven by a ManualClock, delivering to a fake platform server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core.clock import ManualClock
from core.statuses import OutboxStatus
from scheduler.delivery import DeliveryWorker
from scheduler.engine import ReminderEngine, TickResult
from scheduler.outbound import SimulatorSender
from storage.db import transaction
from storage.models import Campaign, Group, OutboxMessage
from tests.conftest import Database, at
from tests.fakes.platform import FakePlatform, serve_fake_platform
from tests.fakes.senders import TIMEOUT, FakeWecomAppSender, FakeWecomRobotSender

ROBOT_KEY = "group-key-1"


def route(_platform: str) -> str:
    return "wecom_app"


@pytest.fixture
def fake() -> Iterator[FakePlatform]:
    with serve_fake_platform() as server:
        yield server


class Reminders:
    """One deployment's scheduler core: tick the engine and drain the outbox at clock moments."""

    def __init__(self, db: Database, clock: ManualClock, fake: FakePlatform, **worker_options: Any) -> None:
        self.db, self.clock, self.fake = db, clock, fake
        fake.clock = lambda: clock.now().timestamp()
        self.loop = asyncio.new_event_loop()
        self.worker_options = {"rng": random.Random(7), **worker_options}
        self.timeout = TIMEOUT
        self.restart()

    def restart(self) -> None:
        """A new process: fresh engine, worker, senders and rate limiter; only the database carries over."""
        self.engine = ReminderEngine(self.db.sessions, clock=self.clock, route=route)
        self.worker = DeliveryWorker(
            self.db.sessions,
            {
                "sim": SimulatorSender(),
                "wecom_app": FakeWecomAppSender(self.fake.url, self.timeout),
                "wecom_robot": FakeWecomRobotSender(self.timeout),
            },
            clock=self.clock,
            route=route,
            **self.worker_options,
        )

    def at(self, moment: str | datetime) -> TickResult:
        """Move the clock to `moment`, tick, and deliver everything that may go out now."""
        self.clock.set(at(moment) if isinstance(moment, str) else moment)
        result = self.engine.tick()
        self.deliver()
        return result

    def deliver(self) -> int:
        return self.loop.run_until_complete(self.worker.drain())

    def walk(self, start: str, days: int, *times_of_day: str) -> None:
        """Tick each day at `times_of_day` (default 09:01) for `days` days from `start` (a date)."""
        for offset in range(days):
            for time_of_day in times_of_day or ("09:01",):
                self.at(at(f"{start} {time_of_day}") + timedelta(days=offset))

    def rows(self, **where: Any) -> list[OutboxMessage]:
        with transaction(self.db.sessions) as session:
            stmt = select(OutboxMessage).order_by(OutboxMessage.id)
            for key, value in where.items():
                stmt = stmt.where(getattr(OutboxMessage, key) == value)
            return list(session.scalars(stmt))

    def pending(self) -> int:
        return len(self.rows(status=OutboxStatus.PENDING))

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def reminders(plan_loaded: Database, clock: ManualClock, fake: FakePlatform) -> Iterator[Reminders]:
    """The test campaign with its group on a WeCom robot webhook at the fake server."""
    with transaction(plan_loaded.sessions) as session:
        session.execute(
            update(Group).values(channel="wecom_robot", webhook=f"{fake.url}/cgi-bin/webhook/send?key={ROBOT_KEY}")
        )
    harness = Reminders(plan_loaded, clock, fake)
    yield harness
    harness.close()


def set_campaign(db: Database, **values: Any) -> None:
    with transaction(db.sessions) as session:
        session.execute(update(Campaign).values(**values))
