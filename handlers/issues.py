"""问题 / 进展 / 我的问题: the unit's issue ledger (seed 000 附件2) and its 销号 management."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from rapidfuzz import fuzz

from core.dates import format_cn, parse_date
from core.issues import ISSUE_LABELS
from core.roles import Role
from core.statuses import STATUS_TEXT, IssueStatus
from handlers import materials
from handlers.commands import LIAISON, STAFF, Args, command, dialog_fields, fields_of
from handlers.context import Context, with_link
from handlers.dialogs import DialogSpec, Field, FieldError, Suggest, at_most, start, words
from handlers.message import Reply
from handlers.parsing import match_choice, read_progress, strip_punct, synonyms, to_int
from handlers.summary import unit_counts
from storage.models import Issue
from storage.repos import Issues, name_key

STATUS_BY_TEXT = {text: status for status, text in STATUS_TEXT.items()}

# What liaisons write for the default 线索来源 and 整治重点 (seed 000): offered for confirmation, never taken
# silently, and only when the campaign's own list has the value they point at.
SOURCE_SYNONYMS = synonyms(
    {
        "信访举报": "群众举报 举报 信访 投诉 来信 来访 12345 热线",
        "媒体曝光": "媒体 曝光 新闻 舆情 网络 报道",
        "行政复议": "复议",
        "行政诉讼": "诉讼 起诉 败诉 法院",
        "上级机关督查督办": "督查 督办 交办 上级",
        "巡视巡察": "巡视 巡察",
        "专项检查": "自查 自纠 检查 排查",
        "卫片执法检查": "卫片 卫星 图斑",
        "例行督察": "督察",
    }
)
FOCUS_SYNONYMS = synonyms(
    {
        "制度建设": "制度 机制",
        "履行职责": "职责 履职 执法行为 程序",
        "回应群众诉求": "群众 诉求 投诉",
        "队伍建设": "队伍 作风 人员 培训 证件",
        "责任追究": "追责 问责 责任",
    }
)


def _numbered(choices: list[str]) -> str:
    return "\n".join(f"{i}. {c}" for i, c in enumerate(choices, 1))


def pick(raw: str, label: str, choices: list[str], synonyms: dict[str, str]) -> str:
    """A campaign list value from what was typed: certain, or Suggest the nearest one (with its number in the
    list, which the question prints once), or FieldError naming the candidates."""
    found = match_choice(raw, choices, synonyms)
    if found.value is not None:
        return found.value
    typed = strip_punct(raw)
    if len(found.suggestions) == 1:
        value = found.suggestions[0]
        number = choices.index(value) + 1
        raise Suggest(
            f"「{typed}」不在{label}的选项中，是指「{value}」吗？回复 {number} 确认，或回复其他序号：\n"
            f"{_numbered(choices)}",
            value,
            number,
        )
    if found.suggestions:
        named = "、".join(f"{c}（{choices.index(c) + 1}）" for c in found.suggestions)
        raise FieldError(f"没有「{typed}」这一项，可能是：{named}，请回复序号。")
    raise FieldError(f"没有「{typed}」这一项。")


def _choice_field(
    label: str, attr: str, synonyms: dict[str, str]
) -> tuple[Callable[[Context, str], str], Callable[[Context], str]]:
    def check(ctx: Context, raw: str) -> str:
        return pick(raw, label, getattr(ctx.campaign, attr), synonyms)

    def prompt(ctx: Context) -> str:
        return f"请发送「{label}」（可回复序号）：\n{_numbered(getattr(ctx.campaign, attr))}"

    return check, prompt


MIN_DUE_YEAR = 2000
MAX_DUE_YEARS_AHEAD = 10


def _check_due(ctx: Context, raw: str) -> str:
    """A 完成时限 resolved within the campaign; one before today or after the campaign's end is spelled out
    and confirmed before it is kept (9月下旬 typed in December is not silently next September)."""
    typed = strip_punct(raw)
    day = parse_date(raw, ctx=ctx.dates, role="end")
    if day is None:
        raise FieldError(f"无法识别日期「{typed}」，请写成「9月10日前」「2020-09-10」或「9月下旬」。")
    if not MIN_DUE_YEAR <= day.year <= ctx.today.year + MAX_DUE_YEARS_AHEAD:  # 9999年 is a typo, not a plan
        raise FieldError(
            f"完成时限「{format_cn(day)}」不在 {MIN_DUE_YEAR} 年至 {ctx.today.year + MAX_DUE_YEARS_AHEAD} "
            "年之间，请核对后重新发送。"
        )
    if day < ctx.today:
        raise Suggest(
            f"「{typed}」按 {format_cn(day)} 理解，早于今天（{format_cn(ctx.today)}），登记后即为逾期："
            "回复「确认」或重新发送完成时限。",
            day.isoformat(),
        )
    if day > ctx.campaign.end:
        raise Suggest(
            f"「{typed}」按 {format_cn(day)} 理解，晚于专项整治结束日 {format_cn(ctx.campaign.end)}："
            "回复「确认」或重新发送完成时限。",
            day.isoformat(),
        )
    return day.isoformat()


def _check_year(_ctx: Context, raw: str) -> str:
    year = to_int(strip_punct(raw).removesuffix("年度").removesuffix("年"))
    if year is None or not 2000 <= year <= 2100:
        raise FieldError("请写四位年份，如 2020。")
    return str(year)


DUPLICATE_SIMILARITY = 90  # rapidfuzz ratio of two titles that name the same problem (a typo, a 的 more)
DUPLICATE_PART = 6  # characters of a title that, found whole inside another, make the two one problem


def _title_key(title: str) -> str:
    return name_key(re.sub(r"(的)?问题$", "", strip_punct(title)))


_FIGURES = re.compile(r"\d+")


def _same_problem(one: str, other: str) -> bool:
    """Two titles name the same problem: equal but for width, spaces and a trailing 问题, nearly equal (a
    typo), or one a long part of the other (3名执法人员执法证件未按期年检 / 执法证件未按期年检) — unless their
    figures differ (案卷12 and 案卷13 are two files, not one typed twice)."""
    if one == other:
        return True
    if _FIGURES.findall(one) != _FIGURES.findall(other):
        return False
    shorter, longer = sorted((one, other), key=len)
    return fuzz.ratio(one, other) >= DUPLICATE_SIMILARITY or (len(shorter) >= DUPLICATE_PART and shorter in longer)


def _check_title(ctx: Context, raw: str) -> str:
    """The title, unless it repeats an open issue of the unit: then the liaison confirms it is a new one."""
    title = at_most(200)(ctx, raw)
    contact = ctx.actor.contact
    if contact is None:
        return title
    key = _title_key(title)
    for issue in Issues(ctx.session).open_titles(ctx.campaign, contact.unit):
        if _same_problem(key, _title_key(issue.title)):
            raise Suggest(
                f"「{contact.unit.name}」已有未销号的问题 #{issue.number}「{issue.title}」"
                f"（{STATUS_TEXT[issue.status]}，时限 {format_cn(issue.due)}），与这条相同。"
                "回复「确认」仍登记为新问题；如是原问题的进展，请发送「取消」后"
                f"用「#{issue.number} 整改中」报告。",
                title,
            )
    return title


_source_check, _source_prompt = _choice_field("线索来源", "sources", SOURCE_SYNONYMS)
_focus_check, _focus_prompt = _choice_field("整治重点", "focus_areas", FOCUS_SYNONYMS)


def _has_focus_areas(ctx: Context) -> bool:
    # A campaign without focus areas (not every notice has a 统计表) does not ask for one.
    return bool(ctx.campaign.focus_areas)


def _field(key: str, *args: Any, **kwargs: Any) -> Field:
    """A field of the 问题 dialog, asked for by its name on 附件2."""
    return Field(key, ISSUE_LABELS[key], *args, **kwargs)


ISSUE_FIELDS = (
    _field(
        "title",
        words("问题名称 名称 标题 问题标题 线索标题"),
        "请发送「线索名称」（问题的简短名称）。",
        check=_check_title,
    ),
    _field("source", words("来源 问题来源 发现渠道 渠道"), _source_prompt, check=_source_check),
    _field(
        "focus_area",
        words("重点 整治方面 方面 类别 问题类别 所属方面 整治领域"),
        _focus_prompt,
        check=_focus_check,
        needed=_has_focus_areas,
    ),
    _field(
        "content",
        words("内容 问题描述 问题内容 描述 具体情况 基本情况 问题情况"),
        "请发送「线索内容」（问题的具体情况）。",
        check=at_most(4000),
        multiline=True,
    ),
    _field("measures", words("措施 整改办法 整改方案"), "请发送「整改措施」。", check=at_most(4000), multiline=True),
    _field("goal", words("目标"), "请发送「整改目标」。", check=at_most(2000), multiline=True),
    _field("owner", words("负责人 整改责任人 责任领导 责任人员"), "请发送「责任人」姓名。", check=at_most(100)),
    _field(
        "due",
        words("时限 期限 截止时间 截止日期 完成时间 完成日期 整改时限 整改期限 办结时限"),
        "请发送「完成时限」，如「9月10日前」。",
        check=_check_due,
    ),
    _field("year", words("年份"), required=False, check=_check_year),
    _field("remark", words("说明"), required=False, check=at_most(2000), multiline=True),
)


def _log_issue(ctx: Context, values: dict[str, str]) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None  # only liaisons reach this dialog
    due = date.fromisoformat(values["due"])
    issue = Issues(ctx.session).create(
        ctx.campaign,
        contact.unit,
        now=ctx.now,
        created_by=contact,
        year=int(values.get("year") or ctx.today.year),
        title=values["title"],
        source=values["source"],
        content=values["content"],
        measures=values["measures"],
        goal=values["goal"],
        owner=values["owner"],
        due=due,
        remark=values.get("remark"),
        focus_area=values.get("focus_area"),
    )
    ctx.audit("issue.create", entity="issue", entity_id=issue.id, number=issue.number, title=issue.title)
    warning = "\n注意：该完成时限已过，问题将计为逾期。" if due < ctx.today else ""
    return Reply.of(
        f"已登记问题 #{issue.number}「{issue.title}」（{contact.unit.name}），完成时限 {format_cn(due)}。"
        f"{warning}\n报告进展：#{issue.number} 60% 说明；整改完成：#{issue.number} 已整改"
    )


ISSUE = DialogSpec("issue", "登记问题", ISSUE_FIELDS, _log_issue)


@command(
    "问题",
    "新问题",
    "登记问题",
    roles=LIAISON,
    order=20,
    read=dialog_fields(ISSUE),
    dialog=ISSUE,
    usage="问题 — 登记问题线索（可一次写全各字段，或按提示逐项填写）",
)
def log_issue(ctx: Context, args: Args) -> Reply:
    return start(ctx, ISSUE, fields_of(args))


PROGRESS_USAGE = (
    "格式：#编号 状态或百分比 [说明]，如「#12 60% 已完成证件审验」「12号问题已整改」「进展 第12条 整改中」。"
)


def _read_progress(rest: str) -> Args:
    return read_progress(rest).args()


def _state(status: IssueStatus, percent: int) -> str:
    return STATUS_TEXT[status] + (f" {percent}%" if status is IssueStatus.IN_PROGRESS else "")


@command(
    "进展",
    "整改进展",
    roles=LIAISON,
    order=30,
    read=_read_progress,
    usage="进展 <编号> <状态或百分比> [说明] — 如：#12 60% 已完成证件审验；12号问题已整改；第12条 整改中",
)
def report_progress(ctx: Context, args: Args) -> Reply:
    number = args.get("number")
    if number is None:
        return Reply.of(f"请写明问题编号。{PROGRESS_USAGE}")
    issue = Issues(ctx.session).by_number(ctx.campaign, number)
    contact = ctx.actor.contact
    assert contact is not None
    if issue is None:
        return Reply.of(f"没有编号为 #{number} 的问题。发送「我的问题」查看本单位的问题。")
    if issue.unit_id != contact.unit_id:
        ctx.audit(
            "denied", entity="issue", entity_id=issue.id, command="进展", reason="other unit", unit=contact.unit.name
        )
        return Reply.of(f"#{number} 不是「{contact.unit.name}」的问题，您只能报告本单位问题的进展。")
    status = STATUS_BY_TEXT.get(args.get("status") or "")
    percent: int | None = args.get("percent")
    note = args.get("note") or ""
    if status is None and percent is None:
        return Reply.of(f"请写明整改状态（整改中 / 已整改）或完成百分比。{PROGRESS_USAGE}")
    if percent is not None and not 0 <= percent <= 100:
        return Reply.of("百分比应在 0 到 100 之间。")
    if issue.status is IssueStatus.RECTIFIED:
        when = issue.rectified_at.astimezone(ctx.now.tzinfo).date() if issue.rectified_at else ctx.today
        return Reply.of(f"#{number}「{issue.title}」已于 {format_cn(when)} 整改销号，如需重新打开请联系牵头部门。")
    if status is None:
        status = {100: IssueStatus.RECTIFIED, 0: IssueStatus.OPEN}.get(percent or 0, IssueStatus.IN_PROGRESS)
    kept = ""
    if status is IssueStatus.RECTIFIED:
        if percent is not None and percent < 100:
            return Reply.of(f"「已整改」与 {percent}% 矛盾：已整改即 100%。请重新发送。")
        percent = 100
    elif percent is None:
        percent = 0 if status is IssueStatus.OPEN else issue.percent  # 整改中 alone keeps the last percentage
        if status is IssueStatus.IN_PROGRESS:
            kept = f"完成比例仍为 {percent}%" if percent else f"尚未报告完成比例，可发送「#{number} 60%」这样的进度"
    elif percent == 100:
        return Reply.of("100% 即已整改，请发送「进展 编号 已整改」。")
    held = materials.before_progress(ctx, issue, status is IssueStatus.RECTIFIED)
    if held is not None and status is IssueStatus.RECTIFIED and not materials.evidence_count(ctx, issue):
        return held
    filed = held.texts if held is not None else ()
    before = _state(issue.status, issue.percent)
    Issues(ctx.session).add_progress(
        issue, status=status, percent=percent, note=note or None, contact=contact, now=ctx.now
    )
    ctx.audit(
        "issue.progress",
        entity="issue",
        entity_id=issue.id,
        number=number,
        status=status.value,
        percent=percent,
        note=note or None,
    )
    if status is IssueStatus.RECTIFIED:
        return Reply.of(*filed, f"#{number}「{issue.title}」已整改，已销号。{_unit_rate(ctx, issue)}")
    after = _state(status, percent)
    remarks = [f"原为 {before}"] * (before != after) + [kept] * bool(kept)
    shown = STATUS_TEXT[status] if kept else after
    return Reply.of(
        *filed,
        f"已记录 #{number}「{issue.title}」进展：{shown}"
        + (f"（{'；'.join(remarks)}）" if remarks else "")
        + (f"，{note}" if note else "")
        + "。",
    )


def _unit_rate(ctx: Context, issue: Issue) -> str:
    counts = unit_counts(ctx.session, ctx.campaign, ctx.today, issue.unit_id).get(issue.unit_id)
    if counts is None or counts.logged == 0:
        return ""
    return f"本单位整改率 {counts.rate:.0%}（{counts.rectified}/{counts.logged}）。"


def issue_line(issue: Issue, today: date) -> str:
    late = (today - issue.due).days
    due = f"时限 {format_cn(issue.due, with_year=issue.due.year != today.year)}"
    if issue.status is not IssueStatus.RECTIFIED and late > 0:
        due += f"（已逾期{late}天）"
    elif issue.status is not IssueStatus.RECTIFIED and late >= -3:
        due += "（今天到期）" if late == 0 else f"（还剩{-late}天）"
    return f"#{issue.number} {issue.title}｜{_state(issue.status, issue.percent)}｜{due}"


def _read_number(rest: str) -> Args:
    return {"number": read_progress(rest).number}


@command(
    "查看",
    "查看问题",
    roles=STAFF,
    order=27,
    read=_read_number,
    writes=False,
    usage="#12 — 查看问题 #12 的情况（也可写 12号问题、第12条）",
)
def show_issue(ctx: Context, args: Args) -> Reply:
    number = args.get("number")
    issue = Issues(ctx.session).by_number(ctx.campaign, number) if number is not None else None
    if issue is None:
        return Reply.of(f"没有编号为 #{number} 的问题。" if number is not None else f"请写明问题编号。{PROGRESS_USAGE}")
    contact = ctx.actor.contact
    if ctx.actor.role is Role.LIAISON and contact is not None and issue.unit_id != contact.unit_id:
        return Reply.of(f"#{issue.number} 不是「{contact.unit.name}」的问题。发送「我的问题」查看本单位的问题。")
    lines = [issue_line(issue, ctx.today), f"单位：{issue.unit.name}｜线索来源：{issue.source}｜责任人：{issue.owner}"]
    if issue.progress:
        latest = issue.progress[-1]
        when = format_cn(latest.created_at.astimezone(ctx.now.tzinfo).date(), with_year=False)
        note = f"，{latest.note}" if latest.note else ""
        lines.append(f"最近进展（{when}）：{_state(latest.status, latest.percent)}{note}")
    if issue.status is not IssueStatus.RECTIFIED and ctx.actor.role is Role.LIAISON:
        lines.append(f"报告进展：#{issue.number} 60% 说明；整改完成：#{issue.number} 已整改")
    return Reply.of("\n".join(lines))


@command("我的问题", "本单位问题", roles=LIAISON, order=25, writes=False, usage="我的问题 — 本单位未销号的问题")
def my_issues(ctx: Context, _args: Args) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    issues = Issues(ctx.session).open_for_unit(ctx.campaign, contact.unit)
    if not issues:
        return Reply.of(f"「{contact.unit.name}」目前没有未销号的问题。登记新问题请发送「问题」。")
    overdue = [i for i in issues if i.due < ctx.today]
    ordered = overdue + [i for i in issues if i.due >= ctx.today]
    head = f"「{contact.unit.name}」未销号问题 {len(issues)} 个" + (f"，其中逾期 {len(overdue)} 个" if overdue else "")
    listing = head + "：\n" + "\n".join(issue_line(i, ctx.today) for i in ordered)
    return Reply.of(with_link(listing, ctx.dashboard_link(f"/dashboard/units/{contact.unit_id}"), "本单位详情"))
