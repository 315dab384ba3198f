"""Read one campaign's reminder-relevant state from the database into a rules.Snapshot (a few queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.channels import Platform
from core.statuses import IssueStatus
from handlers.context import campaign_calendar, campaign_label
from handlers.task_status import ONGOING_KINDS, short_title, task_deadline_subjects
from scheduler.rules import Deadline, GroupTarget, NoticeChase, Person, Snapshot
from storage.models import Campaign, ChatIdentity, Group, Issue, Unit, WeeklyReport
from storage.repos import Deliverables, Notices, People, Tasks, Units

# Which identity a person is written to when they have several (a liaison on both platforms gets one copy).
PLATFORM_ORDER = (Platform.WECOM, Platform.DINGTALK)


def _clock(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)


def first_identity(identities: Sequence[ChatIdentity]) -> ChatIdentity | None:
    """The identity a person is written to: WeCom first, then DingTalk (one copy per person)."""
    ranked = sorted(
        identities,
        key=lambda i: (PLATFORM_ORDER.index(i.platform) if i.platform in PLATFORM_ORDER else len(PLATFORM_ORDER), i.id),
    )
    return ranked[0] if ranked else None


def deliverable_deadlines(
    session: Session, campaign: Campaign, units: Sequence[Unit], _open_issues: Sequence[Issue]
) -> list[Deadline]:
    """A deliverable is owed by the units it names (all, if none) that have not submitted it."""
    repo = Deliverables(session)
    submitted = repo.submissions(campaign)
    return [
        Deadline(
            subject=f"deliverable:{d.id}",
            label="报送事项",
            name=d.name,
            due=d.due,
            owing=tuple(u.id for u in units if repo.owes(d, u) and u.id not in submitted.get(d.id, set())),
            hint=f"报送后请发送「报送 {d.name}」。",
        )
        for d in repo.all(campaign)
    ]


def phase_deadlines(
    _session: Session, campaign: Campaign, units: Sequence[Unit], open_issues: Sequence[Issue]
) -> list[Deadline]:
    """A phase end is owed by the units that still have unrectified issues due by then (seed 001: each phase's
    整改 must be done before the next begins)."""
    result = []
    for phase in campaign.phases:
        owing = {i.unit_id for i in open_issues if i.due <= phase.end}
        result.append(
            Deadline(
                subject=f"phase:{phase.id}",
                label="阶段",
                name=phase.name,
                due=phase.end,
                owing=tuple(u.id for u in units if u.id in owing),
                owing_word="有到期未整改问题",
                hint="请抓紧整改，完成后发送「进展 编号 已整改」。",
            )
        )
    return result


def task_deadlines(
    session: Session, campaign: Campaign, units: Sequence[Unit], _open_issues: Sequence[Issue]
) -> list[Deadline]:
    """Seed 004's dated and yearly tasks, for every year the campaign spans; each owed by the units that have
    not completed their share (handlers.task_status decides who owes a task)."""
    repo = Tasks(session)
    tasks, progress = repo.all(campaign), repo.progress(campaign)
    in_plan = {u.id for u in units}
    numbers = {t.id: t for t in tasks}
    result = []
    for year in range(campaign.start.year, campaign.end.year + 1):
        for subject in task_deadline_subjects(tasks, progress, year, starts=campaign.start):
            task = numbers[subject.task_id]
            period = f":{subject.period}" if subject.period is not None else ""
            result.append(
                Deadline(
                    subject=f"task:{task.id}{period}",
                    label="任务",
                    name=f"任务{task.number} {short_title(task)}",
                    due=subject.due,
                    owing=tuple(u for u in subject.owing_unit_ids if u in in_plan),
                    owing_word="未完成",
                    hint=f"完成后请发送「任务 {task.number} 完成」。",
                )
            )
    return result


# Where deadline nudges come from: deliverables, phase ends and seed 004's task division.
DeadlineSource = Callable[[Session, Campaign, Sequence[Unit], Sequence[Issue]], list[Deadline]]
DEADLINE_SOURCES: tuple[DeadlineSource, ...] = (deliverable_deadlines, phase_deadlines, task_deadlines)


def load_snapshot(session: Session, campaign: Campaign) -> Snapshot:
    """Everything the rules need for `campaign` as the database has it now; each rule then compares
    against its own occurrence's day."""
    units = list(Units(session).all(campaign))
    unit_ids = [u.id for u in units]
    people = People(session)
    liaisons: dict[int, list[Person]] = {}
    phones: dict[int, list[str]] = {}
    for contact in people.active_liaisons(unit_ids):
        if contact.phone:
            phones.setdefault(contact.unit_id, []).append(contact.phone)
        identity = first_identity(contact.identities)
        if identity is not None:
            liaisons.setdefault(contact.unit_id, []).append(
                Person(f"contact:{contact.id}", contact.name, identity.platform, identity.external_id, contact.phone)
            )
    coordinators = []
    for coordinator in people.coordinators(campaign):
        identity = first_identity(coordinator.identities)
        if identity is not None:
            coordinators.append(
                Person(
                    f"coordinator:{coordinator.id}",
                    coordinator.name,
                    identity.platform,
                    identity.external_id,
                    coordinator.phone,
                )
            )
    groups = session.scalars(select(Group).where(Group.campaign_id == campaign.id).order_by(Group.id)).all()
    reported = frozenset(
        (unit_id, year, week)
        for unit_id, year, week in session.execute(
            select(WeeklyReport.unit_id, WeeklyReport.iso_year, WeeklyReport.iso_week).where(
                WeeklyReport.campaign_id == campaign.id
            )
        )
    )
    open_issues = session.scalars(
        select(Issue)
        .where(Issue.campaign_id == campaign.id, Issue.status != IssueStatus.RECTIFIED, Issue.unit_id.in_(unit_ids))
        .options(selectinload(Issue.unit))
        .order_by(Issue.unit_id, Issue.due, Issue.number)
    ).all()
    deadlines = [d for source in DEADLINE_SOURCES for d in source(session, campaign, units, open_issues)]
    tasks = Tasks(session)
    ongoing = tuple(t for t in tasks.all(campaign) if t.deadline_kind in ONGOING_KINDS)
    chases = []
    for notice in Notices(session).to_chase(campaign):
        assert notice.remind_at is not None
        owing = []
        for receipt in notice.receipts:  # only those still owed
            contact, identity = receipt.contact, first_identity(receipt.contact.identities)
            if identity is not None:
                owing.append(
                    (
                        Person(
                            f"contact:{contact.id}",
                            contact.name,
                            identity.platform,
                            identity.external_id,
                            contact.phone,
                        ),
                        contact.unit.name,
                    )
                )
        chases.append(NoticeChase(f"notice:{notice.id}", notice.number, notice.text, notice.remind_at, tuple(owing)))
    return Snapshot(
        campaign_id=campaign.id,
        zone=ZoneInfo(campaign.timezone),
        start=campaign.start,
        end=campaign.end,
        calendar=campaign_calendar(campaign),
        report_weekday=campaign.report_weekday,
        remind_at=tuple(_clock(t) for t in campaign.report_remind_at),
        report_due=_clock(campaign.report_due),
        nudge_days=tuple(campaign.deadline_nudges_days),
        public_naming=campaign.public_naming,
        units={u.id: u.name for u in units},
        liaisons={k: tuple(v) for k, v in liaisons.items()},
        coordinators=tuple(coordinators),
        groups=tuple(GroupTarget(g.name, g.channel) for g in groups),
        reported=reported,
        deadlines=tuple(deadlines),
        open_issues=tuple(open_issues),
        phones={k: tuple(v) for k, v in phones.items()},
        ongoing_tasks=ongoing,
        task_progress=tuple(tasks.progress(campaign)) if ongoing else (),
        notice_chases=tuple(chases),
    )


def name_for_several(session: Session, campaign: Campaign, snapshot: Snapshot, others: Sequence[int]) -> None:
    """The deployment serves `others` beside this campaign: group messages name it, and so do the messages to the
    people of the snapshot who are also in one of the others."""
    people = [p for persons in snapshot.liaisons.values() for p in persons]
    people += [*snapshot.coordinators, *(person for chase in snapshot.notice_chases for person, _unit in chase.owing)]
    snapshot.label = campaign_label(campaign)
    snapshot.named_people = frozenset(
        People(session).in_several(campaign, others, ((p.platform, p.external_id) for p in people))
    )
