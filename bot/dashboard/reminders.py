"""Upcoming reminders for the dashboard: the same rules as the engine and `duban remind preview`
(scheduler/preview.py), shaped for the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from scheduler.preview import RULE_NAMES, STATUS_NAMES, preview
from scheduler.rules import Route
from storage.models import Campaign


@dataclass(frozen=True)
class UpcomingReminder:
    when: datetime  # aware, when it will be sent
    kind: str  # 周报提醒, 截止提醒, …
    to: str  # a person or a group, as a coordinator reads it
    text: str
    state: str  # 待发送 / 已发送 / … ; empty when not in the outbox yet
    mentions: tuple[str, ...] = ()


def upcoming_reminders(session: Session, campaign: Campaign, route: Route,
                       start: datetime, end: datetime) -> list[UpcomingReminder]:
    return [UpcomingReminder(item.reminder.at, RULE_NAMES.get(item.reminder.rule, item.reminder.rule),
                             item.reminder.recipient, item.reminder.text,
                             STATUS_NAMES[item.status] if item.status else "", item.reminder.mentions)
            for item in preview(session, campaign, route, start, end)]
