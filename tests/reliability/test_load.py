"""200 concurrent WeCom callbacks for 30 s over two web processes, with WeCom's re-sends, while a Friday 09:00
weekly-report reminder moment passes in the two scheduler processes: no 5xx, every message stored once, each
reminder delivered once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.statuses import OutboxStatus
from storage.db import make_engine, make_session_factory, transaction
from storage.models import WeeklyReport
from tests.fakes.platform import FakePlatform
from tests.reliability.harness import (
    WAIT,
    ClockFile,
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

UNITS = 60
REPORTING = range(1, 21)  # these units' liaisons send 周报 before Friday 09:00: no reminder for them
SILENT = range(21, UNITS + 1)  # these never do: one reminder each
CONCURRENCY = 200
DURATION = 30.0  # seconds of load
RETRY_SHARE = 0.10  # of messages WeCom sends twice (same MsgId)
FRIDAY_AFTER = 8.0  # seconds into the load, the clock passes Friday 09:00
REMINDER = "【周报提醒】"


def reminded(fake: FakePlatform) -> Counter[str]:
    """Reminders WeCom delivered to each user: not refused, not dropped by its duplicate check."""
    return Counter(r.body["touser"] for r in fake.sends(contains=REMINDER) if r.delivered)


def test_200_concurrent_callbacks_for_30_seconds_while_the_friday_reminders_go_out(
    shared_postgres: str,
    topology_for: Callable[[str], Topology],
    clock_file: ClockFile,
    wecom_fake: FakePlatform,
    tmp_path: Path,
) -> None:
    clock_file.set("2020-07-17 08:59")  # a Friday of the campaign, a minute before the 09:00 reminder
    prepare(shared_postgres, write_plan(tmp_path / "plan.yaml", UNITS), "2020-07-15 10:00")
    topology = topology_for(shared_postgres)
    webs = [topology.web("web1"), topology.web("web2")]
    topology.scheduler("scheduler1")
    topology.scheduler("scheduler2")
    topology.ready()
    wait_until(lambda: sum(p.leader_since is not None for p in topology.procs) == 1, "one scheduler to lead")
    timings: dict[str, float] = {}

    async def friday(load_started: float) -> None:
        await asyncio.sleep(FRIDAY_AFTER)  # pacing the scenario; what follows polls for its outcome
        clock_file.set("2020-07-17 09:00:30")
        moved = time.monotonic()
        await asyncio.to_thread(
            wait_until, lambda: len(reminded(wecom_fake)) >= len(SILENT), "the 09:00 reminders during the load", WAIT
        )
        timings["delivered"] = time.monotonic() - moved
        timings["at"] = time.monotonic() - load_started
        clock_file.set("2020-07-17 09:02")

    async def scenario() -> WeCom:
        async with WeCom([w.url for w in webs], clock_file) as wecom:
            await asyncio.gather(
                *(wecom.post(wecom.message(liaison(n), "周报 本周完成执法案卷评查", "weekly")) for n in REPORTING)
            )
            started = time.monotonic()
            await asyncio.gather(
                wecom.run(
                    liaison_mix(wecom, UNITS, REPORTING),
                    concurrency=CONCURRENCY,
                    duration=DURATION,
                    retry_share=RETRY_SHARE,
                ),
                friday(started),
            )
        return wecom

    wecom = asyncio.run(scenario())
    result = wecom.result
    report(result.summary(f"load ({CONCURRENCY} concurrent, 2 web processes, PostgreSQL)"))
    report(
        f"load: the 09:00 reminders reached WeCom {timings['delivered']:.2f} s after the clock passed 09:00, "
        f"{timings['at']:.1f} s into the load"
    )

    statuses = result.statuses()
    errors = [a.error for a in result.attempts if a.status == 0]
    assert set(statuses) == {200}, f"every callback answers 200: {statuses} {errors[:5]}"
    assert len(result.attempts) >= CONCURRENCY * 5, "the load ran"
    assert sum(a.retry for a in result.attempts) >= RETRY_SHARE / 2 * len(result.messages), "WeCom re-sent some"
    engine = make_engine(shared_postgres)
    sessions = make_session_factory(engine)
    try:
        assert_stored_once(result, sessions, wecom_fake)
        wait_until(settled(sessions, "2020-07-17 09:02"), "the leader to tick past 09:02 with nothing left to send")
        with transaction(sessions) as session:
            weekly = session.scalar(select(func.count()).select_from(WeeklyReport).where(WeeklyReport.iso_week == 29))
        outbox = weekly_reminders(sessions)
    finally:
        engine.dispose()
    assert weekly == len(REPORTING)

    # Each reminder exactly once: one outbox row per silent liaison, sent; one delivery each at WeCom.
    assert sorted(r.target for r in outbox) == sorted(liaison(n) for n in SILENT)
    assert {r.status for r in outbox} == {OutboxStatus.SENT}
    assert reminded(wecom_fake) == Counter({liaison(n): 1 for n in SILENT})
    assert len(wecom_fake.sends(contains=REMINDER)) == len(SILENT), "no reminder was even attempted twice"
