"""Reading a plan out of a notice: header, campaign span, phases, deliverables, weekly and monthly rules,
the rectification target, issue sources, focus areas, units and coordinators (the plan it makes: docs/plan-format.md).

Each reader is a small function of the normalised notice. None of them invents a date: a year-less date
gets its year only from the notice itself (its own 文号, the date line, a stated span or dated sentences);
otherwise it stays in the notice's words for the plan loader to resolve once a person sets the campaign's
start and end.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date

from core.dates import DateContext, FoundDate, Role, find_dates, parse_date
from handlers.parsing import clipped, normalize_phone, to_int
from notice.model import (
    Coordinator,
    Deliverable,
    Monthly,
    NoticePlan,
    Origin,
    Phase,
    Target,
    Text,
    Weekly,
    When,
)
from notice.text import DATE_LINE, Notice, Paragraph, display, split_sentences

QUOTE_LIMIT = 40
_PLACEHOLDER_YEAR = 2000  # a leap year, so that 2月29日 reads as a date until the real year is known

# --- header -----------------------------------------------------------------------------------------------

_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[(【]([0-9]{4})[〕\])】][0-9]{1,4}号")
_META_LABELS = (
    "索引号",
    "公文目录",
    "发文机关",
    "发文字号",
    "主题词",
    "标题",
    "发布日期",
    "成文日期",
    "生成日期",
    "文号",
    "发布机构",
    "责任部门",
    "有效性",
)
_META = re.compile(rf"({'|'.join(_META_LABELS)}):")
_CRUFT = re.compile(r"当前位置|首页|字号|二维码|分享|^×$|扫一扫|下载|打印|关闭|^\|")
_TITLE_WORDS = re.compile(r"(?:方案|通知|意见|办法|细则|规定|要点)$")
_WRAPPER = re.compile(r"^关于印发[《<〈](.+)[》>〉]的通知$")
_NAME_PREFIX = re.compile(r"^(?:关于)?(?:印发|深入开展|开展|做好|进一步|加强)?")
_NAME_SUFFIX = re.compile(r"(?:的)?(?:工作|实施|任务分工)?(?:方案|通知|意见|办法|细则|规定|要点)$")


def _metadata(notice: Notice) -> dict[str, tuple[str, int]]:
    """Portal metadata (文号, 发布机构, 生成日期 …), inline or with the value on the next line."""
    found: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(notice.lines[:60], 1):
        matches = list(_META.finditer(line))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(line)
            value = line[match.end() : end].strip()
            line_of_value = number
            if not value and len(matches) == 1:
                following = next(
                    ((n, t) for n, t in enumerate(notice.lines[number : number + 3], number + 1) if t), None
                )
                if following and not _META.match(following[1]):
                    line_of_value, value = following
            if value:
                found.setdefault(match.group(1), (value, line_of_value))
    return found


def _title(notice: Notice, meta: dict[str, tuple[str, int]]) -> tuple[str, int] | None:
    """The notice's title: the first run of short lines (a title wraps over two or three) that ends like one.
    A run ends at a blank line, as in a text file, or at a line that reads as prose, as in a Word file."""
    if "标题" in meta:
        return meta["标题"]
    group: list[tuple[int, str]] = []
    for number, line in enumerate([*notice.lines[:40], ""], 1):
        if (
            line
            and len(line) <= 40
            and not re.search(r"[。;,]", line)
            and not _CRUFT.search(line)
            and not _META.search(line)
        ):
            group.append((number, line))
            continue
        joined = "".join(text for _, text in group)
        if group and _TITLE_WORDS.search(joined) and len(joined) <= 80:
            return joined, group[0][0]
        group = []
    return None


_ISSUER_PREFIX = re.compile(
    r"^(?P<issuer>[\u4e00-\u9fff]{2,16}?"
    r"(?:人民政府办公室|人民政府|政府办公室|政府办|局|厅|委员会))"
    r"(?!关于)[\u4e00-\u9fff]{4,}"
)
_CAMPAIGN_END = re.compile(r"(?:整治|行动|治理|活动|攻坚|工程|检查|清理|整顿|战役|斗争|评议)$")


def _split_title(title: str) -> tuple[str | None, str]:
    """(issuer named before 关于, campaign name) from a title such as 吴忠市红寺堡区关于提升…任务分工方案."""
    wrapped = _WRAPPER.match(title)
    title = wrapped.group(1) if wrapped else title
    issuer = None
    if "关于" in title and not title.startswith("关于"):
        issuer, title = title.split("关于", 1)
    elif prefix := _ISSUER_PREFIX.match(title):
        issuer = prefix["issuer"]  # 武定县自然资源局行政执法实施方案: the title still names the campaign
        return issuer, _NAME_PREFIX.sub("", title)
    name = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", title))
    if not _CAMPAIGN_END.search(name):  # …实施方案 of something that is not a campaign: keep the whole title
        name = _NAME_PREFIX.sub("", title)
    if "专项整治" in name:
        name = name[: name.index("专项整治") + len("专项整治")]
    return issuer, name


def _signature(notice: Notice) -> tuple[str, int, str, int] | None:
    """The issuing body and the date under it: a short line without punctuation right above a date line."""
    for number, line in enumerate(notice.lines, 1):
        if not DATE_LINE.match(line):
            continue
        above = next(((n, t) for n in range(number - 1, max(number - 4, 0), -1) if (t := notice.line(n))), None)
        if above and len(above[1]) <= 40 and not re.search(r"[,。;:()]", above[1]):
            return above[1], above[0], line, number
    return None


def read_header(notice: Notice, plan: NoticePlan) -> None:
    """Campaign name, issuer, the notice's date and year (own 文号 first, then the date line)."""
    meta = _metadata(notice)
    title = _title(notice, meta)
    issuer_from_title = None
    if title is not None:
        issuer_from_title, name = _split_title(title[0])
        plan.name = Text(name, Origin(title[1], _quote(title[0])))
    signature = _signature(notice)
    issuer: tuple[str, int] | None = next((meta[label] for label in ("发文机关", "发布机构") if label in meta), None)
    if signature is not None:
        issuer = (signature[0], signature[1])
    elif issuer_from_title and title is not None:  # the title's own words beat a web page's metadata
        issuer = (issuer_from_title, title[1])
    if issuer is not None:
        plan.issuer = Text(issuer[0], Origin(issuer[1], _quote(notice.line(issuer[1]))))

    own_numbers = [(m, n) for n, line in enumerate(notice.lines[:60], 1) if (m := _DOC_NUMBER.fullmatch(line))]
    own_numbers += [
        (m, meta[label][1])
        for label in ("文号", "发文字号")
        if label in meta
        if (m := _DOC_NUMBER.search(meta[label][0]))
    ]
    if own_numbers:
        match, number = own_numbers[0]
        plan.year, plan.year_origin = int(match.group(1)), Origin(number, match.group(0))
    dated = [(meta[label][0], meta[label][1]) for label in ("成文日期", "发布日期", "生成日期") if label in meta]
    if signature is not None:
        dated.insert(0, (signature[2], signature[3]))
    for words, number in dated:
        day = parse_date(words, ctx=_context(None, None, None))
        if day is not None:
            plan.notice_date = When(words, day, True, Origin(number, words))
            if plan.year is None:
                plan.year, plan.year_origin = day.year, Origin(number, words)
            break


def cited_years(notice: Notice) -> list[tuple[int, int, str]]:
    """(year, line, 文号) of every 文号 the notice cites: a hint for a person, never taken as the year."""
    return [
        (int(m.group(1)), n, m.group(0)) for n, line in enumerate(notice.lines, 1) for m in _DOC_NUMBER.finditer(line)
    ]


# --- dates ------------------------------------------------------------------------------------------------


def _context(year: int | None, start: date | None, end: date | None) -> DateContext:
    """What year-less dates resolve against: the stated span, else the notice's year (a placeholder if none)."""
    if start and end and start <= end:
        return DateContext(campaign_start=start, campaign_end=end, today=start)
    base = year or _PLACEHOLDER_YEAR
    return DateContext(campaign_start=date(base, 1, 1), campaign_end=date(base, 12, 31), today=date(base, 1, 1))


class Dates:
    """Turns the notice's date words into When values, resolving them only when the year is known."""

    def __init__(self, plan: NoticePlan) -> None:
        self.year = plan.year
        self.ctx = _context(plan.year, plan.start.day if plan.start else None, plan.end.day if plan.end else None)

    def when(self, words: str, origin: Origin, role: Role = "end") -> When:
        """The date a text such as 6月10日前 / 9月下旬 / 2020年9月30日 names."""
        words = words.strip(" ,。;:()")
        found = find_dates(words, ctx=self.ctx, role=role)
        day = parse_date(words, ctx=self.ctx, role=role)
        if day is None:
            return When(words, None, False, origin)
        has_year = bool(found and found[0].has_year)
        return When(words, day if has_year or self.year else None, True, origin)

    def found(self, hit: FoundDate, origin: Origin, carried: int | None = None) -> When:
        """A date found in a sentence; `carried` is the year of a fully dated expression just before it
        (2019年12月为总结报告阶段…12月初前报送), which beats the notice's year."""
        words = hit.text.replace(" ", "") + ("前" if hit.deadline else "")
        if carried is not None and not hit.has_year:
            day = parse_date(words, ctx=_context(carried, None, None))
            return When(words, day, day is not None, origin)
        return When(words, hit.day if (hit.has_year or self.year) and hit.day else None, hit.day is not None, origin)

    def period_end(
        self,
        piece: tuple[str, int | None, int | None],
        origin: Origin,
        role: Role,
        after: date | None = None,
        said: str | None = None,
    ) -> When:
        """One end of a period (words from `period`), resolved when its year is stated, carried or known; an end
        without a year of its own that would come before `after` falls in the next year."""
        words, year, _ = piece
        said = said if said and said != words else None
        year = year or self.year
        if year is None:
            return When(words, None, parse_date(words, ctx=self.ctx, role=role) is not None, origin, said)
        day = parse_date(words, ctx=_context(year, None, None), role=role)
        if day is not None and after is not None and day < after and not re.match(r"[0-9]{4}年", words):
            day = parse_date(words, ctx=_context(year + 1, None, None), role=role)
        return When(words, day, day is not None, origin, said)


def _quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    return clipped(display(text.strip()), limit)


def _sentences(notice: Notice) -> Iterator[tuple[Paragraph, int, int]]:
    for paragraph in notice.paragraphs:
        for start, end in split_sentences(paragraph):
            yield paragraph, start, end


def _origin(paragraph: Paragraph, start: int, end: int) -> Origin:
    return Origin(paragraph.line_at(start), _quote(paragraph.text[start:end]))


# --- periods and phases -----------------------------------------------------------------------------------

# A date as phase headings write it: 2011年10月上旬, 7月3日, 4月底, 5月, or only a day or a part of the month at
# the end of a range (9月26日至30日, 6月上旬至下旬).
_PIECE = re.compile(
    r"^(?:(?P<y>[0-9]{4})年)?(?:(?P<m>[0-9]{1,2})月份?)?"
    r"(?P<tail>[0-9]{1,2}[日号]|上旬|中旬|下旬|初|底|末)?$"
)
_RANGE_SPLIT = re.compile(r"至|到|~|—+|–+|-+")
_MONTH_PAIR = re.compile(r"(?<![0-9月])([0-9]{1,2})(至|到|-|—)([0-9]{1,2})月")  # 4-5月, 1至5月
# Templates published with the year left out (20xx年, 20**年): no year at all, never the digits 20.
TEMPLATE_YEAR = re.compile(r"(?:(?:19|20)[0-9]?[xX×*＊]{1,2}|[xX×*＊]{2,4})年")
_OPEN_WORDS = re.compile(r"^(?:截止到|截止|截至|自|从|于)")
_CLOSE_WORDS = re.compile(r"(?:之前|以前|前|为止|止|结束)$")
_START_ONLY = re.compile(r"(?:开始|起)$")
DATE_RUN = r"(?:[0-9]{4}年)?[0-9]{1,2}月[0-9年月日号份上中下旬初底末至到~—–\-]{0,24}"
# A year left blank: ( 年 7 月 至 12月), or 20**年 once Markdown's ** has gone.
_BLANK_YEAR = re.compile(r"(?<![0-9xX×*＊明次翌今本])年(?=[0-9]{1,2}月|年底|年末)")
_NEXT_YEAR = re.compile(r"明年|次年|翌年")
THIS_YEAR = re.compile(r"(?:今年|本年)(?=[0-9]{1,2}月|底)")  # 从今年6月15日开始: the notice's year, stated or not
_NEXT_YEAR_END = re.compile(r"(?:明|次|翌)年(?=底|末)")
_PRINTED_DASH = re.compile(r"(?<=[0-9][日号月])一(?=[0-9]{1,2}[月日号])")  # 5月30日一6月4日: — printed as 一
_QUARTER = re.compile(r"(?:(?P<y>[0-9]{4})年)?第?(?P<q>[一二三四1-4])季度")
_HALF = re.compile(r"(?:(?P<y>[0-9]{4})年)?(?P<h>上|下)半年")
_YEARS = re.compile(r"^(?P<a>[0-9]{4})年?(?:至|到|—+|–+|-+)(?P<b>[0-9]{4})年$")  # 2017年到2020年
_FROM_TODAY = re.compile(r"^(?:自|从)?即日起?(?:至|到)")  # 即日起至10月中旬: the day of the notice, not given
_NOT_A_DAY = re.compile(r"节|假|季")  # 至2005年春节前: an end that is a festival, a holiday or a season


def _as_months(words: str) -> str:
    """四季度, 下半年 and 2017年到2020年 as the months they cover, for _piece to read."""

    def quarter(match: re.Match[str]) -> str:
        first = 3 * (to_int(match["q"]) or 1) - 2
        return f"{match['y'] or ''}{'年' if match['y'] else ''}{first}月至{first + 2}月"

    def half(match: re.Match[str]) -> str:
        year = f"{match['y']}年" if match["y"] else ""
        return f"{year}1月至6月" if match["h"] == "上" else f"{year}7月至12月"

    years = _YEARS.match(words)
    if years:
        return f"{years['a']}年1月至{years['b']}年12月"
    return _HALF.sub(half, _QUARTER.sub(quarter, words))


def _piece(words: str, role: Role, year: int | None, month: int | None) -> tuple[str, int | None, int | None] | None:
    """One end of a period as words the plan loader reads, with the year and month it states or carries."""
    if words in ("年底", "年末"):  # ( 年年底至…): the year-end of a year left blank
        return "12月底", year, 12
    match = _PIECE.match(words)
    if match is None or not (match["y"] or match["m"] or match["tail"]):
        return None
    if match["y"] and match["m"] is None and match["tail"] in ("底", "末"):  # 2019年底
        return f"{match['y']}年12月底", int(match["y"]), 12
    if match["m"] is None and (month is None or match["y"]):
        return None
    stated_year = int(match["y"]) if match["y"] else None
    the_month = int(match["m"]) if match["m"] else month
    tail = match["tail"] or ("1日" if role == "start" else "底")
    prefix = f"{stated_year}年" if stated_year else ""
    return f"{prefix}{the_month}月{tail}", stated_year or year, the_month


def period(words: str, origin: Origin, dates: Dates) -> tuple[When | None, When | None] | None:
    """A phase's time as notices write it: 6月10日前 (an end), 6月上旬至9月下旬, 2011年2月-2011年10月上旬,
    4-5月, 7月--10月, 9月26日至30日, 5月 (the whole month), 2019年9月上旬开始 (a start only), 2002年四季度,
    下半年, 2017年到2020年, 即日起至10月中旬 (an end only), 5月1日至春节前 (an end to fill in).

    The year of the start carries to the end, into the next year when the end would come before the start
    (2016年12月1日至1月31日); 明年 is the notice's year plus one, or no year when the notice has none. None when
    the words are not a period.
    """
    words = _BLANK_YEAR.sub("", TEMPLATE_YEAR.sub("", THIS_YEAR.sub("", words.strip(" ,。;:()"))))
    words = re.sub(r"([0-9]{1,2}[日号])(?=[0-9]{1,2}[日号])", r"\1至", words)  # 5月2日7日: a dash lost in print
    words = re.sub(r"起(?=至|到)", "", _PRINTED_DASH.sub("至", words))
    if today := _FROM_TODAY.match(words):  # 即日起至10月中旬: an end only
        end_only = period(words[today.end() :], origin, dates)
        return None if end_only is None or end_only[1] is None else (None, end_only[1])
    said = [_OPEN_WORDS.sub("", p) for p in _RANGE_SPLIT.split(words) if p]
    # 明年1月10日, 明年底: the notice's year plus one, or no year at all when the notice has none.
    words = _NEXT_YEAR.sub(
        lambda m: f"{dates.year + 1}年" if dates.year else "",
        _NEXT_YEAR_END.sub(lambda m: f"{dates.year + 1}年" if dates.year else "年", words),
    )
    if (months := _as_months(words)) != words:  # 2002年四季度: quote it whole at both ends
        said, words = [words, words], months
    if _MONTH_PAIR.search(words):  # 4-5月: quote it whole at both ends
        said = [words, words]
        words = _MONTH_PAIR.sub(r"\1月\2\3月", words)
    deadline = bool(_CLOSE_WORDS.search(words)) or words.startswith(("截止", "截至"))
    words = _OPEN_WORDS.sub("", words)
    start_only = bool(_START_ONLY.search(words))
    words = _START_ONLY.sub("", _CLOSE_WORDS.sub("", words))
    parts = [p for p in _RANGE_SPLIT.split(words) if p]
    said = said if len(said) == len(parts) else ["".join(said)] * len(parts)
    if start_only and len(parts) == 1:
        first = _piece(parts[0], "start", None, None)
        return None if first is None else (dates.period_end(first, origin, "start", said=said[0]), None)
    if len(parts) == 1:
        one = _piece(parts[0], "end", None, None)
        if one is None:
            return None
        end = dates.period_end(one, origin, "end", said=said[0])
        if deadline or re.search(r"[0-9]{1,2}[日号]$", parts[0]):  # 6月10日前, 截止2009年6月底: an end only
            return None, end
        whole = _piece(parts[0], "start", None, None)  # 6月下旬, 5月: the whole of it
        assert whole is not None
        return dates.period_end(whole, origin, "start", said=said[0]), end
    if len(parts) != 2:
        return None
    first = _piece(parts[0], "start", None, None)
    if first is None:
        return None
    last = _piece(parts[1], "end", first[1], first[2])
    start = dates.period_end(first, origin, "start", said=said[0])
    if last is None:  # 至2005年春节前: the start is read, the end is for a person to fill in
        return (start, When(said[1], None, False, origin)) if _NOT_A_DAY.search(parts[1]) else None
    end = dates.period_end(last, origin, "end", after=start.day, said=said[1])
    return start, end


_NUMBERED = r"(?:\([一二三四五六七八九十]+\)|[一二三四五六七八九十]+、|[0-9]{1,2}[.、](?![0-9]))"  # (一) 一、 1.
_MARKER = rf"(?:{_NUMBERED}|第[一二三四五六七八九十0-9]+(?:阶段|步))?"
_PHASE_NAME = r"[^(),。;:为是0-9]{1,24}?(?:阶段|期)"
# (一)安排部署阶段(6月10日前) · 动员部署阶段(2007年3月中旬): · 1.动员部署阶段(8月1日—8月20日)
_PHASE_HEADING = re.compile(rf"^{_MARKER}:?(?P<name>{_PHASE_NAME})\s*:?\((?P<when>[^()]{{1,40}})\)")
# 四、整治步骤1.宣传发动阶段(5月2日7日),…: a numbered heading run into the text before it
_RUN_IN_HEADING = re.compile(
    rf"(?:\([一二三四五六七八九十]+\)|(?<![0-9])[0-9]{{1,2}}[.、])(?P<name>{_PHASE_NAME})"
    r"\((?P<when>[^()]{1,40})\)"
)
# 第二阶段:集中整治(5月15日至11月底)
_NUMBERED_PHASE = re.compile(r"^第[一二三四五六七八九十0-9]+阶段:(?P<name>[^(),。;:]{2,16}?)\((?P<when>[^()]{1,40})\)")
# 2016年12月1日至2017年1月31日是集中整治阶段 · 4月8日至20日为自查整改期
_PHASE_AFTER_DATE = re.compile(
    rf"(?P<when>{DATE_RUN}?(?:开始)?)(?:为|是)"
    rf"(?P<name>[^(),。;:为是期]{{1,16}}?(?:阶段|期))"
)
# 宣传阶段为2017年12月1日至12月10日 · 其中专项整治阶段从4月21日到6月30日
_PHASE_BEFORE_DATE = re.compile(
    rf"(?:^|[,;。:])(?:其中)?(?P<name>[^(),。;:为是从自]{{1,14}}?阶段)(?:为|是|:|从|自)"
    rf"(?P<when>{DATE_RUN})"
)
# (一)动员部署阶段,2019年2月13日—2月17日: a numbered heading whose date follows a comma
_PHASE_COMMA = re.compile(rf"^{_NUMBERED}(?P<name>{_PHASE_NAME}),(?P<when>{DATE_RUN})")
# 2月13日前完成动员部署阶段: a phase known only by the day it must be done
_PHASE_DONE_BY = re.compile(rf"(?:^|[,;。:])(?P<when>{DATE_RUN}前)完成(?P<name>[^(),。;:]{{2,12}}?阶段)")
_ORDINAL = r"第(?P<n>[一二三四五六七八九十0-9]+)阶段"
# 第一阶段(5月至6月)为动员部署阶段 · 第一阶段(即日起至10月中旬):摸底调查与规划部署 · 第三阶段(2017年到2020年)
_ORDINAL_BRACKET = re.compile(rf"{_ORDINAL}\((?P<when>[^()]{{1,30}})\)(?:为|是|:)?(?P<name>[^(),。;:]{{0,20}})")
# 第三阶段为2月下旬至4月底 · 第二阶段自明年1月11日起到明年底结束
_ORDINAL_DATED = re.compile(
    rf"{_ORDINAL}(?:为|是|:)?(?P<when>(?:自|从)?(?:明年|次年)?{DATE_RUN}(?:起|开始)?"
    r"(?:(?:至|到)(?:明年|次年)?[0-9年月日号上中下旬初底末]{1,12}(?:结束|止)?)?)"
)
# 分为动员部署、自查自纠、集中整治、总结提升四个阶段: the names the ordinals stand for
_NAMED_PROMISE = re.compile(r"分(?:为|成)?(?P<names>[^,。;:]{2,60}?)(?P<n>[一二三四五六七八九十两0-9]+)个阶段")
# (一)组织发动阶段。 with 时间:…(5月30日一6月4日)… in the sentence after it
_BARE_HEADING = re.compile(rf"^{_NUMBERED}(?P<name>{_PHASE_NAME})[。:]?$")
_TIME_LINE = re.compile(r"^(?:时间|时间安排|时限)[:为]")
# Phases named by their work rather than 阶段: 2019年1至5月进行集中整治 · 8月1日至8月10日,重点整治旅游客车 ·
# (四)5-6月,开展…专项整治行动 · 2018年底前进行排查. The period opens a clause; a list item may name any work.
_WORK_PERIOD = (
    r"(?:[0-9]{4}年)?(?:[0-9]{1,2}(?:至|到|-|—)[0-9]{1,2}月"
    r"|[0-9]{1,2}月[0-9日号上中下旬初底末]*(?:至|到|-+|—+|~)(?:[0-9]{4}年)?[0-9]{1,2}[月日号][0-9日号上中下旬初底末]*)"
    r"|(?:[0-9]{4}年)?(?:上|下)半年|(?:[0-9]{4}年)?第?[一二三四]季度|[0-9]{4}年底前"
)
_WORK_VERB = r"进行|组织开展|集中开展|全面开展|开展|组织|重点整治|集中整治"
_WORK_PHASE = re.compile(
    rf"(?:^|(?<=[,;:。]))(?P<when>{_WORK_PERIOD}),?(?P<verb>{_WORK_VERB})"
    r"(?P<what>[^,。;]{2,30})"
)
_LIST_ITEM = re.compile(
    rf"^(?:\([一二三四五六七八九十]+\)|[一二三四五六七八九十]+是)(?P<when>{_WORK_PERIOD}),?"
    rf"(?P<verb>{_WORK_VERB})?(?P<what>[^,。;]{{2,30}})"
)
_KEPT_VERB = re.compile(r"^(?:重点整治|集中整治)")


def phase_heading(text: str) -> re.Match[str] | None:
    """The phase heading a paragraph or sentence opens with, if any: its bracket must hold a date."""
    match = _PHASE_HEADING.match(text) or _NUMBERED_PHASE.match(text)
    return match if match and re.search(r"[0-9]月|[0-9][日号]|旬", match["when"]) else None


def _windows(when: str) -> list[str]:
    """5月下旬至6月中旬、9月下旬至11月上旬 · 6月下旬和11月底: one phase in several windows, each on its own."""
    parts = re.split(r"、|和|及|,", when)
    dated = [p for p in parts if re.search(r"[0-9]月|[0-9][日号]", p)]
    return dated if len(parts) > 1 and len(dated) == len(parts) else [when]


def _listed_names(notice: Notice) -> list[str]:
    """The phase names of 分为动员部署、自查自纠、集中整治、总结提升四个阶段, when there are as many as it says."""
    for paragraph in notice.paragraphs:
        promise = _NAMED_PROMISE.search(paragraph.text)
        if promise:
            names = [n for n in re.split(r"、|和|及", promise["names"]) if n]
            return names if len(names) == to_int(promise["n"].replace("两", "二")) else []
    return []


def _work_name(verb: str | None, what: str) -> str:
    """进行集中整治 → 集中整治, 组织“回头看” → 回头看, 重点整治校车 stays as it is."""
    name = (verb or "") + what if verb and _KEPT_VERB.match(verb) else what
    return name.replace("“", "").replace("”", "").strip()


def read_phases(notice: Notice, plan: NoticePlan) -> None:
    """Phases from headings (at a paragraph's or a sentence's start), from sentences that date them, from 第N阶段
    wherever it is dated, and from periods that open a clause naming the work done in them."""
    dates = Dates(plan)
    seen: set[tuple[int, str, str]] = set()
    listed = _listed_names(notice)

    def add(name: str, when: str, paragraph: Paragraph, at: int, end: int) -> None:
        origin = _origin(paragraph, at, end)
        name = re.sub(r"^(?:其中|此次|本次|然后|随后|最后)", "", name.strip())
        for window in _windows(when):
            span = period(window, origin, dates)
            if span is None or (origin.line, name, window) in seen or len(name) < 2:
                continue
            seen.add((origin.line, name, window))
            start, last = span
            plan.phases.append(Phase(Text(name, origin), start, last))

    def ordinal_name(number: str, after: str = "") -> str:
        index = (to_int(number) or 0) - 1
        if after.endswith("阶段"):
            return after
        if after:
            return f"第{number}阶段：{display(after)}"
        return listed[index] if 0 <= index < len(listed) else f"第{number}阶段"

    previous: tuple[str, Paragraph, int] | None = None
    years: dict[int, str] = {}  # the year a paragraph's work periods last stated, by its first line
    for paragraph, start, end in _sentences(notice):
        sentence = paragraph.text[start:end]
        lead = len(sentence) - len(sentence.lstrip())
        body = sentence.strip().rstrip("。")
        if previous and previous[1] is paragraph and _TIME_LINE.match(body):
            windows = re.findall(r"\(([^()]*[0-9]月[^()]*)\)", body) or [_TIME_LINE.sub("", body)]
            for window in windows:
                add(previous[0], window, paragraph, previous[2], end)
        bare = _BARE_HEADING.match(sentence.strip())
        previous = (bare["name"], paragraph, start) if bare else None
        heading = phase_heading(sentence.lstrip())
        if heading and not re.fullmatch(_ORDINAL, heading["name"]):  # 第一阶段(…):名称 is read below
            add(heading["name"], heading["when"], paragraph, start + lead, start + lead + heading.end())
            continue
        for pattern in (_RUN_IN_HEADING, _PHASE_AFTER_DATE, _PHASE_BEFORE_DATE, _PHASE_COMMA, _PHASE_DONE_BY):
            for match in pattern.finditer(sentence):
                ordinal = re.fullmatch(_ORDINAL, match["name"].strip())
                if ordinal and pattern is _RUN_IN_HEADING:  # (四)第四阶段(…):…, read with its name below
                    continue
                add(
                    ordinal_name(ordinal["n"]) if ordinal else match["name"],
                    match["when"],
                    paragraph,
                    start + match.start(),
                    start + match.end(),
                )
        for match in _ORDINAL_BRACKET.finditer(sentence):
            add(
                ordinal_name(match["n"], match["name"].strip()),
                match["when"],
                paragraph,
                start + match.start(),
                start + match.end(),
            )
        for match in _ORDINAL_DATED.finditer(sentence):
            add(ordinal_name(match["n"]), match["when"], paragraph, start + match.start(), start + match.end())
        for match in _work_phases(sentence):
            when = match["when"]
            if stated := re.match(r"[0-9]{4}(?=年)", when):
                years[paragraph.line] = stated.group(0)
            elif paragraph.line in years and re.match(r"[0-9]", when):
                when = f"{years[paragraph.line]}年{when}"
            what = re.split(r"[,。;]", match["what"])[0]
            add(_work_name(match["verb"], what), when, paragraph, start + match.start(), start + match.end())


def _work_phases(sentence: str) -> list[re.Match[str]]:
    """Periods that open a clause and name the work done in them: a list item's, or each clause's whose work
    follows a verb such as 进行 or 开展."""
    item = _LIST_ITEM.match(sentence)
    return [item] if item else list(_WORK_PHASE.finditer(sentence))


_PROMISE = re.compile(r"分(?:为|成)?[^,。;]{0,30}?(?P<n>[一二三四五六七八九十两0-9]+)个(?P<what>阶段|步骤)")


def check_promises(notice: Notice, plan: NoticePlan) -> None:
    """分为四个阶段 and three found: the plan says so at the top, for a person to add the missing one."""
    for paragraph, start, end in _sentences(notice):
        promise = _PROMISE.search(paragraph.text, start, end)
        if promise is None:
            continue
        wanted = to_int(promise["n"].replace("两", "二")) or 0
        if len(plan.phases) < wanted:
            origin = _origin(paragraph, start + promise.start(), start + promise.end())
            plan.shortfalls.append(
                Text(
                    f"通知写明「{display(promise.group(0))}」，只找到 {len(plan.phases)} 个阶段：请对照通知补全 phases",
                    origin,
                )
            )
        return


# --- campaign span ----------------------------------------------------------------------------------------

_SPAN_FROM = re.compile(
    rf"(?:自|从)(?P<when>{DATE_RUN})(?:起|开始)?,?"
    rf"(?:(?:至|到)(?P<to>[0-9年月日号上中下旬初底末]{{2,14}}))?"
)
_SPAN_LABEL = re.compile(rf"(?:整治|行动|活动|治理|工作|检查|专项)?时间(?:安排)?[:为]?(?P<when>{DATE_RUN})")
# 公安部部署各地公安交管部门8月1日至9月27日,在全国开展集中整治…
_SPAN_BEFORE = re.compile(rf"(?P<when>{DATE_RUN}),?(?:在[^,。;]{{0,10}})?开展")
# 从即日起至12月31日: the campaign starts the day the notice is issued, a day it may not give
_SPAN_TODAY = re.compile(rf"(?:自|从)即日起?,?(?:至|到)(?P<to>{DATE_RUN})")
# 将于11月1日至春节前,在全镇范围内开展: an end that is a festival or a holiday, for a person to fill in
_SPAN_UNTIL = re.compile(
    r"(?:于|从|自)(?P<when>(?:[0-9]{4}年)?[0-9]{1,2}月[0-9]{1,2}日)起?(?:至|到)"
    r"(?P<event>[^,。;0-9]{1,6}?(?:节|假)(?:前|后)?),?(?:在[^,。;]{0,12})?开展"
)
_SPAN_HEADING = re.compile(r"(?:[一二三四五六七八九十]+、)?(?:整治|行动|活动|治理|工作)?时间(?:安排)?")  # 二、整治时间
_SPAN_TOPIC = re.compile(r"开展|专项|整治|治理|行动|检查|为期|开始|结束")
# 记者获悉,4月1日至6月30日,京津冀…部门将联手开展联合治超专项行动: the period opens a clause, the doers between
_SPAN_OPENING = re.compile(
    rf"(?:^|(?<=[,:]))(?P<when>{DATE_RUN}),[^。;0-9]{{2,40}}?(?:开展|实施)[^,。;]{{0,24}}?"
    r"(?:专项|行动|整治|治理|检查)"
)
_HOURS = re.compile(r"(?<=[日号])(?:零|[0-9]{1,2})时")  # 4月10日零时至19日24时
_DURATION = re.compile(r"为期(?:[0-9]+|[一二三四五六七八九十两半]+)个?(?:月|年|周|天)")


def read_span(notice: Notice, plan: NoticePlan) -> None:
    """自2020年6月初至11月底 / 自2021年10月22日开始,至2022年3月31日结束 / 整治时间:2011年8月1日—9月10日 →
    start and end; 自2020年6月下旬起 → start only; 从即日起至12月31日 → end only; 于11月1日至春节前 → a start
    and an end to fill in; 为期半年 → a hint. The first one stated is the campaign's; the dates inside a phase's
    paragraph are the phase's."""
    dates = Dates(plan)
    label_above = False
    for paragraph in notice.paragraphs:
        if plan.start is None and plan.end is None and not phase_heading(paragraph.text):
            for start, end in split_sentences(paragraph):
                sentence = _HOURS.sub("", THIS_YEAR.sub("", TEMPLATE_YEAR.sub("", paragraph.text[start:end])))
                found = _span_in(sentence, label_above)
                if found is None:
                    continue
                when, at = found
                span = period(when, _origin(paragraph, start + at, end), dates)
                if span is not None and (span[0] is not None or when.startswith("即日")):
                    plan.start, plan.end = span
                    if span[0] is None:
                        where = plan.at(paragraph.line_at(start + at))
                        plan.span_hints.append(f"{where}写明「即日起」，即通知印发之日")
                    break
        label_above = bool(_SPAN_HEADING.fullmatch(paragraph.text))
        for match in _DURATION.finditer(paragraph.text):
            plan.span_hints.append(f"{plan.at(paragraph.line_at(match.start()))}写明「{match.group(0)}」")
    if plan.year is None:
        plan.span_hints.extend(
            f"所引文件「{number}」（{plan.at(line)}）为{year}年" for year, line, number in cited_years(notice)[:2]
        )


def _span_in(sentence: str, label_above: bool) -> tuple[str, int] | None:
    """The words of a campaign span in a sentence, and where they start."""
    if label_above and (whole := re.fullmatch(rf"(?P<when>{DATE_RUN})。?", sentence)):
        return whole["when"], 0
    label = _SPAN_LABEL.search(sentence)
    if label and (_RANGE_SPLIT.search(label["when"]) or not sentence[label.end() :].strip("。;")):
        return label["when"], label.start()  # 评议时间为10月上旬 in passing is no span
    if not _SPAN_TOPIC.search(sentence):  # 从2020年1月1日起纳入常态化工作 is no campaign span
        return None
    if (today := _SPAN_TODAY.search(sentence)) and not re.match(r"为|是", sentence[today.end() :]):
        return f"即日至{today['to']}", today.start()  # …起到明年1月10日为第一阶段 is a phase's
    if until := _SPAN_UNTIL.search(sentence):
        return f"{until['when']}至{until['event']}", until.start()
    match = _SPAN_FROM.search(sentence)
    if match is not None and sentence[: match.start()].endswith("阶段"):  # 专项整治阶段从4月21日到6月30日
        return None
    if match is None:
        before = _SPAN_BEFORE.search(sentence) or _SPAN_OPENING.search(sentence)
        return (before["when"], before.start()) if before and _RANGE_SPLIT.search(before["when"]) else None
    if match["to"]:
        return f"{match['when']}至{match['to']}", match.start()
    return (f"{match['when']}起" if not _RANGE_SPLIT.search(match["when"]) else match["when"]), match.start()


def infer_year(notice: Notice, plan: NoticePlan) -> None:
    """No 文号 or date line: the year every fully dated sentence agrees on. A notice with no fully dated
    sentence at all takes the year of the documents it names: first the titles (《2005年环保专项行动工作总结》),
    then the 文号 it cites (卫法办发〔2020〕13号), each only when they agree, with a note to check it."""
    if plan.year is not None:
        return
    ctx = _context(None, None, None)
    years: Counter[int] = Counter()
    first: dict[int, Origin] = {}
    for paragraph, start, end in _sentences(notice):
        for hit in find_dates(paragraph.text[start:end], ctx=ctx):
            if hit.has_year and hit.day is not None and not hit.relative:
                years[hit.day.year] += 1
                first.setdefault(hit.day.year, _origin(paragraph, start + hit.start, start + hit.end))
    if not years:  # 2002年四季度, 2010年3月: a period's year is as stated as a date's
        for paragraph, start, end in _sentences(notice):
            for match in _YEAR_PERIOD.finditer(paragraph.text, start, end):
                years[int(match["year"])] += 1
                first.setdefault(int(match["year"]), _origin(paragraph, match.start(), match.end()))
    if len(years) == 1:
        plan.year = next(iter(years))
        plan.year_origin = first[plan.year]
    if years:
        return
    title = _title(notice, _metadata(notice))
    own = [(int(m["year"]), title[1], title[0]) for m in _OWN_TITLE_YEAR.finditer(title[0])] if title else []
    campaign = [
        (int(m["year"]), n, m.group(0)) for n, line in enumerate(notice.lines, 1) for m in _CAMPAIGN_YEAR.finditer(line)
    ]
    titled = [
        (int(m["year"]), n, m.group(0)) for n, line in enumerate(notice.lines, 1) for m in _TITLE_YEAR.finditer(line)
    ]
    for found, note in (
        (own, "取自通知标题"),
        (titled, "取自文中所提文件的标题"),
        (campaign, "取自专项整治的名称"),
        (cited_years(notice), "取自所引文件的文号"),
    ):
        if found and len({year for year, _, _ in found}) == 1:
            year, line, words = found[0]
            plan.year, plan.year_origin, plan.year_note = year, Origin(line, _quote(words)), note
            return


# A year in a document's title: 《2005年环保专项行动工作总结》, not a range (2021—2022年) or a date (2005年7月).
_TITLE_YEAR = re.compile(r"《[^》]*?(?<![0-9—–\-~至])(?P<year>(?:19|20)[0-9]{2})年(?![0-9]{1,2}月|[—–\-~至])[^》]*》")
# The notice's own title: 2021年夏秋两季秸秆禁烧工作方案. A year on its own, not a range.
_OWN_TITLE_YEAR = re.compile(r"(?<![0-9—–\-~至])(?P<year>(?:19|20)[0-9]{2})年(?![0-9]{1,2}月|[—–\-~至])")
# A campaign named for its year: 2014年度冬季…清理整治活动, 2023年春季…专项监督检查 (not 2021—2022年度, a range,
# nor 2003年以来…检查).
_CAMPAIGN_YEAR = re.compile(
    r"(?<![0-9—–\-~至])(?P<year>(?:19|20)[0-9]{2})年度?(?![0-9]|以来|以前|以后|[—–\-~至])"
    r"[^,。;]{0,30}?(?:整治|治理|行动|活动|检查|清理)"
)
# A period with its year: 2010年3月, 2002年四季度, 2015年下半年.
_YEAR_PERIOD = re.compile(r"(?<![0-9])(?P<year>(?:19|20)[0-9]{2})年(?:[0-9]{1,2}月|第?[一二三四]季度|[上下]半年)")


# --- deliverables -----------------------------------------------------------------------------------------

_REPORT_VERB = r"(?:报送|上报|抄报|呈报|提交|上交|交(?![流通叉由代易接办往])|报(?![告表备道名刊批]))"
_RECIPIENT_END = re.compile(
    r"(?:厅|局|委|办|办公室|机关|大队|支队|中心|政府|部门|处|科|院|室|小组|联席会议|指挥部"
    r"|委员会|专班)"
    r"(?:备案|审核|汇总)?$"
)
_ATTACHMENT = re.compile(r"\((?:见)?附件[0-9一二三四五六七八九十]*\)")
_UNIT_NOTE = re.compile(r"\((?:责任|牵头|承办)单位:(?P<units>[^()]*)\)")
_LEADING_WORDS = re.compile(r"^(?:前|之前|以前|,|于|将|要|应|须|并)+")
_ACTION_VERBS = re.compile(r"^(?:挑选|制定|形成|建立|完成|编制|整理|汇总|撰写|报送|上报|抄报|提交)")
_QUANTITY = re.compile(r"^[0-9一二三四五六七八九十]+(?:-[0-9]+)?(?:个|份|篇|件|起)")
_FOLLOW_UP = re.compile(r"以上(?:报送)?材料.*?" + _REPORT_VERB + r"(?P<to>[^,。;]+)")
_TARGET = re.compile(
    r"完成(?P<rate>[0-9]{1,3}(?:\.[0-9]+)?)%以上的?整改任务|整改(?:完成)?率(?:达到|达)"
    r"(?P<rate2>[0-9]{1,3}(?:\.[0-9]+)?)%"
)
_DOCUMENT = re.compile(r"(?:方案|报告|表|总结|案例|联系人|清单|台账|名单|材料|信息|基准|情况|目录)$")
_CAMPAIGN_CORE = re.compile(r"(?:行政执法)?(?:“?不作为[、,]?(?:慢作为[、,]?)?乱作为”?)")


def _recipient(text: str) -> str | None:
    text = _ATTACHMENT.sub("", text).strip(" ,。;")
    text = re.sub(r"(?:备案|审核|汇总|审定)$", "", text)
    if text and len(text) <= 20 and _RECIPIENT_END.search(text) and "《" not in text:
        return text
    return None


def _deliverable_name(action: str) -> tuple[str, str | None]:
    """(what is due, to whom) from the words after a deadline: 将X…报Y, 向Y抄报X, 报送X, 挑选X报送Y, 完成X."""
    action = _ATTACHMENT.sub("", _UNIT_NOTE.sub("", action)).strip(" ,。;")
    to_first = re.search(rf"向(?P<to>[^,。;]{{2,20}}?){_REPORT_VERB}(?P<what>[^,。;]+)", action)
    if to_first:
        return to_first["what"], to_first["to"]
    carried = re.match(rf"将(?P<what>.+?)(?:,.*?)?{_REPORT_VERB}(?P<to>[^,。;]*)$", action)
    if carried:
        return carried["what"], _recipient(carried["to"])
    verb = re.search(_REPORT_VERB, action)
    if verb:
        before, after = action[: verb.start()], action[verb.end() :]
        to = _recipient(after.split(",")[0])
        if to is not None:
            return (before.split(",")[0].rstrip("并") if before.strip(",并") else to), to
        return after.split(",")[0] or action, None
    return action, None


def _clean_name(name: str) -> str:
    name = _LEADING_WORDS.sub("", name)
    name = _ACTION_VERBS.sub("", name) if len(_ACTION_VERBS.sub("", name)) >= 4 else name
    name = _QUANTITY.sub("", name)
    name = _CAMPAIGN_CORE.sub("", name.replace("《", "").replace("》", "")).strip(" ,。;")
    name = re.sub(r"^专项整治专项整治", "专项整治", name)
    return display(name[:60])


def _units_in(paragraph: Paragraph, plan: NoticePlan) -> tuple[tuple[str, ...] | None, str | None]:
    """Units named in a (责任单位:…) note of the paragraph; None (every unit) when the note is collective."""
    note = _UNIT_NOTE.search(paragraph.text)
    if note is None:
        return None, None
    names = split_units(note["units"])
    if any(_is_collective(n) for n in names):
        return None, f"{plan.at(paragraph.line_at(note.start()))}的责任单位含「{display(note['units'])}」，按全部单位计"
    return tuple(names), None


def split_units(text: str) -> list[str]:
    """牵头/配合/责任单位 lists: split on 、 ， ; (never on 和: 发展和改革局 is one unit)."""
    depth, current, names = 0, "", []
    for ch in text:
        depth += ch in "(〔[【"
        depth -= ch in ")〕]】" and depth > 0
        if ch in "、,;/" and depth == 0:
            names.append(current)
            current = ""
        else:
            current += ch
    names.append(current)
    # 办公室及其他具备行政执法职能的单位、科室: a named unit, then one collective phrase to the end.
    for index, name in enumerate(names):
        if "其他" in name:
            named, _, rest = name.partition("其他")
            names = [
                *names[:index],
                named.removesuffix("及").removesuffix("和"),
                "其他" + "、".join([rest, *names[index + 1 :]]),
            ]
            break
    return [display(n.strip(" 。.等")) for n in names if n.strip(" 。.等")]


_COLLECTIVE = re.compile(r"^(?:各|所有|全体|其他)|及其他|等$|各(?:单位|科室|部门)")


def _is_collective(name: str) -> bool:
    return bool(_COLLECTIVE.search(name))


def read_deliverables(notice: Notice, plan: NoticePlan, taken: set[int]) -> None:
    """Every dated 前 in a sentence starts a deliverable: what follows it up to the next date is what is due.

    `taken` holds the first lines of paragraphs another reader owns (the tasks of a task division).
    """
    dates = Dates(plan)
    for paragraph in notice.paragraphs:
        if paragraph.line in taken:
            continue
        heading = phase_heading(paragraph.text)
        units, units_note = _units_in(paragraph, plan)
        follow_up = _FOLLOW_UP.search(paragraph.text)
        default_to = _recipient(follow_up["to"]) if follow_up else None
        stated_years = [
            (h.start, h.day.year) for h in find_dates(paragraph.text, ctx=dates.ctx) if h.has_year and h.day is not None
        ]
        for start, end in split_sentences(paragraph):
            if heading and start < heading.end():
                start = heading.end()
            sentence = paragraph.text[start:end]
            hits = [
                h
                for h in find_dates(sentence, ctx=dates.ctx)
                if not h.relative
                and (
                    h.deadline
                    or re.search(r"(?:于|在)$", sentence[: h.start])
                    or _JOINER.match(sentence[h.start - 1 : h.start])
                )
                and not re.search(r"(?:自|从|每月|每年)$", sentence[: h.start])
            ]
            groups = _joined(sentence, hits)
            for index, group in enumerate(groups):
                first, last = group[0], group[-1]
                carried = next((y for at, y in reversed(stated_years) if at < start + first.start), None)
                stop = groups[index + 1][0].start if index + 1 < len(groups) else len(sentence)
                action = sentence[last.end : stop]
                if index + 1 < len(groups):
                    cut = action.rfind(",")
                    action = action[:cut] if cut > 0 else action
                origin = _origin(paragraph, start + max(first.start - 1, 0), start + last.end + len(action))
                target = _TARGET.search(action)
                if target:
                    rate = float(target["rate"] or target["rate2"]) / 100
                    plan.target = Target(
                        rate,
                        dates.found(first, origin, carried),
                        _origin(paragraph, start + first.start, start + last.end + target.end()),
                    )
                    continue
                action = re.sub(r"^(?:前|之前|以前)", "", action)
                previous = groups[index - 1][-1].end if index else 0
                # ,与2017年8月30日前报…: after a comma and before a deadline, 与 can only be 于 mistyped
                before = re.sub(r",与$", ",", sentence[previous : first.start]).rstrip(" ,于在").split(",")[-1]
                if not any(h.deadline for h in group) and not _REPORTING.search(action):
                    continue  # 于6月4日召开会议: a date, not a deadline
                what, to = _deliverable_name(action)
                sender = _sender(before)
                if to is not None and what == to:  # 报送县司法局: what is due was named before the date
                    sender, what = _split_sender(before)
                elif not _REPORTING.search(action) and not (_MAKING.match(action) and _DOCUMENT_WORD.search(action)):
                    plan.unplaced.append(
                        Text(f"有时限的要求（不是报送事项，未列入 deliverables）：{origin.quote}", origin)
                    )
                    continue
                names = _paired(_clean_name(what), len(group))
                section = _SUB_HEADING.match(paragraph.text)
                for hit, name in zip(group, names, strict=True):
                    if section and 2 <= len(name) <= 6 and not _DOCUMENT.search(name):  # 初稿修改: of what?
                        name = f"{display(section['title'])}：{name}"
                    if len(name) < 2:
                        plan.unplaced.append(Text(f"有时限但看不出报送什么：{origin.quote}", origin))
                        continue
                    plan.deliverables.append(
                        Deliverable(
                            name,
                            dates.found(hit, origin, carried),
                            display(to or default_to or "") or None,
                            units,
                            origin,
                            units_note,
                            display(sender) if sender else None,
                        )
                    )
    _dedupe_names(plan)


_JOINER = re.compile(r"^(?:之前|以前|前)?(?:和|、|及|与|,|或)(?:于|在)?$")
_MAKING = re.compile(r"^,?(?:全面|认真)?(?:完成|制定|形成|编制|建立|修订|汇编)")
_DOCUMENT_WORD = re.compile(r"方案|报告|总结|清单|台账|名单|基准|制度|办法|细则|案例|表|稿")
_SENDER_END = re.compile(r"(?:机关|单位|部门|政府|小组|局|委|办|中心|队|室|乡镇|街道|县|区|市|系统|企业)$")


def _joined(sentence: str, hits: list[FoundDate]) -> list[list[FoundDate]]:
    """Dates that share one action: 分别于6月底和7月底报送阶段性报告 → [[6月底, 7月底]]."""
    groups: list[list[FoundDate]] = []
    for hit in hits:
        if groups and _JOINER.match(sentence[groups[-1][-1].end : hit.start]):
            groups[-1].append(hit)
        else:
            groups.append([hit])
    return groups


def _paired(name: str, count: int) -> list[str]:
    """分别在6月10日、8月10日前将A和B报…: A goes with the first date and B with the second; when the names do
    not split into as many parts, every date gets the whole name."""
    parts = [p for p in re.split(r"和|、|及", name) if p]
    return parts if count > 1 and len(parts) == count else [name] * count


def _split_sender(before: str) -> tuple[str | None, str]:
    """各地市环保专项行动领导小组要将X → (the sender, X); X alone when nobody is named."""
    match = re.match(r"(?P<sender>.*?)(?:要|应当|应|须|需|均)?(?:将|把)(?P<what>.+)$", before)
    if match is None:
        return None, before
    return _sender(match["sender"]), match["what"]


def _sender(words: str) -> str | None:
    """The subject of a 前报送 sentence when it names who sends (各成员单位于…), else None."""
    words = re.sub(r"(?:要|应当|应|须|需|均|并)+$", "", re.sub(r"^(?:并|同时|各级)?", "", words.strip(" ,")))
    return words if 2 <= len(words) <= 24 and _SENDER_END.search(words) else None


def _dedupe_names(plan: NoticePlan) -> None:
    counts = Counter(d.name for d in plan.deliverables)
    for index, item in enumerate(plan.deliverables):
        if counts[item.name] > 1:
            plan.deliverables[index] = Deliverable(
                f"{item.name}（{item.due.words}）", item.due, item.to, item.units, item.origin, item.note
            )


# --- weekly and monthly rules -----------------------------------------------------------------------------

# The report verb may come later in the sentence: 每周五上午下班前、每月25日前分别将上周进度、月度汇总情况报局建管科.
_WEEKLY = re.compile(
    r"每周(?P<day>[一二三四五六日天])(?P<part>上午|中午|下午)?(?:(?P<hour>[0-9]{1,2})(?::|时|点)"
    r"(?P<minute>[0-9]{2})?分?)?(?:下班)?(?:前|之前)?[^。;]{0,40}?" + _REPORT_VERB + r"(?P<what>[^,。;]*)"
)
_MONTHLY = re.compile(
    r"每月(?P<day>[0-9]{1,2})日(?:前|之前)?(?P<gap>[^。;]{0,40}?)" + _REPORT_VERB + r"(?P<what>[^,。;]*)"
)


def read_rules(notice: Notice, plan: NoticePlan) -> None:
    """每周五上午报送 → the weekly report; 每月25日前报送 → one deliverable per month of a known span."""
    for paragraph, start, end in _sentences(notice):
        sentence = paragraph.text[start:end]
        weekly = _WEEKLY.search(sentence)
        if weekly and plan.weekly is None:
            origin = _origin(paragraph, start + weekly.start(), start + weekly.end())
            if weekly["hour"]:
                due, read = f"{int(weekly['hour']):02d}:{weekly['minute'] or '00'}", True
            else:
                due, read = "12:00", weekly["part"] in ("上午", "中午")
            plan.weekly = Weekly(f"周{weekly['day'].replace('天', '日')}", due, read, origin)
        for monthly in _MONTHLY.finditer(sentence):
            carried = re.search(r"将(?P<what>.+)$", monthly["gap"])
            what = carried["what"] if carried else monthly["what"]
            rule = Monthly(
                int(monthly["day"]),
                _clean_name(what) or "月度报送",
                _origin(paragraph, start + monthly.start(), start + monthly.end()),
            )
            plan.monthly.append(rule)
            _monthly(plan, rule.day, rule.what, rule.origin)


def _monthly(plan: NoticePlan, day: int, what: str, origin: Origin) -> None:
    if not (plan.start and plan.start.day and plan.end and plan.end.day):
        plan.unplaced.append(Text(f"每月{day}日前报送「{what}」：确定专项整治起止日期后，请按月添加报送事项", origin))
        return
    year, month = plan.start.day.year, plan.start.day.month
    while date(year, month, 1) <= plan.end.day:
        due = date(year, month, min(day, calendar.monthrange(year, month)[1]))
        if plan.start.day <= due <= plan.end.day:
            plan.deliverables.append(
                Deliverable(f"{what}（{month}月）", When(f"每月{day}日前", due, True, origin), None, None, origin)
            )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# --- issue sources, focus areas ---------------------------------------------------------------------------

_SOURCES_NOTE = re.compile(r"线索来源[^:。]{0,6}?(?:填写|包括|为|:)(?P<list>[^。]+)")
_SOURCES_INLINE = re.compile(r"(?P<list>(?:[^,。;、]{2,14}、){2,}[^,。;、]{2,14}?)等发现的问题")
_LIST_SPLIT = re.compile(r"、|,|以及|及|与| and |(?<=[\u4e00-\u9fff]{2})和(?=[\u4e00-\u9fff]{2})")
_FOCUS_COUNT = re.compile(r"以下(?P<n>[0-9]+|[一二三四五六七八九十]+)个方面")
_SUB_HEADING = re.compile(r"^\([一二三四五六七八九十]+\)(?P<title>[^。]+?)(?=。|$)")


def _items(text: str) -> list[str]:
    items = [i.strip(" 。等") for i in _LIST_SPLIT.split(text)]
    return [re.sub(r"等$", "", i) for i in items if len(i) >= 2]


def read_sources(notice: Notice, plan: NoticePlan) -> None:
    """线索来源项填写…等 (seed 000 附件2's note); else the list in …等发现的问题 (seeds 001, 002)."""
    for pattern in (_SOURCES_NOTE, _SOURCES_INLINE):
        for paragraph in notice.paragraphs:
            match = pattern.search(paragraph.text)
            if match is None:
                continue
            items = _items(match["list"])
            if pattern is _SOURCES_INLINE and items:
                items[0] = re.sub(r"^.*群众", "", items[0])  # 人民群众信访举报 → 信访举报
            origin = Origin(paragraph.line_at(match.start()), _quote(match.group(0), 60))
            plan.sources = [Text(display(i), origin) for i in items if len(i) >= 2]
            return


def read_focus_areas(notice: Notice, plan: NoticePlan) -> None:
    """The 统计表's 整治重点 columns (制度建设方面 …); else the headings after 重点整治以下四个方面."""
    for number, line in enumerate(notice.lines, 1):
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) > 2 and cells[0] == "整治重点":
            origin = Origin(number, _quote(line.replace("\t", " ")))
            plan.focus_areas = [Text(re.sub(r"方面$", "", c), origin) for c in cells[1:] if c]
            return
    for index, paragraph in enumerate(notice.paragraphs):
        count = _FOCUS_COUNT.search(paragraph.text)
        if count is None:
            continue
        wanted = to_int(count["n"]) or 0
        for following in notice.paragraphs[index + 1 :]:
            if re.match(r"^[一二三四五六七八九十]+、", following.text) or len(plan.focus_areas) == wanted:
                break
            heading = _SUB_HEADING.match(following.text)
            if heading:
                title = re.split(r"[,。;]", heading["title"])[0]
                title = re.sub(r"(?:方面)?(?:的)?(?:突出)?(?:问题)?$", "", title)
                plan.focus_areas.append(Text(display(title), Origin(following.line, _quote(following.text))))
        return


# --- units and coordinators -------------------------------------------------------------------------------


def read_units(notice: Notice, plan: NoticePlan) -> None:
    """Units named in (责任单位:…) notes and by the tasks. Collective names (各乡镇〔街道〕) the tasks use are
    kept apart for a person to expand; those of the notes only say that there are more units."""
    named: list[tuple[str, Origin, bool]] = []
    for paragraph in notice.paragraphs:
        for note in _UNIT_NOTE.finditer(paragraph.text):
            origin = Origin(paragraph.line_at(note.start()), _quote(note.group(0)))
            named.extend((n, origin, False) for n in split_units(note["units"]))
    for task in plan.tasks:
        for names, origin in zip((task.lead, task.partners, task.responsible), task.unit_origins, strict=False):
            named.extend((n, origin, True) for n in names)
    seen: set[str] = set()
    mentioned: list[str] = []
    for name, origin, by_task in named:
        if _is_collective(name):
            if by_task:
                lines = plan.collectives.setdefault(name, [])
                if origin.line not in lines:
                    lines.append(origin.line)
            elif name not in mentioned:
                mentioned.append(name)
            continue
        key = re.sub(r"[()〔〕\[\]]", "", name)
        if key not in seen:
            seen.add(key)
            plan.units.append(Text(name, origin))
    if mentioned:
        listed = "、".join(f"「{m}」" for m in mentioned)
        plan.unplaced.append(
            Text(
                f"通知还提到{listed}：如有其他参加单位，请加入 units", next(o for n, o, _ in named if n == mentioned[0])
            )
        )


_CONTACT = re.compile(r"^联系人:(?P<name>[\u4e00-\u9fff]{2,4})$")
_PHONE = re.compile(r"^联系电话:(?P<phone>[0-9-]{7,16})")
_LIAISON = re.compile(r"(?P<name>[\u4e00-\u9fff]{2,4})同志(?:兼任|担任|为)联络员")


def read_coordinators(notice: Notice, plan: NoticePlan) -> None:
    """联系人:俞建奎 / 联系电话:0955-7655608 under the notice: the lead office's contact person."""
    for number, line in enumerate(notice.lines, 1):
        contact = _CONTACT.match(line)
        if contact is None:
            continue
        phone = None
        for following in notice.lines[number : number + 3]:
            match = _PHONE.match(following)
            if match:
                phone = normalize_phone(match["phone"])
                break
        plan.coordinators.append(Coordinator(contact["name"], phone, Origin(number, _quote(line))))
    for paragraph in notice.paragraphs:
        for liaison in _LIAISON.finditer(paragraph.text):
            origin = Origin(paragraph.line_at(liaison.start()), _quote(liaison.group(0)))
            plan.unplaced.append(
                Text(
                    f"{liaison['name']}同志任联络员：如是牵头部门协调人，请加入 coordinators；"
                    "如是某单位的联络员，请加入该单位的 contacts",
                    origin,
                )
            )


_REPORTING = re.compile(_REPORT_VERB)


def read_leftovers(notice: Notice, plan: NoticePlan, taken: set[int]) -> None:
    """Sentences that ask for something to be reported without a date we could read: a person decides."""
    placed = {d.origin.line for d in plan.deliverables} | {p.name.origin.line for p in plan.phases}
    if plan.weekly:
        placed.add(plan.weekly.origin.line)
    placed |= {t.origin.line for t in plan.unplaced}
    for paragraph, start, end in _sentences(notice):
        sentence = paragraph.text[start:end]
        line = paragraph.line_at(start)
        if paragraph.line in taken or line in placed or "以上" in sentence[:4]:
            continue
        if not re.search(r"(?:报送|上报|抄报)", sentence):
            continue
        if re.search(r"及时|定期|适时|另行", sentence) and len(sentence) < 80:
            plan.unplaced.append(Text(f"没有明确时限的报送要求：{_quote(sentence, 60)}", Origin(line, "")))
