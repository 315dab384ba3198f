"""`duban plan import`: an official notice (通知/方案) as .docx, .pdf, .ofd or text → a commented YAML plan."""

from __future__ import annotations

from notice.documents import Document, DocumentError, read_document, read_text
from notice.extract import (
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
from notice.model import NoticePlan, Places
from notice.tables import read_tables
from notice.tasks import read_tasks
from notice.text import read_notice

__all__ = ["Document", "DocumentError", "import_document", "import_notice", "read_document", "read_text"]


def import_document(document: Document, *, year: int | None = None) -> NoticePlan:
    """The plan of a notice read from a file (read_document), its comments citing pages and paragraphs."""
    return import_notice(document.text, year=year, places=document.places)


def import_notice(text: str, *, year: int | None = None, places: Places | None = None) -> NoticePlan:
    """Everything the notice says that a plan needs; `year` is the person's answer when the notice has none;
    `places` says where each line of `text` is in the original document."""
    notice = read_notice(text)
    plan = NoticePlan(places=places)
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
    read_tables(notice, plan)
    read_focus_areas(notice, plan)
    read_units(notice, plan)
    read_coordinators(notice, plan)
    read_leftovers(notice, plan, taken)
    return plan
