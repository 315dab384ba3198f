"""Two real scheduler processes against one database: one leads, each reminder goes out once, and when
the leader is killed the standby takes over. Requests are counted at the fake platform server."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from core.statuses import OutboxStatus
from storage.db import transaction
from storage.models import OutboxMessage, SchedulerState
from tests.conftest import Database, at
from tests.fakes.platform import FakePlatform

pytestmark = pytest.mark.slow  # real processes: make test-quick leaves it out

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0  # seconds: the bound on every wait for the processes


class Proc:
    """A scheduler process whose stdout lines are collected by a reader thread."""

    def __init__(self, db: Database, clock_file: Path, api: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.scheduler_proc", db.url, str(clock_file), api],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.strip())

    def wait_for(self, word: str) -> None:
        deadline = time.monotonic() + WAIT
        while word not in self.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.popen.poll() is not None and self.lines.empty()):
                raise AssertionError(f"process never said {word!r}; output: {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition the processes will make true (bounded); never a fixed sleep."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def procs(plan_loaded: Database, fake: FakePlatform, tmp_path: Path) -> Iterator[tuple[Path, list[Proc]]]:
    clock_file = tmp_path / "clock"
    fake.clock = lambda: datetime.fromisoformat(clock_file.read_text()).timestamp()
    started: list[Proc] = []
    yield clock_file, started
    for proc in started:
        proc.stop()


def set_clock(clock_file: Path, moment: str) -> None:
    scratch = clock_file.with_suffix(".tmp")
    scratch.write_text(at(moment).isoformat())
    scratch.replace(clock_file)  # atomic: a process never reads half a time


def settled(db: Database, moment: str) -> Callable[[], bool]:
    """The leader has ticked at or after `moment` and nothing is left to send."""

    def check() -> bool:
        with transaction(db.sessions) as session:
            state = session.scalars(select(SchedulerState)).first()
            pending = session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.channel != "sim"
                )
            ).first()
            return state is not None and state.watermark >= at(moment) and pending is None

    return check


def test_two_processes_send_each_reminder_once_and_the_standby_takes_over(
    plan_loaded: Database, fake: FakePlatform, procs: tuple[Path, list[Proc]]
) -> None:
    clock_file, started = procs
    set_clock(clock_file, "2020-07-17 08:59")
    first = Proc(plan_loaded, clock_file, fake.url)
    started.append(first)
    first.wait_for("leader")
    second = Proc(plan_loaded, clock_file, fake.url)
    started.append(second)
    second.wait_for("ready")
    assert "leader" not in second.seen

    set_clock(clock_file, "2020-07-17 09:00:30")
    wait_until(lambda: len(fake.requests) >= 2, "the 09:00 reminders")
    set_clock(clock_file, "2020-07-17 09:05")
    wait_until(settled(plan_loaded, "2020-07-17 09:05"), "the leader to tick past 09:05")
    assert sorted(r.body["touser"] for r in fake.requests) == ["MaQiang", "WangFang"]

    first.popen.kill()  # the leader dies without a word
    first.popen.wait(timeout=10)
    set_clock(clock_file, "2020-07-17 11:00:30")
    second.wait_for("leader")
    wait_until(lambda: len(fake.requests) >= 4, "the 11:00 reminders from the new leader")
    set_clock(clock_file, "2020-07-17 11:05")
    wait_until(settled(plan_loaded, "2020-07-17 11:05"), "the new leader to tick past 11:05")
    assert sorted(r.body["touser"] for r in fake.requests) == ["MaQiang", "MaQiang", "WangFang", "WangFang"]
    assert len(fake.app_messages()) == 4  # two reminders each, two hours apart: WeCom delivers both
