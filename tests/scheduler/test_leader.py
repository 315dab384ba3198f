"""Leader election: one holder at a time on each backend; the lock dies with its holder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from scheduler.leader import Leadership, PostgresLeadership, leadership_for
from tests.conftest import Database


@pytest.fixture
def elections(db: Database) -> Iterator[list[Leadership]]:
    made: list[Leadership] = []
    yield made
    for leadership in made:
        leadership.release()


def test_only_one_leads_until_it_lets_go(db: Database, elections: list[Leadership]) -> None:
    first, second = leadership_for(db.url), leadership_for(db.url)
    elections.extend([first, second])
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire() and not second.still_held()
    assert first.try_acquire()  # asking again while leading changes nothing
    first.release()
    assert second.try_acquire()
    assert not first.try_acquire()


def test_a_dead_holder_frees_the_lock_for_another_process(db: Database, elections: list[Leadership]) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from scheduler.leader import leadership_for;"
            "lock = leadership_for(sys.argv[1]); assert lock.try_acquire(); print('held', flush=True);"
            "sys.stdin.read()",
            db.url,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        standby = leadership_for(db.url)
        elections.append(standby)
        assert not standby.try_acquire()
        holder.kill()
        holder.wait(timeout=10)
        assert standby.try_acquire()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_postgres_leader_steps_down_when_its_session_is_killed(db: Database, elections: list[Leadership]) -> None:
    if db.backend != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; the SQLite flock cannot be lost while the process lives")
    leader = PostgresLeadership(db.url)
    elections.append(leader)
    assert leader.try_acquire()
    with db.engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            )
        )
        admin.commit()
    assert not leader.still_held()
    assert leader.try_acquire()  # reconnects and wins again: nobody else wanted it
