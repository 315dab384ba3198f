"""The reminder preview (`duban remind preview`, the dashboard's 提醒 page) shows exactly what the scheduler
then sends: the same messages to the same people, and a once-only notice once."""

from __future__ import annotations

from datetime import timedelta

from core.statuses import OutboxStatus
from scheduler.preview import preview
from scheduler.rules import CALENDAR_GAP
from storage.db import transaction
from tests.conftest import at
from tests.factories import campaign_of
from tests.scheduler.conftest import Reminders, route
from tests.scheduler.test_engine import load_2026_plan


def previewed(reminders: Reminders, start: str, days: int) -> list[tuple[str, str, str]]:
    with transaction(reminders.db.sessions) as session:
        first = at(start)
        last = first + timedelta(days=days) - timedelta(seconds=1)
        items = preview(session, campaign_of(session), route, first, last)
    return [(item.reminder.key, item.reminder.target, item.reminder.text) for item in items]


def test_the_preview_of_a_week_is_what_the_scheduler_sends_that_week(reminders: Reminders) -> None:
    # From 1 December the coordinators are told once that 2027's holidays are missing: a notice that fits
    # every working day until it has been told.
    load_2026_plan(reminders, campaign_end="2027-03-31", deliverable_due="2026-12-04")
    reminders.at("2026-11-29 23:00")  # the scheduler starts on Sunday night
    expected = previewed(reminders, "2026-11-30 00:00", 7)
    assert sum(1 for key, _, _ in expected if key.startswith(CALENDAR_GAP)) == 1

    reminders.walk("2026-11-30", 7, "09:01", "11:01", "12:01")
    sent = [(row.key, row.target, row.text) for row in reminders.rows() if row.status is not OutboxStatus.MISSED]
    assert all(row.status is OutboxStatus.SENT for row in reminders.rows())
    assert sorted(sent) == sorted(expected)
    assert {key.split(":")[0] for key, _, _ in sent} >= {"weekly.remind", "weekly.due", "deadline.nudge", CALENDAR_GAP}

    later = previewed(reminders, "2026-12-07 00:00", 7)
    assert later and not any(key.startswith(CALENDAR_GAP) for key, _, _ in later)  # told already: not again
