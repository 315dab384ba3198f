"""The scheduler leader is killed with SIGKILL in the middle of sending the Friday reminders: the standby leads
within 60 s (production's 15 s election interval), and no reminder is lost or doubled."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from core.statuses import OutboxStatus
from storage.db import make_engine, make_session_factory
from tests.conftest import at
from tests.fakes.platform import MESSAGE_SEND, FakePlatform
from tests.reliability.harness import (
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

pytestmark = pytest.mark.reliability

UNITS = 40
IN_FLIGHT = 16  # the outbox worker's default concurrency: requests on their way when the leader dies
REMINDER = "【周报提醒】"
TAKEOVER_PROMISE = 60.0  # seconds (docs/reminders.md, scheduler/README.md)


def delivered(fake: FakePlatform, before: str | None = None, after: str | None = None) -> Counter[str]:
    """Reminders WeCom delivered per user (its duplicate check drops a repeat), arriving in a clock window."""
    return Counter(
        r.body["touser"]
        for r in fake.sends(contains=REMINDER)
        if r.delivered
        and (before is None or r.at < at(before).timestamp())
        and (after is None or r.at >= at(after).timestamp())
    )


def test_the_standby_takes_over_a_killed_leader_and_no_reminder_is_lost_or_doubled(
    shared_postgres: str,
    topology_for: Callable[[str], Topology],
    clock_file: ClockFile,
    wecom_fake: FakePlatform,
    tmp_path: Path,
) -> None:
    clock_file.set("2020-07-17 08:59")
    prepare(shared_postgres, write_plan(tmp_path / "plan.yaml", UNITS), "2020-07-15 10:00")
    topology = topology_for(shared_postgres)
    topology.scheduler("scheduler1")
    topology.scheduler("scheduler2")
    topology.ready()
    wait_until(lambda: sum(p.leader_since is not None for p in topology.procs) == 1, "one scheduler to lead")
    leader = topology.leader()
    [standby] = [p for p in topology.procs if p is not leader]

    # WeCom is slow: the leader claims the 09:00 reminders and has IN_FLIGHT of them on their way when it dies.
    wecom_fake.hold(MESSAGE_SEND)
    clock_file.set("2020-07-17 09:00:30")
    wait_until(lambda: len(wecom_fake.sends(contains=REMINDER)) >= IN_FLIGHT, "the leader's sends to be under way")
    killed = time.monotonic()
    leader.kill()
    wecom_fake.let_go()  # WeCom had them: they reach the users although the leader never hears back

    standby.wait_for_line("leader ", timeout=TAKEOVER_PROMISE + 15)
    assert standby.leader_since is not None
    takeover = standby.leader_since - killed
    report(
        f"failover: the standby led {takeover:.1f} s after the leader was killed (election every 15 s; "
        f"promise {TAKEOVER_PROMISE:.0f} s)"
    )
    assert takeover <= TAKEOVER_PROMISE

    # The dead leader's claims hold until their 5-minute lease ends; then the new leader sends them again, and
    # WeCom's duplicate check (enable_duplicate_check) drops the repeats of the ones that had arrived.
    clock_file.set("2020-07-17 09:06")
    engine = make_engine(shared_postgres)
    sessions = make_session_factory(engine)
    try:
        wait_until(settled(sessions, "2020-07-17 09:06"), "the new leader to finish the 09:00 reminders")
        # And the next moment is the new leader's alone.
        clock_file.set("2020-07-17 11:00:30")
        wait_until(lambda: len(delivered(wecom_fake, after="2020-07-17 11:00")) >= UNITS, "the 11:00 reminders")
        clock_file.set("2020-07-17 11:05")
        wait_until(settled(sessions, "2020-07-17 11:05"), "the new leader to tick past 11:05")
        rows = weekly_reminders(sessions)
    finally:
        engine.dispose()

    everyone = Counter({liaison(n): 1 for n in range(1, UNITS + 1)})
    assert delivered(wecom_fake, before="2020-07-17 11:00") == everyone  # 09:00: once each, none lost
    assert delivered(wecom_fake, after="2020-07-17 11:00") == everyone  # 11:00: once each
    assert len(rows) == 2 * UNITS and {r.status for r in rows} == {OutboxStatus.SENT}
    assert Counter(r.target for r in rows) == everyone + everyone
    nine = [r for r in rows if "T09:00" in r.key]
    assert len(nine) == UNITS and all(r.attempts == 2 for r in nine)  # claimed by the dead leader, sent by the new
    repeats = len(wecom_fake.sends(contains=REMINDER)) - 2 * UNITS
    report(
        f"failover: {UNITS} reminders at 09:00, {repeats} sent twice (in flight at the kill) and dropped by "
        f"WeCom's duplicate check; {UNITS} at 11:00 from the new leader; each user got each reminder once"
    )
    assert repeats >= IN_FLIGHT
