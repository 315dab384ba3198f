"""What a command handler gets: the session, the campaign, who is talking, and the time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.channels import Route
from core.dates import DateContext
from core.workdays import WorkCalendar
from handlers.message import IncomingMessage
from storage.files import DatabaseFiles, Files
from storage.models import Campaign, ChatIdentity
from storage.repos import Actor, Audit, Outbox, People

# A link that opens a dashboard page (a path such as /dashboard/weekly) signed in on the platform of the person it
# is for (their identity namespace), or None where the deployment has no public address. The bot layer builds
# it from its configuration; handlers only name the page.
DashboardLink = Callable[[str, str], str | None]


CAMPAIGN_PARAM = "campaign"  # ?campaign=<id>: which campaign a dashboard page, /api route or download is about


def campaign_url(path: str, campaign_id: int) -> str:
    """`path` about one campaign: `?campaign=<id>` added to its query (before any #fragment). The one place the
    dashboard's campaign parameter is written: the dashboard's own links and the chat's links to a child campaign."""
    path, hash_, fragment = path.partition("#")
    return f"{path}{'&' if '?' in path else '?'}{CAMPAIGN_PARAM}={campaign_id}{hash_}{fragment}"


def no_dashboard_link(_platform: str, _path: str) -> str | None:
    return None


def with_link(text: str, link: str | None, label: str) -> str:
    """`text` and, when there is one, a last line `label：link`."""
    return f"{text}\n{label}：{link}" if link else text


def campaign_label(campaign: Campaign) -> str:
    """How a message names its campaign for someone in several: the plan's alias (三年行动), else its name."""
    return campaign.alias or campaign.name


def named(campaign: Campaign, text: str) -> str:
    """`text` as said to someone in several campaigns: 【三年行动】text."""
    return f"【{campaign_label(campaign)}】{text}"


def campaign_calendar(campaign: Campaign) -> WorkCalendar:
    return WorkCalendar(
        holidays=[date.fromisoformat(d) for d in campaign.holidays],
        workdays=[date.fromisoformat(d) for d in campaign.workdays],
    )


def report_due_moment(campaign: Campaign, calendar: WorkCalendar, day_in_week: date) -> datetime:
    """When the weekly report of the week containing `day_in_week` is due (report day + due time)."""
    hour, minute = (int(part) for part in campaign.report_due.split(":"))
    report_day = calendar.report_day(day_in_week, campaign.report_weekday)
    return datetime.combine(report_day, time(hour, minute), tzinfo=ZoneInfo(campaign.timezone))


def notify(
    session: Session,
    campaign: Campaign,
    route: Route,
    identities: Iterable[ChatIdentity],
    text: str,
    *,
    now: datetime,
    link: DashboardLink = no_dashboard_link,
    page: tuple[str, str] | None = None,
    others: Sequence[int] = (),
) -> int:
    """Queue a message to each identity through the channel that reaches its platform; with a `page` (label, path),
    each message ends with a link that opens that dashboard page signed in on the recipient's platform. A recipient
    who is also in one of the `others` campaigns (served beside this one) reads which campaign it is about."""
    outbox = Outbox(session)
    identities = list(identities)
    several = People(session).in_several(campaign, others, ((i.platform, i.external_id) for i in identities))
    count = 0
    for identity in identities:
        body = with_link(text, link(identity.platform, page[1]), page[0]) if page else text
        if (identity.platform, identity.external_id) in several:
            body = named(campaign, body)
        outbox.enqueue(
            campaign=campaign, channel=route(identity.platform), target=identity.external_id, text=body, now=now
        )
        count += 1
    return count


@dataclass
class Context:
    session: Session
    campaign: Campaign
    message: IncomingMessage
    actor: Actor
    route: Route
    link: DashboardLink = no_dashboard_link
    files: Files = field(default_factory=lambda: Files(DatabaseFiles()))
    # The other campaigns this deployment serves: a notification to someone also in one of them names its campaign.
    others: tuple[int, ...] = ()

    @cached_property
    def now(self) -> datetime:
        """The message's time in the campaign's timezone."""
        return self.message.received_at.astimezone(ZoneInfo(self.campaign.timezone))

    @property
    def today(self) -> date:
        return self.now.date()

    @cached_property
    def calendar(self) -> WorkCalendar:
        return campaign_calendar(self.campaign)

    @property
    def dates(self) -> DateContext:
        return DateContext(campaign_start=self.campaign.start, campaign_end=self.campaign.end, today=self.today)

    @property
    def actor_label(self) -> str:
        return f"{self.message.origin}:{self.message.user_id}"

    def audit(self, action: str, *, entity: str | None = None, entity_id: int | None = None, **detail: Any) -> None:
        Audit(self.session).record(
            campaign=self.campaign,
            actor=self.actor_label,
            action=action,
            at=self.now,
            entity=entity,
            entity_id=entity_id,
            message_id=self.message.message_id,
            **detail,
        )

    def notify(self, identities: Iterable[ChatIdentity], text: str, page: tuple[str, str] | None = None) -> int:
        return notify(
            self.session,
            self.campaign,
            self.route,
            identities,
            text,
            now=self.now,
            link=self.link,
            page=page,
            others=self.others,
        )

    def dashboard_link(self, path: str) -> str | None:
        """A link to a dashboard page that signs the sender in on the platform they wrote from."""
        return self.link(self.message.platform, path)

    def days_until(self, day: date) -> int:
        return (day - self.today).days

    def week(self, delta_weeks: int = 0) -> tuple[int, int]:
        iso = (self.today + timedelta(weeks=delta_weeks)).isocalendar()
        return iso.year, iso.week
