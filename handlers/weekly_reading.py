"""周报 <单位> [上周] / 本周周报: a coordinator reads what the units wrote.

A liaison's 周报 <内容> sends the week's report (handlers.reports); the same word from a coordinator reads them:
one unit's whole text of a week, or every unit's of the week in one reply — each clipped to a paragraph as the
weekly bulletin clips it, late ones marked 迟报, missing ones named. Coordinators also ask without the word
first: 本周周报, 法制科上周周报, 看看法制科的周报.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from core.dates import format_near, format_week
from handlers.bulletin import clip
from handlers.commands import COORDINATOR, Args, command
from handlers.context import Context, report_due_moment
from handlers.message import Reply
from handlers.parsing import echoed, strip_punct, to_int
from handlers.reports import WEEKDAYS
from handlers.summary import WEEKLY_STATE_TEXT, WeeklyState
from storage.models import Unit, WeeklyReport
from storage.repos import Reports, Units

# 本周周报 for every unit in one reply: WeCom shows at most 2048 bytes a message and the channel cuts a long reply
# at line ends, so each unit is one line and the reply stops at eight such messages (DingTalk shows it as one).
REPLY_BYTES = 8 * 2048
MAX_MISSING_NAMES = 50
WEEKS_AGO = {
    "上上周": 2,
    "上上星期": 2,
    "上周": 1,
    "上一周": 1,
    "上星期": 1,
    "上个星期": 1,
    "本周": 0,
    "这周": 0,
    "这一周": 0,
    "本星期": 0,
    "这星期": 0,
    "这个星期": 0,
}
_WEEK_WORDS = sorted(WEEKS_AGO, key=len, reverse=True)
_ISO_WEEK = re.compile(r"第\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*周")
EVERY_UNIT = {"各单位", "各个单位", "全部", "全部单位", "所有", "所有单位"}
_ASKING = re.compile(r"^(?:请|麻烦|帮我)?(?:看看|看一下|看下|查看|查一下|查查|查询|调阅|打开|发一下|发下|发我)?")
# Without the command word: 本周周报, 法制科上周的周报, 看看法制科周报, 周报法制科 (one short line).
_PHRASE = re.compile(r"(?P<before>[^\n]{0,30}?)的?周报(?P<after>[^\n]{0,30})")
USAGE = "发送「周报 单位名」查看一个单位的全文（「周报 单位名 上周」看上周），「本周周报」查看全部单位。"


def read_query(rest: str) -> Args:
    """[单位] [上周 | 本周 | 第N周] in either order: the unit as typed (None: every unit) and the week."""
    text = strip_punct(rest)
    iso_week = None
    numbered = _ISO_WEEK.search(text)
    if numbered is not None:
        iso_week = to_int(numbered[1])
        text = f"{text[: numbered.start()]} {text[numbered.end() :]}".strip()
    weeks_ago = 0
    for word in _WEEK_WORDS:
        if text.startswith(word) or text.endswith(word):
            weeks_ago = WEEKS_AGO[word]
            text = text.removeprefix(word) if text.startswith(word) else text.removesuffix(word)
            break
    unit = strip_punct(text.strip().removeprefix("的").removesuffix("的"))
    return {"unit": None if not unit or unit in EVERY_UNIT else unit, "weeks_ago": weeks_ago, "iso_week": iso_week}


def read_phrase(text: str) -> Args | None:
    """A coordinator's question about weekly reports written without 周报 first, or None."""
    found = _PHRASE.fullmatch(text)
    if found is None:
        return None
    before, after = _ASKING.sub("", found["before"]).strip(), found["after"].strip()
    if before and after:
        return None  # 法制科周报交了吗: a sentence about a report, not a question for one
    return read_query(before or after)


def _moment(moment: datetime, today: date) -> str:
    return f"{format_near(moment.date(), today)} 周{WEEKDAYS[moment.weekday()]} {moment:%H:%M}"


def _week(ctx: Context, args: Args) -> date | str:
    """The Monday of the week asked for, or why there is no such week in the campaign."""
    number = args.get("iso_week")
    if number is not None:
        monday = None
        for year in (ctx.today.isocalendar().year, ctx.today.isocalendar().year - 1):
            try:
                candidate = date.fromisocalendar(year, number, 1)
            except ValueError:
                continue
            if candidate <= ctx.today:
                monday = candidate
                break
        if monday is None:
            return f"没有第{number}周。"
    else:
        monday = ctx.today - timedelta(days=ctx.today.weekday(), weeks=args.get("weeks_ago") or 0)
    campaign = ctx.campaign
    if monday + timedelta(days=6) < campaign.start or monday > campaign.end:
        return (
            f"第{monday.isocalendar().week}周（{format_week(monday)}）不在专项整治期间"
            f"（{format_near(campaign.start, ctx.today)}至{format_near(campaign.end, ctx.today)}）。"
        )
    return monday


def _state(ctx: Context, report: WeeklyReport | None, due: datetime) -> str:
    """已报送 / 迟报 / 未报送, and the due moment: whether it has passed when nothing came yet."""
    if report is not None:
        state = WeeklyState.LATE if report.late else WeeklyState.ON_TIME
        return f"{WEEKLY_STATE_TEXT[state]}（截止 {_moment(due, ctx.today)}）"
    passed = "已过截止时间" if ctx.now > due else "还没到截止时间"
    return f"{WEEKLY_STATE_TEXT[WeeklyState.MISSING]}（截止 {_moment(due, ctx.today)}，{passed}）"


def _sender(ctx: Context, report: WeeklyReport) -> str:
    who = f"{report.contact.name} " if report.contact is not None else ""
    return who + _moment(report.submitted_at.astimezone(ctx.now.tzinfo), ctx.today)


def _one_unit(ctx: Context, unit: Unit, monday: date) -> Reply:
    iso = monday.isocalendar()
    head = f"【{unit.name}】第{iso.week}周（{format_week(monday)}）周报"
    reports = Reports(ctx.session)
    report = reports.weekly(unit, iso.year, iso.week, with_contact=True)
    due = report_due_moment(ctx.campaign, ctx.calendar, monday)
    state = f"状态：{_state(ctx, report, due)}"
    if report is None:
        lines = [head, state]
        latest = next(iter(reports.unit_history(unit)), None)
        if latest is not None:
            lines.append(f"最近一次报送的是第{latest.iso_week}周，发送「周报 {unit.name} 第{latest.iso_week}周」查看。")
        return Reply.of("\n".join(lines))
    sent = f"报送：{_sender(ctx, report)}"
    if report.revisions > 1:
        sent += f"（共报送 {report.revisions} 次，以最后一次为准）"
    return Reply.of(f"{head}\n{state}\n{sent}\n\n{report.text}")


def _more(count: int) -> str:
    return f"……另有 {count} 个单位已报送，请发送「周报 单位名」或在督办网页「周报」页查看。"


def _every_unit(ctx: Context, monday: date) -> Reply:
    iso = monday.isocalendar()
    rows = Reports(ctx.session).week_reports(ctx.campaign, iso.year, iso.week)
    due = report_due_moment(ctx.campaign, ctx.calendar, monday)
    reported = [(unit, report) for unit, report in rows if report is not None]
    missing = [unit.name for unit, report in rows if report is None]
    late = sum(1 for _unit, report in reported if report.late)
    head = (
        f"第{iso.week}周（{format_week(monday)}）周报：{len(reported)}/{len(rows)} 个单位已报送"
        + (f"，其中迟报 {late} 个" if late else "")
        + f"（截止 {_moment(due, ctx.today)}）"
    )
    tail = [USAGE]
    if missing:
        names = "、".join(missing[:MAX_MISSING_NAMES]) + (
            f" 等{len(missing)}个单位" if len(missing) > MAX_MISSING_NAMES else ""
        )
        still = "，还没到截止时间" if ctx.now <= due else ""
        tail.insert(0, f"{WEEKLY_STATE_TEXT[WeeklyState.MISSING]}（{len(missing)} 个{still}）：{names}")
    room = REPLY_BYTES - sum(len(part.encode()) + 2 for part in (head, *tail, _more(len(reported))))
    entries = []
    for unit, report in reported:
        entry = f"【{unit.name}】{'（迟报）' if report.late else ''}{_sender(ctx, report)}：{clip(report.text)}"
        room -= len(entry.encode()) + 2
        if room < 0:
            break
        entries.append(entry)
    if len(entries) < len(reported):
        entries.append(_more(len(reported) - len(entries)))
    return Reply.of("\n\n".join((head, *entries, *tail)))


def _looks_like_a_report(text: str) -> bool:
    return len(text) > 20 or any(mark in text for mark in "，。；,;")


@command(
    "周报",
    roles=COORDINATOR,
    order=62,
    read=read_query,
    phrase=read_phrase,
    writes=False,
    usage="周报 [单位] [上周] — 读各单位本周的周报，写单位名看全文（本周周报、法制科上周周报）",
)
def read_reports(ctx: Context, args: Args) -> Reply:
    monday = _week(ctx, args)
    if isinstance(monday, str):
        return Reply.of(monday)
    name = args.get("unit")
    if not name:
        return _every_unit(ctx, monday)
    unit, candidates = Units(ctx.session).resolve(ctx.campaign, name)
    if unit is not None:
        return _one_unit(ctx, unit, monday)
    if _looks_like_a_report(name):
        return Reply.of(f"「周报 <内容>」供各单位联络员报送本周工作信息。{USAGE}")
    hint = f"您要找的是不是：{'、'.join(candidates)}？" if candidates else ""
    return Reply.of(f"未找到单位「{echoed(name)}」。{hint}{USAGE}")
