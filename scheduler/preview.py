"""`duban remind preview`: every reminder and nudge the plan would send between two moments, sending nothing.

It runs the same rules as the engine against the database as it is now, so a unit that reports before
Friday simply drops out of a later preview. Reminders already in the outbox show their state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.channels import Route
from core.statuses import OutboxStatus
from handlers.context import DashboardLink, no_dashboard_link
from scheduler.rules import ONCE_RULES, Reminder, evaluate, occurrences
from scheduler.snapshot import load_snapshot
from storage.models import Campaign, OutboxMessage

RULE_NAMES = {
    "weekly.remind": "周报提醒",
    "weekly.due": "周报未报送汇总",
    "deadline.nudge": "截止提醒",
    "issue.due": "整改时限提醒",
    "issue.overdue": "逾期问题日报",
    "calendar.uncovered": "节假日数据提醒",
    "notice.receipt": "回执提醒",
}
STATUS_NAMES = {
    OutboxStatus.PENDING: "待发送",
    OutboxStatus.SENT: "已发送",
    OutboxStatus.FAILED: "发送失败",
    OutboxStatus.MISSED: "已错过",
}
WEEKDAYS = "一二三四五六日"
_EPSILON = timedelta(microseconds=1)  # occurrences() takes (after, until]; the preview includes its start


@dataclass(frozen=True)
class PreviewItem:
    reminder: Reminder
    status: OutboxStatus | None  # None: not in the outbox yet


def parse_moment(text: str, campaign: Campaign, *, end: bool) -> datetime:
    """'2020-07-17', '2020-07-17 09:00' or an ISO time with offset; a bare date means its start (or, for the
    end of a range, its end); times without an offset are in the campaign's timezone."""
    zone = ZoneInfo(campaign.timezone)
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime.combine(day, time.max if end else time.min, tzinfo=zone)
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(f"无法识别的时间「{text}」，请写成 2020-07-17 或 2020-07-17 09:00") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def preview(
    session: Session,
    campaign: Campaign,
    route: Route,
    start: datetime,
    end: datetime,
    link: DashboardLink = no_dashboard_link,
) -> list[PreviewItem]:
    """What the engine would enqueue for the moments in [start, end], in time order.

    A once-only notice (ONCE_RULES) fits at every moment until it has been told, and the outbox's unique key
    lets the engine queue only the first: the preview lists that first one too, and none once it is queued."""
    snapshot = load_snapshot(session, campaign)
    first: dict[str, Reminder] = {}
    for occurrence in occurrences(snapshot, start - _EPSILON, end):
        for reminder in evaluate(snapshot, occurrence, route, link):
            first.setdefault(reminder.key, reminder)
    reminders = list(first.values())
    keys = list(first)
    known: dict[str, OutboxStatus] = {}
    for chunk in range(0, len(keys), 500):
        rows = session.execute(
            select(OutboxMessage.key, OutboxMessage.status).where(OutboxMessage.key.in_(keys[chunk : chunk + 500]))
        )
        known.update((key, status) for key, status in rows if key is not None)
    return [PreviewItem(r, known.get(r.key)) for r in reminders if not (r.rule in ONCE_RULES and r.key in known)]


def render(items: list[PreviewItem], campaign: Campaign) -> str:
    """Plain text for the terminal: one block per reminder, time first."""
    zone = ZoneInfo(campaign.timezone)
    if not items:
        return "这段时间内没有需要发送的提醒。"
    lines = []
    for item in items:
        r = item.reminder
        local = r.at.astimezone(zone)
        state = f"［{STATUS_NAMES[item.status]}］" if item.status else ""
        mentions = f" @{'、@'.join(r.mentions)}" if r.mentions else ""
        lines.append(
            f"{local:%Y-%m-%d %H:%M} 周{WEEKDAYS[local.weekday()]}  {RULE_NAMES.get(r.rule, r.rule)}"
            f" → {r.recipient}［{r.channel}］{state}{mentions}"
        )
        lines.extend(f"    {line}" for line in r.text.splitlines())
    lines.append(f"共 {len(items)} 条。")
    return "\n".join(lines)
