"""汇总 / 逾期 / 未报送 / 图表: what coordinators ask the bot.

Each reply is built once as a `Doc` and sent as plain text (simulator, plain channels) and as markdown
(WeCom and DingTalk); 汇总 and 图表 also carry the rate chart as a PNG for channels that upload images.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import groupby

from core.dates import format_cn, format_near
from core.roles import Role
from core.statuses import ContactStatus
from handlers.charts import MAX_BARS, Bar, font_family, rate_chart
from handlers.commands import COORDINATOR, STAFF, Args, command
from handlers.context import Context
from handlers.issues import issue_line
from handlers.message import Image, Reply
from handlers.parsing import echoed, strip_punct
from handlers.richtext import Block, Doc, Field, Heading, Item, Line, Link
from handlers.rollup import ChildFigures, RolledUp, child_dashboard_path, child_figures, rolled_up_status
from handlers.summary import (
    SOON_DAYS,
    WEEKLY_STATE_TEXT,
    CampaignStatus,
    DeliverableStatus,
    IssueCounts,
    Light,
    UnitRef,
    UnitStatus,
    behind_pace,
)
from handlers.tasks import task_summary_lines
from storage.models import Unit
from storage.repos import Issues, People, Units

MAX_NAMES = 12
MAX_ISSUES = 20
MAX_OVERDUE_LINES = 60  # a chat message has a size limit (WeCom: 2048 bytes of text); the dashboard has all
LIGHT_NAMES = {Light.RED: "红灯", Light.YELLOW: "黄灯", Light.GREEN: "绿灯"}
LIGHT_EMOJI = {Light.RED: "🔴", Light.YELLOW: "🟡", Light.GREEN: "🟢"}
LIGHT_LABELS = {light: f"{LIGHT_EMOJI[light]} {name}" for light, name in LIGHT_NAMES.items()}
NO_FONT = "服务器未安装中文字体，暂无法生成图表（管理员请安装 fonts-noto-cjk，见 README）。"


def _names(units: Sequence[UnitRef], limit: int = MAX_NAMES) -> str:
    names = [u.name for u in units]
    return "、".join(names[:limit]) + (f" 等{len(names)}个单位" if len(names) > limit else "")


def _days(days: int) -> str:
    if days > 0:
        return f"还剩 {days} 天"
    return "今天截止" if days == 0 else f"已过 {-days} 天"


def _phase(status: CampaignStatus) -> str:
    if status.phase is not None:
        left = (status.phase.end - status.today).days
        return f"{status.phase.name}（至 {format_near(status.phase.end, status.today)}，{_days(left)}）"
    if status.next_phase is not None:
        return f"尚未开始（下一阶段 {status.next_phase.name}）"
    return "各阶段均已结束"


def _counts(counts: IssueCounts) -> str:
    not_started = counts.logged - counts.in_progress - counts.rectified
    return (
        f"共 {counts.logged} 个，未整改 {not_started}，整改中 {counts.in_progress}，"
        f"已整改 {counts.rectified}，逾期 {counts.overdue}"
    )


def _rate(status: CampaignStatus, counts: IssueCounts) -> str:
    campaign = status.campaign
    text = f"{counts.rate:.1%}（{counts.rectified}/{counts.logged}）"
    if campaign.target_rate is not None and campaign.target_by is not None:
        left = (campaign.target_by - status.today).days
        by = format_near(campaign.target_by, status.today)
        text += f"，目标 {campaign.target_rate:.0%}（{by}前，{_days(left)}）"
        if status.expected_rate is not None and left > 0:
            text += f"，按进度今日应达 {status.expected_rate:.1%}"
    return text


def _deliverable(item: DeliverableStatus, today: date) -> Item:
    due = format_near(item.deliverable.due, today)
    return Item(f"{item.deliverable.name}（{due}，{_days(item.days_left)}）：未报送 {_names(item.owing)}")


def reasons(unit: UnitStatus, status: CampaignStatus) -> list[str]:
    """Why a unit is red or yellow, in the order the light rules weigh them."""
    found = []
    if unit.counts.overdue:
        found.append(f"逾期问题{unit.counts.overdue}个")
    if unit.missed_deliverables:
        found.append("未报送" + "、".join(unit.missed_deliverables))
    if unit.counts.due_soon:
        found.append(f"{unit.counts.due_soon}个问题{SOON_DAYS}天内到期")
    if unit.deliverables_due_soon:
        found.append("、".join(unit.deliverables_due_soon) + f"{SOON_DAYS}天内截止")
    if behind_pace(unit.counts, status.expected_rate) and status.expected_rate is not None:
        found.append(f"整改率{unit.counts.rate:.0%}低于进度{status.expected_rate:.0%}")
    return found


def _lights(doc: Doc, status: CampaignStatus) -> None:
    groups = {light: status.by_light(light) for light in Light}
    doc.add(Field("单位状态", "，".join(f"{LIGHT_LABELS[light]} {len(units)} 个" for light, units in groups.items())))
    for light in (Light.RED, Light.YELLOW):
        units = groups[light]
        if not units:
            continue
        doc.add(Heading(LIGHT_LABELS[light]))
        doc.add(*(Item(f"{u.unit.name}：{'，'.join(reasons(u, status))}") for u in units[:MAX_NAMES]))
        if len(units) > MAX_NAMES:
            doc.add(Item(f"……另有 {len(units) - MAX_NAMES} 个单位"))
    if groups[Light.GREEN]:
        doc.add(Field(LIGHT_LABELS[Light.GREEN], _names([u.unit for u in groups[Light.GREEN]])))


def campaign_summary(status: CampaignStatus) -> Doc:
    totals, missing = status.totals, status.weekly_missing
    registered = f"{status.registered}/{len(status.units)} 个单位"
    if status.pending_registrations:
        registered += f"（待审核登记 {status.pending_registrations} 个，发送「批准 登记号」）"
    weekly = f"{len(status.units) - len(missing)}/{len(status.units)} 个单位已报送"
    doc = Doc(f"【{status.campaign.name}】汇总（{format_cn(status.today)}）").add(
        Field("当前阶段", _phase(status)),
        Field("联络员登记", registered),
        Field("问题", _counts(totals)),
        Field("整改率", _rate(status, totals)),
        Field(f"本周周报（第{status.week[1]}周）", weekly + (f"；未报送：{_names(missing)}" if missing else "")),
    )
    if status.deliverables:
        doc.add(Heading("报送事项"), *(_deliverable(item, status.today) for item in status.deliverables))
    _lights(doc, status)
    unregistered = [u.unit for u in status.units if not u.registered]
    if unregistered:
        doc.add(Field("联络员未登记", _names(unregistered)))
    return doc


def unit_summary(ctx: Context, status: CampaignStatus, unit: Unit, unit_status: UnitStatus) -> Doc:
    counts = unit_status.counts
    light = LIGHT_LABELS[unit_status.light]
    why = reasons(unit_status, status)
    liaisons = "、".join(c.name for c in unit.contacts if c.status is ContactStatus.ACTIVE) or "未登记"
    doc = Doc(f"【{unit.name}】专项整治情况（{format_cn(status.today)}）").add(
        Field("状态", light + (f"（{'，'.join(why)}）" if why else "")),
        Field("当前阶段", _phase(status)),
        Field("联络员", liaisons),
        Field("问题", _counts(counts)),
        Field("整改率", _rate(status, counts)),
        Field(f"本周周报（第{status.week[1]}周）", WEEKLY_STATE_TEXT[unit_status.weekly_state]),
    )
    for item in status.deliverables:
        if any(u.id == unit.id for u in item.owing):
            due = format_near(item.deliverable.due, status.today)
            doc.add(Field("未报送", f"{item.deliverable.name}（{due}，{_days(item.days_left)}）"))
    open_issues = Issues(ctx.session).open_for_unit(ctx.campaign, unit)
    if open_issues:
        doc.add(Heading("未销号问题"), *(Item(issue_line(i, status.today)) for i in open_issues[:MAX_ISSUES]))
        if len(open_issues) > MAX_ISSUES:
            doc.add(Line(f"……共 {len(open_issues)} 个"))
    return doc


def _chart(status: CampaignStatus) -> Image | None:
    """The rate chart of every unit, drawn when a channel reads it; None when no CJK font is installed."""
    if font_family() is None:
        return None
    units = status.units  # plain rows, still readable once the transaction is over
    title = f"各单位整改率（截至{format_cn(status.today)}）"
    if len(units) > MAX_BARS:
        title += f"：整改率最低的{MAX_BARS}个单位（共{len(units)}个）"
    target, expected = status.campaign.target_rate, status.expected_rate

    def render() -> bytes:
        # The bars too are made when a channel draws the chart: one per unit, they were a tenth of the time
        # of a coordinator's 汇总 over 5,000 units (bench/summary.py), spent even where no image is sent.
        bars = [Bar(u.unit.name, u.counts.rate, u.counts.logged, u.light.value) for u in units]
        return rate_chart(bars, title=title, target=target, expected=expected)

    return Image(name="整改率.png", mime="image/png", render=render)


def _on_dashboard(ctx: Context, doc: Doc, label: str, path: str) -> Doc:
    """The reply's last line: a link that opens this dashboard page signed in (where the deployment has one)."""
    link = ctx.dashboard_link(path)
    return doc.add(Link(label, link)) if link else doc


def _reply(doc: Doc, *images: Image | None) -> Reply:
    return Reply((doc.plain(),), markdown=doc.markdown(), images=tuple(i for i in images if i is not None))


def _read_unit(rest: str) -> Args:
    return {"unit": strip_punct(rest) or None}


@command(
    "汇总", "进度", "情况", roles=STAFF, order=60, read=_read_unit, writes=False, usage="汇总 [单位] — 专项整治情况汇总"
)
def summary(ctx: Context, args: Args) -> Reply:
    name = args.get("unit") or ""
    contact = ctx.actor.contact
    units = Units(ctx.session)
    if ctx.actor.role is Role.LIAISON and contact is not None:
        unit = units.resolve(ctx.campaign, name)[0] if name else contact.unit
        if unit is None or unit.id != contact.unit_id:
            ctx.audit("denied", command="汇总", reason="other unit", unit=name)
            return Reply.of(f"您只能查看本单位（{contact.unit.name}）的情况，发送「汇总」即可。")
    elif name:
        unit, candidates = units.resolve(ctx.campaign, name)
        if unit is None:
            hint = f"您要找的是不是：{'、'.join(candidates)}？" if candidates else ""
            return Reply.of(f"未找到单位「{echoed(name)}」。{hint}")
    else:
        unit = None
    rolled = rolled_up_status(ctx.session, ctx.campaign, ctx.today, unit_id=unit.id if unit is not None else None)
    status = rolled.status
    tasks = _task_blocks(task_summary_lines(ctx.session, ctx.campaign, status.today, unit))
    if unit is None:
        doc = campaign_summary(status).add(*children_blocks(rolled), *tasks)
        return _reply(_on_dashboard(ctx, doc, "督办网页", "/dashboard"), _chart(status))
    unit_status = status.unit(unit.id)
    if unit_status is None:
        return Reply.of(f"「{unit.name}」已不在本次专项整治的单位名单中。")
    doc = unit_summary(ctx, status, unit, unit_status).add(*tasks)
    figures = rolled.children.get(unit.id)
    if figures is not None:
        doc.add(*child_breakdown(ctx, figures, rolled.own[unit.id], status.today))
        return _reply(_on_dashboard(ctx, doc, "下级专项整治的督办网页", child_dashboard_path(figures.child)))
    label = "本单位详情" if ctx.actor.role is Role.LIAISON else "单位详情"
    return _reply(_on_dashboard(ctx, doc, label, f"/dashboard/units/{unit.id}"))


def _child_rate(figures: ChildFigures, today: date) -> str:
    """A child's rate against its own plan's target (the parent's target judges its light)."""
    counts, child = figures.counts, figures.child
    text = f"{counts.rate:.1%}（{counts.rectified}/{counts.logged}）"
    if child.target_rate is not None and child.target_by is not None:
        text += f"，下级目标 {child.target_rate:.0%}（{format_near(child.target_by, today)}前）"
        if figures.expected_rate is not None and child.target_by > today:
            text += f"，按进度今日应达 {figures.expected_rate:.1%}"
    return text


def _child_weekly(figures: ChildFigures) -> str:
    text = f"{figures.weekly_reported}/{figures.units} 个单位已报送"
    if figures.weekly_late:
        text += f"（迟报 {figures.weekly_late}）"
    return text


def children_blocks(rolled: RolledUp) -> list[Block]:
    """The parent's 汇总 section on its child campaigns: each as its unit, with the figures that went into it."""
    units = rolled.child_units()
    if not units:
        return []
    today = rolled.status.today
    items = [
        Item(
            f"{name}（{figures.child.name}，{figures.units} 个单位）：问题 {figures.counts.logged} 个，"
            f"整改率 {_child_rate(figures, today)}，逾期 {figures.counts.overdue}；本周周报 {_child_weekly(figures)}"
        )
        for name, figures in units
    ]
    return [
        Heading("下级专项整治（已计入上面各项）"),
        *items,
        Line("发送「汇总 单位名」查看下级专项整治的明细。"),
    ]


def child_breakdown(ctx: Context, figures: ChildFigures, own: IssueCounts, today: date) -> list[Block]:
    """`汇总 <单位>` for a unit that runs a child campaign: who answers for it there, what the unit recorded in
    this campaign itself, then the child's own 汇总 (its units, lights, reports and deliverables)."""
    child = figures.child
    coordinators = "、".join(c.name for c in People(ctx.session).coordinators(child)) or "方案未写"
    inner = rolled_up_status(ctx.session, child, today)
    blocks: list[Block] = [
        Heading(f"下级专项整治「{child.name}」（已计入上面各项）"),
        Field("下级协调人", coordinators),
        Field("本单位在本专项整治登记的问题", _counts(own)),
    ]
    return blocks + campaign_summary(inner.status).blocks + children_blocks(inner)


def _task_blocks(lines: list[str]) -> list[Block]:
    """The task-division section (handlers.tasks writes it as lines) in the summary's rich-text blocks."""
    blocks: list[Block] = []
    for line in lines:
        if line.startswith("· "):
            blocks.append(Item(line.removeprefix("· ")))
        elif line.endswith("："):
            blocks.append(Heading(line.removesuffix("：")))
        else:
            blocks.append(Line(line))
    return blocks


@command("图表", roles=COORDINATOR, order=75, writes=False, usage="图表 — 各单位整改率与目标对比图")
def chart(ctx: Context, _args: Args) -> Reply:
    status = rolled_up_status(ctx.session, ctx.campaign, ctx.today).status
    image = _chart(status)
    if image is None:
        return Reply.of(NO_FONT)
    totals = status.totals
    doc = Doc(f"各单位整改率与目标对比（{format_cn(status.today)}）").add(
        Field("整改率", _rate(status, totals)),
        Line("图中红线为目标，虚线为按进度今日应达；颜色为各单位红黄绿灯状态。"),
    )
    return _reply(doc, image)


@command("逾期", roles=COORDINATOR, order=65, writes=False, usage="逾期 — 各单位逾期未整改的问题")
def overdue(ctx: Context, _args: Args) -> Reply:
    page = Issues(ctx.session).overdue(ctx.campaign, ctx.today, limit=MAX_OVERDUE_LINES)
    below = [
        (unit, figures)
        for unit_id, figures in child_figures(ctx.session, ctx.campaign, ctx.today).items()
        if figures.counts.overdue and (unit := ctx.session.get(Unit, unit_id)) is not None
    ]
    total = page.total + sum(figures.counts.overdue for _, figures in below)
    if not total:
        return Reply.of(f"截至{format_cn(ctx.today)}，没有逾期未整改的问题。")
    doc = Doc(f"逾期未整改问题 {total} 个（截至{format_cn(ctx.today)}）")
    for unit_id, group in groupby(page.first, key=lambda i: i.unit_id):
        items = list(group)
        doc.add(
            Heading(f"【{items[0].unit.name}】{page.per_unit[unit_id]} 个"),
            *(Item(issue_line(i, ctx.today)) for i in items),
        )
    if len(page.first) < page.total:
        doc.add(Line(f"……其余 {page.total - len(page.first)} 个逾期问题请在督办网页的问题台账中查看。"))
    if below:
        doc.add(
            Heading("下级专项整治的逾期问题"),
            *(
                Item(f"{unit.name}（{figures.child.name}）：{figures.counts.overdue} 个，发送「汇总 {unit.name}」查看")
                for unit, figures in sorted(below, key=lambda pair: pair[0].position)
            ),
        )
    return _reply(_on_dashboard(ctx, doc, "逾期问题台账", "/dashboard/issues?overdue=true"))


@command("未报送", roles=COORDINATOR, order=70, writes=False, usage="未报送 — 本周周报和各报送事项的缺报单位")
def missing(ctx: Context, _args: Args) -> Reply:
    rolled = rolled_up_status(ctx.session, ctx.campaign, ctx.today)
    status = rolled.status
    week_missing = status.weekly_missing
    doc = Doc(
        f"本周周报（第{status.week[1]}周）未报送 {len(week_missing)} 个单位"
        + (f"：{_names(week_missing, limit=50)}" if week_missing else "。")
    )
    children = rolled.child_units()
    if children:
        doc.add(
            Heading("下级专项整治本周周报（各单位都报送了，才算该单位已报送）"),
            *(Item(f"{name}：{_child_weekly(figures)}") for name, figures in children),
        )
    if status.deliverables:
        doc.add(Heading("报送事项"), *(_deliverable(item, status.today) for item in status.deliverables))
    else:
        doc.add(Line("所有报送事项均已报齐。"))
    return _reply(_on_dashboard(ctx, doc, "周报报送情况", "/dashboard/weekly"))
