"""Seed 004's task division: numbered tasks, each followed by 牵头单位, 配合单位 or 责任单位, and 完成时限.

Two layouts are read: the fields on lines of their own under the task (seed 004), or in a note closing
the task's text, 1.…（牵头单位：司法局；完成时限：2024年3月底前）.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.statuses import TaskDeadlineKind
from notice.extract import Dates, _quote, split_units
from notice.model import NoticePlan, Origin, Task
from notice.text import Notice, display
from plan.deadlines import classify_task_deadline

_TASK_START = re.compile(r"^(?P<number>[0-9]{1,3})[.、](?![0-9])(?P<text>.+)$")
_ROLES = {"牵头": "lead", "配合": "partners", "协办": "partners", "责任": "responsible", "承办": "responsible"}
_LABEL = r"(?P<role>牵头|配合|协办|责任|承办)(?:单位|部门)|(?P<deadline>完成时限|完成时间|时限要求|时限)"
_FIELD = re.compile(rf"^(?:{_LABEL}):(?P<value>.*)$")
_INLINE = re.compile(rf"(?:{_LABEL}):(?P<value>[^;()]*)")
_INLINE_NOTE = re.compile(r"\((?P<fields>(?:(?:牵头|配合|责任)(?:单位|部门)|完成时限)[^()]*)\)。?$")
_SECTION = re.compile(r"^(?:[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\))")


@dataclass
class _Draft:
    number: int
    text: str
    origin: Origin
    units: dict[str, tuple[list[str], Origin]] = field(default_factory=dict)
    deadline: tuple[str, Origin] | None = None

    def take(self, match: re.Match[str], origin: Origin) -> None:
        value = match["value"].strip(" 。")
        if match["deadline"]:
            self.deadline = (display(value), origin)
        else:
            role = _ROLES[match["role"]]
            names, _ = self.units.get(role, ([], origin))
            self.units[role] = (names + split_units(value), origin)


def read_tasks(notice: Notice, plan: NoticePlan) -> set[int]:
    """Numbered items that carry at least one unit or deadline field become tasks; others are prose.

    Returns the first lines of the paragraphs the tasks were read from, which no other reader should use.
    """
    drafts: list[_Draft] = []
    paragraphs: dict[int, list[int]] = {}
    current: _Draft | None = None
    for paragraph in notice.paragraphs:
        origin = Origin(paragraph.line, _quote(paragraph.text))
        start = _TASK_START.match(paragraph.text)
        field_line = _FIELD.match(paragraph.text)
        if start:
            current = _Draft(int(start["number"]), start["text"], origin)
            drafts.append(current)
            paragraphs[id(current)] = [paragraph.line]
            note = _INLINE_NOTE.search(current.text)
            if note:
                for match in _INLINE.finditer(note["fields"]):
                    current.take(match, origin)
                current.text = current.text[: note.start()]
        elif field_line and current is not None:
            current.take(field_line, origin)
            paragraphs[id(current)].append(paragraph.line)
        elif _SECTION.match(paragraph.text):
            current = None
    dates = Dates(plan)
    taken: set[int] = set()
    for draft in drafts:
        if not draft.units and draft.deadline is None:
            continue
        taken.update(paragraphs[id(draft)])
        deadline, deadline_origin = draft.deadline or ("", None)
        kind = classify_task_deadline(deadline, dates.ctx)[0] if deadline else TaskDeadlineKind.UNKNOWN
        roles = {role: draft.units.get(role, ([], draft.origin)) for role in ("lead", "partners", "responsible")}
        plan.tasks.append(
            Task(
                number=draft.number,
                text=display(draft.text.strip()),
                lead=tuple(roles["lead"][0]),
                partners=tuple(roles["partners"][0]),
                responsible=tuple(roles["responsible"][0]),
                deadline=deadline,
                kind=kind,
                origin=draft.origin,
                unit_origins=tuple(roles[r][1] for r in ("lead", "partners", "responsible")),
                deadline_origin=deadline_origin,
            )
        )
    return taken
