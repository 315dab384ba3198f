"""Upcoming reminders for the dashboard: the interface the reminder engine (`duban remind preview`) fills.

The engine lives with the scheduler; until it is connected, the placeholder says nothing is planned and
the page says so rather than guessing at the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import Campaign


@dataclass(frozen=True)
class UpcomingReminder:
    when: datetime  # aware, when it will be sent
    to: str  # a user id, a group name, or 协调人
    text: str


UpcomingReminders = Callable[[Session, Campaign, datetime, datetime], list[UpcomingReminder]]


def no_reminders(_session: Session, _campaign: Campaign, _start: datetime, _end: datetime) -> list[UpcomingReminder]:
    """Placeholder until the scheduler's preview is connected."""
    return []


upcoming_reminders: UpcomingReminders = no_reminders
CONNECTED = False  # the page explains the empty list while this is False
