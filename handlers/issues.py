"""问题 / 进展 / 我的问题: the unit's issue ledger (seed 000 附件2) and its 销号 management."""

from __future__ import annotations

import re
from datetime import date

from handlers.context import Context
from handlers.dates import format_cn, parse_date
from handlers.dialogs import DialogSpec, Field, FieldError, at_most, start
from handlers.message import Reply
from handlers.parsing import match_choice, strip_punct, take_number, to_int
from storage.models import Issue, IssueStatus
from storage.repos import Issues

STATUS_TEXT = {IssueStatus.OPEN: "未整改", IssueStatus.IN_PROGRESS: "整改中", IssueStatus.RECTIFIED: "已整改"}


def _numbered(choices: list[str]) -> str:
    return "\n".join(f"{i}. {c}" for i, c in enumerate(choices, 1))


def _choice_check(label: str, attr: str):  # type: ignore[no-untyped-def]
    def check(ctx: Context, raw: str) -> str:
        choices: list[str] = getattr(ctx.campaign, attr)
        value = match_choice(raw, choices)
        if value is None:
            raise FieldError(f"应为以下之一（可回复序号）：\n{_numbered(choices)}")
        return value

    def prompt(ctx: Context) -> str:
        return f"请发送「{label}」（可回复序号）：\n{_numbered(getattr(ctx.campaign, attr))}"

    return check, prompt


MIN_DUE_YEAR = 2000
MAX_DUE_YEARS_AHEAD = 10


def _check_due(ctx: Context, raw: str) -> str:
    day = parse_date(raw, ctx=ctx.dates, role="end")
    if day is None:
        raise FieldError(f"无法识别日期「{strip_punct(raw)}」，请写成「9月10日前」「2020-09-10」或「9月下旬」。")
    if not MIN_DUE_YEAR <= day.year <= ctx.today.year + MAX_DUE_YEARS_AHEAD:  # 9999年 is a typo, not a plan
        raise FieldError(f"完成时限「{format_cn(day)}」不在 {MIN_DUE_YEAR} 年至 {ctx.today.year + MAX_DUE_YEARS_AHEAD} "
                         "年之间，请核对后重新发送。")
    return day.isoformat()


def _check_year(_ctx: Context, raw: str) -> str:
    year = to_int(strip_punct(raw).removesuffix("年度").removesuffix("年"))
    if year is None or not 2000 <= year <= 2100:
        raise FieldError("请写四位年份，如 2020。")
    return str(year)


_source_check, _source_prompt = _choice_check("线索来源", "sources")
_focus_check, _focus_prompt = _choice_check("整治重点", "focus_areas")

ISSUE_FIELDS = (
    Field("title", "线索名称", ("问题名称", "名称", "标题", "问题"), "请发送「线索名称」（问题的简短名称）。",
          check=at_most(200)),
    Field("source", "线索来源", ("来源",), _source_prompt, check=_source_check),
    Field("focus_area", "整治重点", ("重点", "整治方面", "方面", "类别"), _focus_prompt, check=_focus_check),
    Field("content", "线索内容", ("内容", "问题描述", "问题内容", "描述"), "请发送「线索内容」（问题的具体情况）。",
          check=at_most(4000)),
    Field("measures", "整改措施", ("措施",), "请发送「整改措施」。", check=at_most(4000)),
    Field("goal", "整改目标", ("目标",), "请发送「整改目标」。", check=at_most(2000)),
    Field("owner", "责任人", ("负责人", "整改责任人"), "请发送「责任人」姓名。", check=at_most(100)),
    Field("due", "完成时限", ("时限", "期限", "截止时间", "完成时间", "整改时限"),
          "请发送「完成时限」，如「9月10日前」。", check=_check_due),
    Field("year", "年度", ("年份",), required=False, check=_check_year),
    Field("remark", "备注", ("说明",), required=False, check=at_most(2000)),
)


def _log_issue(ctx: Context, values: dict[str, str]) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None  # only liaisons reach this dialog
    due = date.fromisoformat(values["due"])
    issue = Issues(ctx.session).create(
        ctx.campaign, contact.unit, now=ctx.now, created_by=contact,
        year=int(values.get("year") or ctx.today.year), title=values["title"], source=values["source"],
        content=values["content"], measures=values["measures"], goal=values["goal"], owner=values["owner"],
        due=due, remark=values.get("remark"), focus_area=values.get("focus_area"))
    ctx.audit("issue.create", entity="issue", entity_id=issue.id, number=issue.number, title=issue.title)
    warning = "\n注意：该完成时限已过，问题将计为逾期。" if due < ctx.today else ""
    return Reply.of(f"已登记问题 #{issue.number}「{issue.title}」（{contact.unit.name}），完成时限 {format_cn(due)}。"
                    f"{warning}\n报告进展：进展 {issue.number} 60% 说明；整改完成：进展 {issue.number} 已整改")


def _issue_fields(ctx: Context) -> tuple[Field, ...]:
    # A campaign without focus areas (not every notice has a 统计表) does not ask for one.
    return tuple(f for f in ISSUE_FIELDS if f.key != "focus_area" or ctx.campaign.focus_areas)


def issue_dialog(ctx: Context) -> DialogSpec:
    return DialogSpec("issue", "登记问题", _issue_fields(ctx), _log_issue)


def log_issue(ctx: Context, rest: str) -> Reply:
    return start(ctx, issue_dialog(ctx), rest)


_PERCENT = re.compile(r"^(?:(\d{1,3})\s*%|百分之([零〇一二两三四五六七八九十百]+))")
_STATUS_WORDS = (
    (IssueStatus.RECTIFIED, ("已整改", "整改完成", "已完成整改", "已销号", "销号", "已完成", "完成")),
    (IssueStatus.IN_PROGRESS, ("整改中", "正在整改", "进行中", "推进中")),
    (IssueStatus.OPEN, ("未整改", "未开始", "尚未整改")),
)


def _starts_with_word(text: str, word: str) -> bool:
    """`已完成 证件审验` starts with the status 已完成; `已完成证件审验` is a note, not a status."""
    return text.startswith(word) and (len(text) == len(word) or not text[len(word)].isalnum())


def _read_progress(text: str) -> tuple[IssueStatus | None, int | None, str]:
    """Leading status word and/or percentage in either order, then the note."""
    status: IssueStatus | None = None
    percent: int | None = None
    rest = text.strip()
    for _ in range(2):
        match = _PERCENT.match(rest)
        if match and percent is None:
            percent = int(match.group(1)) if match.group(1) else to_int(match.group(2))
            rest = rest[match.end():].strip(" ,，")
            continue
        word = next(((s, w) for s, words in _STATUS_WORDS for w in words if _starts_with_word(rest, w)), None)
        if word and status is None:
            status, rest = word[0], rest[len(word[1]):].strip(" ,，")
    return status, percent, strip_punct(rest)


PROGRESS_USAGE = ("格式：进展 <问题编号> <状态或百分比> [说明]，"
                  "如「进展 #12 60% 已完成证件审验」或「进展 12 已整改 已销号」。")


def report_progress(ctx: Context, rest: str) -> Reply:
    number, remainder = take_number(rest)
    if number is None:
        return Reply.of(f"请写明问题编号。{PROGRESS_USAGE}")
    issue = Issues(ctx.session).by_number(ctx.campaign, number)
    contact = ctx.actor.contact
    assert contact is not None
    if issue is None:
        return Reply.of(f"没有编号为 #{number} 的问题。发送「我的问题」查看本单位的问题。")
    if issue.unit_id != contact.unit_id:
        ctx.audit("denied", entity="issue", entity_id=issue.id, command="进展", reason="other unit",
                  unit=contact.unit.name)
        return Reply.of(f"#{number} 不是「{contact.unit.name}」的问题，您只能报告本单位问题的进展。")
    status, percent, note = _read_progress(remainder)
    if status is None and percent is None:
        return Reply.of(f"请写明整改状态（整改中 / 已整改）或完成百分比。{PROGRESS_USAGE}")
    if percent is not None and not 0 <= percent <= 100:
        return Reply.of("百分比应在 0 到 100 之间。")
    if issue.status is IssueStatus.RECTIFIED:
        when = issue.rectified_at.astimezone(ctx.now.tzinfo).date() if issue.rectified_at else ctx.today
        return Reply.of(f"#{number}「{issue.title}」已于 {format_cn(when)} 整改销号，如需重新打开请联系牵头部门。")
    if status is None:
        status = {100: IssueStatus.RECTIFIED, 0: IssueStatus.OPEN}.get(percent or 0, IssueStatus.IN_PROGRESS)
    if status is IssueStatus.RECTIFIED:
        if percent is not None and percent < 100:
            return Reply.of(f"「已整改」与 {percent}% 矛盾：已整改即 100%。请重新发送。")
        percent = 100
    elif percent is None:
        percent = 0 if status is IssueStatus.OPEN else issue.percent
    elif percent == 100:
        return Reply.of("100% 即已整改，请发送「进展 编号 已整改」。")
    Issues(ctx.session).add_progress(issue, status=status, percent=percent, note=note or None, contact=contact,
                                     now=ctx.now)
    ctx.audit("issue.progress", entity="issue", entity_id=issue.id, number=number, status=status.value,
              percent=percent, note=note or None)
    if status is IssueStatus.RECTIFIED:
        return Reply.of(f"#{number}「{issue.title}」已整改，已销号。{_unit_rate(ctx, issue)}")
    return Reply.of(f"已记录 #{number}「{issue.title}」进展：{STATUS_TEXT[status]} {percent}%"
                    + (f"，{note}" if note else "") + "。")


def _unit_rate(ctx: Context, issue: Issue) -> str:
    from handlers.summary import unit_counts  # local: summary imports this module's texts

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
    state = STATUS_TEXT[issue.status] + (f" {issue.percent}%" if issue.status is IssueStatus.IN_PROGRESS else "")
    return f"#{issue.number} {issue.title}｜{state}｜{due}"


def my_issues(ctx: Context, _rest: str) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    issues = Issues(ctx.session).open_for_unit(ctx.campaign, contact.unit)
    if not issues:
        return Reply.of(f"「{contact.unit.name}」目前没有未销号的问题。登记新问题请发送「问题」。")
    overdue = [i for i in issues if i.due < ctx.today]
    ordered = overdue + [i for i in issues if i.due >= ctx.today]
    head = f"「{contact.unit.name}」未销号问题 {len(issues)} 个" + (f"，其中逾期 {len(overdue)} 个" if overdue else "")
    return Reply.of(head + "：\n" + "\n".join(issue_line(i, ctx.today) for i in ordered))
