"""A scheduler process for the multi-process tests: the real SchedulerService (APScheduler, election,
engine, worker) with a clock read from a file the test writes, delivering to a FakePlatform.

    python -m tests.fakes.scheduler_proc DATABASE_URL CLOCK_FILE API_BASE

It prints one line per event the test waits for ("ready", "leader") and runs until SIGTERM/SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import datetime
from pathlib import Path

from scheduler.leader import leadership_for
from scheduler.outbound import SimulatorSender
from scheduler.service import SchedulerService, Timing
from storage.db import make_engine, make_session_factory
from tests.fakes.senders import FakeWecomAppSender, FakeWecomRobotSender

FAST = Timing(election_seconds=0.2, tick_seconds=0.2, delivery_seconds=0.2)


class FileClock:
    """Test-only clock: the ISO time in a file (written atomically by the test), so several processes
    share one controllable 'now'."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())


class Announce(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "scheduler elected leader":
            print("leader", flush=True)


async def main(url: str, clock_file: str, api_base: str) -> None:
    logging.getLogger("duban.scheduler").addHandler(Announce())
    logging.getLogger("duban.scheduler").setLevel(logging.INFO)
    engine = make_engine(url)
    service = SchedulerService(
        make_session_factory(engine),
        clock=FileClock(Path(clock_file)),
        route=lambda _platform: "wecom_app",
        senders={
            "sim": SimulatorSender(),
            "wecom_app": FakeWecomAppSender(api_base),
            "wecom_robot": FakeWecomRobotSender(),
        },
        leadership=leadership_for(url),
        timing=FAST,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await service.start()
    print("ready", flush=True)
    await stop.wait()
    await service.stop()
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
