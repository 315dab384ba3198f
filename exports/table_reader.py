"""Reading filled-in official tables back (附件1 联系人, 附件2 问题清单) as offices keep them in Excel.

The counterpart of exports/tables.py, tolerant of how people fill the forms: title and 附件N lines above the
table, a 填报单位（盖章）：… line, the header row found by its words (synonyms, stray spaces and line breaks
allowed), merged cells (a unit's name merged down over its contacts), one sheet per unit or one sheet with a
spanning row per unit (what `duban export issues` writes), 无 / 未报送 rows, a 说明 line under the table, and
dates as Excel dates or as text. Nothing here knows the database: exports/adopt.py matches the rows to units.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

FILLED_BY = re.compile(r"^填报单位(?:[（(]盖章[)）])?[:：]?(.*)$")
CONTINUED = "（续）"
NOTHING = frozenset({"无", "暂无", "无问题"})
NOTES = ("说明", "注：", "注:", "填表说明")  # lines under a table
Columns = Mapping[str, tuple[str, ...]]  # field → the header words that name it


class WorkbookError(ValueError):
    """A file that is not a workbook, or has no table of the kind asked for; the message is for a person."""


@dataclass(frozen=True)
class TableRow:
    sheet: str
    row: int  # as Excel numbers it
    values: dict[str, Any]  # field → cell value (merged cells carry their value into every cell they cover)
    unit_hints: tuple[str, ...] = ()  # where the unit may be named, nearest first: group row, 填报单位, sheet title
    nothing: bool = False  # a row saying the unit has nothing to list (无 / 未报送)


@dataclass
class Table:
    rows: list[TableRow] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)  # the sheets that held a table


def header_key(text: Any) -> str:
    """A header cell as compared: NFKC, no white space (headers wrap: 党纪政务\\n处分人数)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))) if text is not None else ""


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a trailing .0 (a phone typed as a number), stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    return str(value).strip()


def read_table(source: str | Path | IO[bytes], columns: Columns, *, required: tuple[str, ...]) -> Table:
    """Every data row of every sheet that has a header row naming the `required` fields."""
    try:
        workbook = load_workbook(source, data_only=True)  # data_only: a formula's last computed value
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise WorkbookError(
            "无法读取该文件：请上传 Excel 工作簿（.xlsx；.xls 请先在 Excel 或 WPS 中另存为 .xlsx）。"
        ) from error
    table = Table()
    for sheet in workbook.worksheets:
        rows = _sheet_rows(sheet, columns, required)
        if rows is not None:
            table.sheets.append(sheet.title)
            table.rows.extend(rows)
    if not table.sheets:
        names = "、".join(columns[name][0] for name in required)
        raise WorkbookError(f"没有找到表头（应有「{names}」等列）：请确认上传的是这份附件表格。")
    return table


def _grid(sheet: Worksheet) -> list[list[Any]]:
    grid = [list(row) for row in sheet.iter_rows(values_only=True)]
    for merged in sheet.merged_cells.ranges:
        value = grid[merged.min_row - 1][merged.min_col - 1] if merged.min_row <= len(grid) else None
        for row in range(merged.min_row - 1, min(merged.max_row, len(grid))):
            for column in range(merged.min_col - 1, min(merged.max_col, len(grid[row]))):
                grid[row][column] = value
    return grid


def _header(row: list[Any], columns: Columns) -> dict[str, int]:
    """field → column index, for the fields this row names."""
    found: dict[str, int] = {}
    for index, cell in enumerate(row):
        key = header_key(cell)
        for name, words in columns.items():
            if name not in found and key in words:
                found[name] = index
                break
    return found


def _sheet_rows(sheet: Worksheet, columns: Columns, required: tuple[str, ...]) -> list[TableRow] | None:
    grid = _grid(sheet)
    filled_by: str | None = None
    for number, row in enumerate(grid):
        found = FILLED_BY.match(header_key(row[0] if row else None))
        if found:
            filled_by = found[1] or None
        header = _header(row, columns)
        if all(name in header for name in required):
            return _data_rows(sheet.title, grid, number, header, filled_by)
    return None


def _data_rows(
    title: str, grid: list[list[Any]], header_row: int, header: dict[str, int], filled_by: str | None
) -> list[TableRow]:
    rows: list[TableRow] = []
    group: str | None = None
    width = max(header.values()) + 1
    heading = [header_key(cell_text(value)) for value in grid[header_row][:width]]
    for number in range(header_row + 1, len(grid)):
        cells = [cell_text(value) for value in grid[number][:width]]
        filled = [text for text in cells if text]
        if not filled or header_key(filled[0]).startswith(NOTES):
            continue
        if [header_key(text) for text in cells] == heading:
            continue  # the header row again (a second table, or a pasted page)
        hints = tuple(hint for hint in (group, filled_by, title) if hint)
        merged_across = len(filled) > 1 and len(set(filled)) == 1
        first_only = len(filled) == 1 and cells[0] != "" and not cells[0].isdigit()
        spanning = len(cells) > 1 and (merged_across or first_only)
        if spanning and filled[0] in NOTHING:
            rows.append(TableRow(title, number + 1, {}, hints, nothing=True))
        elif spanning:  # a row that introduces the next unit's rows (duban's one-sheet export)
            group = filled[0].removesuffix(CONTINUED)
        else:
            values = {name: grid[number][index] for name, index in header.items() if index < len(grid[number])}
            rows.append(TableRow(title, number + 1, values, hints))
    return rows


def as_date(value: Any) -> date | None:
    """An Excel date cell as a date; None for anything else (text is parsed by the caller)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None
