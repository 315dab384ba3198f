"""The reminder engine's core: `tick()` turns the moments passed since the last tick into outbox rows.

The engine keeps a watermark per campaign in the database (`scheduler_state`): every tick looks at the
moments in (watermark, now], enqueues their reminders, and moves the watermark to now — in one
transaction, so a crash either did all of it or none. A moment less than the grace period old is sent;
an older one (the service was down) is recorded as `missed` and never sent, so a restart after a long
outage does not fire a burst of stale reminders. Keys are unique in the outbox, so a moment seen twice
(two leaders for an instant, a retried tick) still yields one message per recipient.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter as PromCounter
from sqlalchemy.orm import Session, sessionmaker

from core.channels import Route
from core.clock import Clock
from core.statuses import OutboxStatus
from handlers.context import DashboardLink, campaign_label, no_dashboard_link
from scheduler.rules import ONCE_RULES, Reminder, evaluate, occurrences
from scheduler.snapshot import load_snapshot, name_for_several
from storage.db import transaction
from storage.models import Campaign, SchedulerState
from storage.repos import Campaigns, KeyedMessage, Outbox

log = logging.getLogger("duban.scheduler")

# Served on /metrics (bot/observability.py), by campaign (its alias, else its name).
QUEUED = PromCounter("duban_reminders_queued", "Reminders queued for sending, by campaign", ["campaign"])
MISSED = PromCounter(
    "duban_reminders_missed", "Reminders recorded as missed (the scheduler was down), by campaign", ["campaign"]
)

DEFAULT_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class TickResult:
    moments: int = 0
    queued: int = 0
    missed: int = 0


class ReminderEngine:
    """Enqueues due reminders; called by the APScheduler tick job in production and directly by tests."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Clock,
        route: Route,
        grace: timedelta = DEFAULT_GRACE,
        campaign_name: str | None = None,
        link: DashboardLink = no_dashboard_link,
    ) -> None:
        self.sessions, self.clock, self.route, self.link = sessions, clock, route, link
        self.grace, self.campaign_name = grace, campaign_name

    def tick(self) -> TickResult:
        """Enqueue every reminder whose moment passed since the last tick, for every campaign the deployment serves
        (the first tick of a campaign looks back one grace period, so a freshly installed bot does not replay the
        campaign's past). Each campaign moves its own watermark in its own transaction."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            serving = [c.id for c in Campaigns(session).serving(self.campaign_name)]
        total = TickResult()
        for campaign_id in serving:
            result = self._tick_campaign(campaign_id, tuple(c for c in serving if c != campaign_id), now)
            total = TickResult(
                total.moments + result.moments, total.queued + result.queued, total.missed + result.missed
            )
        return total

    def _tick_campaign(self, campaign_id: int, others: tuple[int, ...], now: datetime) -> TickResult:
        with transaction(self.sessions) as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:  # deleted since the list was read
                return TickResult()
            state = session.get(SchedulerState, campaign.id, with_for_update=True)
            since = state.watermark if state is not None else now - self.grace
            if since >= now:
                return TickResult()
            result = self._enqueue(session, campaign, since, now, others)
            if state is None:
                session.add(SchedulerState(campaign_id=campaign.id, watermark=now, updated_at=now))
            else:
                state.watermark, state.updated_at = now, now
            label = campaign_label(campaign)
        if result.queued:
            QUEUED.labels(label).inc(result.queued)
        if result.missed:
            MISSED.labels(label).inc(result.missed)
        if result.queued or result.missed:
            log.info(
                "reminders queued",
                extra={
                    "campaign_id": campaign_id,
                    "moments": result.moments,
                    "queued": result.queued,
                    "missed": result.missed,
                },
            )
        return result

    def _enqueue(
        self, session: Session, campaign: Campaign, since: datetime, now: datetime, others: tuple[int, ...] = ()
    ) -> TickResult:
        snapshot = load_snapshot(session, campaign)
        moments = occurrences(snapshot, since, now)
        if moments and others:
            name_for_several(session, campaign, snapshot, others)
        due: list[tuple[Reminder, bool]] = []
        for occurrence in moments:
            stale = now - occurrence.at > self.grace
            if stale and occurrence.rule in ONCE_RULES:
                continue
            due.extend((reminder, stale) for reminder in evaluate(snapshot, occurrence, self.route, self.link))
        rows = [
            KeyedMessage(
                key=r.key,
                channel=r.channel,
                target=r.target,
                text=r.text,
                mentions=r.mentions,
                status=OutboxStatus.MISSED if stale else OutboxStatus.PENDING,
                not_before=r.at if stale else now,
            )
            for r, stale in due
        ]
        new = Outbox(session).enqueue_keyed(campaign=campaign, messages=rows, now=now)  # the rest: queued before
        queued, missed = 0, Counter[str]()
        for reminder, stale in due:
            if reminder.key not in new:
                continue
            new.discard(reminder.key)  # one row per key, however many reminders carried it
            if stale:
                missed[reminder.rule] += 1
            else:
                queued += 1
        if missed:
            log.warning(
                "reminders missed while the scheduler was down; recorded, not sent",
                extra={"campaign_id": campaign.id, "missed": dict(missed), "since": since.isoformat()},
            )
        return TickResult(moments=len(moments), queued=queued, missed=sum(missed.values()))
