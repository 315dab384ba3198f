"""Outbox.enqueue_keyed: a tick's reminders in multi-row inserts, each key queued once however often it comes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core.statuses import OutboxStatus
from storage.db import transaction
from storage.models import OutboxMessage
from storage.repos import KeyedMessage, Outbox
from tests.conftest import Database, at
from tests.factories import campaign_of


def reminder(n: int, **fields: object) -> KeyedMessage:
    return KeyedMessage(
        key=f"weekly.remind:c1/week:2020-W29:contact:{n}:2020-07-17T09:00",
        channel="sim",
        target=f"user{n}",
        text=f"【周报提醒】{n}",
        **fields,
    )  # type: ignore[arg-type]


def test_a_second_tick_queues_only_the_new_keys_across_batches(plan_loaded: Database) -> None:
    now = at("2020-07-17 09:00")
    count = 2007  # more than one multi-row batch
    with transaction(plan_loaded.sessions) as session:
        first = Outbox(session).enqueue_keyed(
            campaign=campaign_of(session), messages=[reminder(n) for n in range(0, count, 2)], now=now
        )
    with transaction(plan_loaded.sessions) as session:
        second = Outbox(session).enqueue_keyed(
            campaign=campaign_of(session), messages=[reminder(n) for n in range(count)], now=now
        )
        rows = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert len(first) == (count + 1) // 2
    assert second == {reminder(n).key for n in range(1, count, 2)}
    assert rows == count


def test_missed_reminders_keep_their_status_and_moment(plan_loaded: Database) -> None:
    now, moment = at("2020-07-17 15:00"), at("2020-07-17 09:00")
    with transaction(plan_loaded.sessions) as session:
        queued = Outbox(session).enqueue_keyed(
            campaign=campaign_of(session),
            messages=[
                reminder(1, status=OutboxStatus.MISSED, not_before=moment, mentions=("13900000001",)),
                reminder(2),
            ],
            now=now,
        )
    with transaction(plan_loaded.sessions) as session:
        rows = {r.target: r for r in session.scalars(select(OutboxMessage))}
    assert len(queued) == 2
    assert (rows["user1"].status, rows["user1"].not_before, rows["user1"].mentions) == (
        OutboxStatus.MISSED,
        moment,
        ["13900000001"],
    )
    assert (rows["user2"].status, rows["user2"].not_before, rows["user2"].attempts) == (OutboxStatus.PENDING, now, 0)
    assert rows["user2"].created_at == now and now - moment == timedelta(hours=6)
