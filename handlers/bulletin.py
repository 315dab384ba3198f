"""The weekly 工作简报: what a 牵头部门 compiles every week for its leaders, from the units' reports.

`compile_bulletin` gathers a week's bulletin from the numbers 汇总 shows (handlers.summary.campaign_status,
computed the same way, so the two always agree) and the units' reports of that week; `exports.bulletin_docx`
lays it out in Word. Sections as offices write them: 一、总体进展 二、各单位工作动态 三、存在问题 四、下步安排.
Units that are behind are named or only counted, as the plan's `public_naming` says for group nudges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from core.dates import format_cn, format_near, format_week
from handlers.context import campaign_calendar, report_due_moment
from handlers.summary import SOON_DAYS, CampaignStatus, UnitRef, behind_pace, campaign_status
from storage.models import Campaign, Unit, WeeklyReport
from storage.repos import Reports

REPORT_CHARS = 300  # of a unit's report in 二、: a bulletin is read in minutes; the full text is in the dashboard
MAX_NAMES = 50
UPCOMING_DAYS = 30  # how far 四、下步安排 looks ahead
WEEK = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)
_SENTENCE_END = "。！？；!?;"  # a report sent in chat has its full-width marks made half-width (handlers.parsing)


class BulletinError(ValueError):
    """A week there is no bulletin for; the message is for the coordinator."""


@dataclass(frozen=True)
class Paragraph:
    text: str
    lead: str = ""  # set in bold (a unit's name) before the text
    subheading: str = ""  # （一）逾期问题。 — set in 楷体 before the text, as 公文 write second-level headings


@dataclass
class Section:
    heading: str  # 一、总体进展
    paragraphs: list[Paragraph] = field(default_factory=list)


@dataclass
class Bulletin:
    campaign: Campaign
    number: int  # 第N期: the week's place in the campaign, so a week's bulletin keeps its number
    iso_year: int
    iso_week: int
    as_of: date  # the figures are as of this day (today, or the week's Sunday for a past week)
    status: CampaignStatus
    sections: list[Section]

    @property
    def title(self) -> str:
        return f"{self.campaign.name}工作简报"

    @property
    def file_name(self) -> str:
        return f"工作简报_第{self.number}期_{self.campaign.name}_{self.iso_year}-W{self.iso_week:02d}.docx"


def parse_week(text: str) -> tuple[int, int]:
    """2026-W49 (or 2026W49) → (2026, 49)."""
    found = WEEK.fullmatch(text.strip())
    if found is None or not 1 <= int(found[2]) <= 53:
        raise BulletinError(f"周次「{text}」应写成 2026-W49（年-W周）。")
    year, week = int(found[1]), int(found[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as error:
        raise BulletinError(f"{year}年没有第{week}周。") from error
    return year, week


def week_number(campaign: Campaign, monday: date) -> int:
    """The week's place in the campaign: the week the campaign starts in is 1."""
    first = campaign.start - timedelta(days=campaign.start.weekday())
    return (monday - first).days // 7 + 1


def compile_bulletin(session: Session, campaign: Campaign, iso_year: int, iso_week: int, *, today: date) -> Bulletin:
    """The bulletin of one week of the campaign, up to this week."""
    monday = date.fromisocalendar(iso_year, iso_week, 1)
    if monday + timedelta(days=6) < campaign.start:
        raise BulletinError(
            f"第{iso_week}周（{format_week(monday)}）在专项整治开始（{format_cn(campaign.start)}）之前。"
        )
    if monday > today:
        raise BulletinError(f"第{iso_week}周（{format_week(monday)}）还没有到。")
    if monday > campaign.end:
        raise BulletinError(f"专项整治已于{format_cn(campaign.end)}结束，第{iso_week}周不在其中。")
    as_of = min(today, monday + timedelta(days=6))
    status = campaign_status(session, campaign, as_of)
    reports = Reports(session).week_reports(campaign, iso_year, iso_week)
    sections = [_overall(status, monday), _reports(reports), _problems(status), _next_steps(status, monday)]
    return Bulletin(campaign, week_number(campaign, monday), iso_year, iso_week, as_of, status, sections)


def _days_left(day: date, today: date, *, ended: str = "已过") -> str:
    left = (day - today).days
    return f"还有{left}天" if left > 0 else ("今天到期" if left == 0 else f"{ended}{-left}天")


def _names(units: list[UnitRef] | list[str]) -> str:
    names = [u if isinstance(u, str) else u.name for u in units]
    return "、".join(names[:MAX_NAMES]) + (f"等{len(names)}个单位" if len(names) > MAX_NAMES else "")


def _overall(status: CampaignStatus, monday: date) -> Section:
    today, campaign, totals = status.today, status.campaign, status.totals
    if status.phase is not None:
        phase = (
            f"专项整治处于{status.phase.name}（{format_near(status.phase.end, today)}结束，"
            f"{_days_left(status.phase.end, today)}）"
        )
    elif status.next_phase is not None:
        phase = f"专项整治即将进入{status.next_phase.name}"
    else:
        phase = "专项整治各阶段均已结束"
    registered = f"{len(status.units)}个单位中{status.registered}个已登记联络员"
    if status.pending_registrations:
        registered += f"，另有{status.pending_registrations}个登记待审核"
    not_started = totals.logged - totals.in_progress - totals.rectified
    issues = (
        f"各单位共登记问题{totals.logged}个，已整改{totals.rectified}个，整改中{totals.in_progress}个，"
        f"未整改{not_started}个，其中逾期{totals.overdue}个。整改率{totals.rate:.1%}"
    )
    if campaign.target_rate is not None and campaign.target_by is not None:
        issues += (
            f"，目标为{format_near(campaign.target_by, today)}前完成{campaign.target_rate:.0%}以上的整改任务"
            f"（{_days_left(campaign.target_by, today)}）"
        )
        expected = status.expected_rate
        if expected is not None and today < campaign.target_by:
            verdict = "达到进度" if totals.rate >= expected else f"落后{expected - totals.rate:.1%}"
            issues += f"，按进度今日应达{expected:.1%}，{verdict}"
        elif totals.rate < campaign.target_rate:
            issues += "，尚未达到目标"
    reported = len(status.units) - len(status.weekly_missing)
    weekly = f"第{status.week[1]}周（{format_week(monday)}）{reported}/{len(status.units)}个单位报送了工作信息"
    if status.weekly_late:
        weekly += f"，其中迟报{len(status.weekly_late)}个"
    return Section(
        "一、总体进展",
        [
            Paragraph(f"截至{format_cn(today)}，{phase}。{registered}。"),
            Paragraph(issues + "。"),
            Paragraph(weekly + "。"),
        ],
    )


def clip(text: str, limit: int = REPORT_CHARS) -> str:
    """A report as one paragraph of at most `limit` characters, cut after a sentence where one ends late enough."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    joined = "".join(line if line[-1] in _SENTENCE_END + "，、：,:" else line + "；" for line in lines[:-1])
    joined += lines[-1] if lines else ""
    if len(joined) <= limit:
        return joined
    cut = max(joined.rfind(mark, 0, limit) for mark in _SENTENCE_END)
    return (joined[: cut + 1] if cut >= limit // 2 else joined[:limit]) + "……"


def _reports(reports: list[tuple[Unit, WeeklyReport | None]]) -> Section:
    section = Section("二、各单位工作动态")
    for unit, report in reports:
        if report is not None:
            lead = f"{unit.name}{'（迟报）' if report.late else ''}："
            section.paragraphs.append(Paragraph(clip(report.text), lead=lead))
    if not section.paragraphs:
        section.paragraphs.append(Paragraph("本周暂无单位报送工作信息。"))
    return section


def _problems(status: CampaignStatus) -> Section:
    named = status.campaign.public_naming
    section = Section("三、存在问题")
    overdue = [(u.unit.name, u.counts.overdue) for u in status.units if u.counts.overdue]
    if overdue:
        text = f"逾期未整改问题{status.totals.overdue}个，涉及{len(overdue)}个单位"
        text += ("：" + _names([f"{name}{count}个" for name, count in overdue]) + "。") if named else "。"
    else:
        text = "没有逾期未整改的问题。"
    behind = [u.unit for u in status.units if behind_pace(u.counts, status.expected_rate)]
    if behind:
        text += f"整改率低于进度的单位{len(behind)}个" + (f"：{_names(behind)}。" if named else "。")
    section.paragraphs.append(Paragraph(text, subheading="（一）问题整改。"))
    late, missing = status.weekly_late, status.weekly_missing
    parts = []
    if late:
        parts.append(f"迟报{len(late)}个单位" + (f"（{_names(late)}）" if named else ""))
    if missing:
        parts.append(f"尚未报送{len(missing)}个单位" + (f"（{_names(missing)}）" if named else ""))
    text = f"第{status.week[1]}周" + ("，".join(parts) if parts else "各单位均按时报送") + "。"
    section.paragraphs.append(Paragraph(text, subheading="（二）周报报送。"))
    overdue_deliverables = [d for d in status.deliverables if d.overdue]
    if overdue_deliverables:
        text = "".join(
            f"「{d.deliverable.name}」（{format_near(d.deliverable.due, status.today)}截止）尚有"
            f"{len(d.owing)}个单位未报送" + (f"：{_names(d.owing)}。" if named else "。")
            for d in overdue_deliverables
        )
        section.paragraphs.append(Paragraph(text, subheading="（三）材料报送。"))
    return section


def _next_steps(status: CampaignStatus, monday: date) -> Section:
    today, campaign = status.today, status.campaign
    horizon = today + timedelta(days=UPCOMING_DAYS)
    steps: list[tuple[date, str]] = []
    due = report_due_moment(campaign, campaign_calendar(campaign), monday + timedelta(weeks=1))
    if due.date() <= campaign.end:
        steps.append(
            (
                due.date(),
                f"{format_near(due.date(), today)}{due:%H:%M}前，各单位报送第"
                f"{due.date().isocalendar().week}周工作信息。",
            )
        )
    for item in status.deliverables:
        if today <= item.deliverable.due <= horizon:
            steps.append(
                (
                    item.deliverable.due,
                    f"{format_near(item.deliverable.due, today)}前报送"
                    f"「{item.deliverable.name}」，尚有{len(item.owing)}个单位未报送。",
                )
            )
    if status.phase is not None and status.phase.end <= horizon:
        steps.append((status.phase.end, f"{format_near(status.phase.end, today)}前完成{status.phase.name}各项工作。"))
    if campaign.target_by is not None and campaign.target_rate is not None and today <= campaign.target_by:
        steps.append(
            (
                campaign.target_by,
                f"{format_near(campaign.target_by, today)}前完成"
                f"{campaign.target_rate:.0%}以上的整改任务（目前{status.totals.rate:.1%}）。",
            )
        )
    if status.totals.due_soon:
        steps.append(
            (
                today + timedelta(days=SOON_DAYS),
                f"{status.totals.due_soon}个问题{SOON_DAYS}天内到期，请责任单位抓紧整改、及时销号。",
            )
        )
    section = Section("四、下步安排")
    for number, (_day, text) in enumerate(sorted(steps, key=lambda step: step[0]), 1):
        section.paragraphs.append(Paragraph(f"{number}. {text}"))
    if not section.paragraphs:
        section.paragraphs.append(Paragraph("按方案继续推进各项整改工作。"))
    return section
