"""Campaign plans (docs/plan-format.md): validated with pydantic, loaded idempotently, errors named by file and line.

A plan with any error is rejected whole. Loading the same plan twice changes nothing; loading a changed
plan updates the campaign without losing issues, reports or registrations.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.channels import Channel, Platform
from core.dates import DateContext, parse_date
from core.statuses import ContactStatus, DeliverableKind, TaskDeadlineKind, TaskRole
from core.workdays import parse_weekday
from handlers.parsing import normalize_phone
from storage.models import (
    Campaign,
    ChatIdentity,
    Contact,
    Coordinator,
    Deliverable,
    Group,
    Issue,
    Phase,
    Submission,
    Task,
    TaskProgress,
    TaskUnit,
    Unit,
    WeeklyReport,
)
from storage.repos import Audit, Deliverables, People, name_key

DEFAULT_FOCUS_AREAS = ["制度建设", "履行职责", "回应群众诉求", "队伍建设", "责任追究"]
DEFAULT_SOURCES = ["信访举报", "媒体曝光", "行政复议", "行政诉讼", "上级机关督查督办", "巡视巡察", "专项检查",
                   "卫片执法检查", "例行督察"]

DateText = date | str  # a YAML date, or Chinese words resolved against the campaign (docs/plan-format.md)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TargetIn(_Model):
    rate: float
    by: DateText

    @field_validator("rate", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith("%"):
            return float(value.strip().rstrip("%")) / 100
        return value

    @field_validator("rate")
    @classmethod
    def _range(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError("整改率目标应在 0 到 1 之间（如 0.9 或 \"90%\"）")
        return value


class CampaignIn(_Model):
    name: str = Field(min_length=2, max_length=200)
    issuer: str | None = None
    timezone: str = "Asia/Shanghai"
    start: date
    end: date
    target: TargetIn | None = None
    public_naming: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import available_timezones

        if value not in available_timezones():
            raise ValueError(f"未知的时区 {value}")
        return value

    @model_validator(mode="after")
    def _order(self) -> CampaignIn:
        if self.end < self.start:
            raise ValueError("end 早于 start")
        return self


class PhaseIn(_Model):
    name: str
    start: DateText | None = None
    end: DateText


class DeliverableIn(_Model):
    name: str
    due: DateText
    to: str | None = None
    units: list[str] | None = None
    # `contacts`: this is the contact form (附件1); a unit's liaison registration submits it for the unit.
    kind: DeliverableKind | None = None


def _clock(value: Any) -> str:
    # Unquoted 09:00 is a base-60 integer (540) in YAML 1.1; accept it rather than surprise the author.
    if isinstance(value, int):
        value = f"{value // 60:02d}:{value % 60:02d}"
    text = str(value).strip().replace("：", ":")
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"时间应写成 \"09:00\" 的形式，而不是 {value!r}")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


class WeeklyReportIn(_Model):
    # Validated even when left out: the default must become 4 (Friday) too, not the text 周五, which SQLite
    # would store in the integer column without complaint.
    weekday: int | str = Field(default="周五", validate_default=True)
    remind_at: list[str] = Field(default_factory=lambda: ["09:00", "11:00"])
    due: str = "12:00"

    @field_validator("weekday", mode="before")
    @classmethod
    def _weekday(cls, value: Any) -> int:
        return parse_weekday(str(value))

    @field_validator("remind_at", mode="before")
    @classmethod
    def _times(cls, value: Any) -> list[str]:
        return [_clock(v) for v in (value if isinstance(value, list) else [value])]

    @field_validator("due", mode="before")
    @classmethod
    def _due(cls, value: Any) -> str:
        return _clock(value)


class ContactIn(_Model):
    name: str
    phone: str | None = None
    title: str | None = None
    email: str | None = None
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> Any:
        if value is None:
            return None
        phone = normalize_phone(str(value))
        if phone is None:
            raise ValueError(f"不是有效的电话号码：{value}")
        return phone


class UnitIn(_Model):
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list)
    parent: str | None = None
    groups: list[str] = Field(default_factory=list)
    contacts: list[ContactIn] = Field(default_factory=list)


class GroupIn(_Model):
    name: str
    channel: Literal["wecom_robot", "wecom_aibot", "dingtalk_robot", "sim"] = "sim"
    webhook: str | None = None
    secret: str | None = None
    chatid: str | None = None  # a 智能机器人 group's chatid (wecom_aibot), instead of a webhook

    @model_validator(mode="after")
    def _webhook(self) -> GroupIn:
        if self.channel == Channel.WECOM_AIBOT:
            if not self.chatid:
                raise ValueError("wecom_aibot 群需要填写 chatid（在群里 @督办 说一句话，"
                                 "日志 wecom robot callback 一行的 chat 字段）")
        elif self.channel != Channel.SIM and not self.webhook:
            raise ValueError(f"{self.channel} 群需要填写 webhook 地址")
        return self

    @property
    def address(self) -> str | None:
        """Where the group is reached: its robot's webhook, or its chatid on the 智能机器人 connection."""
        return self.chatid if self.channel == "wecom_aibot" else self.webhook


class CoordinatorIn(_Model):
    name: str
    phone: str | None = None
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None


class TaskIn(_Model):
    number: int = Field(ge=1)
    text: str
    lead: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    responsible: list[str] = Field(default_factory=list)
    deadline: str | date = "长期坚持"


class PlanIn(_Model):
    campaign: CampaignIn
    focus_areas: list[str] = Field(default_factory=lambda: list(DEFAULT_FOCUS_AREAS))
    sources: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES))
    phases: list[PhaseIn] = Field(default_factory=list)
    deliverables: list[DeliverableIn] = Field(default_factory=list)
    weekly_report: WeeklyReportIn = Field(default_factory=WeeklyReportIn)
    deadline_nudges_days: list[int] = Field(default_factory=lambda: [7, 3, 1, 0])
    # Hours after a 通知 at which the liaisons who have not answered 收到 are reminded once; None: never.
    notice_receipt_reminder_hours: int | None = None
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)
    units: list[UnitIn] = Field(min_length=1)
    groups: list[GroupIn] = Field(default_factory=list)
    coordinators: list[CoordinatorIn] = Field(default_factory=list)
    tasks: list[TaskIn] = Field(default_factory=list)

    @field_validator("deadline_nudges_days")
    @classmethod
    def _nudges(cls, value: list[int]) -> list[int]:
        if any(v < 0 or v > 60 for v in value):
            raise ValueError("提前提醒天数应在 0 到 60 之间")
        return sorted(set(value), reverse=True)

    @field_validator("notice_receipt_reminder_hours")
    @classmethod
    def _receipt_hours(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 720:
            raise ValueError("通知回执提醒应在发出后 1 到 720 小时之间；不提醒请删去这一项")
        return value


@dataclass(frozen=True)
class PlanProblem:
    path: tuple[str | int, ...]
    message: str
    line: int | None = None

    def where(self) -> str:
        return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in self.path).replace(".[", "[")


class PlanError(Exception):
    """The plan cannot be loaded; every problem is named with file, line and field."""

    def __init__(self, source: str, problems: Sequence[PlanProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line or 0)  # in file order, as a person fixes them
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for p in self.problems:
            location = f"{self.source}:{p.line}" if p.line else self.source
            lines.append(f"{location}: {p.where() or '(顶层)'}: {p.message}")
        return "\n".join(lines)


@dataclass
class ResolvedPlan:
    """A validated plan with every date resolved to a calendar date."""

    plan: PlanIn
    phase_dates: list[tuple[date | None, date]]
    deliverable_dues: list[date]
    target_by: date | None
    task_deadlines: list[tuple[TaskDeadlineKind, date | None, tuple[int, int | None] | None]]


def _line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the YAML node at `path`; for a missing key, the line of the key that holds it."""
    if root is None:
        return None
    node: yaml.Node = root
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if pair is None:
                return line
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


_TASK_ONGOING = re.compile(r"长期坚持|长期|持续")
_TASK_YEARLY = re.compile(r"^每年")
_LEAP_YEAR = 2000  # probes a yearly day in a leap year, so that 每年2月底 is told apart from 每年2月28日


def classify_task_deadline(text: str | date, ctx: DateContext) -> tuple[TaskDeadlineKind, date | None,
                                                                        tuple[int, int | None] | None]:
    """Seed 004's 完成时限: a date, yearly (每年2月底前), a date then ongoing, or ongoing (长期坚持).

    A yearly deadline is (month, day), with day None for the month's last day (每年2月底 is the 28th or the
    29th depending on the year).
    """
    if isinstance(text, date):
        return TaskDeadlineKind.DATE, text, None
    text = unicodedata.normalize("NFKC", text).replace(" ", "").strip("。.,;")
    if _TASK_YEARLY.match(text):
        probe = parse_date(text.replace("每年", f"{_LEAP_YEAR}年", 1), ctx=ctx)
        if probe is None:
            return TaskDeadlineKind.UNKNOWN, None, None
        month_end = probe.day == calendar.monthrange(_LEAP_YEAR, probe.month)[1]
        return TaskDeadlineKind.YEARLY, None, (probe.month, None if month_end else probe.day)
    ongoing = bool(_TASK_ONGOING.search(text))
    dated = parse_date(_TASK_ONGOING.sub("", text).replace("并", "").strip(), ctx=ctx)
    if dated and ongoing:
        return TaskDeadlineKind.DATE_THEN_ONGOING, dated, None
    if dated:
        return TaskDeadlineKind.DATE, dated, None
    return (TaskDeadlineKind.ONGOING if ongoing else TaskDeadlineKind.UNKNOWN), None, None


def collective_key(name: str) -> str:
    """How a collective name is compared: 各乡镇〔街道〕, 各乡镇(街道) and 乡镇街道 are one group."""
    return re.sub(r"^(?:各|所有|全体)|等$", "", name_key(name))


def _resolve(plan: PlanIn) -> tuple[ResolvedPlan | None, list[PlanProblem]]:
    ctx = DateContext(campaign_start=plan.campaign.start, campaign_end=plan.campaign.end,
                      today=plan.campaign.start)
    problems: list[PlanProblem] = []

    def resolve(value: DateText | None, path: tuple[str | int, ...], role: Literal["start", "end"]) -> date | None:
        if value is None or isinstance(value, date):
            return value
        day = parse_date(value, ctx=ctx, role=role)
        if day is None:
            problems.append(PlanProblem(path, f"无法识别的日期「{value}」"))
        return day

    phase_dates: list[tuple[date | None, date]] = []
    for i, phase in enumerate(plan.phases):
        start = resolve(phase.start, ("phases", i, "start"), "start")
        end = resolve(phase.end, ("phases", i, "end"), "end")
        if start and end and end < start:
            problems.append(PlanProblem(("phases", i, "end"), f"阶段结束日 {end} 早于开始日 {start}"))
        phase_dates.append((start, end or plan.campaign.end))
    dues = [resolve(d.due, ("deliverables", i, "due"), "end") or plan.campaign.end
            for i, d in enumerate(plan.deliverables)]
    target_by = resolve(plan.campaign.target.by, ("campaign", "target", "by"), "end") if plan.campaign.target else None
    for key in ("phases", "deliverables", "units", "groups", "coordinators"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(plan, key)):
            if item.name in seen:
                problems.append(PlanProblem((key, i, "name"), f"名称「{item.name}」重复"))
            seen.add(item.name)
    unit_keys = {name_key(u.name) for u in plan.units} | {name_key(a) for u in plan.units for a in u.aliases}
    for i, unit in enumerate(plan.units):
        if unit.parent and name_key(unit.parent) not in unit_keys:
            problems.append(PlanProblem(("units", i, "parent"), f"上级单位「{unit.parent}」不在 units 中"))
    forms = [i for i, d in enumerate(plan.deliverables) if d.kind is DeliverableKind.CONTACTS]
    for i in forms[1:]:
        problems.append(PlanProblem(("deliverables", i, "kind"), "只能有一个报送事项是联系人表（kind: contacts）"))
    for i, deliverable in enumerate(plan.deliverables):
        for name in deliverable.units or []:
            if name_key(name) not in unit_keys:
                problems.append(PlanProblem(("deliverables", i, "units"), f"单位「{name}」不在 units 中"))
    task_numbers: set[int] = set()
    task_deadlines = []
    for i, task in enumerate(plan.tasks):
        if task.number in task_numbers:
            problems.append(PlanProblem(("tasks", i, "number"), f"任务编号 {task.number} 重复"))
        task_numbers.add(task.number)
        task_deadlines.append(classify_task_deadline(task.deadline, ctx))
        if task_deadlines[-1][0] is TaskDeadlineKind.UNKNOWN:
            problems.append(PlanProblem(("tasks", i, "deadline"), f"无法识别的完成时限「{task.deadline}」"))
    if problems:
        return None, problems
    return ResolvedPlan(plan, phase_dates, dues, target_by, task_deadlines), []


def parse_plan(text: str, source: str = "<plan>") -> ResolvedPlan:
    """Validate a YAML plan; raise PlanError naming file, line and field of every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise PlanError(source, [PlanProblem((), f"YAML 格式错误：{getattr(error, 'problem', error)}", line)]) from None
    return validate_plan(data, source, root)


def validate_plan(data: Any, source: str = "<plan>", root: yaml.Node | None = None) -> ResolvedPlan:
    """Validate plan data (already parsed); `root` (the YAML node tree) lets errors name their line."""
    if not isinstance(data, dict):
        raise PlanError(source, [PlanProblem((), "方案应是一个 YAML 映射（campaign: … units: …）", 1)])
    try:
        plan = PlanIn.model_validate(data)
    except ValidationError as error:
        problems = [PlanProblem(tuple(e["loc"]), _message(e), _line_of(root, e["loc"])) for e in error.errors()]
        raise PlanError(source, problems) from None
    resolved, problems = _resolve(plan)
    if resolved is None:
        raise PlanError(source, [PlanProblem(p.path, p.message, _line_of(root, p.path)) for p in problems])
    return resolved


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "缺少必填字段"
    if error.get("input", "") is None:
        return "还没有填写（由通知导入的方案在这里标有 TODO，请按注释补全）"
    if kind == "extra_forbidden":
        return "未知字段（请检查拼写）"
    if kind.startswith(("date_", "datetime_")):
        return f"日期「{error.get('input')}」无法识别，请写成 2020-11-30"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message


def read_plan(path: Path) -> ResolvedPlan:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(str(path), [PlanProblem((), f"无法读取文件：{error}")]) from None
    return parse_plan(text, str(path))


@dataclass
class LoadResult:
    campaign: Campaign
    created: bool
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Changes:
    def __init__(self, result: LoadResult) -> None:
        self.result = result

    def set(self, obj: Any, label: str, **values: Any) -> None:
        for key, value in values.items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
                self.result.changes.append(f"{label}.{key}")


def load_plan(session: Session, resolved: ResolvedPlan, *, now: datetime, actor: str = "cli") -> LoadResult:
    """Create or update the campaign the plan describes, inside the caller's transaction."""
    plan = resolved.plan
    campaign = session.scalars(select(Campaign).where(Campaign.name == plan.campaign.name)).first()
    created = campaign is None
    if campaign is None:
        campaign = Campaign(name=plan.campaign.name, start=plan.campaign.start, end=plan.campaign.end,
                            created_at=now, updated_at=now)
        session.add(campaign)
    result = LoadResult(campaign, created)
    changes = _Changes(result)
    target = plan.campaign.target
    changes.set(campaign, "campaign", issuer=plan.campaign.issuer, timezone=plan.campaign.timezone,
                start=plan.campaign.start, end=plan.campaign.end, target_rate=target.rate if target else None,
                target_by=resolved.target_by, focus_areas=plan.focus_areas, sources=plan.sources,
                report_weekday=plan.weekly_report.weekday, report_remind_at=plan.weekly_report.remind_at,
                report_due=plan.weekly_report.due, deadline_nudges_days=plan.deadline_nudges_days,
                holidays=[d.isoformat() for d in plan.holidays], workdays=[d.isoformat() for d in plan.workdays],
                public_naming=plan.campaign.public_naming,
                notice_receipt_reminder_hours=plan.notice_receipt_reminder_hours)
    session.flush()
    _sync_phases(session, campaign, resolved, changes)
    units = _sync_units(session, campaign, plan, changes, now)
    _sync_deliverables(session, campaign, resolved, changes)
    _sync_groups(session, campaign, plan, changes)
    _sync_coordinators(session, campaign, plan, changes, now)
    _sync_tasks(session, campaign, resolved, units, changes)
    if result.changes or created:
        campaign.updated_at = now
        Audit(session).record(campaign=campaign, actor=actor, action="plan.load", at=now, created=created,
                              changes=result.changes[:200])
    return result


def _by_name(session: Session, model: Any, campaign: Campaign) -> dict[str, Any]:
    return {row.name: row for row in session.scalars(select(model).where(model.campaign_id == campaign.id))}


def _sync_phases(session: Session, campaign: Campaign, resolved: ResolvedPlan, changes: _Changes) -> None:
    existing = _by_name(session, Phase, campaign)
    for position, (phase_in, (start, end)) in enumerate(zip(resolved.plan.phases, resolved.phase_dates,
                                                            strict=True)):
        phase = existing.pop(phase_in.name, None)
        if phase is None:
            phase = Phase(campaign_id=campaign.id, name=phase_in.name, end=end)
            session.add(phase)
            changes.result.changes.append(f"phase+{phase_in.name}")
        changes.set(phase, f"phase[{phase_in.name}]", start=start, end=end, position=position)
    for phase in existing.values():
        session.delete(phase)
        changes.result.changes.append(f"phase-{phase.name}")
    session.flush()
    session.expire(campaign, ["phases"])


def _sync_units(session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes,
                now: datetime) -> dict[str, Unit]:
    existing = _by_name(session, Unit, campaign)
    units: dict[str, Unit] = {}
    for position, unit_in in enumerate(plan.units):
        unit = existing.pop(unit_in.name, None)
        if unit is None:
            unit = Unit(campaign_id=campaign.id, name=unit_in.name)
            session.add(unit)
            changes.result.changes.append(f"unit+{unit_in.name}")
        changes.set(unit, f"unit[{unit_in.name}]", aliases=unit_in.aliases, groups=unit_in.groups,
                    position=position, retired=False)
        units[unit_in.name] = unit
    session.flush()
    keys = {name_key(a): u for u in units.values() for a in [u.name, *u.aliases]}
    for unit_in in plan.units:
        parent = keys.get(name_key(unit_in.parent)) if unit_in.parent else None
        changes.set(units[unit_in.name], f"unit[{unit_in.name}]", parent_id=parent.id if parent else None)
        for contact_in in unit_in.contacts:
            _sync_contact(session, campaign, units[unit_in.name], contact_in, changes, now)
    for unit in existing.values():
        in_use = any(session.scalar(select(func.count()).select_from(model).where(model.unit_id == unit.id))
                     for model in (Issue, WeeklyReport, Submission, Contact))
        if in_use:
            if not unit.retired:
                unit.retired = True
                changes.result.warnings.append(f"单位「{unit.name}」已从方案中删除，保留其历史记录（不再提醒）")
                changes.result.changes.append(f"unit~{unit.name}")
        else:
            session.delete(unit)
            changes.result.changes.append(f"unit-{unit.name}")
    session.flush()
    return units


def _sync_contact(session: Session, campaign: Campaign, unit: Unit, contact_in: ContactIn, changes: _Changes,
                  now: datetime) -> None:
    """A pre-listed liaison: unit + phone (activated when that phone registers), or bound to a user id."""
    contact = None
    if contact_in.phone:
        contact = session.scalars(select(Contact).where(Contact.unit_id == unit.id,
                                                        Contact.phone == contact_in.phone)).first()
    if contact is None:
        contact = session.scalars(select(Contact).where(Contact.unit_id == unit.id,
                                                        Contact.name == contact_in.name)).first()
    if contact is None:
        contact = Contact(campaign_id=campaign.id, unit_id=unit.id, name=contact_in.name,
                          status=ContactStatus.PRELISTED, created_at=now, updated_at=now)
        session.add(contact)
        changes.result.changes.append(f"contact+{unit.name}/{contact_in.name}")
    label = f"contact[{unit.name}/{contact_in.name}]"
    changes.set(contact, label, name=contact_in.name, phone=contact_in.phone or contact.phone,
                title=contact_in.title or contact.title, wechat_or_email=contact_in.email or contact.wechat_or_email)
    session.flush()
    user_ids = {Platform.WECOM: contact_in.wecom_userid, Platform.DINGTALK: contact_in.dingtalk_userid}
    if _bind_user_ids(session, campaign, user_ids, label, changes, now, contact=contact) and (
            contact.status is not ContactStatus.ACTIVE):
        contact.status = ContactStatus.ACTIVE  # the plan named the user id: nobody needs to approve
        changes.result.changes.append(f"{label}.status")


def _bind_user_ids(session: Session, campaign: Campaign, user_ids: dict[str, str | None], label: str,
                   changes: _Changes, now: datetime, *, contact: Contact | None = None,
                   coordinator: Coordinator | None = None) -> bool:
    """Point the platform user ids the plan names at this contact or coordinator; True if it names any."""
    people = People(session)
    owner = contact or coordinator
    assert owner is not None
    named = False
    for platform, external_id in user_ids.items():
        if not external_id:
            continue
        named = True
        actor = people.actor(campaign, platform, external_id)
        current = actor.contact if contact is not None else actor.coordinator
        if current is None or current.id != owner.id:
            people.bind(campaign, platform, external_id, contact=contact, coordinator=coordinator, now=now)
            changes.result.changes.append(f"{label}.{platform}")
    return named


def _sync_deliverables(session: Session, campaign: Campaign, resolved: ResolvedPlan, changes: _Changes) -> None:
    existing = _by_name(session, Deliverable, campaign)
    for position, (item, due) in enumerate(zip(resolved.plan.deliverables, resolved.deliverable_dues,
                                                strict=True)):
        deliverable = existing.pop(item.name, None)
        if deliverable is None:
            deliverable = Deliverable(campaign_id=campaign.id, name=item.name, due=due)
            session.add(deliverable)
            changes.result.changes.append(f"deliverable+{item.name}")
        changes.set(deliverable, f"deliverable[{item.name}]", due=due, recipient=item.to, unit_names=item.units,
                    kind=item.kind, position=position)
    for deliverable in existing.values():
        submitted = session.scalar(select(func.count()).select_from(Submission)
                                   .where(Submission.deliverable_id == deliverable.id))
        if submitted:
            changes.result.warnings.append(
                f"报送事项「{deliverable.name}」已从方案中删除，但已有 {submitted} 个单位报送，保留该事项")
        else:
            session.delete(deliverable)
            changes.result.changes.append(f"deliverable-{deliverable.name}")
    session.flush()
    _submit_contact_forms(session, campaign, changes)


def _submit_contact_forms(session: Session, campaign: Campaign, changes: _Changes) -> None:
    """Units whose liaison is already active have submitted the contact form: the bot holds that contact
    (a plan that names the form after people registered, or names their user ids itself)."""
    repo = Deliverables(session)
    if repo.contact_form(campaign) is None:
        return
    active = session.scalars(select(Contact).where(Contact.campaign_id == campaign.id,
                                                   Contact.status == ContactStatus.ACTIVE).order_by(Contact.id))
    for contact in active:
        if repo.submit_contact_form(campaign, contact, at=contact.updated_at) is not None:
            changes.result.changes.append(f"submission+{contact.unit.name}")


def _sync_groups(session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes) -> None:
    existing = _by_name(session, Group, campaign)
    for item in plan.groups:
        group = existing.pop(item.name, None)
        if group is None:
            group = Group(campaign_id=campaign.id, name=item.name, channel=item.channel)
            session.add(group)
            changes.result.changes.append(f"group+{item.name}")
        changes.set(group, f"group[{item.name}]", channel=item.channel, webhook=item.address, secret=item.secret)
    for group in existing.values():
        session.delete(group)
        changes.result.changes.append(f"group-{group.name}")
    session.flush()


def _sync_coordinators(session: Session, campaign: Campaign, plan: PlanIn, changes: _Changes,
                       now: datetime) -> None:
    existing = _by_name(session, Coordinator, campaign)
    for item in plan.coordinators:
        coordinator = existing.pop(item.name, None)
        if coordinator is None:
            coordinator = Coordinator(campaign_id=campaign.id, name=item.name, created_at=now)
            session.add(coordinator)
            session.flush()
            changes.result.changes.append(f"coordinator+{item.name}")
        changes.set(coordinator, f"coordinator[{item.name}]", phone=item.phone)
        _bind_user_ids(session, campaign, {Platform.WECOM: item.wecom_userid, Platform.DINGTALK: item.dingtalk_userid},
                       f"coordinator[{item.name}]", changes, now, coordinator=coordinator)
    for coordinator in existing.values():
        if coordinator.login:  # a dashboard account made with the CLI stays
            continue
        session.execute(delete(ChatIdentity).where(ChatIdentity.coordinator_id == coordinator.id)
                        .execution_options(synchronize_session=False))
        session.delete(coordinator)
        changes.result.changes.append(f"coordinator-{coordinator.name}")
    session.flush()


def _sync_tasks(session: Session, campaign: Campaign, resolved: ResolvedPlan, units: dict[str, Unit],
                changes: _Changes) -> None:
    existing = {t.number: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))}
    keys = {name_key(a): u for u in units.values() for a in [u.name, *u.aliases]}
    groups: dict[str, list[Unit]] = {}
    for unit in units.values():
        for group in unit.groups:
            groups.setdefault(collective_key(group), []).append(unit)
    unmatched_tasks: dict[str, list[int]] = {}
    for item, (kind, due, yearly) in zip(resolved.plan.tasks, resolved.task_deadlines, strict=True):
        task = existing.pop(item.number, None)
        if task is None:
            task = Task(campaign_id=campaign.id, number=item.number, text=item.text, deadline_kind=kind)
            session.add(task)
            changes.result.changes.append(f"task+{item.number}")
        wanted: set[tuple[int, TaskRole]] = set()
        unmatched: list[str] = []
        for role, names in ((TaskRole.LEAD, item.lead), (TaskRole.PARTNER, item.partners),
                            (TaskRole.RESPONSIBLE, item.responsible)):
            for name in names:
                # A unit's own name or alias first; else a collective name (各乡镇〔街道〕) the units' groups list.
                matched = [keys[name_key(name)]] if name_key(name) in keys else groups.get(collective_key(name), [])
                if not matched:
                    unmatched.append(name)
                    unmatched_tasks.setdefault(name, []).append(item.number)
                wanted.update((u.id, role) for u in matched)
        changes.set(task, f"task[{item.number}]", text=item.text, deadline_kind=kind,
                    deadline_text=str(item.deadline), due=due, yearly_month=yearly[0] if yearly else None,
                    yearly_day=yearly[1] if yearly else None, unmatched_units=unmatched)
        current = {(tu.unit_id, tu.role): tu for tu in task.units}
        for key_ in set(current) - wanted:
            task.units.remove(current[key_])
        for unit_id, role in sorted(wanted - set(current)):
            task.units.append(TaskUnit(unit_id=unit_id, role=role))
        if set(current) != wanted:
            changes.result.changes.append(f"task[{item.number}].units")
    for name, numbers in unmatched_tasks.items():
        shown = "、".join(str(n) for n in numbers[:8]) + ("等" if len(numbers) > 8 else "")
        changes.result.warnings.append(
            f"任务{shown}的「{name}」不是 units 中的单位，也没有单位的 groups 含有它：这些任务暂时落不到单位上")
    for task in existing.values():
        reported = session.scalar(select(func.count()).select_from(TaskProgress)
                                  .where(TaskProgress.task_id == task.id))
        if reported:
            changes.result.warnings.append(f"任务{task.number}已从方案中删除，但已有 {reported} 条进展记录，保留该任务")
            continue
        session.delete(task)
        changes.result.changes.append(f"task-{task.number}")
    session.flush()
