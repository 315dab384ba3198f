"""China's working-day calendar, used for reminders and for deciding whether a report is late.

Working days follow the official State Council calendar (statutory holidays and the adjusted
working weekends, 调休) as published in the ``chinese_calendar`` package.  That package only
ships data for the years it knows (2004–2026 in 1.11.0); for any other year we fall back to
Monday–Friday and log a WARNING once per year per process, so that operators notice without the
log being flooded.  A plan may declare its own extra ``holidays`` (days off) and ``workdays``
(extra working days); these always win, for covered years too, so a coordinator can correct or
complete the official data (e.g. enter next year's holidays before the package is updated).
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata
from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar

__all__ = ["WorkCalendar", "parse_weekday"]

logger = logging.getLogger("duban.calendar")

_ONE_DAY = timedelta(days=1)
_warned_years: set[int] = set()
_warned_lock = threading.Lock()


@functools.lru_cache(maxsize=8192)
def _official_is_workday(day: date) -> bool | None:
    """The official answer for ``day``, or None when the package has no data for its year.

    Cached because reminders and lateness checks ask about the same few weeks over and over.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _warn_fallback_once(year: int) -> None:
    """Log (once per year per process) that ``year`` uses the Monday–Friday fallback."""
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    logger.warning(
        "chinese_calendar has no official holiday data for %d; using Monday–Friday plus the "
        "plan's own holidays/workdays for that year",
        year,
    )


class WorkCalendar:
    """Working days = official Chinese calendar (or Mon–Fri fallback) overridden by plan extras."""

    def __init__(self, *, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        """Build a calendar; ``holidays`` are extra days off, ``workdays`` extra working days.

        A date in both lists is a contradiction in the plan, so it is rejected rather than
        silently resolved one way or the other.
        """
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        clash = self._holidays & self._workdays
        if clash:
            days = "、".join(d.isoformat() for d in sorted(clash))
            raise ValueError(f"以下日期同时被设为节假日和工作日：{days}")

    def covers(self, year: int) -> bool:
        """Whether official data exists for ``year`` (if not, callers should tell coordinators)."""
        return _official_is_workday(date(year, 1, 1)) is not None

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day: plan extras first, then official data, then Mon–Fri."""
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        official = _official_is_workday(day)
        if official is None:
            _warn_fallback_once(day.year)
            return day.weekday() < 5
        return official

    def last_workday_on_or_before(self, day: date) -> date:
        """``day`` itself if it is a working day, otherwise the closest working day before it."""
        while not self.is_workday(day):
            day -= _ONE_DAY
        return day

    def add_workdays(self, start: date, n: int) -> date:
        """'7个工作日内' counted from start: the start day itself is not counted; the result is the
        n-th working day after start (n>=1). A start on a rest day works the same (the first
        counted day is the next working day)."""
        if n < 1:
            raise ValueError(f"工作日天数必须至少为 1，收到 {n}")
        day = start
        while n:
            day += _ONE_DAY
            if self.is_workday(day):
                n -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Number of working days in (start, end]; 0 if ``end <= start``."""
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            count += self.is_workday(day)
            day += _ONE_DAY
        return count

    def report_day(self, week_of: date, weekday: int = 4) -> date:
        """The report day of the ISO week containing week_of: that week's `weekday` (0=Mon … 4=Fri),
        or if that is not a working day, the last working day before it (which may fall in the
        previous week if the whole week is a holiday, e.g. the 国庆 week)."""
        if not 0 <= weekday <= 6:
            raise ValueError(f"星期取值应为 0–6（0 为周一），收到 {weekday}")
        target = week_of + timedelta(days=weekday - week_of.weekday())
        return self.last_workday_on_or_before(target)


_PREFIXES = ("星期", "礼拜", "周")
_CN_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(text: str) -> int:
    """Parse how coordinators write a weekday into 0=Mon … 6=Sun.

    Accepts ``周五``/``星期五``/``礼拜五``/``五``, ``1``–``7`` (7 = Sunday, as people count
    them), and English names or three-letter abbreviations, case-insensitively.  Full-width
    digits and letters (common with Chinese input methods) are normalised first.
    """
    word = unicodedata.normalize("NFKC", text).strip().casefold()
    for index, name in enumerate(_EN_DAYS):
        if word in (name, name[:3]):
            return index
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix):
            word = word[len(prefix) :]
            break
    if word in _CN_DAYS:
        return _CN_DAYS[word]
    if word in {"1", "2", "3", "4", "5", "6", "7"}:
        return int(word) - 1
    raise ValueError(f"无法识别的星期：“{text}”，请写成“周五”“星期五”或 1–7 这样的形式")
