"""SchedulerService: the catch-up tick an election runs never overlaps the interval tick job in one process.

Found by tests/reliability: elect() ran a tick directly while APScheduler's interval tick job started another
(max_instances counts only APScheduler's own runs), and the two raced to create the campaign's watermark row.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from sqlalchemy.exc import OperationalError

from core.clock import ManualClock
from scheduler.outbound import SimulatorSender
from scheduler.service import TICK_JOB, SchedulerService, Timing, tick_job
from tests.conftest import Database

WAIT = 10.0  # seconds: the bound on every wait


class Always:
    """A leadership this process always holds."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class SlowEngine:
    """Stands in for the ReminderEngine: each tick waits until the test lets it finish, counting overlaps."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock  # the service reads it for the last-tick gauge
        self.running = 0
        self.most = 0
        self.calls = 0
        self.finish = threading.Event()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        self.finish.wait(WAIT)
        with self._lock:
            self.running -= 1


def test_the_interval_tick_never_runs_alongside_the_catch_up_tick_of_an_election(
    plan_loaded: Database, clock: ManualClock
) -> None:
    service = SchedulerService(
        plan_loaded.sessions,
        clock=clock,
        senders={"sim": SimulatorSender()},
        route=lambda _platform: "sim",
        leadership=Always(),
        timing=Timing(election_seconds=60, tick_seconds=0.02, delivery_seconds=60),
    )
    engine = SlowEngine(clock)
    service.engine = engine  # type: ignore[assignment]
    submitted: list[JobSubmissionEvent] = []

    async def scenario() -> None:
        starting = asyncio.create_task(service.start())  # elects itself and runs the catch-up tick, which waits
        deadline = time.monotonic() + WAIT
        while service.scheduler is None or engine.calls == 0:
            assert time.monotonic() < deadline, "the catch-up tick never started"
            await asyncio.sleep(0.01)
        service.scheduler.add_listener(
            lambda event: submitted.append(event) if event.job_id == TICK_JOB else None, EVENT_JOB_SUBMITTED
        )
        while len(submitted) < 3:  # the interval job has come round several times during the catch-up tick
            assert time.monotonic() < deadline, "the interval tick job never ran"
            await asyncio.sleep(0.01)
        engine.finish.set()
        await starting
        await service.stop()

    asyncio.run(scenario())
    assert engine.most == 1


class FailingEngine:
    """A ReminderEngine whose database is away until `back` is set."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.back = False

    def tick(self) -> None:
        if not self.back:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_a_failing_tick_logs_one_traceback_then_a_line_a_round_then_its_recovery(
    plan_loaded: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="duban.scheduler")
    service = SchedulerService(
        plan_loaded.sessions,
        clock=clock,
        senders={"sim": SimulatorSender()},
        route=lambda _platform: "sim",
        leadership=Always(),
        timing=Timing(election_seconds=3600, tick_seconds=3600, delivery_seconds=3600),
    )
    engine = FailingEngine(clock)
    service.engine = engine  # type: ignore[assignment]

    async def scenario() -> None:
        await service.start()  # the election's catch-up tick: the first failure
        await tick_job(service.id)
        await tick_job(service.id)
        engine.back = True
        await tick_job(service.id)
        await tick_job(service.id)
        await service.stop()

    asyncio.run(scenario())
    ticks = [r for r in caplog.records if r.name == "duban.scheduler" and r.getMessage().startswith("reminder tick")]
    assert [(r.getMessage(), r.exc_info is not None) for r in ticks] == [
        ("reminder tick failed", True),
        ("reminder tick still failing", False),
        ("reminder tick still failing", False),
        ("reminder tick recovered", False),
    ]
    assert ticks[-1].failed_rounds == 3  # type: ignore[attr-defined]
