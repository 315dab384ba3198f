"""The official attachment tables of seed 000 as Excel workbooks: 附件1 联系人, 附件2 问题清单, 附件3 统计表.

Laid out as the notice prints them (attachment label, title, 填报单位（盖章）, 填表时间, the header row, the
说明 line) and ready to print: A4 landscape, one page wide, borders, wrapped text, the header row repeated
on every page. Workbooks are written in openpyxl's write-only mode and the ledger is read in batches, so
100,000 issues export in flat memory. No cell ever becomes a formula (see `text_cell`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from core.dates import format_cn
from core.issues import ISSUE_LABELS, IssueRecord
from core.statuses import STATUS_TEXT, IssueStatus
from exports.nested import child_areas, ledger_with_children
from storage.models import Campaign, Unit
from storage.repos import Tables

Progress = Callable[[int], None]  # called with the number of rows written so far
Target = str | Path | IO[bytes]

STATS_ROWS = ("发现问题数", "整改问题数", "处理人数", "党纪政务处分人数", "备注")
PAGE_FOOTER = "第 &P 页 共 &N 页"  # Excel's page-number codes: this page, pages in the sheet
NO_CONTACT = "未报送"  # 附件1's 姓名 for a unit that has named no liaison: every unit is listed
NO_ISSUES = "无"  # 附件2's row for a unit with nothing logged

# Excel reads a typed cell starting with = + - @ (and some tools a leading tab or CR) as a formula. openpyxl
# turns only '=' into one, but a person editing the cell later would trigger the rest; such text is stored
# as a string cell with Excel's quote prefix (what typing a leading apostrophe does), so it stays text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

_thin = Side(style="thin")
_BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")
CN_DATE_FORMAT = 'yyyy"年"m"月"d"日"'


def _styles() -> list[NamedStyle]:
    """Named styles: assigning one by name is the cheapest public way to style a million cells."""
    body = Font(name="宋体", size=11)
    return [
        NamedStyle("督办-正文", font=body, border=_BORDER, alignment=_WRAP),
        NamedStyle("督办-居中", font=body, border=_BORDER, alignment=_CENTER),
        NamedStyle("督办-日期", font=body, border=_BORDER, alignment=_CENTER, number_format=CN_DATE_FORMAT),
        NamedStyle(
            "督办-表头",
            font=Font(name="黑体", size=11, bold=True),
            border=_BORDER,
            alignment=_CENTER,
            fill=PatternFill("solid", fgColor="F2F2F2"),
        ),
        NamedStyle(
            "督办-分组",
            font=Font(name="黑体", size=11, bold=True),
            border=_BORDER,
            alignment=_WRAP,
            fill=PatternFill("solid", fgColor="FAFAFA"),
        ),
        NamedStyle(
            "督办-标题", font=Font(name="黑体", size=16), alignment=Alignment(horizontal="center", vertical="center")
        ),
        NamedStyle(
            "督办-附注", font=Font(name="宋体", size=11), alignment=Alignment(vertical="center", wrap_text=True)
        ),
    ]


def clean_text(value: str) -> str:
    """Text as Excel can store it: control characters other than tab/newline/CR removed (XML forbids them)."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", value)
    return cleaned


@dataclass
class Column:
    header: str
    width: float
    style: str = "督办-正文"


@dataclass
class SheetHead:
    """What stands above a table: 附件N, the title, and the 填报单位 / 填表时间 lines."""

    attachment: str  # 附件2
    title: str
    filled_by: str | None  # the 填报单位; None leaves the line blank for the stamp
    filled_on: date


class OfficialSheet:
    """One worksheet of an official table, written top to bottom."""

    def __init__(self, workbook: Workbook, title: str, columns: Sequence[Column], head: SheetHead) -> None:
        self.sheet: WriteOnlyWorksheet = workbook.create_sheet(title)
        self.sheet._values_to_row = _cells_to_row
        self.columns = columns
        self.width = len(columns)
        self.rows = 0
        for index, column in enumerate(columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width
        self._page_setup()
        self._line(head.attachment, style="督办-附注", merge=False)
        self._line(head.title, style="督办-标题", height=36)
        self._line(f"填报单位（盖章）：{head.filled_by or ''}", style="督办-附注")
        self._line(f"填表时间：{format_cn(head.filled_on)}", style="督办-附注")
        self.header_row = self.rows + 1
        self._append([self.cell(c.header, "督办-表头") for c in columns])
        self.sheet.print_title_rows = f"{self.header_row}:{self.header_row}"
        self._usable = [max(column.width - 1.5, 1.0) for column in columns]
        self._row_cells = [FixedStyleCell(self.sheet, column.style) for column in columns]
        self._group_cells = [FixedStyleCell(self.sheet, "督办-分组") for _ in columns]
        self._nothing_cells = [FixedStyleCell(self.sheet, "督办-居中") for _ in columns]
        for cell in (*self._group_cells, *self._nothing_cells):
            cell.value = ""

    def _page_setup(self) -> None:
        setup = self.sheet.page_setup
        setup.orientation = "landscape"
        setup.paperSize = Worksheet.PAPERSIZE_A4
        setup.fitToWidth = 1
        setup.fitToHeight = 0  # as many pages tall as it takes
        self.sheet.sheet_properties.pageSetUpPr.fitToPage = True
        self.sheet.print_options.horizontalCentered = True
        margins = self.sheet.page_margins
        margins.left = margins.right = 0.4
        margins.top, margins.bottom, margins.footer = 0.6, 0.8, 0.3
        self.sheet.oddFooter.center.text = PAGE_FOOTER
        self.sheet.oddFooter.center.font = "宋体,常规"
        self.sheet.oddFooter.center.size = 10

    def cell(self, value: Any, style: str = "督办-正文") -> WriteOnlyCell:
        return text_cell(self.sheet, value, style) if isinstance(value, str) else _cell(self.sheet, value, style)

    def _append(self, cells: Sequence[WriteOnlyCell | None]) -> None:
        self.sheet.append(cells)
        self.rows += 1

    def _line(self, text: str, *, style: str, merge: bool = True, height: float | None = None) -> None:
        if height is not None:
            self.sheet.row_dimensions[self.rows + 1].height = height
        self._append([self.cell(text, style)])
        if merge:
            self.merge(self.rows)

    def merge(self, row: int, first_column: int = 1) -> None:
        """Merge a row's cells from `first_column` to the table's right edge (cells must be written first)."""
        if first_column < self.width:
            # Straight into the set: MultiCellRange.add first scans every range for overlap, which turns a
            # table with a group row per unit into quadratic work (rows never overlap here).
            self.sheet.merged_cells.ranges.add(
                CellRange(min_col=first_column, min_row=row, max_col=self.width, max_row=row)
            )

    def row(self, values: Sequence[Any]) -> None:
        # Neither Excel nor WPS/LibreOffice grows a row to fit wrapped text when opening a file, so the
        # height is estimated here. The dimension is dropped once written: the sheet streams its rows, and
        # keeping one per row would make memory grow with the ledger. It goes in as the attributes openpyxl
        # writes for it (the writer reads `row_dimensions.get(row)` into the row's XML attributes): making a
        # RowDimension per row and reading it back cost a tenth of a 100,000-issue export (bench/summary.py).
        number = self.rows + 1
        dimensions = self.sheet.row_dimensions
        dict.__setitem__(dimensions, number, _row_attributes(_lines_height(values, self._usable)))
        self._append([self._data_cell(index, value) for index, value in enumerate(values)])
        dict.__delitem__(dimensions, number)

    def _data_cell(self, index: int, value: Any) -> WriteOnlyCell:
        """The column's styled cell with a new value. A write-only sheet serialises each row as it is
        appended, so one cell per column serves every row: building and styling a cell per value took
        half the time of a large export. Formula-like text gets a cell of its own (see `text_cell`)."""
        if isinstance(value, str):
            value = clean_text(value)
            if value.startswith(FORMULA_TRIGGERS):
                return text_cell(self.sheet, value, self.columns[index].style)
        elif type(value) is date:
            value = excel_serial(value)
        cell = self._row_cells[index]
        cell.value = "" if value is None else value
        return cell

    def _spanning(self, cells: list[FixedStyleCell], text: str) -> None:
        """A row of one text across the table (its other cells blank, merged into the first)."""
        text = clean_text(text)
        first = cells[0]
        if text.startswith(FORMULA_TRIGGERS):
            first = text_cell(self.sheet, text, first.style_name)
        else:
            first.value = text
        self._append([first, *cells[1:]])
        self.merge(self.rows)

    def group(self, text: str) -> None:
        """A row spanning the table that introduces the next unit's rows."""
        self._spanning(self._group_cells, text)

    def nothing(self) -> None:
        """A row spanning the table that says the unit has nothing to list (无)."""
        self._spanning(self._nothing_cells, NO_ISSUES)

    def note(self, text: str) -> None:
        """The 说明 line under the table."""
        self._line(text, style="督办-附注")

    def close(self) -> None:
        # Closing now rather than at save releases the sheet's temporary file: a workbook with one sheet per
        # unit would otherwise hold thousands of files open at once.
        self.sheet.close()


EXCEL_MAX_ROWS = 1_048_576  # rows in one worksheet (Excel 2007 and later); a longer sheet does not open whole
LINE_HEIGHT = 14.5  # points, for an 11-point 宋体 line
MAX_ROW_HEIGHT = 409  # Excel's limit


def text_width(text: str) -> float:
    """Width in Excel column units: a Chinese character takes about two, a Latin one a little over one.

    Counted from the UTF-8 length (CJK characters and full-width punctuation take three bytes, ASCII one),
    which runs in C: asking unicodedata about each character cost a tenth of a 100,000-issue export.
    """
    wide = (len(text.encode()) - len(text)) / 2
    return 2.0 * wide + 1.1 * (len(text) - wide)


def row_height(values: Sequence[Any], columns: Sequence[Column]) -> float:
    return _lines_height(values, [max(column.width - 1.5, 1.0) for column in columns])


def _lines_height(values: Sequence[Any], usable_widths: Sequence[float]) -> float:
    """row_height, given each column's usable width."""
    lines = 1
    for value, usable in zip(values, usable_widths, strict=True):
        if isinstance(value, str) and 2 * len(value) > usable:  # shorter text fits one line whatever it holds
            parts = value.splitlines()
            if len(parts) == 1:  # the usual case, without a generator
                lines = max(lines, math.ceil(text_width(parts[0]) / usable))
            else:
                lines = max(lines, sum(max(1, math.ceil(text_width(part) / usable)) for part in parts))
    return min(lines * LINE_HEIGHT + 4, MAX_ROW_HEIGHT)


@cache
def _row_attributes(height: float) -> dict[str, str]:
    """The XML attributes openpyxl writes for a row of this height (a handful of heights recur)."""
    return dict(RowDimension(None, height=height))


EXCEL_EPOCH = date(1899, 12, 30)  # openpyxl's default (Windows) epoch
EXCEL_LEAP_BUG_END = date(1900, 3, 1)  # Excel counts a 29 February 1900: serials before this are off by one


def excel_serial(day: date) -> date | int:
    """The serial number openpyxl writes for a date cell, without its general conversion per cell; a day before
    March 1900 is left to openpyxl."""
    return day if day < EXCEL_LEAP_BUG_END else (day - EXCEL_EPOCH).days


def _cells_to_row(cells: Sequence[WriteOnlyCell | None], row_idx: int) -> Iterator[WriteOnlyCell]:
    """Place a row's ready-made cells, for openpyxl's write-only writer.

    Replaces WriteOnlyWorksheet._values_to_row on our sheets, which append only styled cells. openpyxl's own
    version first tries each appended object as a cell *value*, and a cell is not one: every cell cost a
    failed type check, a repr() of the cell for the error message and a caught ValueError — about a quarter
    of a 100,000-issue export, and what kept it over twice the bare loop (bench/summary.py).
    """
    for column, cell in enumerate(cells, 1):
        if cell is not None:
            cell.column, cell.row = column, row_idx
            yield cell


class FixedStyleCell(Cell):
    """A cell made once with a named style and reused row after row (its value changes, its style never).

    openpyxl's writer asks every cell it writes for its style id, which looks the style up in the workbook's
    list each time (hashing it): a tenth of a 100,000-issue export. The id is looked up here, once.
    """

    __slots__ = ("_fixed_style_id", "style_name")

    def __init__(self, sheet: WriteOnlyWorksheet, style: str) -> None:
        super().__init__(sheet, style_array=sheet.parent.duban_styles[style])
        self.style_name = style
        self._fixed_style_id: int | None = None

    @property
    def style_id(self) -> int:
        if self._fixed_style_id is None:  # on first write, as openpyxl numbers styles in the order it meets them
            self._fixed_style_id = self.parent.parent._cell_styles.add(self._style)
        return self._fixed_style_id

    @property
    def has_style(self) -> bool:
        return True


def _cell(sheet: WriteOnlyWorksheet, value: Any, style: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    # What `cell.style = name` does, minus its per-cell lookup of the name (a sixth of the export's time).
    cell._style = copy(sheet.parent.duban_styles[style])
    return cell


def text_cell(sheet: WriteOnlyWorksheet, text: str, style: str) -> WriteOnlyCell:
    """A cell that shows `text` literally: never a formula, whatever it starts with."""
    text = clean_text(text)
    cell = _cell(sheet, text, style)
    if text.startswith(FORMULA_TRIGGERS):
        cell.data_type = "s"  # openpyxl made '=…' a formula when the value was set
        cell.quotePrefix = True
    return cell


def new_workbook() -> Workbook:
    workbook = Workbook(write_only=True)
    workbook.duban_styles = {}
    for style in _styles():
        workbook.add_named_style(style)
        workbook.duban_styles[style.name] = style.as_tuple()
    return workbook


def sheet_title(name: str, taken: set[str]) -> str:
    """A worksheet title Excel accepts (≤31 characters, none of []:*?/\\) and unique in the workbook."""
    base = _SHEET_TITLE_FORBIDDEN.sub("", name).strip("'") or "Sheet"
    title, counter = base[:31], 2
    while title.casefold() in taken:
        suffix = f"({counter})"
        title, counter = base[: 31 - len(suffix)] + suffix, counter + 1
    taken.add(title.casefold())
    return title


def _campaign_units(session: Session, campaign: Campaign, unit: Unit | None) -> list[Unit]:
    if unit is not None:
        return [unit]
    return list(Tables(session).units(campaign))


def _table_title(campaign: Campaign, suffix: str) -> str:
    return f"{campaign.name}{suffix}"


# --- 附件1 联系人 --------------------------------------------------------------------------------------


CONTACT_COLUMNS = [
    Column("单位名称", 24),
    Column("姓名", 12, "督办-居中"),
    Column("职务", 20),
    Column("联系电话", 18, "督办-居中"),
    Column("微信或邮箱", 28),
]


def export_contacts(
    session: Session, campaign: Campaign, target: Target, *, today: date, unit: Unit | None = None
) -> int:
    """附件1: every unit with its liaison officers (active or named by the plan), 未报送 for a unit that has
    none; returns the number of liaisons listed."""
    workbook = new_workbook()
    head = SheetHead("附件1", _table_title(campaign, "联系人"), unit.name if unit else campaign.issuer, today)
    sheet = OfficialSheet(workbook, "联系人", CONTACT_COLUMNS, head)
    count = 0
    for unit_name, *person in Tables(session).contacts(campaign, unit):
        if person[0] is None:
            sheet.row([unit_name, NO_CONTACT, None, None, None])
            continue
        sheet.row([unit_name, *person])
        count += 1
    sheet.close()
    workbook.save(target)
    return count


# --- 附件2 问题清单 ------------------------------------------------------------------------------------

ISSUE_COLUMNS = [
    Column("序号", 6, "督办-居中"),
    Column(ISSUE_LABELS["year"], 7, "督办-居中"),
    Column(ISSUE_LABELS["title"], 18),
    Column(ISSUE_LABELS["source"], 11, "督办-居中"),
    Column(ISSUE_LABELS["content"], 30),
    Column(ISSUE_LABELS["measures"], 26),
    Column(ISSUE_LABELS["goal"], 20),
    Column(ISSUE_LABELS["owner"], 9, "督办-居中"),
    Column(ISSUE_LABELS["due"], 14, "督办-日期"),
    Column(ISSUE_LABELS["remark"], 20),
]


NUMBER_LABEL = "编号#"  # in 备注
FOCUS_AREA_LABEL = "整治重点："
EVIDENCE_LABEL = "佐证材料"  # 佐证材料 N 份 in 备注; the files themselves are in the dashboard


def remark_text(row: IssueRecord, today: date, zone: ZoneInfo) -> str:
    """备注: the 销号 state a reader checks first, the bot's issue number, the 整治重点 (附件2 has no column for
    it, and 附件3 counts by it), then the liaison's own remark. `duban import issues` reads these back."""
    if row.status is IssueStatus.RECTIFIED:
        state = "已整改"
        if row.rectified_at is not None:
            state += f"（{format_cn(row.rectified_at.astimezone(zone).date())}销号）"
    else:
        state = STATUS_TEXT[row.status] + (f" {row.percent}%" if row.status is IssueStatus.IN_PROGRESS else "")
        if row.due < today:
            state += f"，已逾期{(today - row.due).days}天"
    area = f"{FOCUS_AREA_LABEL}{row.focus_area}" if row.focus_area else None
    evidence = f"{EVIDENCE_LABEL} {row.evidence} 份" if row.evidence else None
    number = f"{NUMBER_LABEL}{row.number}" if row.number else None  # 0: a child's issue (exports.nested)
    return "；".join(part for part in (state, number, area, evidence, row.remark) if part)


def _issue_head(campaign: Campaign, unit_name: str | None, today: date) -> SheetHead:
    return SheetHead("附件2", _table_title(campaign, "问题清单"), unit_name or campaign.issuer, today)


def _sources_note(campaign: Campaign) -> str:
    sources = "、".join(campaign.sources) if campaign.sources else "信访举报、媒体曝光、行政复议、行政诉讼等"
    return f"说明：线索来源项填写{sources}等。"


def export_issues(
    session: Session,
    campaign: Campaign,
    target: Target,
    *,
    today: date,
    unit: Unit | None = None,
    sheet_per_unit: bool = False,
    progress: Progress | None = None,
) -> int:
    """附件2 for one unit, or for the whole campaign on one sheet (a spanning row introduces each unit) or
    on one sheet per unit. Every unit appears: one with nothing logged gets a row saying 无. Returns the
    number of issues written.

    A sheet holds at most EXCEL_MAX_ROWS rows (a national ledger on one sheet passes it): the table then goes
    on in a sheet 问题清单（续）, with the same head and the unit's spanning row marked （续）."""
    zone = ZoneInfo(campaign.timezone)
    workbook = new_workbook()
    taken: set[str] = set()
    sheet: OfficialSheet | None = None
    written = serial = 0
    grouped = unit is None and not sheet_per_unit
    per_unit = not grouped

    def start(name: str, filled_by: str | None) -> OfficialSheet:
        if sheet is not None:
            _finish_issue_sheet(sheet, campaign)
        return OfficialSheet(workbook, sheet_title(name, taken), ISSUE_COLUMNS, _issue_head(campaign, filled_by, today))

    def begin_unit(name: str) -> OfficialSheet:
        """The unit's sheet (per unit) or its spanning row (grouped), on a new sheet when this one is full."""
        current = sheet
        if current is None or per_unit:
            current = start(name if per_unit else "问题清单", name if per_unit else None)
        if grouped:
            if current.rows + 3 > EXCEL_MAX_ROWS:  # the group row, its first row and the 说明 line
                current = start("问题清单（续）", None)
            current.group(name)
        return current

    # Units without issues are listed where they fall in plan order, between the streamed rows.
    listed = [(u.id, u.name) for u in _campaign_units(session, campaign, unit)]
    pending = iter(listed)
    listed_ids = {unit_id for unit_id, _ in listed}
    current_unit: int | None = None
    for row in ledger_with_children(session, campaign, unit):
        if row.unit_id != current_unit:
            if row.unit_id in listed_ids:  # a retired unit's issues stay in the table where they fall
                for unit_id, name in pending:
                    if unit_id == row.unit_id:
                        break
                    sheet = begin_unit(name)
                    sheet.nothing()
            current_unit, serial = row.unit_id, 0
            sheet = begin_unit(row.unit)
        assert sheet is not None
        if sheet.rows + 2 > EXCEL_MAX_ROWS:  # this issue and the 说明 line
            sheet = start(f"{row.unit if per_unit else '问题清单'}（续）", row.unit if per_unit else None)
            if grouped:
                sheet.group(f"{row.unit}（续）")
        serial += 1
        sheet.row(
            [
                serial,
                row.year,
                row.title,
                row.source,
                row.content,
                row.measures,
                row.goal,
                row.owner,
                row.due,
                remark_text(row, today, zone),
            ]
        )
        written += 1
        if progress is not None and written % 500 == 0:
            progress(written)
    for _unit_id, name in pending:
        sheet = begin_unit(name)
        sheet.nothing()
    if sheet is None:  # a campaign without units yet: an empty table to fill by hand
        sheet = start("问题清单", None)
    _finish_issue_sheet(sheet, campaign)
    workbook.save(target)
    if progress is not None:
        progress(written)
    return written


def _finish_issue_sheet(sheet: OfficialSheet, campaign: Campaign) -> None:
    sheet.note(_sources_note(campaign))
    sheet.close()


# --- 附件3 统计表 --------------------------------------------------------------------------------------


@dataclass
class StatsTable:
    """附件3's numbers: per focus area, found and rectified (from the ledger), handled and disciplined
    (reported by units with 统计)."""

    areas: list[str]
    found: dict[str, int] = field(default_factory=dict)
    rectified: dict[str, int] = field(default_factory=dict)
    handled: dict[str, int] = field(default_factory=dict)
    disciplined: dict[str, int] = field(default_factory=dict)
    without_area: int = 0  # issues logged with no 整治重点 (campaigns without focus areas)
    children_elsewhere: int = 0  # issues of the campaigns below whose 整治重点 is not one of these

    def rows(self) -> list[list[int]]:
        return [
            [getattr(self, key).get(area, 0) for area in self.areas]
            for key in ("found", "rectified", "handled", "disciplined")
        ]


def stats_table(session: Session, campaign: Campaign, unit: Unit | None = None) -> StatsTable:
    areas = list(campaign.focus_areas)
    table = StatsTable(areas)
    tables = Tables(session)
    for area, found, rectified in tables.issues_by_area(campaign, unit):
        if area in areas:
            table.found[area], table.rectified[area] = int(found), int(rectified or 0)
        else:
            table.without_area += int(found)
    for area, handled, disciplined in tables.stats_by_area(campaign, unit):
        table.handled[area], table.disciplined[area] = int(handled or 0), int(disciplined or 0)
    below = child_areas(session, campaign, areas, unit)
    for mine, theirs in (
        (table.found, below.found),
        (table.rectified, below.rectified),
        (table.handled, below.handled),
        (table.disciplined, below.disciplined),
    ):
        for area, value in theirs.items():
            mine[area] = mine.get(area, 0) + value
    table.children_elsewhere = below.unmatched
    return table


def area_header(area: str) -> str:
    """The seed's column heading: 制度建设 → 制度建设方面."""
    return area if area.endswith("方面") else f"{area}方面"


def export_stats(
    session: Session, campaign: Campaign, target: Target, *, today: date, unit: Unit | None = None
) -> StatsTable:
    """附件3 for one unit or summed over the campaign."""
    table = stats_table(session, campaign, unit)
    workbook = new_workbook()
    columns = [Column("整治重点", 16, "督办-表头"), *(Column(area_header(a), 14, "督办-居中") for a in table.areas)]
    head = SheetHead("附件3", _table_title(campaign, "情况统计表"), unit.name if unit else campaign.issuer, today)
    sheet = OfficialSheet(workbook, "统计表", columns, head)
    for label, values in zip(STATS_ROWS, table.rows(), strict=False):
        sheet.row([label, *values])
    remark = f"另有{table.without_area}个问题未填写整治重点，未计入上表。" if table.without_area else ""
    if table.children_elsewhere:
        remark += f"下级专项整治另有{table.children_elsewhere}个问题的整治重点不在上表各项中，未计入上表。"
    sheet.row(["备注", remark, *([""] * (len(table.areas) - 1))])
    sheet.merge(sheet.rows, first_column=2)
    sheet.close()
    workbook.save(target)
    return table


EXPORTS: dict[str, Callable[..., Any]] = {"contacts": export_contacts, "issues": export_issues, "stats": export_stats}
FILE_NAMES = {"contacts": "附件1_联系人", "issues": "附件2_问题清单", "stats": "附件3_统计表"}


def file_name(kind: str, campaign: Campaign, unit: Unit | None, today: date) -> str:
    scope = unit.name if unit is not None else campaign.name
    return f"{FILE_NAMES[kind]}_{scope}_{today:%Y%m%d}.xlsx"
