"""Chinese date parsing for chat messages and campaign plans.

Recognised forms (after NFKC normalisation, so full-width digits and punctuation work too):

* absolute: ``2020年9月10日``, ``2020-09-10``, ``2020/9/10``, ``2020.9.10``, ``二〇二〇年九月十日``
* year-less: ``9月10日``, ``9月10号``, ``九月十日`` — the year comes from the campaign
* parts of a month: ``9月上旬/中旬/下旬``, ``9月初``, ``9月底``, ``9月末``
* relative to today: ``今天/今日``, ``明天/明日``, ``后天``, ``大后天``, ``月底``, ``本月底``, ``下月底``,
  ``下个月10日``, ``年底``, ``今年底``
* year ends: ``2020年底``

A date may be followed by a weekday or a time of day (``9月10日(周四)17:00``), which are ignored, and by
deadline words (``前``, ``之前``, ``以前``, ``止``, ``为止``, ``截止``, ``完成``). ``前`` means "by,
inclusive", so ``9月10日前`` is 9月10日 itself.

``parse_date`` reads a text that is one date, ``find_date`` the first date inside a sentence,
``find_dates`` every date inside a longer text with where it stands, and ``parse_range`` a period such as
``6月上旬至9月下旬``.
"""

import calendar
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from typing import Literal

import cn2an

Role = Literal["start", "end"]


@dataclass(frozen=True)
class DateContext:
    """What a date is resolved against: the campaign's span (for a missing year), today (for 明天, 月底…)."""

    campaign_start: date
    campaign_end: date
    today: date

    def __post_init__(self) -> None:
        if self.campaign_start > self.campaign_end:
            raise ValueError(f"campaign starts ({self.campaign_start}) after it ends ({self.campaign_end})")


@dataclass(frozen=True)
class _Spec:
    """A date as written, before resolution: the year may be missing, the day may be a part of the month."""

    month: int
    year: int | None = None
    day: int | None = None
    part: str | None = None  # one of _PART_DAYS when there is no day


# --- Vocabulary -------------------------------------------------------------------------------------------

_LAST = -1  # stands for "the last day of the month" in _PART_DAYS

# (day when the part opens a period, day when it closes one)
_PART_DAYS: dict[str, tuple[int, int]] = {
    "上旬": (1, 10),
    "中旬": (11, 20),
    "下旬": (21, _LAST),
    "初": (1, 10),
    "底": (_LAST, _LAST),
    "末": (_LAST, _LAST),
}

_TRAILING_WORDS = ("之前", "以前", "前", "为止", "止", "截止", "完成")
_LEADING_WORDS = (
    "于",
    "在",
    "截至",
    "截止",
    "截止到",
    "最迟",
    "最迟于",
    "最晚",
    "最晚于",
    "不晚于",
    "从",
    "自",
)
_RELATIVE_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "今天": 0, "今日": 0}
_RELATIVE_MONTHS = {"": 0, "本": 0, "这": 0, "这个": 0, "下": 1, "下个": 1, "次": 1}  # "": bare 月底
_RELATIVE_YEARS = {"": 0, "今": 0, "本": 0, "明": 1}  # "": bare 年底

# NFKC leaves these alone; PDF conversion uses them for 〇 (二○二○年) and for range dashes.
_CHAR_FIXES = str.maketrans({"○": "〇", "〜": "~", "―": "—"})
_EDGE_CHARS = " ,.;:!?'\"()[]{}<>，。；：！？、…“”‘’【】《》「」『』"


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words, longest first so that 之前 wins over 前 (empty words dropped)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True) if w)


# --- Regular expressions ----------------------------------------------------------------------------------
# [0-9] rather than \d: \d would also accept Arabic-Indic and other Unicode digits that NFKC keeps.

_CN_DIGITS = "〇零一二三四五六七八九"  # digit by digit, as in years: 二〇二〇
_CN_COUNT = "一二三四五六七八九十廿"  # positional, as in months and days: 十二, 二十一, 廿一
_ANY_NUMERAL = f"0-9{_CN_DIGITS}十廿"  # for lookbehinds, so that 13月 never yields 3月

_YEAR = rf"(?<![{_ANY_NUMERAL}])(?:[0-9]{{4}}|[{_CN_DIGITS}O]{{4}})"  # O: 二O二O, seen in scanned PDFs
_MONTH = rf"(?<![{_ANY_NUMERAL}])(?:[0-9]{{1,2}}|[{_CN_COUNT}]{{1,3}})"
_DAY = rf"(?:[0-9]{{1,2}}|[{_CN_COUNT}]{{1,3}})"
# A day normally ends in 日/号. Chat users also write 9月10前, so the suffix may be left out, provided the
# numeral is not glued to further words: 9月10个部门 is not a date.
_DAY_END = rf"(?:[日号]|(?={_alternation(_TRAILING_WORDS)}|起|至|到)|(?!\w))"
_PART = _alternation(_PART_DAYS)

_ISO_RE = re.compile(r"(?<![0-9])(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})(?![0-9])")
_MONTH_DAY_RE = re.compile(rf"(?:(?P<y>{_YEAR})年)?(?P<m>{_MONTH})月(?:(?P<d>{_DAY}){_DAY_END}|(?P<part>{_PART}))")
# 本月底, 下个月10日, and a bare 月底 meaning this month — but not 每月底 (every month), 当月底 (whichever
# month is meant), 上月底 (last month), 三个月底, or 12月底 (handled above).
_RELATIVE_MONTH_RE = re.compile(
    rf"(?:(?P<rel>{_alternation(_RELATIVE_MONTHS)})|(?<![{_ANY_NUMERAL}每当个逐按上岁]))"
    rf"月(?:(?P<d>{_DAY}){_DAY_END}|(?P<part>{_PART}))"
)
_YEAR_END_RE = re.compile(
    rf"(?:(?P<y>{_YEAR})|(?P<rel>{_alternation(_RELATIVE_YEARS)})|(?<![{_ANY_NUMERAL}每去前上]))年[底末]"
)
_RELATIVE_DAY_RE = re.compile(_alternation(_RELATIVE_DAYS))
# The second half of a range may give only the day (6月1日至10日) or the part (6月上旬至下旬).
_PARTIAL_RE = re.compile(rf"(?P<d>{_DAY}){_DAY_END}|(?P<part>上旬|中旬|下旬)")

# Ignored decorations after a date: a weekday and/or a time of day, 9月10日(星期四)下午5点 / 2020-09-10 17:00.
_DECORATION_RE = re.compile(
    r"(?:\(?(?:星期|周|礼拜)[一二三四五六日天]\)?)?"
    r"(?: ?(?:上午|中午|下午|晚上|早上)?[0-9]{1,2}(?::[0-9]{2}|[点时](?:[0-9]{1,2}分|半)?))?"
)
_LEAD_RE = re.compile(f"(?:{_alternation(_LEADING_WORDS)})?")
_TAIL_RE = re.compile(f"(?:{_alternation(_TRAILING_WORDS)})*")
_RANGE_SEP_RE = re.compile(r"起?(?:至|到|~|-+|—+|–+)")  # 起 as in 自6月1日起至9月30日止
_DEADLINE_TAIL_RE = re.compile(f"(?:{_alternation(('之前', '以前', '前', '为止', '止', '截止'))})")
_SPACES_RE = re.compile(r"\s+")


# --- From match to _Spec ----------------------------------------------------------------------------------


def _number(token: str, *, digit_by_digit: bool = False) -> int | None:
    """An Arabic or Chinese numeral as an int; None when cn2an rejects the Chinese (十十, 一一)."""
    if token.isascii() and token.isdigit():
        return int(token)
    # Years are written digit by digit (二〇二〇), which only cn2an's "normal" mode reads; months and days
    # are positional (二十一), and "strict" mode refuses nonsense such as 十一二.
    mode = "normal" if digit_by_digit else "strict"
    try:
        return int(cn2an.cn2an(token.replace("O", "〇"), mode))
    except ValueError:
        return None


def _spec(month: int | None, year: int | None, day_token: str | None, part: str | None) -> _Spec | None:
    """Assemble a spec, or None when a numeral could not be read."""
    day = _number(day_token) if day_token else None
    if month is None or (day_token and day is None):
        return None
    return _Spec(month=month, year=year, day=day, part=part)


def _shift_month(today: date, months: int) -> tuple[int, int]:
    """(year, month) of today's month moved by a number of months."""
    year, month0 = divmod(today.year * 12 + today.month - 1 + months, 12)
    return year, month0 + 1


def _from_iso(m: re.Match[str], _ctx: DateContext) -> _Spec | None:
    return _Spec(month=int(m["m"]), year=int(m["y"]), day=int(m["d"]))


def _from_month_day(m: re.Match[str], _ctx: DateContext) -> _Spec | None:
    year = _number(m["y"], digit_by_digit=True) if m["y"] else None
    if m["y"] and year is None:
        return None
    return _spec(_number(m["m"]), year, m["d"], m["part"])


def _from_relative_month(m: re.Match[str], ctx: DateContext) -> _Spec | None:
    year, month = _shift_month(ctx.today, _RELATIVE_MONTHS[m["rel"] or ""])
    return _spec(month, year, m["d"], m["part"])


def _from_year_end(m: re.Match[str], ctx: DateContext) -> _Spec | None:
    year = _number(m["y"], digit_by_digit=True) if m["y"] else ctx.today.year + _RELATIVE_YEARS[m["rel"] or ""]
    return None if year is None else _Spec(month=12, year=year, part="底")


def _from_relative_day(m: re.Match[str], ctx: DateContext) -> _Spec | None:
    try:
        day = ctx.today + timedelta(days=_RELATIVE_DAYS[m[0]])
    except OverflowError:
        return None
    return _Spec(month=day.month, year=day.year, day=day.day)


_Builder = Callable[[re.Match[str], DateContext], _Spec | None]
_FORMS: tuple[tuple[re.Pattern[str], _Builder], ...] = (
    (_ISO_RE, _from_iso),
    (_MONTH_DAY_RE, _from_month_day),
    (_RELATIVE_MONTH_RE, _from_relative_month),
    (_YEAR_END_RE, _from_year_end),
    (_RELATIVE_DAY_RE, _from_relative_day),
)


# --- From _Spec to date -----------------------------------------------------------------------------------


def _build(spec: _Spec, year: int, role: Role) -> date | None:
    """The spec's date in the given year, or None if the calendar has no such day (2月30日)."""
    if not (MINYEAR <= year <= MAXYEAR and 1 <= spec.month <= 12):
        return None
    last = calendar.monthrange(year, spec.month)[1]
    if spec.day is not None:
        day = spec.day
    else:
        opening, closing = _PART_DAYS[spec.part or "底"]
        day = opening if role == "start" else closing
        day = last if day == _LAST else day
    return date(year, spec.month, day) if 1 <= day <= last else None


def _resolve(spec: _Spec, ctx: DateContext, role: Role) -> date | None:
    """Pin a spec to a date, taking a missing year from the campaign."""
    if spec.year is not None:
        return _build(spec, spec.year, role)
    first_year, last_year = ctx.campaign_start.year, ctx.campaign_end.year
    if first_year == last_year:
        return _build(spec, first_year, role)
    # The campaign spans a new year: the first such date on or after its start. Some year in the span always
    # qualifies unless the day never exists there (2月29日 with no leap year in the span).
    for year in range(first_year, last_year + 1):
        day = _build(spec, year, role)
        if day is not None and day >= ctx.campaign_start:
            return day
    return None


def _resolve_after(spec: _Spec, anchor: date, role: Role) -> date | None:
    """Resolve the end of a range: a missing year is the anchor's, or the next if the range ran backwards."""
    if spec.year is not None:
        return _build(spec, spec.year, role)
    day = _build(spec, anchor.year, role)
    return day if day is not None and day >= anchor else _build(spec, anchor.year + 1, role)


# --- Scanning ---------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Normalise width and spacing and strip surrounding punctuation."""
    s = unicodedata.normalize("NFKC", text).translate(_CHAR_FIXES)

    # PDF conversion scatters spaces (6 月 25 日); drop them, except between two digits so that
    # 附件1 6月10日 does not turn into 附件16月10日.
    def squeeze(m: re.Match[str]) -> str:
        before, after = s[m.start() - 1 : m.start()], s[m.end() : m.end() + 1]
        return " " if before.isdigit() and after.isdigit() else ""

    return _SPACES_RE.sub(squeeze, s).strip(_EDGE_CHARS)


def _skip_decoration(s: str, pos: int) -> int:
    match = _DECORATION_RE.match(s, pos)
    return match.end() if match else pos


def _match_at(s: str, pos: int, ctx: DateContext) -> tuple[_Spec | None, int] | None:
    """The longest date expression starting exactly at pos: (its spec, None if unreadable; where it ends)."""
    hits = [(match, build) for regex, build in _FORMS if (match := regex.match(s, pos))]
    if not hits:
        return None
    match, build = max(hits, key=lambda hit: hit[0].end())
    return build(match, ctx), _skip_decoration(s, match.end())


def _lead_end(s: str) -> int:
    """Where the text starts after a leading preposition (于, 截至, 自…), if any."""
    lead = _LEAD_RE.match(s)
    return lead.end() if lead else 0


def _check_role(role: str) -> None:
    if role not in ("start", "end"):
        raise ValueError(f"role must be 'start' or 'end', not {role!r}")


# --- Public API -------------------------------------------------------------------------------------------


def parse_date(text: str, *, ctx: DateContext, role: Role = "end") -> date | None:
    """The single date the whole text expresses (after stripping 前/之前/… and punctuation), or None.

    ``role`` decides which end of a period a part of a month means: 9月上旬 starts on the 1st and ends on
    the 10th. Any words other than a leading preposition (于, 截至, 最迟…) and trailing deadline words make
    the text not a date.
    """
    _check_role(role)
    s = _clean(text)
    hit = _match_at(s, _lead_end(s), ctx)
    if hit is None or hit[0] is None or not _TAIL_RE.fullmatch(s, hit[1]):
        return None
    return _resolve(hit[0], ctx, role)


def find_date(text: str, *, ctx: DateContext, role: Role = "end") -> date | None:
    """The first date expression found anywhere inside a longer text (e.g. '于6月10日前报送联系人'), or None.

    Expressions that are not real dates (2月30日) are skipped in favour of the next one.
    """
    _check_role(role)
    s = _clean(text)
    candidates = [(match, build) for regex, build in _FORMS for match in regex.finditer(s)]
    # Leftmost first; at the same position the longest (本月底 rather than 月底 inside it).
    candidates.sort(key=lambda hit: (hit[0].start(), -hit[0].end()))
    for match, build in candidates:
        spec = build(match, ctx)
        day = _resolve(spec, ctx, role) if spec else None
        if day is not None:
            return day
    return None


def parse_range(text: str, *, ctx: DateContext) -> tuple[date | None, date | None] | None:
    """'6月上旬至9月下旬' / '6月10日-9月30日' / '7月上旬至9月下旬前' → (start using role=start, end using
    role=end); a single date → (None, end). None when no date at all. The second part may omit the month
    ('6月1日至10日') or inherit the year.

    A year-less end takes the start's year, or the next year when the range would otherwise run backwards
    (2020年11月1日至2月28日 ends 2021-02-28). None too when either date is invalid, when a day-only end lies
    before the start, or when anything but deadline words follows.
    """
    s = _clean(text)
    first = _match_at(s, _lead_end(s), ctx)
    if first is None:
        return None
    first_spec, pos = first
    if first_spec is None:
        return None
    if _TAIL_RE.fullmatch(s, pos):
        end = _resolve(first_spec, ctx, "end")
        return None if end is None else (None, end)

    separator = _RANGE_SEP_RE.match(s, pos)
    start = _resolve(first_spec, ctx, "start")
    if separator is None or start is None:
        return None
    second = _match_at(s, separator.end(), ctx) or _match_partial(s, separator.end(), start)
    if second is None or second[0] is None or not _TAIL_RE.fullmatch(s, second[1]):
        return None
    end = _resolve_after(second[0], start, "end")
    if end is None or end < start:
        return None
    return start, end


def _match_partial(s: str, pos: int, start: date) -> tuple[_Spec | None, int] | None:
    """A range end that gives only a day or a part of a month, completed from the range's start."""
    match = _PARTIAL_RE.match(s, pos)
    if match is None:
        return None
    return _spec(start.month, start.year, match["d"], match["part"]), _skip_decoration(s, match.end())


@dataclass(frozen=True)
class FoundDate:
    """A date expression inside a longer text, with offsets into the text as given (not as normalised)."""

    start: int
    end: int  # just past the expression and any weekday or time of day after it
    text: str  # the text[start:end]
    day: date | None  # None when the calendar has no such day (2月30日)
    has_year: bool  # the expression states its year (2020年9月10日, 2020-09-10, 2020年底)
    relative: bool  # resolved against today (明天, 月底, 下个月10日): meaningless in a published notice
    deadline: bool  # followed by 前/之前/以前/止/为止/截止: "by" this day


def _clean_mapped(text: str) -> tuple[str, list[int]]:
    """_clean's width and space normalisation (no edge stripping), with each output character's offset in
    the input, plus a final entry for the end of the input."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for out in unicodedata.normalize("NFKC", ch).translate(_CHAR_FIXES):
            chars.append(out)
            origin.append(index)
    kept: list[str] = []
    kept_origin: list[int] = []
    j = 0
    while j < len(chars):
        if not chars[j].isspace():
            kept.append(chars[j])
            kept_origin.append(origin[j])
            j += 1
            continue
        k = j
        while k < len(chars) and chars[k].isspace():
            k += 1
        if kept and k < len(chars) and kept[-1].isdigit() and chars[k].isdigit():
            kept.append(" ")
            kept_origin.append(origin[j])
        j = k
    kept_origin.append(len(text))
    return "".join(kept), kept_origin


def find_dates(text: str, *, ctx: DateContext, role: Role = "end") -> list[FoundDate]:
    """Every date expression in a longer text (a notice's sentence), left to right, never overlapping.

    Unlike ``find_date`` it keeps expressions that name no real day (``day`` is None) so that a caller can
    point a person at them rather than silently skip them.
    """
    _check_role(role)
    s, origin = _clean_mapped(text)
    candidates = [(match, build) for regex, build in _FORMS for match in regex.finditer(s)]
    candidates.sort(key=lambda hit: (hit[0].start(), -hit[0].end()))
    found: list[FoundDate] = []
    covered = 0
    for match, build in candidates:
        if match.start() < covered:
            continue
        spec = build(match, ctx)
        if spec is None:
            continue
        end = _skip_decoration(s, match.end())
        covered = end
        has_year = bool(match.groupdict().get("y"))
        relative = build in (_from_relative_month, _from_relative_day) or (build is _from_year_end and not has_year)
        start_at, end_at = origin[match.start()], origin[end]
        found.append(
            FoundDate(
                start=start_at,
                end=end_at,
                text=text[start_at:end_at],
                day=_resolve(spec, ctx, role),
                has_year=has_year,
                relative=relative,
                deadline=_DEADLINE_TAIL_RE.match(s, end) is not None,
            )
        )
    return found


def format_cn(d: date, *, with_year: bool = True) -> str:
    """2020年9月10日 (or 9月10日)."""
    month_day = f"{d.month}月{d.day}日"
    return f"{d.year}年{month_day}" if with_year else month_day


def format_near(d: date, today: date) -> str:
    """9月10日 in the current year, 2027年3月20日 otherwise: a campaign that runs over New Year must not leave
    readers guessing which March is meant."""
    return format_cn(d, with_year=d.year != today.year)


def format_week(monday: date) -> str:
    """The working days of a week as a reader dates it: 12月1日–12月5日 (Monday to Friday)."""
    return f"{format_cn(monday, with_year=False)}–{format_cn(monday + timedelta(days=4), with_year=False)}"
