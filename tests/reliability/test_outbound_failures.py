"""WeCom's server API refuses for a while — HTTP 500, timeouts, errcode 45009 (frequency limit), a failed
gettoken — while the Friday reminders go out: afterwards every reminder has been delivered exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.statuses import OutboxStatus
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage
from tests.fakes.platform import GETTOKEN, HANG, MESSAGE_SEND, FakePlatform
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

UNITS = 30
REMINDER = "【周报提醒】"
RATE_LIMITED = {"errcode": 45009, "errmsg": "api freq out of limit"}
REFUSALS = [500] * 10 + [RATE_LIMITED] * 10 + [HANG] * 10  # one for each reminder's first attempt


def test_reminders_refused_for_a_while_are_all_delivered_once_afterwards(
    shared_postgres: str,
    topology_for: Callable[[str], Topology],
    clock_file: ClockFile,
    wecom_fake: FakePlatform,
    tmp_path: Path,
) -> None:
    clock_file.set("2020-07-17 08:59")
    prepare(shared_postgres, write_plan(tmp_path / "plan.yaml", UNITS), "2020-07-15 10:00")
    topology = topology_for(shared_postgres)
    # A hung request costs its timeout in real seconds: 1 s here instead of production's 10 s.
    topology.scheduler("scheduler1", DUBAN_TEST_OUTBOUND_TIMEOUT="1")
    topology.scheduler("scheduler2", DUBAN_TEST_OUTBOUND_TIMEOUT="1")
    topology.ready()
    wait_until(lambda: sum(p.leader_since is not None for p in topology.procs) == 1, "one scheduler to lead")

    wecom_fake.script(500, path=GETTOKEN)  # the first token fetch fails too
    wecom_fake.script(*REFUSALS, path=MESSAGE_SEND)
    clock_file.set("2020-07-17 09:00:30")
    engine = make_engine(shared_postgres)
    sessions = make_session_factory(engine)

    def failed_once() -> bool:  # every reminder was tried and is waiting for its retry
        with transaction(sessions) as session:
            waiting = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.last_error.is_not(None))
            )
        return waiting == UNITS

    try:
        wait_until(failed_once, "every reminder's first attempt to fail")
        assert not [r for r in wecom_fake.sends(contains=REMINDER) if r.delivered and r.answer != "hang"]
        # The platform recovers; time passes (back-off and 45009's 60 s); the outbox empties by itself.
        moment = clock_file.now()
        for _ in range(30):
            if settled(sessions, "2020-07-17 09:00:30")():
                break
            moment += timedelta(minutes=1)
            clock_file.set(moment)
            wait_until(lambda: not _due(sessions, clock_file), "the leader to send what is due", every=0.1)
        wait_until(settled(sessions, "2020-07-17 09:00:30"), "every reminder to be delivered")
        rows = weekly_reminders(sessions)
    finally:
        engine.dispose()

    sends = wecom_fake.sends(contains=REMINDER)
    delivered = Counter(r.body["touser"] for r in sends if r.delivered)
    assert delivered == Counter({liaison(n): 1 for n in range(1, UNITS + 1)})
    assert {r.status for r in rows} == {OutboxStatus.SENT} and len(rows) == UNITS
    answers = Counter(r.answer for r in sends)
    report(
        f"outbound failures: {UNITS} reminders; WeCom answered {dict(answers)} (and gettoken 500 once); "
        f"all delivered once, after {max(r.attempts for r in rows)} attempts at most, by "
        f"{clock_file.now():%H:%M} campaign time (back-off and 45009's 60 s wait on the injected clock)"
    )
    assert answers["500"] == 10 and answers["errcode 45009"] == 10 and answers["hang"] == 10


def _due(sessions: sessionmaker[Session], clock_file: ClockFile) -> bool:
    """A pending row whose time has come (the leader has not sent it yet)."""
    with transaction(sessions) as session:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= clock_file.now())
            )
        )
