"""Upcoming reminders for the dashboard: the same rules as the engine and `duban remind preview`
(scheduler/preview.py), shaped for the page — by day, the same message to many people on one line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.channels import Route
from scheduler.preview import RULE_NAMES, STATUS_NAMES, WEEKDAYS, preview
from storage.models import Campaign


@dataclass(frozen=True)
class UpcomingReminder:
    when: datetime  # aware, when it will be sent
    kind: str  # 周报提醒, 截止提醒, …
    to: str  # a person or a group, as a coordinator reads it
    text: str
    state: str  # 待发送 / 已发送 / … ; empty when not in the outbox yet
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReminderLine:
    """One line of the page: one message, or one kind of message sent at one moment to several people."""

    when: datetime
    kind: str
    items: tuple[UpcomingReminder, ...]
    first_day: str | None = None  # set when the same kind went to the same people on an earlier day

    @property
    def headline(self) -> str:
        return self.items[0].text.splitlines()[0]

    @property
    def recipients(self) -> list[str]:
        return [item.to for item in self.items]

    @property
    def texts(self) -> list[str]:
        """The distinct texts, in order (a weekly reminder names each unit, so it differs per recipient)."""
        return list(dict.fromkeys(item.text for item in self.items))

    @property
    def states(self) -> str:
        return "、".join(dict.fromkeys(item.state or "待生成" for item in self.items))


@dataclass(frozen=True)
class ReminderDay:
    day: date
    lines: list[ReminderLine]

    @property
    def label(self) -> str:
        return f"{self.day.month}月{self.day.day}日 周{WEEKDAYS[self.day.weekday()]}"

    @property
    def count(self) -> int:
        return sum(len(line.items) for line in self.lines)


def upcoming_reminders(
    session: Session, campaign: Campaign, route: Route, start: datetime, end: datetime
) -> list[UpcomingReminder]:
    return [
        UpcomingReminder(
            item.reminder.at,
            RULE_NAMES.get(item.reminder.rule, item.reminder.rule),
            item.reminder.recipient,
            item.reminder.text,
            STATUS_NAMES[item.status] if item.status else "",
            item.reminder.mentions,
        )
        for item in preview(session, campaign, route, start, end)
    ]


def by_day(items: list[UpcomingReminder], zone: ZoneInfo) -> list[ReminderDay]:
    """Reminders grouped by day, and within a day by moment and kind (the preview lists them in time order).
    A line repeating an earlier day's (the daily digest, a nudge on consecutive days) says so, to be folded."""
    days: list[ReminderDay] = []
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for day, of_day in groupby(items, key=lambda item: item.when.astimezone(zone).date()):
        lines = []
        for (when, kind), group in groupby(of_day, key=lambda item: (item.when, item.kind)):
            line = ReminderLine(when, kind, tuple(group))
            label = f"{day.month}月{day.day}日"
            first = seen.setdefault((kind, tuple(line.recipients)), label)
            lines.append(line if first == label else replace(line, first_day=first))
        days.append(ReminderDay(day, lines))
    return days
