"""任务 / 我的任务: a standing task division (seed 004) in chat, and its lines in 汇总.

`任务 <编号> 进展 …` is open to every unit the task names (牵头, 配合, 责任); `任务 <编号> 完成` only to a
unit that owes the task (its 责任单位, else its 牵头单位, see handlers.task_status): the unit that
answers for a share is the one that closes it.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy.orm import Session

from core.dates import format_near
from core.roles import Role
from core.statuses import TaskDeadlineKind, TaskRole
from handlers.commands import LIAISON, STAFF, Args, command
from handlers.context import Context
from handlers.message import Reply
from handlers.parsing import strip_punct, to_int
from handlers.task_status import (
    KIND_TEXT,
    ONGOING_KINDS,
    ROLE_TEXT,
    TaskState,
    deadline_text,
    roles_of,
    short_title,
    task_states,
    unit_ids,
)
from storage.models import Campaign, Unit
from storage.repos import Tasks, Units

USAGE = "任务 <编号> — 查看任务；任务 <编号> 进展 <说明> — 报告进展；任务 <编号> 完成 [说明] — 报告本单位已完成"
MAX_LINES = 12
_PROGRESS_WORDS = ("进展", "进度", "落实情况", "情况")
_DONE_WORDS = ("已完成", "完成", "已办结", "办结")
# Unlike an issue number, a task number may run straight into the verb: 任务8完成, 任务第十项进展.
_NUMBER = re.compile(r"^(?:#|第)?\s*([0-9]+|[零〇一二两三四五六七八九十百]+)\s*(?:号|项)?")


def _take_number(text: str) -> tuple[int | None, str]:
    match = _NUMBER.match(text.strip())
    if match is None:
        return None, text
    return to_int(match.group(1)), text.strip()[match.end() :]


def _names(units: dict[int, Unit], ids: list[int], limit: int = 8) -> str:
    names = [units[i].name for i in ids if i in units]
    return "、".join(names[:limit]) + (f" 等{len(names)}个单位" if len(names) > limit else "")


def _status_text(state: TaskState, today: date, units: dict[int, Unit]) -> str:
    if state.task.deadline_kind is TaskDeadlineKind.ONGOING:
        return "长期坚持"
    if not state.owing:
        return "未落到具体单位（请在方案中补充单位）"
    if state.complete:
        return "已完成" + ("，转入长期坚持" if state.task.deadline_kind is TaskDeadlineKind.DATE_THEN_ONGOING else "")
    done = f"已完成 {len(state.done)}/{len(state.owing)}"
    if state.due is None:
        return done
    left = (state.due - today).days
    when = f"已逾期 {-left} 天" if left < 0 else ("今天截止" if left == 0 else f"还剩 {left} 天")
    return f"{when}，{done}；未完成：{_names(units, state.pending)}"


def _load(ctx: Context) -> tuple[list[TaskState], dict[int, Unit]]:
    repo = Tasks(ctx.session)
    states = task_states(repo.all(ctx.campaign), repo.progress(ctx.campaign), ctx.today, ctx.campaign.start)
    return states, {u.id: u for u in Units(ctx.session).all(ctx.campaign)}


def _details(ctx: Context, state: TaskState, units: dict[int, Unit]) -> str:
    task = state.task
    lines = [f"任务{task.number}（{KIND_TEXT[task.deadline_kind]}：{deadline_text(state)}）", task.text]
    for role in (TaskRole.LEAD, TaskRole.RESPONSIBLE, TaskRole.PARTNER):
        ids = unit_ids(task, role)
        if ids:
            lines.append(f"{ROLE_TEXT[role]}单位：{_names(units, ids, limit=20)}")
    if task.unmatched_units:
        lines.append(f"（方案中未对应到单位：{'、'.join(task.unmatched_units)}）")
    lines.append(f"状态：{_status_text(state, ctx.today, units)}")
    latest = state.last_progress
    if latest is not None:
        unit = units.get(latest.unit_id)
        when = format_near(latest.created_at.astimezone(ctx.now.tzinfo).date(), ctx.today)
        verb = "报告完成" if latest.done else "报告进展"
        lines.append(f"最近：{unit.name if unit else ''} {when} {verb}" + (f"：{latest.note}" if latest.note else ""))
    return "\n".join(lines)


def _read_action(text: str) -> tuple[str | None, str]:
    """('progress' | 'done' | None, the note) from what follows the task number."""
    text = text.strip(" :,，")
    for kind, words in (("done", _DONE_WORDS), ("progress", _PROGRESS_WORDS)):
        for word in words:
            if text.startswith(word):
                return kind, strip_punct(text[len(word) :].lstrip(" :：,，"))
    return None, strip_punct(text)


def _read_task(rest: str) -> Args:
    number, remainder = _take_number(rest)
    action, note = _read_action(remainder)
    return {"number": number, "action": action, "note": note}


@command(
    "任务",
    roles=STAFF,
    order=55,
    read=_read_task,
    writes=lambda args: bool(args.get("action")),
    usage="任务 <编号> [进展 <说明> | 完成] — 查看任务、报告进展或完成",
)
def task_command(ctx: Context, args: Args) -> Reply:
    number, action, note = args.get("number"), args.get("action"), args.get("note") or ""
    if number is None:
        if ctx.actor.role is Role.LIAISON:
            return my_tasks(ctx, {})
        return Reply.of("\n".join([*task_summary_lines(ctx.session, ctx.campaign, ctx.today), USAGE]))
    states, units = _load(ctx)
    state = next((s for s in states if s.task.number == number), None)
    if state is None:
        hint = f"本方案共 {len(states)} 项任务。" if states else "本专项整治没有任务分工。"
        return Reply.of(f"没有编号为 {number} 的任务。{hint}")
    if action is None and not note:
        return Reply.of(_details(ctx, state, units))
    if ctx.actor.role is not Role.LIAISON or ctx.actor.contact is None:
        return Reply.of("报告任务进展和完成情况供各单位联络员使用。\n" + USAGE)
    if action is None:
        return Reply.of(f"请写明是「进展」还是「完成」，如「任务 {number} 进展 {note}」。")
    return _report(ctx, state, action, note, units)


def _report(ctx: Context, state: TaskState, action: str, note: str, units: dict[int, Unit]) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    task, unit = state.task, contact.unit
    roles = roles_of(task, unit.id)
    if not roles:
        ctx.audit("denied", entity="task", entity_id=task.id, command="任务", reason="not assigned", unit=unit.name)
        return Reply.of(
            f"任务{task.number}没有分配给「{unit.name}」，您只能报告本单位承担的任务。发送「我的任务」查看。"
        )
    repo = Tasks(ctx.session)
    period = state.period
    if action == "progress":
        if len(note) < 2:
            return Reply.of(f"请写明进展情况，如「任务 {task.number} 进展 已组织培训2次」。")
        repo.add_progress(task, unit, period=period, done=False, note=note, contact=contact, now=ctx.now)
        ctx.audit("task.progress", entity="task", entity_id=task.id, number=task.number, note=note)
        return Reply.of(f"已记录「{unit.name}」任务{task.number}进展：{note}")
    if task.deadline_kind is TaskDeadlineKind.ONGOING:
        return Reply.of(
            f"任务{task.number}是长期坚持事项，没有完成之说；请用「任务 {task.number} 进展 …」报告落实情况。"
        )
    if unit.id not in state.owing:
        lead = _names(units, [u for u in state.owing if u in units]) or "牵头单位"
        return Reply.of(
            f"「{unit.name}」是任务{task.number}的{ROLE_TEXT[roles[0]]}单位，完成情况由{lead}报告；"
            f"您可以发送「任务 {task.number} 进展 …」报告本单位的工作。"
        )
    if unit.id in state.done:
        return Reply.of(f"「{unit.name}」已报告完成任务{task.number}，无需重复报告。")
    repo.add_progress(task, unit, period=period, done=True, note=note or None, contact=contact, now=ctx.now)
    ctx.audit("task.done", entity="task", entity_id=task.id, number=task.number, period=period, note=note or None)
    late = state.due is not None and state.due < ctx.today
    remaining = [u for u in state.pending if u != unit.id]
    tail = f"还有 {len(remaining)} 个单位未完成。" if remaining else "所有责任单位均已完成。"
    ongoing = "此后转入长期坚持，请按季度报告落实情况。" if task.deadline_kind in ONGOING_KINDS else ""
    year = f"（{period}年度）" if period else ""
    return Reply.of(
        f"已记录「{unit.name}」完成任务{task.number}{year}" + ("（逾期完成）" if late else "") + f"。{tail}{ongoing}"
    )


@command("我的任务", "本单位任务", roles=LIAISON, order=50, writes=False, usage="我的任务 — 本单位承担的任务分工")
def my_tasks(ctx: Context, _args: Args) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    unit = contact.unit
    states, _units = _load(ctx)
    mine = [(s, roles_of(s.task, unit.id)) for s in states if roles_of(s.task, unit.id)]
    if not mine:
        return Reply.of(f"「{unit.name}」没有分配任务。")
    counts = {role: sum(1 for _, roles in mine if role in roles) for role in ROLE_TEXT}
    dated = [(s, r) for s, r in mine if s.task.deadline_kind is not TaskDeadlineKind.ONGOING]
    overdue = [s for s, _ in dated if s.overdue(ctx.today) and unit.id in s.pending]
    head = (
        f"「{unit.name}」的任务 {len(mine)} 项（"
        + "、".join(f"{ROLE_TEXT[r]}{n}" for r, n in counts.items() if n)
        + "）"
        + (f"，逾期 {len(overdue)} 项" if overdue else "")
        + "："
    )
    dated.sort(
        key=lambda sr: (
            not (sr[0].overdue(ctx.today) and unit.id in sr[0].pending),
            sr[0].due or date.max,
            sr[0].task.number,
        )
    )
    lines = [head]
    for state, roles in dated:
        mark = "、".join(ROLE_TEXT[r] for r in roles)
        if unit.id in state.done:
            status = "本单位已完成"
        elif unit.id in state.owing and state.due is not None:
            left = (state.due - ctx.today).days
            status = f"已逾期{-left}天" if left < 0 else ("今天截止" if left == 0 else f"还剩{left}天")
        else:
            status = "由" + ("责任单位" if unit_ids(state.task, TaskRole.RESPONSIBLE) else "牵头单位") + "完成"
        lines.append(f"· 任务{state.task.number}〔{mark}〕{short_title(state.task)}｜{deadline_text(state)}｜{status}")
    ongoing = [s.task.number for s, _ in mine if s.task.deadline_kind is TaskDeadlineKind.ONGOING]
    if ongoing:
        lines.append(f"长期坚持 {len(ongoing)} 项：任务" + "、".join(str(n) for n in ongoing))
    lines.append(USAGE)
    return Reply.of("\n".join(lines))


def task_summary_lines(session: Session, campaign: Campaign, today: date, unit: Unit | None = None) -> list[str]:
    """The 汇总 section on tasks: per lead unit for the campaign, or the one unit's tasks. Empty without tasks."""
    repo = Tasks(session)
    tasks = repo.all(campaign)
    if not tasks:
        return []
    states = task_states(tasks, repo.progress(campaign), today, campaign.start)
    units = {u.id: u for u in Units(session).all(campaign)}
    if unit is not None:
        return _unit_lines(states, today, unit)
    dated = [s for s in states if s.due is not None]
    kinds = {kind: sum(1 for s in states if s.task.deadline_kind is kind) for kind in TaskDeadlineKind}
    lines = [
        f"任务分工：共 {len(states)} 项（有时限 {len(dated)} 项，已完成 {sum(s.complete for s in dated)}、"
        f"逾期 {sum(s.overdue(today) for s in dated)}；其中每年 {kinds[TaskDeadlineKind.YEARLY]} 项；"
        f"长期坚持 {kinds[TaskDeadlineKind.ONGOING]} 项）"
    ]
    by_lead: dict[int | None, list[TaskState]] = {}
    for state in states:
        leads: list[int | None] = [*unit_ids(state.task, TaskRole.LEAD)] or [None]
        for lead in leads:
            by_lead.setdefault(lead, []).append(state)
    rows = []
    for lead, group in by_lead.items():
        name = units[lead].name if lead in units else "无牵头单位（由责任单位分别完成）"
        dated_group = [s for s in group if s.due is not None]
        late = sum(s.overdue(today) for s in dated_group)
        rows.append(
            (
                -late,
                lead is None,
                f"· {name}：{len(group)} 项，有时限 {len(dated_group)} 项（已完成 "
                f"{sum(s.complete for s in dated_group)}，逾期 {late}）",
            )
        )
    lines.append("按牵头单位：")
    lines.extend(row for *_, row in sorted(rows)[:MAX_LINES])
    overdue = [s for s in dated if s.overdue(today)]
    if overdue:
        lines.append("逾期任务：")
        lines.extend(
            f"· 任务{s.task.number}（{format_near(s.due, today)}）未完成："  # type: ignore[arg-type]
            f"{_names(units, s.pending)}"
            for s in overdue[:MAX_LINES]
        )
    return lines


def _unit_lines(states: list[TaskState], today: date, unit: Unit) -> list[str]:
    mine = [s for s in states if roles_of(s.task, unit.id)]
    if not mine:
        return []
    counts = {r: sum(1 for s in mine if r in roles_of(s.task, unit.id)) for r in ROLE_TEXT}
    overdue = [s for s in mine if s.overdue(today) and unit.id in s.pending]
    line = "任务：" + "，".join(f"{ROLE_TEXT[r]} {n} 项" for r, n in counts.items() if n)
    if overdue:
        line += "；逾期 " + "、".join(
            f"任务{s.task.number}（{format_near(s.due, today)}）"  # type: ignore[arg-type]
            for s in overdue
        )
    return [line]
