"""Plans with a task division (docs/plan-format.md, tasks): deadline kinds, collective names, reloads."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from core.dates import DateContext
from core.statuses import TaskDeadlineKind
from plan.deadlines import classify_task_deadline
from plan.schema import parse_plan, read_plan
from plan.sync import collective_key, load_plan
from storage.db import transaction
from storage.models import Task, TaskProgress
from tests.conftest import FIXTURES, SHANGHAI, Database

CTX = DateContext(campaign_start=date(2023, 11, 1), campaign_end=date(2025, 12, 31), today=date(2023, 11, 1))
NOW = datetime(2020, 7, 15, 10, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("长期坚持", (TaskDeadlineKind.ONGOING, None, None)),
        ("2024年3月底前", (TaskDeadlineKind.DATE, date(2024, 3, 31), None)),
        ("2024 年 6 月 15 日前并长期坚持", (TaskDeadlineKind.DATE_THEN_ONGOING, date(2024, 6, 15), None)),
        ("2024年底前并长期坚持", (TaskDeadlineKind.DATE_THEN_ONGOING, date(2024, 12, 31), None)),
        ("每年2月底前", (TaskDeadlineKind.YEARLY, None, (2, None))),  # the month's end, 28th or 29th
        ("每年 10 月底前", (TaskDeadlineKind.YEARLY, None, (10, None))),
        ("每年二月二十日前", (TaskDeadlineKind.YEARLY, None, (2, 20))),
        ("每年3月上旬", (TaskDeadlineKind.YEARLY, None, (3, 10))),
        ("另行通知", (TaskDeadlineKind.UNKNOWN, None, None)),
        ("每年适时", (TaskDeadlineKind.UNKNOWN, None, None)),
        (date(2024, 5, 31), (TaskDeadlineKind.DATE, date(2024, 5, 31), None)),
    ],
)
def test_deadline_kinds(text: str | date, expected: tuple[object, ...]) -> None:
    assert classify_task_deadline(text, CTX) == expected


def test_collective_names_compare_across_brackets_and_a_leading_each() -> None:
    assert collective_key("各乡镇〔街道〕") == collective_key("乡镇（街道）") == collective_key("各乡镇(街道)")
    assert collective_key("各行政执法部门〔单位〕") != collective_key("各行政主管部门〔单位〕")


def test_unmatched_names_are_warned_and_kept_on_the_task(db: Database) -> None:
    with transaction(db.sessions) as session:
        result = load_plan(session, read_plan(FIXTURES / "tasks.yaml"), now=NOW)
    assert result.warnings == [
        "任务15的「政府办」不是 units 中的单位，也没有单位的 groups 含有它：这些任务暂时落不到单位上",
        "任务15的「各行业主管部门」不是 units 中的单位，也没有单位的 groups 含有它：这些任务暂时落不到单位上",
    ]
    with transaction(db.sessions) as session:
        task = session.scalars(select(Task).where(Task.number == 15)).one()
        assert task.unmatched_units == ["政府办", "各行业主管部门"] and len(task.units) == 1


def test_a_task_with_progress_survives_being_dropped_from_the_plan(db: Database) -> None:
    text = (FIXTURES / "tasks.yaml").read_text(encoding="utf-8")
    with transaction(db.sessions) as session:
        load_plan(session, parse_plan(text), now=NOW)
        task6 = session.scalars(select(Task).where(Task.number == 6)).one()
        session.add(TaskProgress(task_id=task6.id, unit_id=task6.units[0].unit_id, done=True, created_at=NOW))
    fewer = text.split("  - number: 6")[0] + "  - number: 8" + text.split("  - number: 8")[1]
    with transaction(db.sessions) as session:
        result = load_plan(session, parse_plan(fewer), now=NOW)
    assert "任务6已从方案中删除，但已有 1 条进展记录，保留该任务" in result.warnings
    with transaction(db.sessions) as session:
        assert session.scalars(select(Task.number).order_by(Task.number)).all() == [1, 6, 8, 15, 19]
