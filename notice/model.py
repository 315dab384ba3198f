"""What the importer found in a notice: plan values, each with the line of the notice it was read from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.statuses import TaskDeadlineKind


@dataclass(frozen=True)
class Origin:
    """Where a value was read: the file line and the notice's own words there."""

    line: int
    quote: str

    def cite(self, places: Places | None = None) -> str:
        where = place(self.line, places)
        return f"{where}「{self.quote}」" if self.quote else where


Places = tuple[str, ...]  # for a document, where each line of its text was: 第2页第3段, 第5段, 附件表格第2行


def place(line: int, places: Places | None) -> str:
    """Where a line of the notice's text is, in the words a person finds it by in the original file."""
    if places and 0 < line <= len(places):
        return places[line - 1]
    return f"第{line}行"


@dataclass(frozen=True)
class When:
    """A date as the notice wrote it; `day` is set only when the year is known (never guessed)."""

    words: str  # 6月10日前, 2020年9月30日, 另行通知
    day: date | None
    readable: bool  # the plan loader understands `words` (a year-less date it resolves with the campaign)
    origin: Origin
    said: str | None = None  # the notice's own words when `words` had to be rewritten for the loader (5月 → 5月底)

    @property
    def quoted(self) -> str:
        return self.said or self.words


@dataclass(frozen=True)
class Text:
    value: str
    origin: Origin


@dataclass(frozen=True)
class Phase:
    name: Text
    start: When | None
    end: When | None  # None: the heading named no end; a person must add one


@dataclass(frozen=True)
class Deliverable:
    name: str
    due: When
    to: str | None
    units: tuple[str, ...] | None  # None: every unit owes it
    origin: Origin
    note: str | None = None  # why units were left open, etc.
    sender: str | None = None  # who sends it, in the notice's words (各地市环保专项行动领导小组)


@dataclass(frozen=True)
class Target:
    rate: float
    by: When
    origin: Origin


@dataclass(frozen=True)
class Weekly:
    weekday: str  # 周五
    due: str  # 12:00
    due_read: bool  # the notice said when (上午 → 12:00); otherwise the default
    origin: Origin


@dataclass(frozen=True)
class Monthly:
    """每月25日前报送…: a report due on that day of every month."""

    day: int
    what: str
    origin: Origin


@dataclass(frozen=True)
class ContactRow:
    """A filled-in row of the notice's 联系人 table (附件1)."""

    unit: str | None
    name: str
    title: str | None
    phone: str | None
    email: str | None
    origin: Origin


@dataclass(frozen=True)
class Coordinator:
    name: str
    phone: str | None
    origin: Origin


@dataclass(frozen=True)
class Task:
    """One numbered task of a task division (seed 004)."""

    number: int
    text: str
    lead: tuple[str, ...]
    partners: tuple[str, ...]
    responsible: tuple[str, ...]
    deadline: str  # the notice's words: 2024年6月15日前并长期坚持, 每年2月底前, 长期坚持
    kind: TaskDeadlineKind
    origin: Origin
    unit_origins: tuple[Origin, ...] = ()
    deadline_origin: Origin | None = None


@dataclass
class NoticePlan:
    """Everything the importer could place, and what it could not."""

    name: Text | None = None
    issuer: Text | None = None
    year: int | None = None
    year_origin: Origin | None = None
    year_note: str | None = None  # set when the year was taken from a title or a cited 文号: a person checks it
    notice_date: When | None = None
    start: When | None = None
    end: When | None = None
    span_hints: list[str] = field(default_factory=list)  # what a person can go on when start/end are missing
    target: Target | None = None
    focus_areas: list[Text] = field(default_factory=list)
    sources: list[Text] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    deliverables: list[Deliverable] = field(default_factory=list)
    weekly: Weekly | None = None
    monthly: list[Monthly] = field(default_factory=list)
    units: list[Text] = field(default_factory=list)
    collectives: dict[str, list[int]] = field(default_factory=dict)  # 各乡镇〔街道〕 → the lines naming it
    coordinators: list[Coordinator] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    contact_columns: Text | None = None  # the 联系人 table's columns and the contact fields they fill
    tasks: list[Task] = field(default_factory=list)
    unplaced: list[Text] = field(default_factory=list)  # a note on what a person must place by hand
    shortfalls: list[Text] = field(default_factory=list)  # 分为四个阶段, three found: said at the top of the plan
    places: Places | None = None  # the original document's pages and paragraphs, line by line

    def at(self, line: int) -> str:
        return place(line, self.places)

    def cite(self, origin: Origin) -> str:
        return origin.cite(self.places)
