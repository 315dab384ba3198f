"""A task's 完成时限 as a plan writes it: a date, every year, a date and then ongoing, or ongoing."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date

from core.dates import DateContext, parse_date
from core.statuses import TaskDeadlineKind

_TASK_ONGOING = re.compile(r"长期坚持|长期|持续")
_TASK_YEARLY = re.compile(r"^每年")
_LEAP_YEAR = 2000  # probes a yearly day in a leap year, so that 每年2月底 is told apart from 每年2月28日


def classify_task_deadline(
    text: str | date, ctx: DateContext
) -> tuple[TaskDeadlineKind, date | None, tuple[int, int | None] | None]:
    """Seed 004's 完成时限: a date, yearly (每年2月底前), a date then ongoing, or ongoing (长期坚持).

    A yearly deadline is (month, day), with day None for the month's last day (每年2月底 is the 28th or the
    29th depending on the year).
    """
    if isinstance(text, date):
        return TaskDeadlineKind.DATE, text, None
    text = unicodedata.normalize("NFKC", text).replace(" ", "").strip("。.,;")
    if _TASK_YEARLY.match(text):
        probe = parse_date(text.replace("每年", f"{_LEAP_YEAR}年", 1), ctx=ctx)
        if probe is None:
            return TaskDeadlineKind.UNKNOWN, None, None
        month_end = probe.day == calendar.monthrange(_LEAP_YEAR, probe.month)[1]
        return TaskDeadlineKind.YEARLY, None, (probe.month, None if month_end else probe.day)
    ongoing = bool(_TASK_ONGOING.search(text))
    dated = parse_date(_TASK_ONGOING.sub("", text).replace("并", "").strip(), ctx=ctx)
    if dated and ongoing:
        return TaskDeadlineKind.DATE_THEN_ONGOING, dated, None
    if dated:
        return TaskDeadlineKind.DATE, dated, None
    return (TaskDeadlineKind.ONGOING if ongoing else TaskDeadlineKind.UNKNOWN), None, None
