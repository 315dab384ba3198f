"""周报 / 统计 / 报送: what a unit reports besides its issue ledger."""

from __future__ import annotations

import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from core.dates import format_near
from handlers import materials
from handlers.commands import COORDINATOR, LIAISON, Args, command
from handlers.context import Context, report_due_moment
from handlers.dialogs import DialogSpec, Field, FieldError, Suggest, offer_command, start
from handlers.issues import FOCUS_SYNONYMS, pick
from handlers.message import Reply
from handlers.parsing import FieldsRead, clipped, match_choice, read_fields, strip_punct, to_int
from storage.models import Deliverable, MaterialTarget, StatsReport, Submission, WeeklyReport
from storage.repos import Audit, Deliverables, Reports, Upward

WEEKDAYS = "一二三四五六日"
WEEKLY_LIMIT = 5000


def _check_weekly(_ctx: Context, raw: str) -> str:
    text = raw.strip()
    if len(text) < 4:
        raise FieldError("内容太短，请写明本周专项整治工作情况。")
    if len(text) > WEEKLY_LIMIT:
        raise FieldError(f"太长了（{len(text)}字），请控制在{WEEKLY_LIMIT}字以内，详细材料请另行报送。")
    return text


def _save_weekly(ctx: Context, values: dict[str, str]) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    unit = contact.unit
    iso_year, iso_week = ctx.week()
    due = report_due_moment(ctx.campaign, ctx.calendar, ctx.today)
    late = ctx.now > due
    reports = Reports(ctx.session)
    report = reports.weekly(unit, iso_year, iso_week)
    due_text = f"周{WEEKDAYS[due.weekday()]} {due:%H:%M}"
    deadline = f"{format_near(due.date(), ctx.today)} {due:%H:%M}"
    late_text = f"\n已过本周报送截止时间（{deadline}），记为迟报。" if late else ""
    if report is None:
        report = WeeklyReport(
            campaign_id=ctx.campaign.id,
            unit_id=unit.id,
            iso_year=iso_year,
            iso_week=iso_week,
            text=values["text"],
            contact_id=contact.id,
            submitted_at=ctx.now,
            late=late,
            revisions=1,
        )
        ctx.session.add(report)
        ctx.session.flush()
        ctx.audit(
            "weekly.submit", entity="weekly_report", entity_id=report.id, week=f"{iso_year}-W{iso_week:02d}", late=late
        )
        on_time = "" if late else f"（截止 {due_text}，按时）"
        return Reply.of(f"已收到「{unit.name}」第{iso_week}周周报{on_time}。{late_text}".strip())
    previous = report.submitted_at.astimezone(ctx.now.tzinfo)
    replaced = clipped(report.text.replace("\n", " "), 20)
    report.text, report.contact_id, report.submitted_at = values["text"], contact.id, ctx.now
    report.late, report.revisions = late, report.revisions + 1
    ctx.audit(
        "weekly.replace",
        entity="weekly_report",
        entity_id=report.id,
        week=f"{iso_year}-W{iso_week:02d}",
        late=late,
        revision=report.revisions,
    )
    return Reply.of(
        f"已更新「{unit.name}」第{iso_week}周周报，替换了 周{WEEKDAYS[previous.weekday()]} "
        f"{previous:%H:%M} 提交的版本（「{replaced}」）。{late_text}".strip()
    )


def _weekly_prompt(ctx: Context) -> str:
    """Ask for the week's report, saying first when sending it will replace one already in."""
    contact = ctx.actor.contact
    iso_year, iso_week = ctx.week()
    report = Reports(ctx.session).weekly(contact.unit, iso_year, iso_week) if contact is not None else None
    if report is None:
        return "请发送本周专项整治工作信息（一条消息写完）。"
    when = report.submitted_at.astimezone(ctx.now.tzinfo)
    return (
        f"本周周报已于 周{WEEKDAYS[when.weekday()]} {when:%H:%M} 报送；再发送将替换原周报。"
        "请发送新的本周专项整治工作信息（一条消息写完）。"
    )


WEEKLY = DialogSpec(
    "weekly",
    "报送周报",
    (Field("text", "内容", ("周报内容", "本周工作信息"), _weekly_prompt, check=_check_weekly, multiline=True),),
    _save_weekly,
)


def _read_weekly(rest: str) -> Args:
    """The whole rest is the report (a leading 内容： label is dropped)."""
    return {"text": read_fields(rest, WEEKLY.vocabulary, current="text").values.get("text", "")}


@command(
    "周报",
    roles=LIAISON,
    order=40,
    read=_read_weekly,
    dialog=WEEKLY,
    usage="周报 <内容> — 报送本周工作信息（重发会替换）",
)
def weekly_report(ctx: Context, args: Args) -> Reply:
    text = args.get("text") or ""
    return start(ctx, WEEKLY, FieldsRead({"text": text} if text else {}, "", []))


_COUNT = r"(\d+|[零〇一二两三四五六七八九十百]+)"
_HANDLED = re.compile(rf"处理(?:人数)?\s*:?\s*{_COUNT}\s*(?:人|名)?")
_DISCIPLINED = re.compile(rf"(?:党纪政务)?处分(?:人数)?\s*:?\s*{_COUNT}\s*(?:人|名)?")
STATS_MAX = 100_000  # people handled by one unit for one focus area: more is a typo, and no INTEGER overflows
STATS_USAGE = "格式：统计 <整治重点> 处理<n>人 处分<n>人，如「统计 队伍建设 处理2人 处分1人」。"


def _count(match: re.Match[str] | None) -> int | str | None:
    """A count as written: an int, the unreadable text itself, or None when it is not there."""
    if match is None:
        return None
    value = to_int(match.group(1))
    return match.group(1) if value is None else value


def _read_stats(rest: str) -> Args:
    handled = _HANDLED.search(rest)
    disciplined = _DISCIPLINED.search(rest)
    first_number = min((m.start() for m in (handled, disciplined) if m), default=len(rest))
    return {
        "focus_area": strip_punct(rest[:first_number]),
        "handled": _count(handled),
        "disciplined": _count(disciplined),
    }


@command("统计", roles=LIAISON, order=45, read=_read_stats, usage="统计 <整治重点> 处理<n>人 处分<n>人 — 附件3 人数")
def report_stats(ctx: Context, args: Args) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    areas: list[str] = ctx.campaign.focus_areas
    typed = args.get("focus_area") or ""
    try:
        area = pick(typed, "整治重点", areas, FOCUS_SYNONYMS) if areas and typed else None
    except Suggest as suggestion:
        counts = " ".join(
            f"{word}{args[key]}人"
            for word, key in (("处理", "handled"), ("处分", "disciplined"))
            if args.get(key) is not None
        )
        fixed = f"统计 {suggestion.value} {counts}".strip()
        return offer_command(
            ctx, f"「{typed}」是指「{suggestion.value}」吗？回复「确认」按「{fixed}」记录，或重新发送。", fixed
        )
    except FieldError as error:
        return Reply.of(f"整治重点{error}请写明整治重点（{'、'.join(areas)}）。{STATS_USAGE}")
    if area is None:
        listing = "、".join(areas)
        return Reply.of(f"请写明整治重点（{listing}）。{STATS_USAGE}")
    handled, disciplined = args.get("handled"), args.get("disciplined")
    if handled is None and disciplined is None:
        return Reply.of(f"请写明处理人数和处分人数。{STATS_USAGE}")
    row = Reports(ctx.session).stats(contact.unit, area)
    new_handled = handled if handled is not None else (row.handled if row else 0)
    new_disciplined = disciplined if disciplined is not None else (row.disciplined if row else 0)
    if not isinstance(new_handled, int) or not isinstance(new_disciplined, int):
        return Reply.of(f"人数应为数字。{STATS_USAGE}")
    if max(new_handled, new_disciplined) > STATS_MAX:
        return Reply.of(f"人数超过 {STATS_MAX:,} 人，请核对后重新发送。{STATS_USAGE}")
    if new_disciplined > new_handled:
        return Reply.of("处分人数不能多于处理人数，请核对后重新发送。")
    replaced = ""
    if row is None:
        row = StatsReport(campaign_id=ctx.campaign.id, unit_id=contact.unit_id, focus_area=area)
        ctx.session.add(row)
    elif (row.handled, row.disciplined) != (new_handled, new_disciplined):
        replaced = f"（原为处理 {row.handled} 人、处分 {row.disciplined} 人）"
    row.handled, row.disciplined = new_handled, new_disciplined
    row.contact_id, row.updated_at = contact.id, ctx.now
    ctx.session.flush()
    ctx.audit(
        "stats.report",
        entity="stats_report",
        entity_id=row.id,
        focus_area=area,
        handled=row.handled,
        disciplined=row.disciplined,
    )
    return Reply.of(
        f"已记录「{contact.unit.name}」{area}：处理 {row.handled} 人，党纪政务处分 {row.disciplined} 人"
        f"{replaced}。（附件3 的发现问题数、整改问题数由问题台账自动统计）"
    )


def _deliverable_line(ctx: Context, index: int, deliverable: Deliverable, submitted: Submission | None) -> str:
    # submitted_at is stored in UTC: a submission at 07:30 Beijing time belongs to that Beijing day.
    state = (
        f"已报送（{format_near(submitted.submitted_at.astimezone(ctx.now.tzinfo).date(), ctx.today)}）"
        if submitted
        else "未报送"
    )
    return f"{index}. {deliverable.name}（{format_near(deliverable.due, ctx.today)}前，{state}）"


def _read_item(rest: str) -> Args:
    return {"item": strip_punct(rest) or None}


@command(
    "报送",
    roles=LIAISON,
    order=48,
    read=_read_item,
    writes=lambda args: bool(args.get("item")),
    usage="报送 <事项名> — 登记已报送的材料",
)
def submit_deliverable(ctx: Context, args: Args) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    repo = Deliverables(ctx.session)
    owed = [d for d in repo.all(ctx.campaign) if repo.owes(d, contact.unit)]
    if not owed:
        return Reply.of("本单位目前没有需要报送的事项。")
    chosen = _choose(
        ctx, owed, args.get("item") or "", lambda i, d: _deliverable_line(ctx, i, d, repo.submission(d, contact.unit))
    )
    if isinstance(chosen, Reply):
        return chosen
    if materials.has_pending(ctx):  # files sent just before, waiting to be told what they are
        return materials.file_pending(ctx, materials.Target(MaterialTarget.DELIVERABLE, deliverable=chosen))
    existing = repo.submission(chosen, contact.unit)
    if existing is not None:
        return _already(ctx, contact.unit.name, chosen, existing)
    late = materials.submit(ctx, chosen).late
    recipient = f"，请按要求将材料报{chosen.recipient}" if chosen.recipient else ""
    late_text = f"（截止 {format_near(chosen.due, ctx.today)}，已逾期）" if late else ""
    return Reply.of(f"已登记「{contact.unit.name}」报送「{chosen.name}」{late_text}{recipient}。")


def _choose(
    ctx: Context, owed: list[Deliverable], name: str, line: Callable[[int, Deliverable], str], whose: str = "本单位"
) -> Deliverable | Reply:
    """The deliverable `name` means among those owed, or the reply that asks (a near name offered for a yes, or
    the numbered list)."""
    found = match_choice(name, [d.name for d in owed])
    chosen = next((d for d in owed if d.name == found.value), None)
    if chosen is not None:
        return chosen
    if name and len(found.suggestions) == 1:
        meant = found.suggestions[0]
        return offer_command(
            ctx, f"没有报送事项「{name}」，是指「{meant}」吗？回复「确认」登记报送，或重新发送。", f"报送 {meant}"
        )
    listing = "\n".join(line(i, d) for i, d in enumerate(owed, 1))
    head = f"没有找到报送事项「{name}」。" if name else ""
    return Reply.of(f"{head}请发送「报送 事项名」或「报送 序号」，{whose}的报送事项：\n{listing}")


def _already(ctx: Context, unit_name: str, deliverable: Deliverable, existing: Submission) -> Reply:
    when = existing.submitted_at.astimezone(ctx.now.tzinfo)
    return Reply.of(
        f"「{unit_name}」已于 {format_near(when.date(), ctx.today)} {when:%H:%M} "
        f"报送过「{deliverable.name}」，无需重复报送。"
    )


NO_PARENT = (
    "「报送」由各单位联络员登记本单位报送的材料。本专项整治没有上级专项整治（方案的 campaign.parent），"
    "协调人无需报送；查看各单位的报送情况请发送「未报送」。"
)


@command(
    "报送",
    roles=COORDINATOR,
    order=49,
    read=_read_item,
    writes=lambda args: bool(args.get("item")),
    usage="报送 <事项名> — 有上级专项整治时：登记本单位已向上级报送的事项",
)
def submit_upwards(ctx: Context, args: Args) -> Reply:
    """A child campaign's coordinator records what the parent asked of the unit this campaign is there: it counts
    as that unit's submission in the parent, matched against the parent's deliverables by name."""
    above = Upward(ctx.session).parent(ctx.campaign)
    if above is None:
        return Reply.of(NO_PARENT)
    parent, unit = above
    repo = Deliverables(ctx.session)
    owed = [d for d in repo.all(parent) if repo.owes(d, unit)]
    if not owed:
        return Reply.of(f"上级专项整治「{parent.name}」没有要求「{unit.name}」报送的事项。")
    chosen = _choose(
        ctx,
        owed,
        args.get("item") or "",
        lambda i, d: _deliverable_line(ctx, i, d, repo.submission(d, unit)),
        whose=f"「{unit.name}」在上级专项整治「{parent.name}」",
    )
    if isinstance(chosen, Reply):
        return chosen
    existing = repo.submission(chosen, unit)
    if existing is not None:
        return _already(ctx, unit.name, chosen, existing)
    late = ctx.now.astimezone(ZoneInfo(parent.timezone)).date() > chosen.due
    submission = Upward(ctx.session).submit(chosen, unit, at=ctx.now, late=late)
    for campaign in (ctx.campaign, parent):
        Audit(ctx.session).record(
            campaign=campaign,
            actor=ctx.actor_label,
            action="deliverable.submit",
            at=ctx.now,
            entity="submission",
            entity_id=submission.id,
            message_id=ctx.message.message_id,
            deliverable=chosen.name,
            unit=unit.name,
            late=late,
            upwards=True,
        )
    recipient = f"，请按要求将材料报{chosen.recipient}" if chosen.recipient else ""
    late_text = f"（截止 {format_near(chosen.due, ctx.today)}，已逾期）" if late else ""
    return Reply.of(
        f"已在上级专项整治「{parent.name}」登记「{unit.name}」报送「{chosen.name}」{late_text}{recipient}。"
    )
