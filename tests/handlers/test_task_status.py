"""The pure task functions the reminder engine consumes: deadline subjects and the quarterly digest."""

from __future__ import annotations

from datetime import date, datetime

from core.statuses import TaskDeadlineKind, TaskRole
from handlers.task_status import (
    ongoing_digests,
    owing_unit_ids,
    task_deadline_subjects,
    task_states,
)
from storage.models import Task, TaskProgress, TaskUnit
from tests.conftest import SHANGHAI

LEAD, PARTNER, RESPONSIBLE = TaskRole.LEAD, TaskRole.PARTNER, TaskRole.RESPONSIBLE


def task(
    number: int,
    kind: TaskDeadlineKind,
    *,
    due: date | None = None,
    month: int | None = None,
    day: int | None = None,
    **roles: list[int],
) -> Task:
    units = [TaskUnit(unit_id=u, role=TaskRole(role)) for role, ids in roles.items() for u in ids]
    return Task(
        id=number,
        number=number,
        text=f"任务{number}的内容，第二句。",
        deadline_kind=kind,
        due=due,
        yearly_month=month,
        yearly_day=day,
        deadline_text="每年2月底前" if month else None,
        units=units,
    )


def done(task_id: int, unit_id: int, period: int | None = None, at: str = "2024-01-10 10:00") -> TaskProgress:
    return TaskProgress(
        task_id=task_id,
        unit_id=unit_id,
        period=period,
        done=True,
        created_at=datetime.fromisoformat(at).replace(tzinfo=SHANGHAI),
    )


TASKS = [
    task(3, TaskDeadlineKind.DATE_THEN_ONGOING, due=date(2024, 6, 15), responsible=[10, 11, 12]),
    task(6, TaskDeadlineKind.ONGOING, lead=[1], partner=[10, 11]),
    task(11, TaskDeadlineKind.DATE, due=date(2024, 3, 31), lead=[1], responsible=[10, 11]),
    task(19, TaskDeadlineKind.YEARLY, month=2, responsible=[10, 11]),  # 每年2月底前
    task(33, TaskDeadlineKind.YEARLY, month=2, day=20, responsible=[1]),
    task(40, TaskDeadlineKind.DATE, due=date(2025, 11, 30), lead=[1], partner=[12]),
]


def test_who_owes_a_task() -> None:
    by_number = {t.number: t for t in TASKS}
    assert owing_unit_ids(by_number[11]) == [10, 11]  # 责任单位 each do their share; the lead organises
    assert owing_unit_ids(by_number[40]) == [1]  # no 责任单位: the lead; the 配合单位 never owe
    assert owing_unit_ids(by_number[6]) == [1]


def test_deadline_subjects_of_a_year_leave_out_ongoing_and_met_deadlines() -> None:
    subjects = task_deadline_subjects(TASKS, [done(3, 10), done(3, 11), done(3, 12)], 2024)
    assert [(s.number, s.due, s.period, s.owing_unit_ids) for s in subjects] == [
        (33, date(2024, 2, 20), 2024, (1,)),
        (19, date(2024, 2, 29), 2024, (10, 11)),  # 2月底 in a leap year
        (11, date(2024, 3, 31), None, (10, 11)),
    ]  # task 3 was met by all three units; task 40 falls in 2025; task 6 is 长期坚持


def test_yearly_deadlines_recur_and_completions_count_per_year() -> None:
    progress = [done(19, 10, period=2024), done(19, 11, period=2024), done(11, 10)]
    subjects_2025 = task_deadline_subjects(TASKS, progress, 2025)
    assert [(s.number, s.due, s.owing_unit_ids) for s in subjects_2025] == [
        (33, date(2025, 2, 20), (1,)),
        (19, date(2025, 2, 28), (10, 11)),
        (40, date(2025, 11, 30), (1,)),
    ]
    assert [s.number for s in task_deadline_subjects(TASKS, progress, 2024)] == [33, 11, 3]
    assert task_deadline_subjects(TASKS, progress, 2024)[1].owing_unit_ids == (11,)


def test_a_yearly_occurrence_before_the_campaign_started_is_not_owed() -> None:
    starts = date(2024, 6, 1)
    assert [s.number for s in task_deadline_subjects(TASKS, [], 2024, starts)] == [3]
    states = {s.task.number: s for s in task_states(TASKS, [], date(2024, 7, 1), starts)}
    assert (states[19].due, states[19].period) == (date(2025, 2, 28), 2025)
    assert states[3].overdue(date(2024, 7, 1)) and not states[19].overdue(date(2024, 7, 1))


def test_quarterly_digest_goes_to_the_accountable_units_of_ongoing_tasks() -> None:
    since = datetime(2024, 1, 1, tzinfo=SHANGHAI)
    progress = [TaskProgress(task_id=3, unit_id=10, period=None, done=False, created_at=since)]
    digests = ongoing_digests(TASKS, progress, year=2024, quarter=1, since=since)
    assert set(digests) == {1, 10, 11, 12}  # 6's lead, and 3's (date then ongoing) responsible units
    assert digests[1].startswith("【长期坚持事项】2024年第1季度：请报告以下 1 项")
    assert "· 任务6 任务6的内容（本季度尚未报告）" in digests[1]
    assert "· 任务3 任务3的内容（本季度已报告）" in digests[10]
    assert "本季度尚未报告" in digests[11]
