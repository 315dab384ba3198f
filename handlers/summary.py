"""Campaign status numbers: computed with a fixed number of aggregate queries, whatever the unit count."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from storage.models import Campaign, Deliverable, Phase
from storage.repos import Deliverables, Standings


@dataclass(slots=True)
class IssueCounts:
    logged: int = 0
    in_progress: int = 0
    rectified: int = 0
    overdue: int = 0
    due_soon: int = 0  # not rectified, due today or within SOON_DAYS

    @property
    def open(self) -> int:
        return self.logged - self.rectified

    @property
    def rate(self) -> float:
        """Rectification rate = rectified / logged (docs/chat-grammar.md, 汇总); 0 when nothing is logged."""
        return self.rectified / self.logged if self.logged else 0.0

    def add(self, other: IssueCounts) -> None:
        self.logged += other.logged
        self.in_progress += other.in_progress
        self.rectified += other.rectified
        self.overdue += other.overdue
        self.due_soon += other.due_soon


SOON_DAYS = 3  # "due within 3 days" turns a unit yellow


def unit_counts(
    session: Session, campaign: Campaign, today: date, unit_id: int | None = None
) -> dict[int, IssueCounts]:
    """Issue counts per unit id (of every unit, or of the one given), in one GROUP BY."""
    rows = Standings(session).issue_counts(campaign, today, today + timedelta(days=SOON_DAYS), unit_id)
    return {
        unit_id: IssueCounts(int(n), int(p or 0), int(r or 0), int(o or 0), int(s or 0))
        for unit_id, n, p, r, o, s in rows
    }


class Light(enum.StrEnum):
    """The traffic light of government 督办 practice."""

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"


def expected_rate(campaign: Campaign, today: date) -> float | None:
    """The rate a unit should have reached by today to meet the target on time.

    The target ("9月10日前完成90%以上的整改任务") is read as a straight line from the campaign's start to
    the target date; after the date the whole target is due. None when the plan sets no target.
    """
    if campaign.target_rate is None or campaign.target_by is None:
        return None
    span = (campaign.target_by - campaign.start).days
    elapsed = (today - campaign.start).days
    if span <= 0 or elapsed >= span:
        return campaign.target_rate
    return campaign.target_rate * max(elapsed, 0) / span


def behind_pace(counts: IssueCounts, expected: float | None) -> bool:
    """Below the target line today; a unit with no issues logged has nothing to be behind on."""
    return expected is not None and counts.logged > 0 and counts.rate < expected


def traffic_light(
    counts: IssueCounts, *, missed_deliverables: int, deliverables_due_soon: int, expected: float | None
) -> Light:
    """Red: an overdue issue or a missed deliverable. Yellow: an issue or a deliverable due within
    SOON_DAYS, or a rate behind the target pace. Green otherwise."""
    if counts.overdue or missed_deliverables:
        return Light.RED
    if counts.due_soon or deliverables_due_soon or behind_pace(counts, expected):
        return Light.YELLOW
    return Light.GREEN


@dataclass(frozen=True, slots=True)
class UnitRef:
    """A unit as the status needs it, read as plain rows: building thousands of ORM objects was most of
    the time of 汇总 for a campaign of 5,000 units."""

    id: int
    name: str
    aliases: tuple[str, ...]


@dataclass
class DeliverableStatus:
    deliverable: Deliverable
    owing: list[UnitRef]  # units that owe it and have not submitted
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


class WeeklyState(enum.StrEnum):
    """A unit's weekly report of one week."""

    ON_TIME = "on_time"
    LATE = "late"  # 迟报: sent after the week's due moment
    MISSING = "missing"
    OPEN = "open"  # none yet, and the due moment has not come


WEEKLY_STATE_TEXT = {
    WeeklyState.ON_TIME: "已报送",
    WeeklyState.LATE: "迟报",
    WeeklyState.MISSING: "未报送",
    WeeklyState.OPEN: "未报送（未到截止时间）",
}


@dataclass(slots=True)
class UnitStatus:
    unit: UnitRef
    counts: IssueCounts
    registered: bool
    weekly_reported: bool
    weekly_late: bool = False
    missed_deliverables: list[str] = field(default_factory=list)
    deliverables_due_soon: list[str] = field(default_factory=list)
    light: Light = Light.GREEN

    @property
    def weekly_state(self) -> WeeklyState:
        """This week's report: on time, late, or not (yet) sent."""
        if not self.weekly_reported:
            return WeeklyState.MISSING
        return WeeklyState.LATE if self.weekly_late else WeeklyState.ON_TIME


@dataclass
class CampaignStatus:
    campaign: Campaign
    today: date
    phase: Phase | None
    next_phase: Phase | None
    totals: IssueCounts
    units: list[UnitStatus]
    week: tuple[int, int]
    deliverables: list[DeliverableStatus]  # open ones: some unit still owes it
    pending_registrations: int
    expected_rate: float | None  # where the target pace stands today

    def by_light(self, light: Light) -> list[UnitStatus]:
        return [u for u in self.units if u.light is light]

    @property
    def registered(self) -> int:
        return sum(1 for u in self.units if u.registered)

    @property
    def weekly_missing(self) -> list[UnitRef]:
        return [u.unit for u in self.units if not u.weekly_reported]

    @property
    def weekly_late(self) -> list[UnitRef]:
        return [u.unit for u in self.units if u.weekly_late]

    def unit(self, unit_id: int) -> UnitStatus | None:
        return next((u for u in self.units if u.unit.id == unit_id), None)


def phase_spans(campaign: Campaign) -> list[tuple[Phase, date, date]]:
    """Each phase with its start and end; a phase without a start begins the day after the previous one ends."""
    spans: list[tuple[Phase, date, date]] = []
    previous_end: date | None = None
    for phase in sorted(campaign.phases, key=lambda p: (p.end, p.position)):
        start = phase.start or (previous_end + timedelta(days=1) if previous_end else campaign.start)
        spans.append((phase, start, phase.end))
        previous_end = phase.end
    return spans


def current_phase(campaign: Campaign, today: date) -> tuple[Phase | None, Phase | None]:
    """The phase today falls in, and the one after it."""
    spans = phase_spans(campaign)
    for index, (phase, start, end) in enumerate(spans):
        if start <= today <= end:
            return phase, spans[index + 1][0] if index + 1 < len(spans) else None
        if today < start:
            return None, phase
    return None, None


def campaign_status(session: Session, campaign: Campaign, today: date, *, unit_id: int | None = None) -> CampaignStatus:
    """The campaign's status today; with `unit_id`, computed for that one unit only (a liaison's 汇总: the
    totals, units and deliverables' owing lists then cover that unit alone).

    Every unit's figures come in one statement as plain rows (Standings.unit_figures); at 5,000 units the
    work left in Python is one small object per unit and its light (bench/summary.py)."""
    iso = today.isocalendar()
    figures = Standings(session).unit_figures(
        campaign, today, today + timedelta(days=SOON_DAYS), iso.year, iso.week, unit_id
    )
    statuses = [
        UnitStatus(
            UnitRef(id_, name, tuple(aliases) if aliases else ()),
            IssueCounts(logged, in_progress, rectified, overdue, due_soon),
            registered,
            reported,
            late,
        )
        for id_, name, aliases, logged, in_progress, rectified, overdue, due_soon, registered, reported, late in figures
    ]
    by_id = {status.unit.id: status for status in statuses}
    repo = Deliverables(session)
    submitted = repo.submissions(campaign, unit_id=unit_id)
    open_deliverables: list[DeliverableStatus] = []
    for deliverable in repo.all(campaign):
        done = submitted.get(deliverable.id, set())
        owing = repo.owing(deliverable, (s.unit for s in statuses if s.unit.id not in done))
        days_left = (deliverable.due - today).days
        if owing:
            open_deliverables.append(DeliverableStatus(deliverable, owing, days_left))
        if days_left <= SOON_DAYS:
            name, missed = deliverable.name, days_left < 0
            for unit in owing:
                status = by_id[unit.id]
                (status.missed_deliverables if missed else status.deliverables_due_soon).append(name)
    columns = list(zip(*figures, strict=True))
    totals = IssueCounts(*(sum(column) for column in columns[3:8])) if columns else IssueCounts()
    expected = expected_rate(campaign, today)
    for status in statuses:
        status.light = traffic_light(
            status.counts,
            missed_deliverables=len(status.missed_deliverables),
            deliverables_due_soon=len(status.deliverables_due_soon),
            expected=expected,
        )
    pending = Standings(session).pending_registrations(campaign)
    phase, next_phase = current_phase(campaign, today)
    return CampaignStatus(
        campaign=campaign,
        today=today,
        phase=phase,
        next_phase=next_phase,
        totals=totals,
        units=statuses,
        week=(iso.year, iso.week),
        deliverables=open_deliverables,
        pending_registrations=pending,
        expected_rate=expected,
    )
