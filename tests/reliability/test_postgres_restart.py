"""PostgreSQL stops and starts again in the middle of a 200-callback load, while the Friday reminders are on their
way: callbacks during the outage answer 503 (so WeCom re-sends them), nothing is half-written, the processes
recover by themselves, and the outbox delivers what was pending — each reminder once.

The server is a private cluster of this test (initdb + pg_ctl on a free port), not the suite's shared server:
the issue's `pg_ctlcluster stop/start` would take the database away from every other test running at the time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from core.statuses import OutboxStatus
from storage.db import make_engine, make_session_factory
from tests.fakes.platform import MESSAGE_SEND, FakePlatform
from tests.reliability.harness import (
    WAIT,
    ClockFile,
    PrivateCluster,
    Topology,
    liaison,
    prepare,
    report,
    settled,
    wait_until,
    weekly_reminders,
    write_plan,
)
from tests.reliability.load import WeCom, assert_stored_once, liaison_mix

pytestmark = pytest.mark.reliability

UNITS = 40
CONCURRENCY = 200
DURATION = 20.0  # seconds of load
RETRY_SHARE = 0.10
FRIDAY_AFTER = 3.0  # seconds into the load, the clock passes 09:00 …
OUTAGE = 3.0  # … and once the reminders are on their way PostgreSQL stops, for this long
IN_FLIGHT = 16  # the outbox worker's concurrency
REMINDER = "【周报提醒】"


def test_postgres_restarted_mid_load(
    private_postgres: PrivateCluster,
    topology_for: Callable[[str], Topology],
    clock_file: ClockFile,
    wecom_fake: FakePlatform,
    tmp_path: Path,
) -> None:
    clock_file.set("2020-07-17 08:59")
    prepare(private_postgres.url, write_plan(tmp_path / "plan.yaml", UNITS), "2020-07-15 10:00")
    topology = topology_for(private_postgres.url)
    webs = [topology.web("web1"), topology.web("web2")]
    # A 2 s election, so that leadership settles soon after the restart (production's 15 s: see test_failover).
    topology.scheduler("scheduler1", DUBAN_TEST_ELECTION_SECONDS="2")
    topology.scheduler("scheduler2", DUBAN_TEST_ELECTION_SECONDS="2")
    topology.ready()
    wait_until(lambda: sum(p.leader_since is not None for p in topology.procs) == 1, "one scheduler to lead")
    pids = [p.popen.pid for p in topology.procs]
    moments: dict[str, float] = {}

    async def outage(wecom: WeCom) -> None:
        await asyncio.sleep(FRIDAY_AFTER)  # pacing the scenario; what follows polls for its outcomes
        wecom_fake.hold(MESSAGE_SEND)  # WeCom is slow today: the reminders are still on their way …
        clock_file.set("2020-07-17 09:00:30")
        await asyncio.to_thread(
            wait_until,
            lambda: len(wecom_fake.sends(contains=REMINDER)) >= IN_FLIGHT,
            "the leader's reminders to be under way",
            WAIT,
        )
        moments["stopping"] = time.monotonic() - wecom.started
        await asyncio.to_thread(private_postgres.stop)  # … when PostgreSQL stops (pg_ctl stop -m fast)
        moments["down"] = time.monotonic() - wecom.started
        wecom_fake.let_go()  # WeCom takes them; the leader cannot record that it sent them
        await asyncio.sleep(OUTAGE)
        moments["starting"] = time.monotonic() - wecom.started
        await asyncio.to_thread(private_postgres.start)
        moments["up"] = time.monotonic() - wecom.started

    async def scenario() -> WeCom:
        # WeCom re-sends a callback that got no 200 (here until 30 s after the load), as it would for real.
        async with WeCom([w.url for w in webs], clock_file, retry_failed_until=DURATION + 30) as wecom:
            await asyncio.gather(
                wecom.run(
                    liaison_mix(wecom, UNITS, ()), concurrency=CONCURRENCY, duration=DURATION, retry_share=RETRY_SHARE
                ),
                outage(wecom),
            )
        return wecom

    result = asyncio.run(scenario()).result
    statuses = result.statuses()
    during = [a for a in result.attempts if a.started > moments["down"] and a.started + a.latency < moments["starting"]]
    after = sorted(
        (a for a in result.attempts if a.started > moments["up"] and a.status == 200),
        key=lambda a: a.started + a.latency,
    )
    recovered = after[0].started + after[0].latency - moments["up"] if after else float("nan")
    report(result.summary("postgres restart (200 concurrent)"))
    report(
        f"postgres restart: stopped {moments['down'] - moments['stopping']:.1f} s after pg_ctl stop, down "
        f"{moments['up'] - moments['down']:.1f} s; {len(during)} callbacks during the outage answered "
        f"{dict(Counter(a.status for a in during))}; first 200 {recovered:.2f} s after PostgreSQL was back"
    )

    # Every callback gets an HTTP answer. One sent on a keep-alive connection the server was closing as idle at that
    # moment got none (ServerDisconnectedError, "Can not write request body") when a busy client took longer to
    # reuse it than uvicorn's default 5 s; the server now keeps idle connections longer than any client holds them.
    unanswered = [a for a in result.attempts if a.status == 0]
    assert set(statuses) <= {200, 503}, (
        f"a database outage is a 503, never another error nor no answer: {statuses}, "
        f"unanswered {dict(Counter(a.error.split(':')[0] for a in unanswered))}"
        + (f", e.g. {unanswered[0].error} at {unanswered[0].started:.1f} s" if unanswered else "")
    )
    assert during and {a.status for a in during} == {503}
    assert after, "the web processes recovered by themselves"
    assert [p.popen.poll() for p in topology.procs] == [None] * len(pids), "no process died or was restarted"
    last = {a.message.msg_id: a.status for a in result.attempts}  # attempts are recorded in order
    assert set(last.values()) == {200}, "every message was eventually accepted (WeCom's re-sends)"

    engine = make_engine(private_postgres.url)
    sessions = make_session_factory(engine)
    try:
        told = assert_stored_once(result, sessions, wecom_fake, outage=True)  # nothing half-written, nothing twice
        # The reminders WeCom took during the outage are still pending (their lease runs 5 minutes); then they
        # go again, and WeCom's duplicate check drops the repeats: the outbox resumes, each user gets one.
        clock_file.set("2020-07-17 09:06")
        wait_until(settled(sessions, "2020-07-17 09:06"), "the outbox to deliver what was pending")
        rows = weekly_reminders(sessions)
    finally:
        engine.dispose()
    everyone = Counter({liaison(n): 1 for n in range(1, UNITS + 1)})
    assert Counter(r.target for r in rows) == everyone and {r.status for r in rows} == {OutboxStatus.SENT}
    delivered = Counter(r.body["touser"] for r in wecom_fake.sends(contains=REMINDER) if r.delivered)
    assert delivered == everyone
    report(
        f"postgres restart: {UNITS} reminders in flight at the stop, re-sent after their lease "
        f"(attempts {sorted(Counter(r.attempts for r in rows).items())}), each delivered once; {told} messages "
        "answered after the reply budget met the outage: not stored, their users told to send them again"
    )
