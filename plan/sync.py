"""Loading a plan into the database, idempotently: the same plan twice changes nothing, and a changed plan updates
the campaign without losing issues, reports or registrations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.channels import Platform
from core.statuses import ContactStatus, TaskRole
from plan.schema import ContactIn, PlanError, PlanIn, PlanProblem, ResolvedPlan
from storage.models import (
    Campaign,
    Contact,
    Coordinator,
    Deliverable,
    Group,
    Phase,
    Task,
    TaskUnit,
    Unit,
)
from storage.repos import Audit, Campaigns, Deliverables, People, PlanRows, Units, Upward, name_key


def collective_key(name: str) -> str:
    """How a collective name is compared: 各乡镇〔街道〕, 各乡镇(街道) and 乡镇街道 are one group."""
    return re.sub(r"^(?:各|所有|全体)|等$", "", name_key(name))


@dataclass
class LoadResult:
    campaign: Campaign
    created: bool
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Changes:
    def __init__(self, result: LoadResult) -> None:
        self.result = result

    def set(self, obj: Any, label: str, **values: Any) -> None:
        for key, value in values.items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
                self.result.changes.append(f"{label}.{key}")


def load_plan(session: Session, resolved: ResolvedPlan, *, now: datetime, actor: str = "cli") -> LoadResult:
    """Create or update the campaign the plan describes, inside the caller's transaction."""
    plan = resolved.plan
    campaign = Campaigns(session).current(plan.campaign.name)
    created = campaign is None
    if campaign is None:
        campaign = Campaign(
            name=plan.campaign.name, start=plan.campaign.start, end=plan.campaign.end, created_at=now, updated_at=now
        )
        session.add(campaign)
    result = LoadResult(campaign, created)
    alias = plan.campaign.alias
    holder = Campaigns(session).by_alias(alias) if alias else None
    if holder is not None and holder is not campaign:
        raise PlanError(
            "campaign.alias",
            [PlanProblem(("campaign", "alias"), f"简称「{alias}」已被专项整治「{holder.name}」使用，请换一个")],
        )
    changes = _Changes(result)
    target = plan.campaign.target
    changes.set(
        campaign,
        "campaign",
        issuer=plan.campaign.issuer,
        timezone=plan.campaign.timezone,
        start=plan.campaign.start,
        end=plan.campaign.end,
        target_rate=target.rate if target else None,
        target_by=resolved.target_by,
        focus_areas=plan.focus_areas,
        sources=plan.sources,
        report_weekday=plan.weekly_report.weekday,
        report_remind_at=plan.weekly_report.remind_at,
        report_due=plan.weekly_report.due,
        deadline_nudges_days=plan.deadline_nudges_days,
        holidays=[d.isoformat() for d in plan.holidays],
        workdays=[d.isoformat() for d in plan.workdays],
        public_naming=plan.campaign.public_naming,
        notice_receipt_reminder_hours=plan.notice_receipt_reminder_hours,
        evidence_required=plan.campaign.evidence_required,
        evidence_focus_areas=plan.evidence_focus_areas,
        alias=plan.campaign.alias,
        archived=False,
    )
    _link_parent(session, campaign, plan, changes)
    session.flush()
    _sync_phases(session, campaign, resolved, changes)
    units = _sync_units(session, campaign, plan, changes, now)
    _sync_deliverables(session, campaign, resolved, changes)
    _sync_groups(session, campaign, plan, changes)
    _sync_coordinators(session, campaign, plan, changes, now)
    _report_contacts_upwards(session, campaign, changes, now)
    _sync_tasks(session, campaign, resolved, units, changes)
    if result.changes or created:
        campaign.updated_at = now
        Audit(session).record(
            campaign=campaign, actor=actor, action="plan.load", at=now, created=created, changes=result.changes[:200]
        )
    return result


def _link_parent(session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes) -> None:
    """Point the campaign at the one it reports up to and at the unit it is there (both must be loaded already)."""
    wanted = plan.campaign.parent
    if wanted is None:
        changes.set(campaign, "campaign", parent_id=None, parent_unit_id=None)
        return
    parent = Campaigns(session).current(wanted.campaign)
    if parent is None or parent.id == campaign.id:
        raise PlanError(
            "campaign.parent",
            [
                PlanProblem(
                    ("campaign", "parent", "campaign"), f"上级专项整治「{wanted.campaign}」尚未加载，请先加载它的方案"
                )
            ],
        )
    unit = Units(session).find(parent, wanted.unit)
    if unit is None:
        raise PlanError(
            "campaign.parent",
            [PlanProblem(("campaign", "parent", "unit"), f"上级专项整治「{parent.name}」里没有单位「{wanted.unit}」")],
        )
    changes.set(campaign, "campaign", parent_id=parent.id, parent_unit_id=unit.id)


def _sync_phases(session: Session, campaign: Campaign, resolved: ResolvedPlan, changes: _Changes) -> None:
    existing = {row.name: row for row in PlanRows(session).of_campaign(Phase, campaign)}
    for position, (phase_in, (start, end)) in enumerate(zip(resolved.plan.phases, resolved.phase_dates, strict=True)):
        phase = existing.pop(phase_in.name, None)
        if phase is None:
            phase = Phase(campaign_id=campaign.id, name=phase_in.name, end=end)
            session.add(phase)
            changes.result.changes.append(f"phase+{phase_in.name}")
        changes.set(phase, f"phase[{phase_in.name}]", start=start, end=end, position=position)
    for phase in existing.values():
        session.delete(phase)
        changes.result.changes.append(f"phase-{phase.name}")
    session.flush()
    session.expire(campaign, ["phases"])


def _sync_units(
    session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes, now: datetime
) -> dict[str, Unit]:
    existing = {row.name: row for row in PlanRows(session).of_campaign(Unit, campaign)}
    units: dict[str, Unit] = {}
    for position, unit_in in enumerate(plan.units):
        unit = existing.pop(unit_in.name, None)
        if unit is None:
            unit = Unit(campaign_id=campaign.id, name=unit_in.name)
            session.add(unit)
            changes.result.changes.append(f"unit+{unit_in.name}")
        changes.set(
            unit,
            f"unit[{unit_in.name}]",
            aliases=unit_in.aliases,
            groups=unit_in.groups,
            position=position,
            retired=False,
        )
        units[unit_in.name] = unit
    session.flush()
    keys = {name_key(a): u for u in units.values() for a in [u.name, *u.aliases]}
    for unit_in in plan.units:
        parent = keys.get(name_key(unit_in.parent)) if unit_in.parent else None
        changes.set(units[unit_in.name], f"unit[{unit_in.name}]", parent_id=parent.id if parent else None)
        for contact_in in unit_in.contacts:
            _sync_contact(session, campaign, units[unit_in.name], contact_in, changes, now)
    for unit in existing.values():
        if PlanRows(session).unit_in_use(unit):
            if not unit.retired:
                unit.retired = True
                changes.result.warnings.append(f"单位「{unit.name}」已从方案中删除，保留其历史记录（不再提醒）")
                changes.result.changes.append(f"unit~{unit.name}")
        else:
            session.delete(unit)
            changes.result.changes.append(f"unit-{unit.name}")
    session.flush()
    return units


def _sync_contact(
    session: Session, campaign: Campaign, unit: Unit, contact_in: ContactIn, changes: _Changes, now: datetime
) -> None:
    """A pre-listed liaison: unit + phone (activated when that phone registers), or bound to a user id."""
    contact = None
    if contact_in.phone:
        contact = PlanRows(session).contact(unit, phone=contact_in.phone)
    if contact is None:
        contact = PlanRows(session).contact(unit, name=contact_in.name)
    if contact is None:
        contact = Contact(
            campaign_id=campaign.id,
            unit_id=unit.id,
            name=contact_in.name,
            status=ContactStatus.PRELISTED,
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
        changes.result.changes.append(f"contact+{unit.name}/{contact_in.name}")
    label = f"contact[{unit.name}/{contact_in.name}]"
    changes.set(
        contact,
        label,
        name=contact_in.name,
        phone=contact_in.phone or contact.phone,
        title=contact_in.title or contact.title,
        wechat_or_email=contact_in.email or contact.wechat_or_email,
    )
    session.flush()
    user_ids: dict[str, str | None] = {
        Platform.WECOM: contact_in.wecom_userid,
        Platform.DINGTALK: contact_in.dingtalk_userid,
    }
    if _bind_user_ids(session, campaign, user_ids, label, changes, now, contact=contact) and (
        contact.status is not ContactStatus.ACTIVE
    ):
        contact.status = ContactStatus.ACTIVE  # the plan named the user id: nobody needs to approve
        changes.result.changes.append(f"{label}.status")


def _bind_user_ids(
    session: Session,
    campaign: Campaign,
    user_ids: dict[str, str | None],
    label: str,
    changes: _Changes,
    now: datetime,
    *,
    contact: Contact | None = None,
    coordinator: Coordinator | None = None,
) -> bool:
    """Point the platform user ids the plan names at this contact or coordinator; True if it names any."""
    people = People(session)
    owner = contact or coordinator
    assert owner is not None
    named = False
    for platform, external_id in user_ids.items():
        if not external_id:
            continue
        named = True
        actor = people.actor(campaign, platform, external_id)
        current = actor.contact if contact is not None else actor.coordinator
        if current is None or current.id != owner.id:
            people.bind(campaign, platform, external_id, contact=contact, coordinator=coordinator, now=now)
            changes.result.changes.append(f"{label}.{platform}")
    return named


def _sync_deliverables(session: Session, campaign: Campaign, resolved: ResolvedPlan, changes: _Changes) -> None:
    existing = {row.name: row for row in PlanRows(session).of_campaign(Deliverable, campaign)}
    for position, (item, due) in enumerate(zip(resolved.plan.deliverables, resolved.deliverable_dues, strict=True)):
        deliverable = existing.pop(item.name, None)
        if deliverable is None:
            deliverable = Deliverable(campaign_id=campaign.id, name=item.name, due=due)
            session.add(deliverable)
            changes.result.changes.append(f"deliverable+{item.name}")
        changes.set(
            deliverable,
            f"deliverable[{item.name}]",
            due=due,
            recipient=item.to,
            unit_names=item.units,
            kind=item.kind,
            position=position,
        )
    for deliverable in existing.values():
        submitted = PlanRows(session).submissions(deliverable)
        if submitted:
            changes.result.warnings.append(
                f"报送事项「{deliverable.name}」已从方案中删除，但已有 {submitted} 个单位报送，保留该事项"
            )
        else:
            session.delete(deliverable)
            changes.result.changes.append(f"deliverable-{deliverable.name}")
    session.flush()
    _submit_contact_forms(session, campaign, changes)


def _submit_contact_forms(session: Session, campaign: Campaign, changes: _Changes) -> None:
    """Units whose liaison is already active have submitted the contact form: the bot holds that contact
    (a plan that names the form after people registered, or names their user ids itself)."""
    repo = Deliverables(session)
    if repo.contact_form(campaign) is None:
        return
    for contact in PlanRows(session).active_contacts(campaign):
        if repo.submit_contact_form(campaign, contact, at=contact.updated_at) is not None:
            changes.result.changes.append(f"submission+{contact.unit.name}")


def _report_contacts_upwards(session: Session, campaign: Campaign, changes: _Changes, now: datetime) -> None:
    """A child plan that names its coordinators has given the parent its contacts: the unit it is in the parent has
    submitted the parent's contact form (its coordinators answer for it there), as a liaison's registration would."""
    above = Upward(session).parent(campaign)
    if above is None or not PlanRows(session).of_campaign(Coordinator, campaign):
        return
    parent, unit = above
    repo = Deliverables(session)
    form = repo.contact_form(parent)
    if form is None or not repo.owes(form, unit) or repo.submission(form, unit) is not None:
        return
    late = now.astimezone(ZoneInfo(parent.timezone)).date() > form.due
    Upward(session).submit(form, unit, at=now, late=late)
    changes.result.changes.append(f"parent-submission+{unit.name}")


def _sync_groups(session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes) -> None:
    existing = {row.name: row for row in PlanRows(session).of_campaign(Group, campaign)}
    for item in plan.groups:
        group = existing.pop(item.name, None)
        if group is None:
            group = Group(campaign_id=campaign.id, name=item.name, channel=item.channel)
            session.add(group)
            changes.result.changes.append(f"group+{item.name}")
        changes.set(group, f"group[{item.name}]", channel=item.channel, webhook=item.address, secret=item.secret)
    for group in existing.values():
        session.delete(group)
        changes.result.changes.append(f"group-{group.name}")
    session.flush()


def _sync_coordinators(session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes, now: datetime) -> None:
    existing = {row.name: row for row in PlanRows(session).of_campaign(Coordinator, campaign)}
    for item in plan.coordinators:
        coordinator = existing.pop(item.name, None)
        if coordinator is None:
            coordinator = Coordinator(campaign_id=campaign.id, name=item.name, created_at=now)
            session.add(coordinator)
            session.flush()
            changes.result.changes.append(f"coordinator+{item.name}")
        changes.set(coordinator, f"coordinator[{item.name}]", phone=item.phone)
        _bind_user_ids(
            session,
            campaign,
            {Platform.WECOM: item.wecom_userid, Platform.DINGTALK: item.dingtalk_userid},
            f"coordinator[{item.name}]",
            changes,
            now,
            coordinator=coordinator,
        )
    for coordinator in existing.values():
        if coordinator.login:  # a dashboard account made with the CLI stays
            continue
        PlanRows(session).remove_coordinator(coordinator)
        changes.result.changes.append(f"coordinator-{coordinator.name}")
    session.flush()


def _sync_tasks(
    session: Session, campaign: Campaign, resolved: ResolvedPlan, units: dict[str, Unit], changes: _Changes
) -> None:
    existing = {t.number: t for t in PlanRows(session).of_campaign(Task, campaign)}
    keys = {name_key(a): u for u in units.values() for a in [u.name, *u.aliases]}
    groups: dict[str, list[Unit]] = {}
    for unit in units.values():
        for group in unit.groups:
            groups.setdefault(collective_key(group), []).append(unit)
    unmatched_tasks: dict[str, list[int]] = {}
    for item, (kind, due, yearly) in zip(resolved.plan.tasks, resolved.task_deadlines, strict=True):
        task = existing.pop(item.number, None)
        if task is None:
            task = Task(campaign_id=campaign.id, number=item.number, text=item.text, deadline_kind=kind)
            session.add(task)
            changes.result.changes.append(f"task+{item.number}")
        wanted: set[tuple[int, TaskRole]] = set()
        unmatched: list[str] = []
        for role, names in (
            (TaskRole.LEAD, item.lead),
            (TaskRole.PARTNER, item.partners),
            (TaskRole.RESPONSIBLE, item.responsible),
        ):
            for name in names:
                # A unit's own name or alias first; else a collective name (各乡镇〔街道〕) the units' groups list.
                matched = [keys[name_key(name)]] if name_key(name) in keys else groups.get(collective_key(name), [])
                if not matched:
                    unmatched.append(name)
                    unmatched_tasks.setdefault(name, []).append(item.number)
                wanted.update((u.id, role) for u in matched)
        changes.set(
            task,
            f"task[{item.number}]",
            text=item.text,
            deadline_kind=kind,
            deadline_text=str(item.deadline),
            due=due,
            yearly_month=yearly[0] if yearly else None,
            yearly_day=yearly[1] if yearly else None,
            unmatched_units=unmatched,
        )
        current = {(tu.unit_id, tu.role): tu for tu in task.units}
        for key_ in set(current) - wanted:
            task.units.remove(current[key_])
        for unit_id, role in sorted(wanted - set(current)):
            task.units.append(TaskUnit(unit_id=unit_id, role=role))
        if set(current) != wanted:
            changes.result.changes.append(f"task[{item.number}].units")
    for name, numbers in unmatched_tasks.items():
        shown = "、".join(str(n) for n in numbers[:8]) + ("等" if len(numbers) > 8 else "")
        changes.result.warnings.append(
            f"任务{shown}的「{name}」不是 units 中的单位，也没有单位的 groups 含有它：这些任务暂时落不到单位上"
        )
    for task in existing.values():
        reported = PlanRows(session).progress_reports(task)
        if reported:
            changes.result.warnings.append(f"任务{task.number}已从方案中删除，但已有 {reported} 条进展记录，保留该任务")
            continue
        session.delete(task)
        changes.result.changes.append(f"task-{task.number}")
    session.flush()
