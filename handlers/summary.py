"""Campaign status numbers: computed with a fixed number of aggregate queries, whatever the unit count."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models import Campaign, Contact, ContactStatus, Deliverable, Issue, IssueStatus, Phase, Unit
from storage.repos import Deliverables, People, Reports, Units


@dataclass
class IssueCounts:
    logged: int = 0
    in_progress: int = 0
    rectified: int = 0
    overdue: int = 0

    @property
    def open(self) -> int:
        return self.logged - self.rectified

    @property
    def rate(self) -> float:
        """Rectification rate = rectified / logged (SPEC §2); 0 when nothing is logged."""
        return self.rectified / self.logged if self.logged else 0.0

    def add(self, other: IssueCounts) -> None:
        self.logged += other.logged
        self.in_progress += other.in_progress
        self.rectified += other.rectified
        self.overdue += other.overdue


def unit_counts(session: Session, campaign: Campaign, today: date) -> dict[int, IssueCounts]:
    """Issue counts per unit id, in one GROUP BY."""
    not_done = Issue.status != IssueStatus.RECTIFIED
    rows = session.execute(
        select(
            Issue.unit_id,
            func.count(),
            func.sum(case((Issue.status == IssueStatus.IN_PROGRESS, 1), else_=0)),
            func.sum(case((Issue.status == IssueStatus.RECTIFIED, 1), else_=0)),
            func.sum(case((not_done & (Issue.due < today), 1), else_=0)),
        ).where(Issue.campaign_id == campaign.id).group_by(Issue.unit_id)
    )
    return {unit_id: IssueCounts(int(n), int(p or 0), int(r or 0), int(o or 0)) for unit_id, n, p, r, o in rows}


@dataclass
class DeliverableStatus:
    deliverable: Deliverable
    owing: list[Unit]  # units that owe it and have not submitted
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


@dataclass
class UnitStatus:
    unit: Unit
    counts: IssueCounts
    registered: bool
    weekly_reported: bool
    missed_deliverables: list[str] = field(default_factory=list)


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

    @property
    def registered(self) -> int:
        return sum(1 for u in self.units if u.registered)

    @property
    def weekly_missing(self) -> list[Unit]:
        return [u.unit for u in self.units if not u.weekly_reported]

    def unit(self, unit_id: int) -> UnitStatus | None:
        return next((u for u in self.units if u.unit.id == unit_id), None)


def current_phase(campaign: Campaign, today: date) -> tuple[Phase | None, Phase | None]:
    """The phase today falls in (a phase without a start begins the day after the previous one ends)."""
    previous_end: date | None = None
    phases = sorted(campaign.phases, key=lambda p: (p.end, p.position))
    for index, phase in enumerate(phases):
        start = phase.start or (previous_end.fromordinal(previous_end.toordinal() + 1) if previous_end
                                else campaign.start)
        if start <= today <= phase.end:
            return phase, phases[index + 1] if index + 1 < len(phases) else None
        if today < start:
            return None, phase
        previous_end = phase.end
    return None, None


def campaign_status(session: Session, campaign: Campaign, today: date) -> CampaignStatus:
    units = list(Units(session).all(campaign))
    counts = unit_counts(session, campaign, today)
    registered = set(session.scalars(
        select(Contact.unit_id).where(Contact.campaign_id == campaign.id, Contact.status == ContactStatus.ACTIVE)
    ))
    iso = today.isocalendar()
    reported = Reports(session).weekly_unit_ids(campaign, iso.year, iso.week)
    repo = Deliverables(session)
    submitted = repo.submissions(campaign)
    statuses = {u.id: UnitStatus(u, counts.get(u.id, IssueCounts()), u.id in registered, u.id in reported)
                for u in units}
    open_deliverables: list[DeliverableStatus] = []
    for deliverable in repo.all(campaign):
        done = submitted.get(deliverable.id, set())
        owing = [u for u in units if repo.owes(deliverable, u) and u.id not in done]
        days_left = (deliverable.due - today).days
        if owing:
            open_deliverables.append(DeliverableStatus(deliverable, owing, days_left))
        if days_left < 0:
            for unit in owing:
                statuses[unit.id].missed_deliverables.append(deliverable.name)
    totals = IssueCounts()
    for unit_counts_ in counts.values():
        totals.add(unit_counts_)
    phase, next_phase = current_phase(campaign, today)
    return CampaignStatus(campaign=campaign, today=today, phase=phase, next_phase=next_phase, totals=totals,
                          units=list(statuses.values()), week=(iso.year, iso.week),
                          deliverables=open_deliverables,
                          pending_registrations=len(People(session).pending(campaign)))
