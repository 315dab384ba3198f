"""Adopting a campaign in its middle: the contacts (附件1) and the issue ledger (附件2) an office already keeps
in Excel, read into duban.

Two steps, for the CLI (`duban import contacts|issues`) and the dashboard alike: `plan_*` reads the workbook
and says line by line what would happen (新建, 已存在, 跳过, 拒绝 — with the unit matched and the reason), and
`apply` writes the 新建 lines only. Matching what is already there makes importing the same file twice a
no-op: a contact is the same person by unit and phone (by name when no phone is given), an issue the same
by unit, 线索名称 and 线索内容. duban's own exports read back into the same ledger: the 备注 it writes
carries each issue's state, number and 整治重点, and those are restored.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.dates import DateContext, format_cn, parse_date
from core.issues import ISSUE_LABELS
from core.statuses import STATUS_TEXT, ContactStatus, IssueStatus
from exports.nested import CHILD_LABEL
from exports.table_reader import TableRow, as_date, cell_text, read_table
from exports.tables import EVIDENCE_LABEL, FOCUS_AREA_LABEL, NO_CONTACT, NUMBER_LABEL
from handlers.parsing import match_choice
from storage.models import Campaign, Contact, Unit
from storage.repos import Audit, Issues, Tables, Units, name_key

CONTACT_COLUMNS = {
    "unit": ("单位名称", "单位", "所在单位", "填报单位"),
    "name": ("姓名", "联系人", "联络员"),
    "title": ("职务", "职务职级"),
    "phone": ("联系电话", "电话", "手机", "手机号码", "联系方式"),
    "wechat_or_email": ("微信或邮箱", "微信", "邮箱", "电子邮箱", "微信号"),
}
ISSUE_COLUMNS = {
    "serial": ("序号",),
    "year": (ISSUE_LABELS["year"], "年份"),
    "title": (ISSUE_LABELS["title"], "问题名称", "问题线索"),
    "source": (ISSUE_LABELS["source"], "问题来源"),
    "content": (ISSUE_LABELS["content"], "问题内容", "具体问题", "问题描述"),
    "measures": (ISSUE_LABELS["measures"],),
    "goal": (ISSUE_LABELS["goal"],),
    "owner": (ISSUE_LABELS["owner"],),
    "due": (ISSUE_LABELS["due"], "整改时限", "完成时间"),
    "remark": (ISSUE_LABELS["remark"],),
    "unit": ("单位", "单位名称", "责任单位", "填报单位"),
    "focus_area": (ISSUE_LABELS["focus_area"],),
}
LIMITS = {"name": 50, "title": 100, "phone": 30, "wechat_or_email": 200}  # contacts' column lengths
ISSUE_LIMITS = {"title": 200, "source": 50, "owner": 100}
PHONE_DIGITS = re.compile(r"\d{7,}")
_NUMBER = re.compile(re.escape(NUMBER_LABEL) + r"(\d+)")
_EVIDENCE = re.compile(re.escape(EVIDENCE_LABEL) + r" ?\d+ ?份")
_RECTIFIED_ON = re.compile(r"（(\d{4})年(\d{1,2})月(\d{1,2})日销号）")
_PERCENT = re.compile(r"(\d{1,3})\s*%")


class Outcome(enum.StrEnum):
    CREATE = "新建"
    EXISTS = "已存在"
    SKIP = "跳过"
    REFUSE = "拒绝"


@dataclass(frozen=True)
class Line:
    """One row of the workbook and what importing it does."""

    sheet: str
    row: int
    outcome: Outcome
    unit: str  # the unit it was matched to, or what the row said
    what: str  # the person or the issue, as a reader recognises it
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.sheet} 第{self.row}行"


@dataclass
class ImportPlan:
    kind: str  # contacts / issues
    sheets: list[str]
    lines: list[Line] = field(default_factory=list)
    writes: list[Callable[[Session, datetime], None]] = field(default_factory=list)  # one per 新建 line

    def count(self, outcome: Outcome) -> int:
        return sum(1 for line in self.lines if line.outcome is outcome)

    @property
    def summary(self) -> str:
        return "，".join(f"{outcome.value} {self.count(outcome)}" for outcome in Outcome)


@dataclass(frozen=True)
class _Recorder:
    """Records what one row does: `line(Outcome.REFUSE, "缺少姓名")`."""

    plan: ImportPlan
    row: TableRow
    unit: str
    what: str

    def __call__(self, outcome: Outcome, reason: str = "", *, what: str | None = None) -> None:
        self.plan.lines.append(Line(self.row.sheet, self.row.row, outcome, self.unit, what or self.what, reason))


class _UnitFinder:
    """Unit names as the rows write them → units, each name looked up once."""

    def __init__(self, session: Session, campaign: Campaign) -> None:
        self.units, self.campaign = Units(session), campaign
        self.found: dict[str, Unit | None] = {}

    def __call__(self, name: str) -> Unit | None:
        if name not in self.found:
            self.found[name] = self.units.find(self.campaign, name)
        return self.found[name]

    def hint(self, name: str) -> str:
        closest = self.units.closest(self.campaign, name)
        return f"未找到单位「{name}」" + (f"（是不是：{'、'.join(closest)}）" if closest else "")


def _text(row: TableRow, name: str) -> str:
    return cell_text(row.values.get(name))


def _unit_of(row: TableRow, find: _UnitFinder, default: Unit | None) -> tuple[Unit | None, str, str]:
    """The row's unit: its own 单位 cell, else the nearest hint that names a unit, else `default`."""
    own = _text(row, "unit")
    if own:
        unit = find(own)
        return unit, own, "" if unit else find.hint(own)
    for hint in row.unit_hints:
        unit = find(hint)
        if unit is not None:
            return unit, unit.name, ""
    if default is not None:
        return default, default.name, ""
    named = next((hint for hint in row.unit_hints if hint != row.sheet), "")  # a sheet's title may name no unit
    reason = find.hint(named) if named else "无法确定单位：请在「填报单位」一行写明单位，或指定单位后再导入"
    return None, named, reason


def _phone(text: str) -> str | None:
    """A phone as stored: a mobile's digits only (139 0955 0004 → 13909550004), a landline as written."""
    compact = re.sub(r"[\s\-—－]", "", text)
    if re.fullmatch(r"(\+?86)?1\d{10}", compact):
        return compact[-11:]
    return text if PHONE_DIGITS.search(compact) else None


def plan_contacts(
    session: Session, campaign: Campaign, source: str | Path | IO[bytes], *, unit: Unit | None = None
) -> ImportPlan:
    """附件1 → contacts named by the plan (预先登记): active once they register in chat with that phone."""
    table = read_table(source, CONTACT_COLUMNS, required=("name",))
    plan = ImportPlan("contacts", table.sheets)
    find = _UnitFinder(session, campaign)
    known: dict[tuple[int, str], Contact] = {}
    for contact in Tables(session).listed_contacts(campaign):
        known[(contact.unit_id, contact.phone or f"name:{contact.name}")] = contact
    seen: dict[tuple[int, str], int] = {}
    for row in table.rows:
        found, unit_name, problem = _unit_of(row, find, unit)
        name = _text(row, "name")
        values = {key: _text(row, key) or None for key in ("title", "phone", "wechat_or_email")}
        line = _Recorder(plan, row, unit_name, name)
        if row.nothing or (name == NO_CONTACT and not values["phone"]):
            line(Outcome.SKIP, "未报送联络员")
            continue
        if found is None:
            line(Outcome.REFUSE, problem)
            continue
        if not name:
            line(Outcome.REFUSE, "缺少姓名")
            continue
        if values["phone"] is not None:
            phone = _phone(values["phone"])
            if phone is None:
                line(Outcome.REFUSE, f"联系电话「{values['phone']}」不像电话号码")
                continue
            values["phone"] = phone
        too_long = [
            CONTACT_COLUMNS[key][0]
            for key, limit in LIMITS.items()
            if len((name if key == "name" else values[key]) or "") > limit
        ]
        if too_long:
            line(Outcome.REFUSE, f"{'、'.join(too_long)}太长")
            continue
        who = f"{name} {values['phone'] or ''}".strip()
        key = (found.id, values["phone"] or f"name:{name}")
        if key in known:
            existing = known[key]
            same = "" if existing.name == name else f"（同一电话登记的是{existing.name}）"
            line(Outcome.EXISTS, f"已是{found.name}的联系人{same}", what=who)
        elif key in seen:
            line(Outcome.SKIP, f"与第{seen[key]}行重复", what=who)
        else:
            seen[key] = row.row
            line(Outcome.CREATE, what=who)
            plan.writes.append(_contact_writer(campaign, found, name, values))
    return plan


def _contact_writer(
    campaign: Campaign, unit: Unit, name: str, values: dict[str, Any]
) -> Callable[[Session, datetime], None]:
    def write(session: Session, now: datetime) -> None:
        session.add(
            Contact(
                campaign_id=campaign.id,
                unit_id=unit.id,
                name=name,
                status=ContactStatus.PRELISTED,
                created_at=now,
                updated_at=now,
                **values,
            )
        )

    return write


@dataclass(frozen=True)
class _State:
    status: IssueStatus
    percent: int
    rectified_on: date | None
    number: int | None
    focus_area: str | None
    remark: str | None


def read_remark(remark: str, focus_areas: list[str]) -> _State:
    """What a 备注 says: duban's own (已整改（2020年7月10日销号）；编号#3；整治重点：制度建设；…) or an office's
    (已整改 / 已销号 / 整改中 60% / 正在整改 at its start). The rest is kept as the remark."""
    parts = [part.strip() for part in re.split(r"[；;]", remark) if part.strip()]
    status, percent, rectified_on, number, area = IssueStatus.OPEN, 0, None, None, None
    kept: list[str] = []
    for index, part in enumerate(parts):
        found = _NUMBER.fullmatch(part)
        if found:
            number = int(found[1])
        elif part.startswith(FOCUS_AREA_LABEL):
            area = match_choice(part.removeprefix(FOCUS_AREA_LABEL), focus_areas).value
        elif _EVIDENCE.fullmatch(part):
            pass  # duban's count of the files in chat: they stay in duban
        elif index == 0 and part.startswith(("已整改", "已销号", "已完成整改")):
            status, percent = IssueStatus.RECTIFIED, 100
            dated = _RECTIFIED_ON.search(part)
            rectified_on = date(int(dated[1]), int(dated[2]), int(dated[3])) if dated else None
        elif index == 0 and part.startswith(("整改中", "正在整改")):
            status = IssueStatus.IN_PROGRESS
            found = _PERCENT.search(part)
            percent = min(int(found[1]), 99) if found else 0
        elif index == 0 and part.startswith(STATUS_TEXT[IssueStatus.OPEN]):
            pass  # 未整改, possibly with 已逾期N天: the due date says that again
        else:
            kept.append(part)
    return _State(status, percent, rectified_on, number, area, "；".join(kept) or None)


def plan_issues(
    session: Session, campaign: Campaign, source: str | Path | IO[bytes], *, today: date, unit: Unit | None = None
) -> ImportPlan:
    """附件2 → the ledger: one sheet per unit, one sheet with a row per unit, or one unit's (`unit`)."""
    table = read_table(source, ISSUE_COLUMNS, required=("title", "due"))
    plan = ImportPlan("issues", table.sheets)
    find = _UnitFinder(session, campaign)
    tables = Tables(session)
    known = {(unit_id, name_key(title), name_key(content)) for unit_id, title, content in tables.issue_texts(campaign)}
    taken = tables.issue_numbers(campaign)
    next_number = (max(taken) if taken else 0) + 1
    dates = DateContext(campaign_start=campaign.start, campaign_end=campaign.end, today=today)
    seen: dict[tuple[int, str, str], int] = {}
    pending: list[tuple[int, dict[str, Any], _State, Unit]] = []  # index into plan.lines
    for row in table.rows:
        found, unit_name, problem = _unit_of(row, find, unit)
        title = _text(row, "title")
        line = _Recorder(plan, row, unit_name, title)
        if row.nothing:
            line(Outcome.SKIP, "本单位无问题", what="无")
            continue
        if CHILD_LABEL in _text(row, "remark"):
            line(Outcome.SKIP, "下级专项整治的问题，由下级在它自己的问题清单中登记")
            continue
        if found is None:
            line(Outcome.REFUSE, problem)
            continue
        if not title:
            line(Outcome.REFUSE, "缺少线索名称")
            continue
        due_cell = row.values.get("due")
        due = as_date(due_cell) or parse_date(cell_text(due_cell), ctx=dates, role="end")
        if due is None:
            line(Outcome.REFUSE, f"完成时限「{cell_text(due_cell)}」无法识别（应为日期，如 2020年9月10日）")
            continue
        values = {key: _text(row, key) for key in ("title", "source", "content", "measures", "goal", "owner")}
        too_long = [ISSUE_COLUMNS[key][0] for key, limit in ISSUE_LIMITS.items() if len(values[key]) > limit]
        if too_long:
            line(Outcome.REFUSE, f"{'、'.join(too_long)}太长")
            continue
        state = read_remark(_text(row, "remark"), list(campaign.focus_areas))
        area = match_choice(_text(row, "focus_area"), list(campaign.focus_areas)).value or state.focus_area
        values["source"] = match_choice(values["source"], list(campaign.sources)).value or values["source"]
        year = _year(row.values.get("year")) or due.year
        key = (found.id, name_key(title), name_key(values["content"]))
        what = f"{title}（{format_cn(due)}，{STATUS_TEXT[state.status]}）"
        if key in known:
            line(Outcome.EXISTS, f"{found.name}已有这个问题", what=title)
        elif key in seen:
            line(Outcome.SKIP, f"与第{seen[key]}行重复", what=title)
        else:
            seen[key] = row.row
            fields = {
                **values,
                "year": year,
                "due": due,
                "remark": state.remark,
                "focus_area": area,
                "due_text": None if isinstance(due_cell, (date, datetime)) else cell_text(due_cell)[:50],
            }
            line(Outcome.CREATE, what=what)
            pending.append((len(plan.lines) - 1, fields, state, found))
    # Numbers last: an exported issue keeps its 编号 when it is free, the rest follow the highest in use.
    for index, fields, state, found in pending:
        if state.number is not None and state.number not in taken:
            number = state.number
        else:
            while next_number in taken:
                next_number += 1
            number = next_number
        taken.add(number)
        made = plan.lines[index]
        plan.lines[index] = Line(made.sheet, made.row, made.outcome, made.unit, f"#{number} {made.what}")
        plan.writes.append(_issue_writer(campaign, found, number, fields, state))
    return plan


def _year(value: Any) -> int | None:
    text = cell_text(value).removesuffix("年度").removesuffix("年")
    return int(text) if text.isdigit() and 2000 <= int(text) <= 2100 else None


def _issue_writer(
    campaign: Campaign, unit: Unit, number: int, fields: dict[str, Any], state: _State
) -> Callable[[Session, datetime], None]:
    def write(session: Session, now: datetime) -> None:
        issues = Issues(session)
        issue = issues.create(campaign, unit, now=now, created_by=None, number=number, **fields)
        if state.status is not IssueStatus.OPEN:
            issues.add_progress(
                issue, status=state.status, percent=state.percent, note="从Excel导入", contact=None, now=now
            )
            if state.rectified_on is not None:
                zone = ZoneInfo(campaign.timezone)
                issue.rectified_at = datetime.combine(state.rectified_on, time(12), tzinfo=zone)

    return write


def apply(session: Session, campaign: Campaign, plan: ImportPlan, *, now: datetime, actor: str, file_name: str) -> int:
    """Write the plan's 新建 lines in the caller's transaction; returns how many were written."""
    for write in plan.writes:
        write(session, now)
    session.flush()
    Audit(session).record(
        campaign=campaign,
        actor=actor,
        action=f"import.{plan.kind}",
        at=now,
        file=file_name,
        created=len(plan.writes),
        existing=plan.count(Outcome.EXISTS),
        refused=plan.count(Outcome.REFUSE),
    )
    return len(plan.writes)
