"""A campaign plan's YAML: the pydantic schema, every date resolved, and each error named by file and line.

A plan with any error is rejected whole (PlanError lists every problem, in file order).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.channels import Channel
from core.dates import DateContext, parse_date
from core.statuses import DeliverableKind, TaskDeadlineKind
from core.workdays import parse_weekday
from handlers.parsing import normalize_phone
from plan.deadlines import classify_task_deadline
from storage.repos import name_key

DEFAULT_FOCUS_AREAS = ["制度建设", "履行职责", "回应群众诉求", "队伍建设", "责任追究"]
DEFAULT_SOURCES = [
    "信访举报",
    "媒体曝光",
    "行政复议",
    "行政诉讼",
    "上级机关督查督办",
    "巡视巡察",
    "专项检查",
    "卫片执法检查",
    "例行督察",
]

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
            raise ValueError('整改率目标应在 0 到 1 之间（如 0.9 或 "90%"）')
        return value


class ParentIn(_Model):
    """The campaign this one reports up to, and which of the parent's units it is (docs/plan-format.md, "Nesting")."""

    campaign: str = Field(min_length=2, max_length=200)
    unit: str = Field(min_length=1, max_length=200)


class CampaignIn(_Model):
    name: str = Field(min_length=2, max_length=200)
    # Typed before a command by someone in several campaigns: 【三年行动】周报 … or 三年行动 周报 …
    alias: str | None = Field(default=None, min_length=2, max_length=12)
    parent: ParentIn | None = None
    issuer: str | None = None
    timezone: str = "Asia/Shanghai"
    start: date
    end: date
    target: TargetIn | None = None
    public_naming: bool = True
    evidence_required: bool = False  # 已整改 needs at least one file (photo, scan) on the issue

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import available_timezones

        if value not in available_timezones():
            raise ValueError(f"未知的时区 {value}")
        return value

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str | None) -> str | None:
        if value is not None and any(ch.isspace() or ch in "【】[]()（）#" for ch in value):
            raise ValueError("简称不能含空格、括号或 #（如 三年行动）")
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
        raise ValueError(f'时间应写成 "09:00" 的形式，而不是 {value!r}')
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
                raise ValueError(
                    "wecom_aibot 群需要填写 chatid（在群里 @督办 说一句话，日志 wecom robot callback 一行的 chat 字段）"
                )
        elif self.channel != Channel.SIM and not self.webhook:
            raise ValueError(f"{self.channel} 群需要填写 webhook 地址")
        return self

    @property
    def address(self) -> str | None:
        """Where the group is reached: its robot's webhook, or its chatid on the 智能机器人 connection."""
        return self.chatid if self.channel == Channel.WECOM_AIBOT else self.webhook


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
    # 整治重点 whose issues need evidence before 已整改; written as {name: …, evidence_required: true} entries of
    # focus_areas, or listed here.
    evidence_focus_areas: list[str] = Field(default_factory=list)
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

    @model_validator(mode="before")
    @classmethod
    def _focus_area_options(cls, data: Any) -> Any:
        """`- {name: 队伍建设, evidence_required: true}` among focus_areas: the name, and its evidence rule."""
        if not isinstance(data, dict) or not isinstance(data.get("focus_areas"), list):
            return data
        names: list[Any] = []
        evidence = list(data.get("evidence_focus_areas") or [])
        for entry in data["focus_areas"]:
            if isinstance(entry, dict) and set(entry) <= {"name", "evidence_required"} and "name" in entry:
                names.append(entry["name"])
                if entry.get("evidence_required") is True:
                    evidence.append(entry["name"])
            else:
                names.append(entry)
        return {**data, "focus_areas": names, "evidence_focus_areas": evidence}

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


def _resolve(plan: PlanIn) -> tuple[ResolvedPlan | None, list[PlanProblem]]:
    ctx = DateContext(campaign_start=plan.campaign.start, campaign_end=plan.campaign.end, today=plan.campaign.start)
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
    dues = [
        resolve(d.due, ("deliverables", i, "due"), "end") or plan.campaign.end for i, d in enumerate(plan.deliverables)
    ]
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
