"""Tests for core.workdays: official data (chinese_calendar 1.11.0), fallback, plan extras.

The concrete dates below were checked against chinese_calendar 1.11.0 (covers 2004–2026):
2026 国庆 is 10-01..10-07 with 调休 working days Sun 09-20 and Sat 10-10; 09-28..09-30 are
ordinary working days; 2026 春节 is 02-15..02-23 with 调休 Sat 02-14 and Sat 02-28.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest

import core.workdays as workcal
from core.workdays import WorkCalendar, parse_weekday

D = date.fromisoformat


@pytest.fixture(autouse=True)
def _fresh_fallback_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees a process that has not yet warned about any year."""
    monkeypatch.setattr(workcal, "_warned_years", set())


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-10-01", False),  # Thu, 国庆
        ("2026-10-02", False),  # Fri, 国庆
        ("2026-10-07", False),  # Wed, 国庆
        ("2026-10-08", True),  # Thu, first day back
        ("2026-10-10", True),  # Sat, 调休
        ("2026-10-11", False),  # Sun, ordinary weekend
        ("2026-09-20", True),  # Sun, 调休 for 国庆
        ("2026-09-25", False),  # Fri, 中秋
        ("2026-09-28", True),  # Mon, ordinary working day (not 调休)
        ("2026-09-30", True),  # Wed, ordinary working day
        ("2026-02-14", True),  # Sat, 调休 for 春节
        ("2026-02-28", True),  # Sat, 调休 for 春节
        ("2026-02-18", False),  # Wed, 春节
        ("2026-05-09", True),  # Sat, 调休 for 劳动节
        ("2025-10-11", True),  # Sat, 调休 for 国庆 2025
        ("2025-02-08", True),  # Sat, 调休 for 春节 2025
        ("2026-03-07", False),  # ordinary Saturday
        ("2026-03-06", True),  # ordinary Friday
    ],
)
def test_is_workday_follows_official_calendar(cal: WorkCalendar, day: str, expected: bool) -> None:
    assert cal.is_workday(D(day)) is expected


@pytest.mark.parametrize(
    ("week_of", "weekday", "expected"),
    [
        ("2026-10-02", 4, "2026-09-30"),  # Fri 国庆 -> Wed before it
        ("2026-09-28", 4, "2026-09-30"),  # any day of that ISO week gives the same answer
        ("2026-10-04", 4, "2026-09-30"),  # Sunday still belongs to the same ISO week
        ("2026-10-08", 4, "2026-10-09"),  # week after 国庆: Friday is a working day
        ("2026-10-08", 5, "2026-10-10"),  # 调休 Saturday as report day
        ("2026-10-08", 6, "2026-10-10"),  # Sun 10-11 off -> 调休 Sat
        ("2026-02-18", 4, "2026-02-14"),  # whole week is 春节 -> previous week's 调休 Sat
        ("2025-10-01", 4, "2025-09-30"),  # 国庆 2025
        ("2026-03-11", 4, "2026-03-13"),  # ordinary week
        ("2026-03-11", 0, "2026-03-09"),  # Monday report day
        ("2027-03-10", 4, "2027-03-12"),  # uncovered year: Mon–Fri fallback
    ],
)
def test_report_day(cal: WorkCalendar, week_of: str, weekday: int, expected: str) -> None:
    assert cal.report_day(D(week_of), weekday) == D(expected)


def test_report_day_default_is_friday_and_rejects_bad_weekday(cal: WorkCalendar) -> None:
    assert cal.report_day(D("2026-10-02")) == D("2026-09-30")
    with pytest.raises(ValueError, match="星期"):
        cal.report_day(D("2026-10-02"), 7)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-10-02", "2026-09-30"),
        ("2026-10-10", "2026-10-10"),  # 调休 Saturday is itself a working day
        ("2026-02-23", "2026-02-14"),
        ("2026-03-08", "2026-03-06"),
    ],
)
def test_last_workday_on_or_before(cal: WorkCalendar, day: str, expected: str) -> None:
    assert cal.last_workday_on_or_before(D(day)) == D(expected)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-03-06", 7, "2026-03-17"),  # from a Friday
        ("2026-03-07", 7, "2026-03-17"),  # from a Saturday (rest-day start)
        ("2026-03-08", 7, "2026-03-17"),  # from a Sunday
        ("2026-03-06", 1, "2026-03-09"),  # start day itself never counts
        ("2026-03-09", 1, "2026-03-10"),
        ("2026-09-30", 7, "2026-10-15"),  # across 国庆, counting 调休 Sat 10-10
        ("2026-10-02", 7, "2026-10-15"),  # start inside the holiday: same as from 09-30
        ("2026-02-13", 7, "2026-03-02"),  # across 春节, counting 调休 Sats 02-14 and 02-28
        ("2026-12-30", 3, "2027-01-04"),  # into 2027: fallback treats 01-01 (Fri) as working
    ],
)
def test_add_workdays(cal: WorkCalendar, start: str, n: int, expected: str) -> None:
    assert cal.add_workdays(D(start), n) == D(expected)


@pytest.mark.parametrize("n", [0, -1])
def test_add_workdays_rejects_non_positive(cal: WorkCalendar, n: int) -> None:
    with pytest.raises(ValueError, match="工作日"):
        cal.add_workdays(D("2026-03-06"), n)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-03-06", "2026-03-13", 5),
        ("2026-09-30", "2026-10-10", 3),  # 10-08, 10-09, 10-10
        ("2026-02-13", "2026-02-28", 6),  # 02-14, 02-24..02-27, 02-28
        ("2026-03-06", "2026-03-06", 0),
        ("2026-03-13", "2026-03-06", 0),
    ],
)
def test_workdays_between(cal: WorkCalendar, start: str, end: str, expected: int) -> None:
    assert cal.workdays_between(D(start), D(end)) == expected


@pytest.mark.parametrize(("start", "n"), [("2026-03-06", 7), ("2026-09-30", 7), ("2026-02-13", 7)])
def test_add_workdays_and_workdays_between_agree(cal: WorkCalendar, start: str, n: int) -> None:
    assert cal.workdays_between(D(start), cal.add_workdays(D(start), n)) == n


@pytest.mark.parametrize(("year", "expected"), [(2004, True), (2025, True), (2026, True), (2003, False), (2027, False)])
def test_covers(cal: WorkCalendar, year: int, expected: bool) -> None:
    assert cal.covers(year) is expected


@pytest.mark.parametrize(
    ("day", "holidays", "workdays", "expected"),
    [
        ("2027-10-01", (), (), True),  # Fri: no official data, so a plain working day
        ("2027-10-09", (), (), False),  # Sat
        ("2027-10-01", ("2027-10-01",), (), False),  # plan declares 国庆
        ("2027-10-09", (), ("2027-10-09",), True),  # plan declares a 调休 Saturday
    ],
)
def test_uncovered_year_falls_back_to_mon_fri_plus_extras(
    day: str, holidays: tuple[str, ...], workdays: tuple[str, ...], expected: bool
) -> None:
    cal = WorkCalendar(holidays=map(D, holidays), workdays=map(D, workdays))
    assert cal.is_workday(D(day)) is expected


@pytest.mark.parametrize(
    ("day", "holidays", "workdays", "expected"),
    [
        ("2026-03-06", ("2026-03-06",), (), False),  # ordinary Friday made a day off
        ("2026-10-05", (), ("2026-10-05",), True),  # 国庆 Monday made a working day
        ("2026-03-07", (), ("2026-03-07",), True),  # ordinary Saturday made a working day
        ("2026-10-10", ("2026-10-10",), (), False),  # official 调休 Saturday cancelled
    ],
)
def test_extras_override_covered_years(
    day: str, holidays: tuple[str, ...], workdays: tuple[str, ...], expected: bool
) -> None:
    cal = WorkCalendar(holidays=map(D, holidays), workdays=map(D, workdays))
    assert cal.is_workday(D(day)) is expected


def test_extras_change_derived_answers() -> None:
    cal = WorkCalendar(holidays=[D("2026-03-13"), D("2026-12-31")], workdays=[D("2026-03-14")])
    assert cal.report_day(D("2026-03-11")) == D("2026-03-12")
    assert cal.add_workdays(D("2026-03-12"), 1) == D("2026-03-14")
    assert cal.add_workdays(D("2026-12-30"), 1) == D("2027-01-01")


def test_same_day_in_both_extras_is_rejected() -> None:
    with pytest.raises(ValueError, match="2026-03-06"):
        WorkCalendar(holidays=[D("2026-03-06")], workdays=[D("2026-03-06")])


def _fallback_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "duban.calendar" and r.levelno == logging.WARNING]


def test_fallback_warning_logged_once_per_year(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="duban.calendar")
    first, second = WorkCalendar(), WorkCalendar(holidays=[D("2027-10-01")])
    for cal in (first, second):
        for _ in range(3):
            cal.workdays_between(D("2027-01-01"), D("2027-12-31"))
            cal.add_workdays(D("2027-09-30"), 7)
            cal.report_day(D("2027-10-01"))
            assert cal.covers(2027) is False
    records = _fallback_records(caplog)
    assert len(records) == 1
    assert "2027" in records[0].getMessage()

    first.is_workday(D("2003-06-02"))
    first.is_workday(D("2003-06-03"))
    assert [r.getMessage().count("2003") for r in _fallback_records(caplog)] == [0, 1]


def test_covered_years_and_covers_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="duban.calendar")
    cal = WorkCalendar()
    cal.workdays_between(D("2025-01-01"), D("2026-12-31"))
    cal.covers(2027)
    assert _fallback_records(caplog) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("周五", 4),
        ("星期五", 4),
        ("礼拜五", 4),
        ("五", 4),
        ("5", 4),
        ("５", 4),  # full-width digit from a Chinese IME
        ("friday", 4),
        ("Fri", 4),
        ("FRIDAY", 4),
        (" 周五 ", 4),
        ("周一", 0),
        ("1", 0),
        ("Mon", 0),
        ("周六", 5),
        ("周日", 6),
        ("星期天", 6),
        ("礼拜日", 6),
        ("7", 6),
        ("sunday", 6),
        ("周5", 4),
    ],
)
def test_parse_weekday(text: str, expected: int) -> None:
    assert parse_weekday(text) == expected


@pytest.mark.parametrize("text", ["", "周", "星期", "周八", "0", "8", "周周五", "fr", "周friday", "明天"])
def test_parse_weekday_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="无法识别的星期"):
        parse_weekday(text)
