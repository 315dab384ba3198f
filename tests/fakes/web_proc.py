"""A duban process for the multi-process tests: the real app (create_app from DUBAN_* settings) served by
uvicorn on a loopback port it picks itself, with time read from a file the test writes (FileClock).

    python -m tests.fakes.web_proc CLOCK_FILE

With DUBAN_SCHEDULER=off it is a web replica; with DUBAN_SCHEDULER=on it also runs the reminder scheduler
(election, engine, outbox worker, the real platform clients), as the scheduler process of deploy/ does.
It prints "listening <port>" once the socket is bound and "leader <time.monotonic()>" when its scheduler
wins the election (CLOCK_MONOTONIC is one clock for every process of the machine, so a test can measure a
takeover from the moment it killed the old leader).

Test-only knobs, because time here is a file the test moves rather than the wall clock:
DUBAN_TEST_TICK_SECONDS and DUBAN_TEST_DELIVERY_SECONDS (the production tick runs on the wall clock's
minute), DUBAN_TEST_ELECTION_SECONDS (default: production's), DUBAN_TEST_OUTBOUND_TIMEOUT (seconds an
outbound platform call may take, production 10 s).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import uvicorn

import bot.senders
import scheduler.service
from bot.app import create_app
from bot.settings import Settings
from scheduler.service import Timing
from tests.fakes.scheduler_proc import FileClock


class Announce(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "scheduler elected leader":
            print(f"leader {time.monotonic():.3f}", flush=True)


def timing_from_env() -> Timing:
    timing = Timing()
    for name, variable in (
        ("election_seconds", "DUBAN_TEST_ELECTION_SECONDS"),
        ("tick_seconds", "DUBAN_TEST_TICK_SECONDS"),
        ("delivery_seconds", "DUBAN_TEST_DELIVERY_SECONDS"),
    ):
        if os.environ.get(variable):
            timing = replace(timing, **{name: float(os.environ[variable])})
    return timing


def main(clock_file: str) -> None:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("duban.scheduler").addHandler(Announce())
    logging.getLogger("duban.scheduler").setLevel(logging.INFO)
    # The service reads its Timing default when it is built; this process builds it through create_app.
    scheduler.service.Timing = timing_from_env  # type: ignore[misc,assignment]
    if os.environ.get("DUBAN_TEST_OUTBOUND_TIMEOUT"):
        bot.senders.OUTBOUND_TIMEOUT = httpx.Timeout(float(os.environ["DUBAN_TEST_OUTBOUND_TIMEOUT"]))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, clock=FileClock(Path(clock_file)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    print(f"listening {sock.getsockname()[1]}", flush=True)
    # Idle connections are kept as `duban serve` keeps them (DUBAN_HTTP_KEEP_ALIVE): the load's client drops its own
    # long before, as nginx does in production.
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=3,
            backlog=2048,
            timeout_keep_alive=settings.http_keep_alive,
        )
    )
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])
