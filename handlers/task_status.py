"""Where each task of a task division stands, as pure functions of the tasks and their progress rows.

Who owes a task: its 责任单位 when it names some (each does its own share: 各乡镇〔街道〕 each run the
training), otherwise its 牵头单位 (who answer for the whole task). 配合单位 help and report progress but
never owe it, so a partner can never close a task its lead has not finished. A yearly task is owed again
every year; a 长期坚持 task is never owed by a date, it is followed by a quarterly digest instead.

The reminder engine consumes `task_deadline_subjects` (deadline nudges, docs/reminders.md) and `ongoing_digests`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core.dates import format_cn
from core.statuses import TaskDeadlineKind, TaskRole
from handlers.parsing import clipped
from storage.models import Task, TaskProgress

ROLE_TEXT = {TaskRole.LEAD: "牵头", TaskRole.PARTNER: "配合", TaskRole.RESPONSIBLE: "责任"}
KIND_TEXT = {
    TaskDeadlineKind.DATE: "限期完成",
    TaskDeadlineKind.YEARLY: "每年",
    TaskDeadlineKind.DATE_THEN_ONGOING: "限期完成并长期坚持",
    TaskDeadlineKind.ONGOING: "长期坚持",
    TaskDeadlineKind.UNKNOWN: "时限待定",
}
ONGOING_KINDS = (TaskDeadlineKind.ONGOING, TaskDeadlineKind.DATE_THEN_ONGOING)


def unit_ids(task: Task, role: TaskRole) -> list[int]:
    return [tu.unit_id for tu in task.units if tu.role is role]


def owing_unit_ids(task: Task) -> list[int]:
    """The units that must complete the task: its 责任单位, else its 牵头单位."""
    return unit_ids(task, TaskRole.RESPONSIBLE) or unit_ids(task, TaskRole.LEAD)


def accountable_unit_ids(task: Task) -> list[int]:
    """Who answers for the task as a whole (the digest goes to them): its 牵头单位, else its 责任单位."""
    return unit_ids(task, TaskRole.LEAD) or unit_ids(task, TaskRole.RESPONSIBLE)


def roles_of(task: Task, unit_id: int) -> list[TaskRole]:
    return [tu.role for tu in task.units if tu.unit_id == unit_id]


def due_in(task: Task, year: int) -> date | None:
    """The task's deadline falling in `year`: its date if it is that year, or that year's yearly occurrence."""
    if task.deadline_kind is TaskDeadlineKind.YEARLY and task.yearly_month:
        last = calendar.monthrange(year, task.yearly_month)[1]
        return date(year, task.yearly_month, min(task.yearly_day or last, last))
    if task.deadline_kind in (TaskDeadlineKind.DATE, TaskDeadlineKind.DATE_THEN_ONGOING) and task.due:
        return task.due if task.due.year == year else None
    return None


def occurrence(task: Task, today: date, starts: date | None = None) -> tuple[date | None, int | None]:
    """(due date, period) of the occurrence that matters today.

    A dated task has one; a yearly task this year's, or next year's if this year's fell before the campaign
    started (a campaign launched in June does not owe February's plan); its period is that year, against
    which completions are recorded. 长期坚持 has none.
    """
    if task.deadline_kind is TaskDeadlineKind.YEARLY:
        due = due_in(task, today.year)
        if due is not None and starts is not None and due < starts:
            due = due_in(task, today.year + 1)
        return due, (due.year if due else None)
    if task.deadline_kind in (TaskDeadlineKind.DATE, TaskDeadlineKind.DATE_THEN_ONGOING):
        return task.due, None
    return None, None


def completions(progress: Iterable[TaskProgress]) -> set[tuple[int, int, int | None]]:
    """(task id, unit id, period) of every completed share."""
    return {(p.task_id, p.unit_id, p.period) for p in progress if p.done}


@dataclass(frozen=True)
class TaskState:
    """A task's current occurrence: when it is due and which owing units have done their share."""

    task: Task
    due: date | None
    period: int | None
    owing: tuple[int, ...]
    done: tuple[int, ...]
    last_progress: TaskProgress | None = None

    @property
    def pending(self) -> list[int]:
        return [u for u in self.owing if u not in self.done]

    @property
    def complete(self) -> bool:
        return bool(self.owing) and not self.pending

    def overdue(self, today: date) -> bool:
        return self.due is not None and self.due < today and bool(self.pending)


def task_states(
    tasks: Sequence[Task], progress: Sequence[TaskProgress], today: date, starts: date | None = None
) -> list[TaskState]:
    """Each task's current occurrence (see `occurrence`; `starts` is the campaign's start)."""
    finished = completions(progress)
    latest: dict[int, TaskProgress] = {}
    for entry in progress:
        latest[entry.task_id] = entry
    states = []
    for task in tasks:
        owing = owing_unit_ids(task)
        due, period = occurrence(task, today, starts)
        states.append(
            TaskState(
                task,
                due,
                period,
                tuple(owing),
                tuple(u for u in owing if (task.id, u, period) in finished),
                latest.get(task.id),
            )
        )
    return states


@dataclass(frozen=True)
class TaskDeadlineSubject:
    """One task deadline for the reminder engine: nudge `owing_unit_ids` before `due` (docs/reminders.md)."""

    task_id: int
    number: int
    due: date
    period: int | None  # the year of a yearly occurrence: part of the reminder's exactly-once key
    owing_unit_ids: tuple[int, ...]


def task_deadline_subjects(
    tasks: Sequence[Task], progress: Sequence[TaskProgress], year: int, starts: date | None = None
) -> list[TaskDeadlineSubject]:
    """Every task deadline falling in `year` (and not before the campaign `starts`) that some owing unit has
    not met, earliest first.

    Dated tasks give their date (if in that year), yearly tasks that year's occurrence; 长期坚持 tasks give
    none. A deadline every owing unit has met is left out: nothing is posted for it.
    """
    finished = completions(progress)
    subjects = []
    for task in tasks:
        due = due_in(task, year)
        if due is None or (starts is not None and due < starts):
            continue
        period = year if task.deadline_kind is TaskDeadlineKind.YEARLY else None
        owing = tuple(u for u in owing_unit_ids(task) if (task.id, u, period) not in finished)
        if owing:
            subjects.append(TaskDeadlineSubject(task.id, task.number, due, period, owing))
    return sorted(subjects, key=lambda s: (s.due, s.number))


def short_title(task: Task, limit: int = 24) -> str:
    """The task's first clause, for lists: 严格落实行政执法“三项制度”…"""
    first = task.text.split("。")[0].split("，")[0].split(",")[0]
    return clipped(first, limit)


def deadline_text(state: TaskState) -> str:
    """2024年3月31日前 / 每年2月底前（2021年为2月28日）/ 长期坚持."""
    task, due = state.task, state.due
    if task.deadline_kind is TaskDeadlineKind.YEARLY:
        return (
            f"{task.deadline_text}（{due.year}年为{format_cn(due, with_year=False)}）"
            if due
            else task.deadline_text or "每年"
        )
    if task.due is not None:
        ongoing = "并长期坚持" if task.deadline_kind is TaskDeadlineKind.DATE_THEN_ONGOING else ""
        return f"{format_cn(task.due)}前{ongoing}"
    return KIND_TEXT[task.deadline_kind]


def ongoing_digests(
    tasks: Sequence[Task], progress: Sequence[TaskProgress], *, year: int, quarter: int, since: datetime
) -> dict[int, str]:
    """The quarterly 长期坚持事项 digest: unit id → text, for each unit accountable for ongoing tasks.

    `since` is the quarter's start: a task the unit has reported on since then is marked as reported.
    """
    reported = {(p.task_id, p.unit_id) for p in progress if p.created_at >= since}
    by_unit: dict[int, list[Task]] = {}
    for task in tasks:
        if task.deadline_kind not in ONGOING_KINDS:
            continue
        for unit_id in accountable_unit_ids(task):
            by_unit.setdefault(unit_id, []).append(task)
    texts = {}
    for unit_id, unit_tasks in by_unit.items():
        lines = [
            f"【长期坚持事项】{year}年第{quarter}季度：请报告以下 {len(unit_tasks)} 项长期坚持任务的落实情况，"
            "发送「任务 <编号> 进展 …」。"
        ]
        for task in unit_tasks:
            mark = "本季度已报告" if (task.id, unit_id) in reported else "本季度尚未报告"
            lines.append(f"· 任务{task.number} {short_title(task)}（{mark}）")
        texts[unit_id] = "\n".join(lines)
    return texts
