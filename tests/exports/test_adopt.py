"""Adopting mid-campaign: the office's filled-in 附件1 and 附件2, in the seeds' layouts and in the layouts duban's
own exports write, read into the database — a dry run line by line first, then the same file written once."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import delete, select

from core.statuses import ContactStatus, IssueStatus
from exports.adopt import ImportPlan, Outcome, apply, plan_contacts, plan_issues, read_remark
from exports.table_reader import WorkbookError
from exports.tables import export_contacts, export_issues
from storage.db import transaction
from storage.models import Contact, Issue, Progress
from tests.conftest import Database, at
from tests.factories import TODAY, build_ledger, campaign_of, unit_named

ISSUE_HEADER = [
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
]


def workbook(path: Path, sheets: dict[str, list[list[Any]]], merges: dict[str, list[str]] | None = None) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cells in (merges or {}).get(title, []):
            sheet.merge_cells(cells)
    book.save(path)
    return path


def seed_contacts(path: Path) -> Path:
    """附件1 as seed 000 prints it, filled in by hand: the unit merged down over its two contacts."""
    return workbook(
        path,
        {
            "Sheet1": [
                ["附件1"],
                ["行政执法不作为慢作为乱作为专项整治联系人"],
                ["单位名称", "姓名", "职务", "联系电话", "微信或邮箱"],
                ["法制科", "陆和建", "法制科科长", 13909551234, "lu@example.cn"],
                [None, "杨敏", "科员", "139 0955 1235", None],
                ["耕地保护科", "周丽", "副科长", "13909550004", "zhouli"],
                ["法治科", "错单位", "科员", "13900000000", None],
                ["办公室", "无电话", "科员", "请咨询", None],
                ["执法监察支队", "未报送", None, None, None],
                ["说明：每个单位填报一名联络员。"],
            ]
        },
        {"Sheet1": ["A2:E2", "A4:A5", "A10:E10"]},
    )


def seed_issues(path: Path) -> Path:
    """附件2 as seed 000 prints it, one sheet per unit, dates as Excel dates and as text."""
    head = [["附件2"], ["行政执法不作为慢作为乱作为专项整治问题清单"]]
    law = [
        *head,
        ["填报单位（盖章）：法制科"],
        ["填表时间：  年  月  日"],
        ISSUE_HEADER,
        [
            1,
            2020,
            "执法证件未按期年检",
            "专项检查",
            "3名执法人员证件过期",
            "组织补办",
            "全部持证",
            "张三",
            datetime(2020, 9, 10),
            None,
        ],
        [
            2,
            "2020年",
            "案卷不规范",
            "信访举报",
            "案卷缺少送达回证",
            "逐卷整改",
            "案卷规范",
            "李四",
            "9月10日前",
            "已整改",
        ],
        [3, 2020, "公示不全", "群众来信", "执法公示栏未更新", "更新公示", "公示完整", "王五", "下个月", None],
        ["说明：线索来源项填写信访举报、媒体曝光……等。"],
    ]
    office = [*head, ["填报单位（盖章）：办公室"], ["填表时间：2020年7月15日"], ISSUE_HEADER, ["无"]]
    return workbook(
        path, {"法制科": law, "办公室": office}, {"法制科": ["A2:J2", "A9:J9"], "办公室": ["A2:J2", "A6:J6"]}
    )


def planned(db: Database, kind: str, path: Path, **options: Any) -> ImportPlan:
    with transaction(db.sessions) as session:
        if kind == "contacts":
            return plan_contacts(session, campaign_of(session), path, **options)
        return plan_issues(session, campaign_of(session), path, today=TODAY, **options)


def imported(db: Database, kind: str, path: Path, **options: Any) -> int:
    with transaction(db.sessions) as session:
        campaign = campaign_of(session)
        plan = (
            plan_contacts(session, campaign, path, **options)
            if kind == "contacts"
            else plan_issues(session, campaign, path, today=TODAY, **options)
        )
        return apply(session, campaign, plan, now=at("2020-07-15 10:00"), actor="cli", file_name=path.name)


def lines(plan: ImportPlan) -> list[tuple[str, str, str, str, str]]:
    return [(line.where, line.outcome.value, line.unit, line.what, line.reason) for line in plan.lines]


def test_a_seed_contact_table_dry_run_says_what_each_line_does(plan_loaded: Database, tmp_path: Path) -> None:
    plan = planned(plan_loaded, "contacts", seed_contacts(tmp_path / "附件1.xlsx"))
    assert lines(plan) == [
        ("Sheet1 第4行", "已存在", "法制科", "陆和建 13909551234", "已是法制科的联系人"),  # named in the plan
        ("Sheet1 第5行", "新建", "法制科", "杨敏 13909551235", ""),
        ("Sheet1 第6行", "新建", "耕地保护科", "周丽 13909550004", ""),
        ("Sheet1 第7行", "拒绝", "法治科", "错单位", "未找到单位「法治科」（是不是：法制科、耕地保护科）"),
        ("Sheet1 第8行", "拒绝", "办公室", "无电话", "联系电话「请咨询」不像电话号码"),
        ("Sheet1 第9行", "跳过", "执法监察支队", "未报送", "未报送联络员"),
    ]
    assert plan.summary == "新建 2，已存在 1，跳过 1，拒绝 2"
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Contact).where(Contact.name == "杨敏")).first() is None  # a dry run


def test_contacts_are_written_once_and_can_register_by_phone(plan_loaded: Database, tmp_path: Path) -> None:
    path = seed_contacts(tmp_path / "附件1.xlsx")
    assert imported(plan_loaded, "contacts", path) == 2
    assert imported(plan_loaded, "contacts", path) == 0  # the same file again changes nothing
    assert planned(plan_loaded, "contacts", path).summary == "新建 0，已存在 3，跳过 1，拒绝 2"
    with transaction(plan_loaded.sessions) as session:
        zhou = session.scalars(select(Contact).where(Contact.name == "周丽")).one()
        assert (zhou.status, zhou.title, zhou.phone, zhou.wechat_or_email) == (
            ContactStatus.PRELISTED,
            "副科长",
            "13909550004",
            "zhouli",
        )


def test_a_seed_issue_list_with_a_sheet_per_unit(plan_loaded: Database, tmp_path: Path) -> None:
    path = seed_issues(tmp_path / "附件2.xlsx")
    plan = planned(plan_loaded, "issues", path)
    assert plan.sheets == ["法制科", "办公室"]
    assert lines(plan) == [
        ("法制科 第6行", "新建", "法制科", "#1 执法证件未按期年检（2020年9月10日，未整改）", ""),
        ("法制科 第7行", "新建", "法制科", "#2 案卷不规范（2020年9月10日，已整改）", ""),
        ("法制科 第8行", "拒绝", "法制科", "公示不全", "完成时限「下个月」无法识别（应为日期，如 2020年9月10日）"),
        ("办公室 第6行", "跳过", "办公室", "无", "本单位无问题"),
    ]
    assert imported(plan_loaded, "issues", path) == 2
    assert imported(plan_loaded, "issues", path) == 0
    with transaction(plan_loaded.sessions) as session:
        issues = session.scalars(select(Issue).order_by(Issue.number)).all()
        assert [(i.number, i.title, i.year, i.due, i.due_text, i.status, i.source) for i in issues] == [
            (1, "执法证件未按期年检", 2020, date(2020, 9, 10), None, IssueStatus.OPEN, "专项检查"),
            (2, "案卷不规范", 2020, date(2020, 9, 10), "9月10日前", IssueStatus.RECTIFIED, "信访举报"),
        ]
        history = session.scalars(select(Progress).where(Progress.issue_id == issues[1].id)).one()
        assert history.note == "从Excel导入" and issues[1].rectified_at is not None


def test_a_table_that_names_no_unit_takes_the_one_given(plan_loaded: Database, tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "x.xlsx",
        {
            "Sheet": [
                ISSUE_HEADER,
                [1, 2020, "超期办案", "媒体曝光", "超期", "整改", "到位", "赵六", "2020-08-01", None],
            ]
        },
    )
    refused = planned(plan_loaded, "issues", path)
    assert refused.lines[0].outcome is Outcome.REFUSE and "无法确定单位" in refused.lines[0].reason
    with transaction(plan_loaded.sessions) as session:
        office = unit_named(session, "办公室")
    assert planned(plan_loaded, "issues", path, unit=office).lines[0].unit == "办公室"


def test_what_is_not_a_table_is_refused_clearly(plan_loaded: Database, tmp_path: Path) -> None:
    text = tmp_path / "notes.xlsx"
    text.write_text("不是工作簿")
    with pytest.raises(WorkbookError, match="无法读取该文件"):
        planned(plan_loaded, "issues", text)
    other = workbook(tmp_path / "other.xlsx", {"Sheet": [["姓名", "电话"], ["张三", "139"]]})
    with pytest.raises(WorkbookError, match="没有找到表头（应有「线索名称、完成时限」等列）"):
        planned(plan_loaded, "issues", other)


def ledger_rows(db: Database) -> list[tuple[Any, ...]]:
    with transaction(db.sessions) as session:
        return [
            (
                i.unit_id,
                i.number,
                i.year,
                i.title,
                i.source,
                i.content,
                i.measures,
                i.goal,
                i.owner,
                i.due,
                i.remark,
                i.focus_area,
                i.status,
                i.percent,
                i.rectified_at.date() if i.rectified_at else None,
            )
            for i in session.scalars(select(Issue).order_by(Issue.number))
        ]


def export_values(db: Database, kind: str, path: Path, **options: Any) -> list[list[tuple[Any, ...]]]:
    with transaction(db.sessions) as session:
        (export_contacts if kind == "contacts" else export_issues)(
            session, campaign_of(session), path, today=TODAY, **options
        )
    return [list(sheet.iter_rows(values_only=True)) for sheet in load_workbook(path).worksheets]


@pytest.mark.parametrize("sheet_per_unit", [False, True])
def test_dubans_own_issue_export_imports_into_the_same_ledger(
    plan_loaded: Database, tmp_path: Path, sheet_per_unit: bool
) -> None:
    build_ledger(plan_loaded)
    with transaction(plan_loaded.sessions) as session:
        session.scalars(select(Issue).where(Issue.number == 1)).one().remark = "需市局协调"
    before = ledger_rows(plan_loaded)
    exported = export_values(plan_loaded, "issues", tmp_path / "before.xlsx", sheet_per_unit=sheet_per_unit)
    with transaction(plan_loaded.sessions) as session:
        session.execute(delete(Issue))
    assert imported(plan_loaded, "issues", tmp_path / "before.xlsx") == 7
    assert ledger_rows(plan_loaded) == before
    assert export_values(plan_loaded, "issues", tmp_path / "after.xlsx", sheet_per_unit=sheet_per_unit) == exported
    assert imported(plan_loaded, "issues", tmp_path / "after.xlsx") == 0


def test_dubans_own_contact_export_imports_into_the_same_table(plan_loaded: Database, tmp_path: Path) -> None:
    build_ledger(plan_loaded)
    exported = export_values(plan_loaded, "contacts", tmp_path / "before.xlsx")
    with transaction(plan_loaded.sessions) as session:
        session.execute(delete(Contact).where(Contact.status != ContactStatus.PENDING))
    assert imported(plan_loaded, "contacts", tmp_path / "before.xlsx") == 3
    assert export_values(plan_loaded, "contacts", tmp_path / "after.xlsx") == exported


@pytest.mark.parametrize(
    ("remark", "status", "percent", "number", "area", "kept"),
    [
        (
            "已整改（2020年7月10日销号）；编号#3；整治重点：制度建设；另附照片",
            IssueStatus.RECTIFIED,
            100,
            3,
            "制度建设",
            "另附照片",
        ),
        ("整改中 60%；编号#12", IssueStatus.IN_PROGRESS, 60, 12, None, None),
        ("未整改，已逾期5天；编号#2；整治重点：队伍建设", IssueStatus.OPEN, 0, 2, "队伍建设", None),
        ("已销号", IssueStatus.RECTIFIED, 100, None, None, None),
        ("正在整改，预计月底完成", IssueStatus.IN_PROGRESS, 0, None, None, None),
        ("需市局协调", IssueStatus.OPEN, 0, None, None, "需市局协调"),
    ],
)
def test_the_remark_gives_back_what_the_export_put_in_it(
    remark: str, status: IssueStatus, percent: int, number: int | None, area: str | None, kept: str | None
) -> None:
    state = read_remark(remark, ["制度建设", "履行职责", "队伍建设"])
    assert (state.status, state.percent, state.number, state.focus_area, state.remark) == (
        status,
        percent,
        number,
        area,
        kept,
    )
