"""`duban plan import-text`: an official notice (通知/方案) as plain text → a commented YAML plan (SPEC §9)."""

from __future__ import annotations

from handlers.notice.extract import (
    check_promises,
    infer_year,
    read_coordinators,
    read_deliverables,
    read_focus_areas,
    read_header,
    read_leftovers,
    read_phases,
    read_rules,
    read_sources,
    read_span,
    read_units,
)
from handlers.notice.model import NoticePlan
from handlers.notice.tasks import read_tasks
from handlers.notice.text import read_notice


def read_text(data: bytes) -> str:
    """A notice file's text: UTF-8 (with or without BOM), else GB18030, in which many government files are
    saved; anything else raises UnicodeDecodeError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def import_notice(text: str, *, year: int | None = None) -> NoticePlan:
    """Everything the notice says that a plan needs; `year` is the person's answer when the notice has none."""
    notice = read_notice(text)
    plan = NoticePlan()
    read_header(notice, plan)
    if year is not None:
        plan.year, plan.year_origin = year, None
    infer_year(notice, plan)
    read_span(notice, plan)
    taken = read_tasks(notice, plan)
    read_phases(notice, plan)
    check_promises(notice, plan)
    read_deliverables(notice, plan, taken)
    read_rules(notice, plan)
    read_sources(notice, plan)
    read_focus_areas(notice, plan)
    read_units(notice, plan)
    read_coordinators(notice, plan)
    read_leftovers(notice, plan, taken)
    return plan
