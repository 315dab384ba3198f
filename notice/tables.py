"""The notice's attachment tables (附件), read where they are tables (a Word table, or tab-separated lines):
a filled-in 联系人 table gives units and their liaison officers, its columns the contact fields; a filled-in
问题清单 gives the issue sources it uses. The 统计表's 整治重点 columns are read with the focus areas."""

from __future__ import annotations

import re
from collections.abc import Iterator

from handlers.parsing import normalize_phone
from notice.model import ContactRow, NoticePlan, Origin, Text
from notice.text import Notice, display

# A 联系人 column and the plan's contact field it fills (附件1: 单位名称, 姓名, 职务, 联系电话, 微信或邮箱).
_CONTACT_COLUMNS = (
    (re.compile(r"^(?:单位名称|单位|所在单位|部门|科室)$"), "unit"),
    (re.compile(r"^姓名$"), "name"),
    (re.compile(r"^职务"), "title"),
    (re.compile(r"电话|手机"), "phone"),
    (re.compile(r"邮箱|邮件|微信"), "email"),
)
FIELD_WORDS = {
    "unit": "units 的 name",
    "name": "contacts 的 name",
    "title": "title",
    "phone": "phone",
    "email": "email",
}


def _tables(notice: Notice) -> Iterator[list[tuple[int, list[str]]]]:
    """Runs of tab-separated lines: (line number, cells) for the header and each row."""
    run: list[tuple[int, list[str]]] = []
    for number, line in enumerate(notice.lines, 1):
        if "\t" in line:
            run.append((number, [cell.strip() for cell in line.split("\t")]))
        elif line.strip() and run:  # blank lines between a text file's rows do not end the table
            yield run
            run = []
    if run:
        yield run


def read_tables(notice: Notice, plan: NoticePlan) -> None:
    """Contacts and contact fields from a 联系人 table; issue sources from a filled-in 问题清单."""
    for run in _tables(notice):
        (number, header), rows = run[0], run[1:]
        if "姓名" in header and any(re.search(r"电话|手机", cell) for cell in header):
            _contacts(plan, number, header, rows)
        elif "线索来源" in header and not plan.sources:
            column = header.index("线索来源")
            seen = [row[column] for _, row in rows if column < len(row) and row[column]]
            plan.sources = [Text(display(value), Origin(number, "线索来源")) for value in dict.fromkeys(seen)]


def _contacts(plan: NoticePlan, number: int, header: list[str], rows: list[tuple[int, list[str]]]) -> None:
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        field = next((f for pattern, f in _CONTACT_COLUMNS if pattern.search(cell)), None)
        if field and field not in columns:
            columns[field] = index
    shown = "、".join(f"{header[i]}→{FIELD_WORDS[f]}" for f, i in columns.items())
    plan.contact_columns = Text(shown, Origin(number, display(" ".join(header))))
    for line, row in rows:
        values = {f: row[i].strip() for f, i in columns.items() if i < len(row) and row[i].strip()}
        if "name" not in values:
            continue
        phone = normalize_phone(values["phone"]) if "phone" in values else None
        plan.contacts.append(
            ContactRow(
                values.get("unit"),
                values["name"],
                values.get("title"),
                phone,
                values.get("email"),
                Origin(line, display(" ".join(row))),
            )
        )
