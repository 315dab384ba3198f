"""A parent campaign's figures with its children in them (plan `campaign.parent`, docs/plan-format.md「嵌套」).

A child campaign is one unit of its parent (市自然资源局 in the city's campaign runs its own campaign for its
科室). In the parent that unit's figures are its own — what a liaison of the unit recorded in the parent itself —
together with the whole child campaign's (and its own children's):

- issues: added up (logged, in progress, rectified, overdue, due soon), so the rate is rectified / logged over
  both, measured against the parent's target like every other unit's; overdue counts each issue against its own
  完成时限 as of the parent's today;
- this week's report: the unit has reported when it sent one in the parent, or else when every unit of the child
  campaign has sent this week's (then late if any of them was late); the child's counts are shown beside it;
- a liaison: an active liaison in the parent, or a coordinator named by the child's plan (the child's coordinators
  answer for it upwards);
- deliverables the parent asks of the unit stay the parent's own submissions: a child coordinator's 报送 records
  one (handlers.reports), a child unit's submission of the child's own deliverable does not.

Everything is computed with one aggregate per kind of figure over all the campaigns below (storage.repos.Rollup),
so the parent's 汇总 costs a fixed number of statements whatever the children's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from handlers.context import campaign_url
from handlers.summary import (
    SOON_DAYS,
    CampaignStatus,
    IssueCounts,
    campaign_status,
    expected_rate,
    traffic_light,
)
from storage.models import Campaign
from storage.repos import Rollup


@dataclass
class ChildFigures:
    """One unit's campaigns below (its child first, then any of theirs) and what they add up to."""

    campaigns: list[Campaign]
    counts: IssueCounts = field(default_factory=IssueCounts)
    units: int = 0
    weekly_reported: int = 0
    weekly_late: int = 0
    coordinators: int = 0
    expected_rate: float | None = None  # where the child's own target pace stands today

    @property
    def child(self) -> Campaign:
        return self.campaigns[0]

    @property
    def weekly_missing(self) -> int:
        return self.units - self.weekly_reported

    @property
    def all_reported(self) -> bool:
        return self.units > 0 and self.weekly_missing == 0


def child_figures(
    session: Session, campaign: Campaign, today: date, *, unit_id: int | None = None
) -> dict[int, ChildFigures]:
    """Unit id of `campaign` → the figures of the campaigns below it (only units that have some; only `unit_id`'s
    when given). Seven statements, whatever the number of children and of their units."""
    rollup = Rollup(session)
    below = rollup.below(campaign, unit_id)
    if not below:
        return {}
    ids = [b.campaign.id for b in below]
    iso = today.isocalendar()
    issues = rollup.issue_counts(ids, today, today + timedelta(days=SOON_DAYS))
    units = rollup.units(ids)
    weekly = rollup.weekly(ids, iso.year, iso.week)
    coordinators = rollup.coordinators(ids)
    figures: dict[int, ChildFigures] = {}
    for item in below:  # children come first, so a unit's list starts with its child
        found = figures.setdefault(item.unit_id, ChildFigures([]))
        found.campaigns.append(item.campaign)
        id_ = item.campaign.id
        found.counts.add(IssueCounts(*issues.get(id_, (0, 0, 0, 0, 0))))
        found.units += units.get(id_, 0)
        sent, late = weekly.get(id_, (0, 0))
        found.weekly_reported += sent
        found.weekly_late += late
        found.coordinators += coordinators.get(id_, 0)
    for found in figures.values():
        found.expected_rate = expected_rate(found.child, today)
    return figures


def child_dashboard_path(child: Campaign) -> str:
    """The dashboard page of a child campaign (a parent's coordinators may open it read-only)."""
    return campaign_url("/dashboard", child.id)


@dataclass
class RolledUp:
    """A campaign's status with the campaigns below it counted in, and what each child unit brought."""

    status: CampaignStatus
    children: dict[int, ChildFigures]  # unit id → its campaigns below
    own: dict[int, IssueCounts]  # unit id → that unit's own issue counts in this campaign (before adding)

    def child_units(self) -> list[tuple[str, ChildFigures]]:
        """(unit name, figures) of each unit that has campaigns below, in the plan's order."""
        return [(u.unit.name, self.children[u.unit.id]) for u in self.status.units if u.unit.id in self.children]


def rolled_up_status(session: Session, campaign: Campaign, today: date, *, unit_id: int | None = None) -> RolledUp:
    """`campaign_status` with each child unit's figures combined as the module says; the same status when the
    campaign has no children."""
    status = campaign_status(session, campaign, today, unit_id=unit_id)
    figures = child_figures(session, campaign, today, unit_id=unit_id)
    own: dict[int, IssueCounts] = {}
    for unit in status.units:
        found = figures.get(unit.unit.id)
        if found is None:
            continue
        own[unit.unit.id] = unit.counts
        combined = IssueCounts()
        combined.add(unit.counts)
        combined.add(found.counts)
        unit.counts = combined
        status.totals.add(found.counts)
        unit.registered = unit.registered or found.coordinators > 0
        if not unit.weekly_reported and found.all_reported:
            unit.weekly_reported, unit.weekly_late = True, found.weekly_late > 0
        unit.light = traffic_light(
            unit.counts,
            missed_deliverables=len(unit.missed_deliverables),
            deliverables_due_soon=len(unit.deliverables_due_soon),
            expected=status.expected_rate,
        )
    return RolledUp(status, {k: v for k, v in figures.items() if k in own}, own)
