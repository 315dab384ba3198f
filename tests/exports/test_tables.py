"""The official tables opened back with openpyxl: layout cells, totals against the ledger, print set-up,
and text that must never turn into a formula."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from core.statuses import IssueStatus
from exports.tables import export_contacts, export_issues, export_stats
from storage.db import transaction
from tests.conftest import Database
from tests.factories import TODAY, add_issue, build_ledger, campaign_of, unit_named

ISSUE_HEADER = (
    "序号",
    "年度",
    "线索名称",
    "线索来源",
    "线索内容",
    "整改措施",
    "整改目标",
    "责任人",
    "完成时限",
    "备注",
)
TITLE = "行政执法不作为慢作为乱作为专项整治"


@pytest.fixture
def ledger(plan_loaded: Database) -> Database:
    build_ledger(plan_loaded)
    return plan_loaded


def export(db: Database, kind: str, path: Path, unit: str | None = None, **options: object) -> Worksheet:
    function = {"contacts": export_contacts, "issues": export_issues, "stats": export_stats}[kind]
    with transaction(db.sessions) as session:
        function(
            session,
            campaign_of(session),
            path,
            today=TODAY,
            unit=unit_named(session, unit) if unit else None,
            **options,
        )
    return load_workbook(path).worksheets[0]


def values(sheet: Worksheet) -> list[tuple[object, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def data_rows(sheet: Worksheet) -> list[tuple[object, ...]]:
    """Rows whose 序号 is a number: the issues, not the heading, group or 说明 rows."""
    return [row for row in values(sheet) if isinstance(row[0], int)]


def test_contacts_table_has_the_seed_columns_and_every_unit(ledger: Database, tmp_path: Path) -> None:
    sheet = export(ledger, "contacts", tmp_path / "c.xlsx")
    rows = values(sheet)
    assert rows[0][0] == "附件1" and rows[1][0] == f"{TITLE}联系人"
    assert rows[2][0] == "填报单位（盖章）：中卫市司法局" and rows[3][0] == "填表时间：2020年7月15日"
    assert rows[4] == ("单位名称", "姓名", "职务", "联系电话", "微信或邮箱")
    assert rows[5:] == [
        ("办公室", "王芳", "副主任", "13909550001", None),
        ("执法监察支队", "马强", None, "13909550003", None),
        ("法制科", "陆和建", None, "13909551234", None),
        ("耕地保护科", "未报送", None, None, None),
    ]  # the pending 李娜 is not a contact yet


def test_issue_list_layout_and_totals_equal_the_ledger(ledger: Database, tmp_path: Path) -> None:
    sheet = export(ledger, "issues", tmp_path / "i.xlsx")
    rows = values(sheet)
    assert rows[0][0] == "附件2" and rows[1][0] == f"{TITLE}问题清单"
    assert rows[2][0].startswith("填报单位（盖章）") and rows[3][0] == "填表时间：2020年7月15日"
    assert rows[4] == ISSUE_HEADER
    assert rows[-1][0] == (
        "说明：线索来源项填写信访举报、媒体曝光、行政复议、行政诉讼、上级机关督查督办、巡视巡察、"
        "专项检查、卫片执法检查、例行督察等。"
    )
    groups = [row[0] for row in rows[5:-1] if isinstance(row[0], str)]
    assert groups == ["办公室", "执法监察支队", "法制科", "耕地保护科", "无"]  # plan order; every unit, 无 if nothing
    issues = data_rows(sheet)
    assert len(issues) == 7
    assert sum(1 for row in issues if str(row[9]).startswith("已整改")) == 4
    assert sum(1 for row in issues if "已逾期" in str(row[9])) == 1


def test_one_units_issue_list_is_stamped_with_its_name(ledger: Database, tmp_path: Path) -> None:
    sheet = export(ledger, "issues", tmp_path / "u.xlsx", unit="法制科")
    rows = values(sheet)
    assert sheet.title == "法制科" and rows[2][0] == "填报单位（盖章）：法制科"
    issues = data_rows(sheet)
    assert [row[0] for row in issues] == [1, 2, 3, 4]
    first = issues[0]
    assert first[1:8] == (
        2020,
        "执法证件未按期年检",
        "专项检查",
        "执法证件未按期年检的具体情况",
        "限期整改",
        "整改到位",
        "张三",
    )
    assert first[8] == datetime(2020, 9, 10)  # a real date, shown as 2020年9月10日
    assert sheet.cell(row=6, column=9).number_format == 'yyyy"年"m"月"d"日"'
    assert first[9] == "未整改；编号#1；整治重点：队伍建设"
    assert issues[1][9] == "未整改，已逾期5天；编号#2；整治重点：制度建设"
    assert issues[2][9] == "已整改（2020年7月10日销号）；编号#3；整治重点：制度建设"


def test_one_sheet_per_unit(ledger: Database, tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    export(ledger, "issues", path, sheet_per_unit=True)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["办公室", "执法监察支队", "法制科", "耕地保护科"]  # every unit has its sheet
    assert [len(data_rows(sheet)) for sheet in workbook.worksheets] == [1, 2, 4, 0]
    assert values(workbook["耕地保护科"])[5][0] == "无"
    assert workbook["执法监察支队"]["A3"].value == "填报单位（盖章）：执法监察支队"


def test_a_ledger_longer_than_a_sheet_goes_on_in_continuation_sheets(
    ledger: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exports.tables.EXCEL_MAX_ROWS", 10)  # stands in for Excel's 1,048,576
    path = tmp_path / "long.xlsx"
    export(ledger, "issues", path)
    workbook = load_workbook(path)
    assert len(workbook.worksheets) == 4 and workbook.sheetnames[0] == "问题清单"
    assert all(name.startswith("问题清单（续）") for name in workbook.sheetnames[1:])
    for sheet in workbook.worksheets:
        rows = values(sheet)
        assert len(rows) <= 10 and rows[4] == ISSUE_HEADER and str(rows[-1][0]).startswith("说明：")
    issues = [row for sheet in workbook.worksheets for row in data_rows(sheet)]
    assert len(issues) == 7  # every issue once
    assert [row[0] for row in issues] == [1, 1, 2, 1, 2, 3, 4]  # numbering goes on within a unit
    assert values(workbook.worksheets[1])[5][0] == "执法监察支队（续）"


def test_a_unit_with_nothing_logged_says_so(plan_loaded: Database, tmp_path: Path) -> None:
    sheet = export(plan_loaded, "issues", tmp_path / "e.xlsx", unit="耕地保护科")
    rows = values(sheet)
    assert rows[4] == ISSUE_HEADER and data_rows(sheet) == [] and rows[5][0] == "无"
    assert "A6:J6" in {str(r) for r in sheet.merged_cells.ranges} and rows[6][0].startswith("说明：")


def test_stats_table_equals_the_hand_computed_figures(ledger: Database, tmp_path: Path) -> None:
    sheet = export(ledger, "stats", tmp_path / "s.xlsx")
    rows = values(sheet)
    assert rows[0][0] == "附件3" and rows[1][0] == f"{TITLE}情况统计表"
    assert rows[4] == ("整治重点", "制度建设方面", "履行职责方面", "回应群众诉求方面", "队伍建设方面", "责任追究方面")
    assert rows[5] == ("发现问题数", 3, 1, 1, 2, 0)
    assert rows[6] == ("整改问题数", 2, 1, 1, 0, 0)
    assert rows[7] == ("处理人数", 3, 0, 0, 3, 0)
    assert rows[8] == ("党纪政务处分人数", 2, 0, 0, 1, 0)
    assert rows[9][0] == "备注"


def test_one_units_stats(ledger: Database, tmp_path: Path) -> None:
    rows = values(export(ledger, "stats", tmp_path / "s.xlsx", unit="法制科"))
    assert rows[2][0] == "填报单位（盖章）：法制科"
    assert rows[5:9] == [
        ("发现问题数", 2, 1, 0, 1, 0),
        ("整改问题数", 1, 1, 0, 0, 0),
        ("处理人数", 0, 0, 0, 2, 0),
        ("党纪政务处分人数", 0, 0, 0, 1, 0),
    ]


def test_issues_without_a_focus_area_are_noted_not_lost(plan_loaded: Database, tmp_path: Path) -> None:
    with transaction(plan_loaded.sessions) as session:
        add_issue(session, "法制科", "未分类问题", date(2020, 8, 1), focus_area=None)
    rows = values(export(plan_loaded, "stats", tmp_path / "s.xlsx"))
    assert rows[5] == ("发现问题数", 0, 0, 0, 0, 0)
    assert rows[9] == ("备注", "另有1个问题未填写整治重点，未计入上表。", None, None, None, None)


FORMULAS = {
    "title": '=HYPERLINK("http://evil.example","点击")',
    "content": "+1+1",
    "measures": "-2+3",
    "goal": "@SUM(A1:A9)",
    "owner": "\t=1",
    "remark": "\r=2",
}


def test_text_that_looks_like_a_formula_stays_text(plan_loaded: Database, tmp_path: Path) -> None:
    with transaction(plan_loaded.sessions) as session:
        add_issue(
            session,
            "法制科",
            FORMULAS["title"],
            date(2020, 8, 1),
            **{k: v for k, v in FORMULAS.items() if k != "title"},
        )
    path = tmp_path / "f.xlsx"
    sheet = export(plan_loaded, "issues", path, unit="法制科")
    row = 6
    for column, key in ((3, "title"), (5, "content"), (6, "measures"), (7, "goal"), (8, "owner")):
        cell = sheet.cell(row=row, column=column)
        assert cell.data_type == "s" and cell.value == FORMULAS[key] and cell.quotePrefix, key
    remark = sheet.cell(row=row, column=10)  # the 备注 starts with the status, the remark comes after it
    assert remark.data_type == "s" and remark.value.endswith("=2")
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_rows_are_tall_enough_for_their_wrapped_text(plan_loaded: Database, tmp_path: Path) -> None:
    with transaction(plan_loaded.sessions) as session:
        add_issue(session, "法制科", "短", date(2020, 8, 1))
        add_issue(session, "法制科", "长", date(2020, 8, 1), content="自查发现执法案卷归档不及时。" * 12)
        add_issue(session, "法制科", "分行", date(2020, 8, 1), measures="一、明确责任人\n二、制定方案\n三、逐卷补正")
    sheet = export(plan_loaded, "issues", tmp_path / "h.xlsx")
    heights = {row[2]: sheet.row_dimensions[number].height for number, row in enumerate(values(sheet), 1)}
    # 线索内容 is 30 wide: 168 characters of Chinese take 12 lines of 14.5 points, plus 4 of padding
    assert heights["长"] == 12 * 14.5 + 4
    assert heights["分行"] == 3 * 14.5 + 4  # each line of 整改措施 starts a line in the cell
    assert heights["短"] == 2 * 14.5 + 4  # the 备注 (state, number, 整治重点) takes two lines at 20 wide
    assert sheet.row_dimensions[5].height is None  # the header and the units' rows keep Excel's own height
    group = next(number for number, row in enumerate(values(sheet), 1) if row[0] == "法制科")
    assert sheet.row_dimensions[group].height is None and sheet.cell(row=group, column=1).font.bold


def test_a_unit_name_that_looks_like_a_formula_stays_text(plan_loaded: Database, tmp_path: Path) -> None:
    with transaction(plan_loaded.sessions) as session:
        unit_named(session, "耕地保护科").name = "=1+1科"
    path = tmp_path / "g.xlsx"
    sheet = export(plan_loaded, "issues", path)
    group = next(row for row in sheet.iter_rows() if row[0].value == "=1+1科")[0]
    assert group.data_type == "s" and group.quotePrefix and group.font.bold  # still the units' row style
    with zipfile.ZipFile(path) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()


def test_control_characters_are_dropped_not_fatal(plan_loaded: Database, tmp_path: Path) -> None:
    with transaction(plan_loaded.sessions) as session:
        # (NUL never reaches the database: the chat normalizer drops it, and PostgreSQL would refuse it)
        add_issue(session, "法制科", "标题\x0b含控制字符\x1f", date(2020, 8, 1))
    sheet = export(plan_loaded, "issues", tmp_path / "x.xlsx", unit="法制科")
    assert data_rows(sheet)[0][2] == "标题含控制字符"


def test_tables_are_ready_to_print(ledger: Database, tmp_path: Path) -> None:
    sheet = export(ledger, "issues", tmp_path / "p.xlsx", unit="法制科")
    assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    assert sheet.print_title_rows == "$5:$5"  # the header row repeats on every printed page
    assert "A2:J2" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet.column_dimensions["E"].width == 30
    body = sheet.cell(row=6, column=5)
    assert body.alignment.wrap_text and body.border.left.style == "thin" and body.border.bottom.style == "thin"
    assert sheet.cell(row=5, column=1).font.bold


@pytest.mark.parametrize("kind", ["contacts", "issues", "stats"])
def test_every_page_of_every_table_is_numbered(ledger: Database, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.xlsx"
    export(ledger, kind, path, sheet_per_unit=True) if kind == "issues" else export(ledger, kind, path)
    for sheet in load_workbook(path).worksheets:
        assert sheet.oddFooter.center.text == "第 &P 页 共 &N 页", sheet.title  # Excel fills in the numbers


def test_rectified_at_is_read_in_the_campaigns_timezone(plan_loaded: Database, tmp_path: Path) -> None:
    with transaction(plan_loaded.sessions) as session:
        add_issue(session, "法制科", "深夜销号", date(2020, 8, 1), status=IssueStatus.RECTIFIED, percent=100)
    # add_progress stamps 2020-07-10 15:00 Shanghai (07:00 UTC): the 备注 says 7月10日 either way
    sheet = export(plan_loaded, "issues", tmp_path / "t.xlsx", unit="法制科")
    assert data_rows(sheet)[0][9] == "已整改（2020年7月10日销号）；编号#1；整治重点：制度建设"
