"""Reminder rules (docs/reminders.md) as pure functions: a campaign snapshot and a moment → the reminders due then.

Two steps, so that the engine, `duban remind preview` and the tests share one truth:

- `occurrences(snapshot, after, until)` lists the moments in a window at which some rule fires
  (a report day's 09:00 and 11:00, a deadline's nudge days — deliverables, phase ends, seed 004 tasks —,
  an issue's reminder day, the daily digest, a quarter's 长期坚持 digest, a notice's receipt reminder);
- `evaluate(snapshot, occurrence, route)` turns one moment into concrete reminders, each with a key
  ``rule:subject:recipient:occurrence`` that the outbox holds unique — creating it twice is a no-op.

Days that are not working days are skipped: a nudge that would fall on a weekend or a holiday goes out
on the last working day before it, and the digest runs on working days only (调休 weekends included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from itertools import groupby
from zoneinfo import ZoneInfo

from core.channels import Route
from core.dates import format_cn, format_near
from core.workdays import WorkCalendar
from handlers.context import DashboardLink, no_dashboard_link, with_link
from handlers.issues import issue_line
from handlers.parsing import clipped
from handlers.task_status import ongoing_digests
from storage.models import Issue, Task, TaskProgress

WEEKLY_REMIND = "weekly.remind"  # report day, each remind_at time: liaisons of units that have not reported
WEEKLY_DUE = "weekly.due"  # report day, due time: the coordinators get the list still missing
DEADLINE = "deadline.nudge"  # N days before a deadline: the groups get the units that still owe it
ISSUE_DUE = "issue.due"  # 3 days before an issue's 完成时限: its unit's liaisons
OVERDUE_DIGEST = "issue.overdue"  # working days 09:00: overdue issues by unit, to the coordinators
CALENDAR_GAP = "calendar.uncovered"  # from 1 December: next year has no official holiday data yet
ONGOING_DIGEST = "task.ongoing"  # first working day of a quarter 09:00: 长期坚持 tasks to their units' liaisons
NOTICE_RECEIPT = "notice.receipt"  # a notice's remind_at: its liaisons who have not answered 收到 (plan option)

# Rules whose key carries no moment: told once whenever it first fits, so a stale moment is simply
# skipped (a later one still tells) instead of being recorded as missed.
ONCE_RULES = frozenset({CALENDAR_GAP})

DAILY_AT = time(9, 0)
ISSUE_LEAD_DAYS = 3
MAX_NAMES = 30
MAX_DIGEST_LINES = 60


@dataclass(frozen=True)
class Person:
    """Someone the bot can write to in private, through their first chat identity."""

    key: str  # contact:12 / coordinator:3 — the recipient part of a reminder key
    name: str
    platform: str
    external_id: str
    phone: str | None = None


@dataclass(frozen=True)
class GroupTarget:
    name: str
    channel: str  # wecom_robot / dingtalk_robot / sim


@dataclass(frozen=True)
class Deadline:
    """Something due on a date that some units still owe: a deliverable, a phase end, later a seed-004 task."""

    subject: str  # deliverable:3, phase:2, task:7 — stable across plan reloads
    label: str  # 报送事项 / 阶段 / 任务, as the nudge names it
    name: str
    due: date
    owing: tuple[int, ...]  # unit ids that still owe it, in plan order
    owing_word: str = "未报送"  # what the owing units have not done, for the nudge text
    hint: str = ""  # what to do about it


@dataclass(frozen=True)
class NoticeChase:
    """A notice whose missing receipts are chased once, at the moment fixed when it was sent."""

    subject: str  # notice:12
    number: int  # 通知〔3〕
    text: str
    at: datetime
    owing: tuple[tuple[Person, str], ...]  # each liaison who has not acknowledged it, with their unit's name


@dataclass
class Snapshot:
    """What the rules read: the plan's settings and the database state that decides who still owes what."""

    campaign_id: int
    zone: ZoneInfo
    start: date
    end: date
    calendar: WorkCalendar
    report_weekday: int
    remind_at: tuple[time, ...]
    report_due: time
    nudge_days: tuple[int, ...]
    public_naming: bool
    units: dict[int, str]  # unit id → name, plan order
    liaisons: dict[int, tuple[Person, ...]]  # unit id → its active liaisons that have a chat identity
    coordinators: tuple[Person, ...]
    groups: tuple[GroupTarget, ...]
    reported: frozenset[tuple[int, int, int]]  # (unit id, ISO year, ISO week) with a weekly report
    deadlines: tuple[Deadline, ...]
    open_issues: tuple[Issue, ...]  # not rectified, with .unit loaded
    phones: dict[int, tuple[str, ...]] = field(default_factory=dict)  # unit id → active liaisons' mobiles
    ongoing_tasks: tuple[Task, ...] = ()  # seed 004's 长期坚持 tasks, with .units loaded
    task_progress: tuple[TaskProgress, ...] = ()
    notice_chases: tuple[NoticeChase, ...] = ()
    # Where the deployment serves several campaigns: the name a message opens with (【三年行动】), for every group
    # message and for the people (platform, user id) who are also in another campaign.
    label: str | None = None
    named_people: frozenset[tuple[str, str]] = frozenset()

    @cached_property
    def open_issue_by_id(self) -> dict[int, Issue]:
        """open_issues by id: an issue nudge looks its issue up here, not by scanning the whole ledger."""
        return {issue.id: issue for issue in self.open_issues}

    def at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.zone)

    def nudge_day(self, day: date) -> date:
        """A reminder meant for `day` goes out on it, or on the last working day before it."""
        return self.calendar.last_workday_on_or_before(day)


@dataclass(frozen=True, order=True)
class Occurrence:
    at: datetime
    rule: str
    subject: str


@dataclass(frozen=True)
class Reminder:
    key: str
    rule: str
    at: datetime
    channel: str
    target: str  # a user id, or a group's name
    recipient: str  # who, as a person reads it: 王芳（办公室） / 专项整治工作群
    text: str
    mentions: tuple[str, ...] = ()


# --- when ----------------------------------------------------------------------------------------------


def _days(after: date, until: date) -> Iterator[date]:
    day = after
    while day <= until:
        yield day
        day += timedelta(days=1)


def _in_campaign(snapshot: Snapshot, day: date) -> bool:
    return snapshot.start <= day <= snapshot.end


def calendar_gap_year(snapshot: Snapshot, day: date) -> int | None:
    """The year coordinators must be told has no official holiday data: this year, or from 1 December the
    next one — only if the campaign runs into it."""
    for year in (day.year, day.year + 1):
        if year > day.year and day.month < 12:
            break
        if snapshot.end.year >= year and not snapshot.calendar.covers(year):
            return year
    return None


def _quarter(day: date) -> int:
    return (day.month - 1) // 3 + 1


def quarter_first_workday(snapshot: Snapshot, day: date) -> date:
    """The first working day of the quarter `day` is in (the 长期坚持 digest goes out then)."""
    first = date(day.year, 3 * (_quarter(day) - 1) + 1, 1)
    while not snapshot.calendar.is_workday(first):
        first += timedelta(days=1)
    return first


def occurrences(snapshot: Snapshot, after: datetime, until: datetime) -> list[Occurrence]:
    """Every moment in (after, until] at which a rule fires, in time order."""
    first, last = after.astimezone(snapshot.zone).date(), until.astimezone(snapshot.zone).date()
    nudges: dict[date, list[str]] = {}
    for deadline in snapshot.deadlines:
        for day in {snapshot.nudge_day(deadline.due - timedelta(days=n)) for n in snapshot.nudge_days}:
            nudges.setdefault(day, []).append(deadline.subject)
    for issue in snapshot.open_issues:
        day = snapshot.nudge_day(issue.due - timedelta(days=ISSUE_LEAD_DAYS))
        nudges.setdefault(day, []).append(f"issue:{issue.id}:{issue.due.isoformat()}")
    found: list[Occurrence] = []
    for day in _days(first, last):
        workday = snapshot.calendar.is_workday(day)
        if _in_campaign(snapshot, day) and day == snapshot.calendar.report_day(day, snapshot.report_weekday):
            week = _week_subject(day)
            found.extend(Occurrence(snapshot.at(day, t), WEEKLY_REMIND, week) for t in snapshot.remind_at)
            found.append(Occurrence(snapshot.at(day, snapshot.report_due), WEEKLY_DUE, week))
        for subject in nudges.get(day, ()):
            rule = ISSUE_DUE if subject.startswith("issue:") else DEADLINE
            found.append(Occurrence(snapshot.at(day, DAILY_AT), rule, subject))
        if workday and _in_campaign(snapshot, day):
            found.append(Occurrence(snapshot.at(day, DAILY_AT), OVERDUE_DIGEST, "digest"))
        if snapshot.ongoing_tasks and _in_campaign(snapshot, day) and day == quarter_first_workday(snapshot, day):
            found.append(Occurrence(snapshot.at(day, DAILY_AT), ONGOING_DIGEST, f"quarter:{day.year}-Q{_quarter(day)}"))
        gap = calendar_gap_year(snapshot, day)
        if workday and gap is not None:
            found.append(Occurrence(snapshot.at(day, DAILY_AT), CALENDAR_GAP, f"year:{gap}"))
    found.extend(Occurrence(chase.at, NOTICE_RECEIPT, chase.subject) for chase in snapshot.notice_chases)
    return sorted(o for o in found if after < o.at <= until)


def _week_subject(day: date) -> str:
    iso = day.isocalendar()
    return f"week:{iso.year}-W{iso.week:02d}"


# --- what and to whom -----------------------------------------------------------------------------------


def reminder_key(snapshot: Snapshot, occurrence: Occurrence, recipient: str) -> str:
    """rule:campaign/subject:recipient:occurrence, unique in the outbox (ONCE_RULES leave the moment out)."""
    moment = "" if occurrence.rule in ONCE_RULES else occurrence.at.astimezone(snapshot.zone).strftime("%Y-%m-%dT%H:%M")
    return f"{occurrence.rule}:c{snapshot.campaign_id}/{occurrence.subject}:{recipient}:{moment}"


def _names(snapshot: Snapshot, unit_ids: Sequence[int]) -> str:
    names = [snapshot.units[u] for u in unit_ids]
    return "、".join(names[:MAX_NAMES]) + (f" 等{len(names)}个单位" if len(names) > MAX_NAMES else "")


def _when(deadline: date, day: date) -> str:
    left = (deadline - day).days
    due = format_near(deadline, day)
    return f"今天（{due}）截止" if left <= 0 else f"还有{left}天截止（{due}）"


class _Writer:
    """Builds the reminders of one occurrence, each keyed by its recipient."""

    def __init__(self, snapshot: Snapshot, occurrence: Occurrence, route: Route, link: DashboardLink) -> None:
        self.snapshot, self.occurrence, self.route, self.link = snapshot, occurrence, route, link
        self.reminders: list[Reminder] = []

    def to_person(
        self, person: Person, text: str, label: str | None = None, page: tuple[str, str] | None = None
    ) -> None:
        """A private reminder; with a `page` (label, dashboard path) it ends with a link that opens that page signed
        in on the person's platform."""
        if page is not None:
            text = with_link(text, self.link(person.platform, page[1]), page[0])
        if self.snapshot.label and (person.platform, person.external_id) in self.snapshot.named_people:
            text = f"【{self.snapshot.label}】{text}"
        self.reminders.append(
            Reminder(
                key=reminder_key(self.snapshot, self.occurrence, person.key),
                rule=self.occurrence.rule,
                at=self.occurrence.at,
                channel=self.route(person.platform),
                target=person.external_id,
                recipient=label or person.name,
                text=text,
            )
        )

    def to_group(self, group: GroupTarget, text: str, mentions: tuple[str, ...]) -> None:
        if self.snapshot.label:
            text = f"【{self.snapshot.label}】{text}"
        self.reminders.append(
            Reminder(
                key=reminder_key(self.snapshot, self.occurrence, f"group:{group.name}"),
                rule=self.occurrence.rule,
                at=self.occurrence.at,
                channel=group.channel,
                target=group.name,
                recipient=group.name,
                text=text,
                mentions=mentions,
            )
        )

    def to_liaisons(self, unit_id: int, text: str, page: tuple[str, str] | None = None) -> None:
        for person in self.snapshot.liaisons.get(unit_id, ()):
            self.to_person(person, text, f"{person.name}（{self.snapshot.units[unit_id]}）", page)

    def to_coordinators(self, text: str, page: tuple[str, str] | None = None) -> None:
        for person in self.snapshot.coordinators:
            self.to_person(person, text, f"{person.name}（协调人）", page)


def _weekly_missing(snapshot: Snapshot, day: date) -> list[int]:
    iso = day.isocalendar()
    return [u for u in snapshot.units if (u, iso.year, iso.week) not in snapshot.reported]


def _weekly_remind(w: _Writer, day: date) -> None:
    due = w.snapshot.report_due.strftime("%H:%M")
    week = day.isocalendar().week
    for unit_id in _weekly_missing(w.snapshot, day):
        w.to_liaisons(
            unit_id,
            f"【周报提醒】{w.snapshot.units[unit_id]}第{week}周专项整治工作信息尚未报送，"
            f"请于今天{due}前发送「周报 本周工作情况……」。",
        )


def _weekly_due(w: _Writer, day: date) -> None:
    missing = _weekly_missing(w.snapshot, day)
    if missing:
        w.to_coordinators(
            f"【周报未报送】第{day.isocalendar().week}周周报已到截止时间"
            f"（{format_cn(day, with_year=False)} {w.snapshot.report_due:%H:%M}），"
            f"尚有{len(missing)}个单位未报送：{_names(w.snapshot, missing)}。",
            ("周报报送情况", "/dashboard/weekly"),
        )


def _deadline_nudge(w: _Writer, day: date) -> None:
    snapshot = w.snapshot
    deadline = next((d for d in snapshot.deadlines if d.subject == w.occurrence.subject), None)
    if deadline is None or not deadline.owing:
        return  # met by every unit (or gone from the plan): nothing to say
    head = f"【{deadline.label}提醒】「{deadline.name}」{_when(deadline.due, day)}"
    hint = deadline.hint
    private = not snapshot.public_naming or not snapshot.groups
    for group in snapshot.groups:
        if snapshot.public_naming:
            mentions = tuple(p for u in deadline.owing for p in snapshot.phones.get(u, ()))
            w.to_group(
                group,
                f"{head}，{deadline.owing_word}的单位（{len(deadline.owing)}个）："
                f"{_names(snapshot, deadline.owing)}。请抓紧办理。{hint}",
                mentions,
            )
        else:
            w.to_group(group, f"{head}，尚有{len(deadline.owing)}个单位{deadline.owing_word}，请各单位抓紧办理。", ())
    if private:
        for unit_id in deadline.owing:
            w.to_liaisons(unit_id, f"{head}，{snapshot.units[unit_id]}{deadline.owing_word}，请抓紧办理。{hint}")


def _issue_due(w: _Writer, day: date) -> None:
    _, issue_id, due = w.occurrence.subject.split(":")
    issue = w.snapshot.open_issue_by_id.get(int(issue_id))
    if issue is None or issue.due.isoformat() != due:
        return  # rectified (销号) or its 完成时限 moved since
    w.to_liaisons(
        issue.unit_id,
        f"【整改时限提醒】问题 #{issue.number}「{issue.title}」{_when(issue.due, day)}，"
        f"目前尚未销号。整改完成后请发送「进展 #{issue.number} 已整改」。",
        ("本单位详情", f"/dashboard/units/{issue.unit_id}"),
    )


def _overdue_digest(w: _Writer, day: date) -> None:
    overdue = sorted((i for i in w.snapshot.open_issues if i.due < day), key=lambda i: (i.unit_id, i.due, i.number))
    if not overdue:
        return
    lines = [f"【逾期问题日报】截至{format_cn(day)}，逾期未整改问题{len(overdue)}个："]
    for unit_id, items in groupby(overdue, key=lambda i: i.unit_id):
        group = list(items)
        lines.append(f"【{w.snapshot.units.get(unit_id, group[0].unit.name)}】{len(group)}个")
        lines.extend(issue_line(i, day) for i in group)
    if len(lines) > MAX_DIGEST_LINES:
        lines = [*lines[:MAX_DIGEST_LINES], f"……完整清单请发送「逾期」查看（共{len(overdue)}个）"]
    w.to_coordinators("\n".join(lines), ("逾期问题台账", "/dashboard/issues?overdue=true"))


def _calendar_gap(w: _Writer, _day: date) -> None:
    year = w.occurrence.subject.removeprefix("year:")
    w.to_coordinators(
        f"【节假日数据提醒】系统内置的国家法定节假日数据尚未包含{year}年，{year}年的提醒暂按"
        f"周一至周五工作日计算。国务院办公厅公布{year}年放假安排后，请在方案的 holidays（放假）"
        f"和 workdays（调休上班）中补充并重新加载方案，或升级系统。"
    )


def _ongoing_digest(w: _Writer, day: date) -> None:
    since = datetime.combine(date(day.year, 3 * (_quarter(day) - 1) + 1, 1), time(0), tzinfo=w.snapshot.zone)
    texts = ongoing_digests(
        w.snapshot.ongoing_tasks, w.snapshot.task_progress, year=day.year, quarter=_quarter(day), since=since
    )
    for unit_id, text in texts.items():
        if unit_id in w.snapshot.units:
            w.to_liaisons(unit_id, text)


def _notice_receipt(w: _Writer, _day: date) -> None:
    chase = next((c for c in w.snapshot.notice_chases if c.subject == w.occurrence.subject), None)
    if chase is None:
        return  # every liaison has acknowledged it by now
    text = f"【回执提醒】通知〔{chase.number}〕「{clipped(chase.text, 60)}」您还没有确认收到，请回复「收到」。"
    for person, unit in chase.owing:
        w.to_person(person, text, f"{person.name}（{unit}）")


_RULES: dict[str, Callable[[_Writer, date], None]] = {
    WEEKLY_REMIND: _weekly_remind,
    WEEKLY_DUE: _weekly_due,
    DEADLINE: _deadline_nudge,
    ISSUE_DUE: _issue_due,
    OVERDUE_DIGEST: _overdue_digest,
    CALENDAR_GAP: _calendar_gap,
    ONGOING_DIGEST: _ongoing_digest,
    NOTICE_RECEIPT: _notice_receipt,
}


def evaluate(
    snapshot: Snapshot, occurrence: Occurrence, route: Route, link: DashboardLink = no_dashboard_link
) -> list[Reminder]:
    """The reminders one moment produces, given who has done what by now; `link` builds the dashboard links
    that some of them end with."""
    writer = _Writer(snapshot, occurrence, route, link)
    _RULES[occurrence.rule](writer, occurrence.at.astimezone(snapshot.zone).date())
    return writer.reminders
