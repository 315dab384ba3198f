"""汇总 / 逾期 / 未报送: what coordinators ask the bot (plain text; richer output comes later)."""

from __future__ import annotations

from itertools import groupby

from handlers.context import Context
from handlers.dates import format_cn
from handlers.issues import issue_line
from handlers.message import Reply
from handlers.parsing import strip_punct
from handlers.summary import CampaignStatus, DeliverableStatus, UnitStatus, campaign_status
from handlers.tasks import task_summary_lines
from storage.repos import Issues, Units

MAX_NAMES = 12


def _names(units: list, limit: int = MAX_NAMES) -> str:  # type: ignore[type-arg]
    names = [u.name for u in units]
    return "、".join(names[:limit]) + (f" 等{len(names)}个单位" if len(names) > limit else "")


def _days(days: int) -> str:
    if days > 0:
        return f"还剩 {days} 天"
    return "今天截止" if days == 0 else f"已过 {-days} 天"


def _phase_line(status: CampaignStatus) -> str:
    if status.phase is not None:
        left = (status.phase.end - status.today).days
        return f"当前阶段：{status.phase.name}（至 {format_cn(status.phase.end, with_year=False)}，{_days(left)}）"
    if status.next_phase is not None:
        return f"当前阶段：尚未开始（下一阶段 {status.next_phase.name}）"
    return "当前阶段：各阶段均已结束"


def _rate_line(status: CampaignStatus) -> str:
    campaign, totals = status.campaign, status.totals
    line = f"整改率：{totals.rate:.1%}（{totals.rectified}/{totals.logged}）"
    if campaign.target_rate is not None and campaign.target_by is not None:
        left = (campaign.target_by - status.today).days
        line += (f"，目标 {campaign.target_rate:.0%}（{format_cn(campaign.target_by, with_year=False)}前，"
                 f"{_days(left)}）")
    return line


def _deliverable_line(item: DeliverableStatus) -> str:
    due = format_cn(item.deliverable.due, with_year=False)
    return f"· {item.deliverable.name}（{due}，{_days(item.days_left)}）：未报送 {_names(item.owing)}"


def _attention(unit: UnitStatus) -> list[str]:
    reasons = []
    if unit.counts.overdue:
        reasons.append(f"逾期问题{unit.counts.overdue}个")
    if unit.missed_deliverables:
        reasons.append("未报送" + "、".join(unit.missed_deliverables))
    if not unit.registered:
        reasons.append("联络员未登记")
    return reasons


def campaign_summary(ctx: Context, status: CampaignStatus) -> str:
    totals = status.totals
    lines = [
        f"【{ctx.campaign.name}】汇总（{format_cn(status.today)}）",
        _phase_line(status),
        f"联络员登记：{status.registered}/{len(status.units)} 个单位",
        f"问题：共 {totals.logged} 个，未整改 {totals.logged - totals.in_progress - totals.rectified}，"
        f"整改中 {totals.in_progress}，已整改 {totals.rectified}，逾期 {totals.overdue}",
        _rate_line(status),
    ]
    missing = status.weekly_missing
    weekly = f"本周周报（第{status.week[1]}周）：{len(status.units) - len(missing)}/{len(status.units)} 个单位已报送"
    lines.append(weekly + (f"；未报送：{_names(missing)}" if missing else ""))
    if status.deliverables:
        lines.append("报送事项：")
        lines.extend(_deliverable_line(item) for item in status.deliverables)
    attention = [(u, _attention(u)) for u in status.units]
    flagged = [f"· {u.unit.name}：{'，'.join(r)}" for u, r in attention if r]
    if flagged:
        lines.append("需关注的单位：")
        lines.extend(flagged[:MAX_NAMES])
        if len(flagged) > MAX_NAMES:
            lines.append(f"……另有 {len(flagged) - MAX_NAMES} 个单位")
    if status.pending_registrations:
        lines.append(f"待审核登记：{status.pending_registrations} 个（发送「批准 登记号」）")
    lines.extend(task_summary_lines(ctx.session, ctx.campaign, status.today))
    return "\n".join(lines)


def unit_summary(ctx: Context, status: CampaignStatus, unit_status: UnitStatus) -> str:
    unit, counts = unit_status.unit, unit_status.counts
    lines = [
        f"【{unit.name}】专项整治情况（{format_cn(status.today)}）",
        _phase_line(status),
        f"联络员：{'、'.join(c.name for c in unit.contacts if c.status.value == 'active') or '未登记'}",
        f"问题：共 {counts.logged} 个，整改中 {counts.in_progress}，已整改 {counts.rectified}，逾期 {counts.overdue}",
        f"整改率：{counts.rate:.1%}（{counts.rectified}/{counts.logged}）",
        f"本周周报（第{status.week[1]}周）：{'已报送' if unit_status.weekly_reported else '未报送'}",
    ]
    owed = [item for item in status.deliverables if any(u.id == unit.id for u in item.owing)]
    for item in owed:
        due = format_cn(item.deliverable.due, with_year=False)
        lines.append(f"未报送：{item.deliverable.name}（{due}，{_days(item.days_left)}）")
    lines.extend(task_summary_lines(ctx.session, ctx.campaign, status.today, unit))
    open_issues = Issues(ctx.session).open_for_unit(ctx.campaign, unit)
    if open_issues:
        lines.append("未销号问题：")
        lines.extend(issue_line(i, status.today) for i in open_issues[:20])
        if len(open_issues) > 20:
            lines.append(f"……共 {len(open_issues)} 个")
    return "\n".join(lines)


def summary(ctx: Context, rest: str) -> Reply:
    name = strip_punct(rest)
    contact = ctx.actor.contact
    if ctx.actor.role == "liaison" and contact is not None:
        unit = Units(ctx.session).find(ctx.campaign, name) if name else contact.unit
        if unit is None or unit.id != contact.unit_id:
            ctx.audit("denied", command="汇总", reason="other unit", unit=name)
            return Reply.of(f"您只能查看本单位（{contact.unit.name}）的情况，发送「汇总」即可。")
    elif name:
        unit = Units(ctx.session).find(ctx.campaign, name)
        if unit is None:
            closest = Units(ctx.session).closest(ctx.campaign, name)
            hint = f"您要找的是不是：{'、'.join(closest)}？" if closest else ""
            return Reply.of(f"未找到单位「{name}」。{hint}")
    else:
        unit = None
    status = campaign_status(ctx.session, ctx.campaign, ctx.today)
    if unit is None:
        return Reply.of(campaign_summary(ctx, status))
    unit_status = status.unit(unit.id)
    if unit_status is None:
        return Reply.of(f"「{unit.name}」已不在本次专项整治的单位名单中。")
    return Reply.of(unit_summary(ctx, status, unit_status))


def overdue(ctx: Context, _rest: str) -> Reply:
    issues = Issues(ctx.session).overdue(ctx.campaign, ctx.today)
    if not issues:
        return Reply.of(f"截至{format_cn(ctx.today)}，没有逾期未整改的问题。")
    lines = [f"逾期未整改问题 {len(issues)} 个（截至{format_cn(ctx.today)}）："]
    for unit_name, group in groupby(issues, key=lambda i: i.unit.name):
        items = list(group)
        lines.append(f"【{unit_name}】{len(items)} 个")
        lines.extend(issue_line(i, ctx.today) for i in items)
    return Reply.of("\n".join(lines))


def missing(ctx: Context, _rest: str) -> Reply:
    status = campaign_status(ctx.session, ctx.campaign, ctx.today)
    week_missing = status.weekly_missing
    lines = [f"本周周报（第{status.week[1]}周）未报送 {len(week_missing)} 个单位"
             + (f"：{_names(week_missing, limit=50)}" if week_missing else "。")]
    if status.deliverables:
        lines.append("报送事项：")
        lines.extend(_deliverable_line(item) for item in status.deliverables)
    else:
        lines.append("所有报送事项均已报齐。")
    return Reply.of("\n".join(lines))
