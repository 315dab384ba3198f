"""Fan-out benchmark: the outbox worker against a fake WeCom server on loopback, in real time.

1. Limits on: every one of `--users` members gets one app message and each of `--robots` group robots
   gets `--per-robot` nudges (more than the 20/min a robot takes, so the limit binds). Prints the
   sustained send rate of each backlogged robot as a fraction of its limit (target >= 0.95) and the
   number of 60-second windows in which any target got more than its limit (target 0).
2. Limits off: `--reminders` app messages through the worker, against a bare loop making the same HTTP
   posts with the same client and concurrency (target >= 0.5 of the bare loop's sends/second).

    .venv/bin/python -m bench.fanout [--robots 250] [--users 5000] [--per-robot 40] [--reminders 5000]
                                     [--database-url URL]

Runs about a minute and a half with the defaults (the robot limit is a real minute).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from core.clock import SystemClock
from core.statuses import OutboxStatus
from plan.schema import validate_plan
from plan.sync import load_plan
from scheduler.delivery import DEFAULT_LIMITS, DeliveryWorker, RateLimit
from scheduler.outbound import OutboundMessage, SimulatorSender
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import OutboxMessage
from storage.repos import Campaigns
from tests.fakes.platform import Recorded
from tests.fakes.senders import FakeWecomAppSender, FakeWecomRobotSender

CONCURRENCY = 16


def setup(url: str, api: str, robots: int) -> Any:
    engine = make_engine(url)
    upgrade_schema(engine)
    sessions = make_session_factory(engine)
    plan = {
        "campaign": {"name": "压测", "start": "2026-01-01", "end": "2026-12-31"},
        "units": [{"name": "办公室"}],
        "weekly_report": {"weekday": "周五"},
        "groups": [
            {"name": f"群{i}", "channel": "wecom_robot", "webhook": f"{api}/cgi-bin/webhook/send?key=robot{i}"}
            for i in range(robots)
        ],
    }
    with transaction(sessions) as session:
        load_plan(session, validate_plan(plan, "bench"), now=datetime.now(UTC))
    return engine, sessions


def enqueue(sessions: Any, rows: list[tuple[str, str]], tag: str) -> None:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        campaign = Campaigns(session).current()
        assert campaign is not None
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "campaign_id": campaign.id,
                    "key": f"{tag}:{n}",
                    "channel": channel,
                    "target": target,
                    "text": f"提醒 {n}",
                    "mentions": [],
                    "status": OutboxStatus.PENDING,
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
                for n, (channel, target) in enumerate(rows)
            ],
        )


def senders(api: str) -> dict[str, Any]:
    return {"sim": SimulatorSender(), "wecom_app": FakeWecomAppSender(api), "wecom_robot": FakeWecomRobotSender()}


async def run_worker(worker: DeliveryWorker, sessions: Any, budget: float) -> float:
    """Deliver until the outbox has nothing pending; returns the seconds it took."""
    start = time.perf_counter()
    while True:
        if await worker.run_once():
            continue
        with transaction(sessions) as session:
            if not session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
            ):
                return time.perf_counter() - start
        if time.perf_counter() - start > budget:
            raise SystemExit(f"gave up after {budget:.0f}s")
        await asyncio.sleep(0.05)  # nothing may go out yet: the next window opens soon


def recorded(api: str) -> list[Recorded]:
    rows = httpx.get(f"{api}/_recorded", timeout=60).json()
    return [Recorded(r["path"], r["query"], r["body"], True, r["at"]) for r in rows]


@contextmanager
def fake_server() -> Iterator[str]:
    """The fake platform in its own process (the bench would otherwise measure the GIL it shares)."""
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.platform"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def target_of(request: Recorded) -> str:
    return request.query.get("key") or str(request.body.get("touser"))


def limit_report(requests: list[Recorded], limits: dict[str, RateLimit]) -> tuple[float, int]:
    """(sustained rate of backlogged robots as a fraction of their limit, windows over a limit)."""
    times: dict[str, list[float]] = defaultdict(list)
    kind: dict[str, str] = {}
    for request in requests:
        target = target_of(request)
        times[target].append(request.at)
        kind[target] = "wecom_robot" if request.path == "/cgi-bin/webhook/send" else "wecom_app"
    fractions, violations = [], 0
    for target, sent in times.items():
        limit = limits[kind[target]]
        sent.sort()
        violations += sum(
            1 for i, t in enumerate(sent) if i + limit.count < len(sent) and sent[i + limit.count] - t < limit.period
        )
        if len(sent) > limit.count:
            # A backlog of n needs at least floor((n-1)/count) whole periods; how close did it come?
            ideal = (len(sent) - 1) // limit.count * limit.period
            fractions.append(ideal / (sent[-1] - sent[0]))
    return (sum(fractions) / len(fractions) if fractions else float("nan")), violations


async def bare_loop(api: str, count: int) -> float:
    sender = FakeWecomAppSender(api)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int) -> None:
        async with gate:
            await sender.send(OutboundMessage(channel="wecom_app", target=f"bare{n}", text=f"提醒 {n}"))

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    elapsed = time.perf_counter() - start
    await sender.close()
    return elapsed


async def main(args: argparse.Namespace) -> None:
    with fake_server() as api, tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine, sessions = setup(url, api, args.robots)

        # 1. limits on
        robot_rows = [("wecom_robot", f"群{r}") for _ in range(args.per_robot) for r in range(args.robots)]
        user_rows = [("wecom_app", f"user{u}") for u in range(args.users)]
        enqueue(sessions, robot_rows + user_rows, "limited")
        limits = dict(DEFAULT_LIMITS)
        worker = DeliveryWorker(sessions, senders(api), clock=SystemClock(), limits=limits, concurrency=CONCURRENCY)
        elapsed = await run_worker(worker, sessions, budget=900)
        requests = recorded(api)
        fraction, violations = limit_report(requests, limits)
        print(
            f"limits on : {len(robot_rows)} robot nudges ({args.per_robot} each to {args.robots} robots) + "
            f"{len(user_rows)} app messages in {elapsed:.1f}s ({len(requests)} requests at the fake server)"
        )
        print(
            f"            sustained robot rate / limit = {fraction:.3f} (target >= 0.95); "
            f"windows over a limit = {violations} (target 0)"
        )

        # 2. limits off, against a bare loop of the same posts
        enqueue(sessions, [("wecom_app", f"free{n}") for n in range(args.reminders)], "free")
        free = DeliveryWorker(sessions, senders(api), clock=SystemClock(), limits={}, concurrency=CONCURRENCY)
        worker_seconds = await run_worker(free, sessions, budget=900)
        bare_seconds = await bare_loop(api, args.reminders)
        worker_rate, bare_rate = args.reminders / worker_seconds, args.reminders / bare_seconds
        print(
            f"limits off: worker {worker_rate:.0f} sends/s, bare loop {bare_rate:.0f} sends/s, "
            f"ratio {worker_rate / bare_rate:.2f} (target >= 0.5) on {engine.url.get_backend_name()}"
        )
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", type=int, default=250)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--per-robot", type=int, default=40)
    parser.add_argument("--reminders", type=int, default=5000)
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
