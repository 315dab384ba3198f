"""Golden tests: what import-text reads out of the seed notices in ../shared/seeds (README: 从通知生成方案)."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest

from core.statuses import TaskDeadlineKind
from notice import import_notice
from notice.model import NoticePlan
from tests.conftest import FIXTURES

# Copies of shared/seeds (public notices), so the suite runs in a clone with nothing beside it.
SEEDS = FIXTURES / "seeds"


@cache
def seed_text(number: str) -> str:
    return next(SEEDS.glob(f"{number}_*.txt")).read_text(encoding="utf-8")


def seed(number: str, year: int | None = None) -> NoticePlan:
    return import_notice(seed_text(number), year=year)


def dues(plan: NoticePlan) -> dict[date | None, str]:
    return {d.due.day: d.name for d in plan.deliverables}


# --- seed 001: 卫法办发〔2020〕13号 --------------------------------------------------------------------------


def test_001_header_and_span() -> None:
    plan = seed("001")
    assert plan.name is not None and plan.name.value == "行政执法不作为慢作为乱作为专项整治"
    assert plan.issuer is not None and plan.issuer.value == "中共中卫市委员会全面依法治市委员会办公室"
    assert plan.year == 2020 and plan.year_origin is not None and plan.year_origin.line == 12  # the 文号
    assert plan.start is not None and plan.start.day == date(2020, 6, 1)  # 自2020年6月初至11月底
    assert plan.end is not None and plan.end.day == date(2020, 11, 30)


def test_001_four_phases() -> None:
    phases = [
        (p.name.value, p.start.day if p.start else None, p.end.day if p.end else None) for p in seed("001").phases
    ]
    assert phases == [
        ("安排部署阶段", None, date(2020, 6, 10)),
        ("自查整改阶段", date(2020, 6, 1), date(2020, 9, 30)),
        ("巩固提高阶段", date(2020, 10, 1), date(2020, 10, 31)),
        ("抽查检查阶段", None, date(2020, 11, 20)),
    ]
    assert [p.name.origin.line for p in seed("001").phases] == [104, 106, 108, 110]


def test_001_dated_deliverables() -> None:
    plan = seed("001")
    found = dues(plan)
    assert set(found) == {date(2020, 6, 10), date(2020, 9, 30), date(2020, 10, 20)}
    assert "联系人" in found[date(2020, 6, 10)]
    assert "裁量基准" in found[date(2020, 9, 30)]
    assert "总结" in found[date(2020, 10, 20)] and "统计表" in found[date(2020, 10, 20)]
    summary = next(d for d in plan.deliverables if d.due.day == date(2020, 10, 20))
    assert summary.to == "同级司法行政机关" and summary.due.words == "10月20日前" and summary.origin.line == 108


def test_001_focus_areas_and_sources_from_the_text() -> None:
    plan = seed("001")
    assert [f.value for f in plan.focus_areas] == [
        "行政执法制度建设",
        "行政执法职责履行",
        "执法过错追责",
        "执法队伍建设",
    ]
    assert [s.value for s in plan.sources][:2] == ["信访举报", "媒体曝光"]
    assert plan.units == [] and plan.weekly is None and plan.tasks == []


# --- seed 002: OCR-like (ニ)自査整改阶段, no 文号 --------------------------------------------------------------


def test_002_phases_read_through_ocr_noise() -> None:
    plan = seed("002")
    assert plan.year == 2020  # every fully dated sentence says 2020
    phases = [(p.name.value, p.start.day if p.start else None, p.end.day if p.end else None) for p in plan.phases]
    assert phases == [
        ("安排部署阶段", date(2020, 6, 21), date(2020, 6, 30)),  # (6月下旬): the whole of 下旬
        ("自查整改阶段", date(2020, 7, 1), date(2020, 9, 30)),  # (ニ)自査整改阶段(7月上旬至9月下旬)
        ("巩固提高阶段", date(2020, 10, 1), date(2020, 11, 30)),
    ]


def test_002_weekly_rule() -> None:
    weekly = seed("002").weekly
    assert weekly is not None
    assert (weekly.weekday, weekly.due, weekly.due_read) == ("周五", "12:00", True)  # 每周五上午
    assert weekly.origin.line == 57 and "每周五上午报送" in weekly.origin.quote


def test_002_dated_deliverables() -> None:
    plan = seed("002")
    found = dues(plan)
    assert {date(2020, 6, 30), date(2020, 9, 9), date(2020, 10, 9)} <= set(found)
    assert "联系人" in found[date(2020, 6, 30)]
    assert "自查整改情况报告" in found[date(2020, 9, 9)] and "统计表" in found[date(2020, 9, 9)]
    assert "工作总结" in found[date(2020, 10, 9)]
    assert "裁量基准" in found[date(2020, 8, 31)]  # 于2020年8月31日之前完成行政裁量基准…: a fourth deadline
    # 以上报送材料…报沙坡头区农业综合行政执法大队: the recipient of the three, said once after them
    assert {d.to for d in plan.deliverables if d.due.day != date(2020, 8, 31)} == {"沙坡头区农业综合行政执法大队"}


def test_002_start_stated_end_left_for_a_person() -> None:
    plan = seed("002")
    assert plan.start is not None and plan.start.day == date(2020, 6, 21)  # 自2020年6月下旬起
    assert plan.end is None and any("为期半年" in hint for hint in plan.span_hints)
    assert [(c.name, c.phone) for c in plan.coordinators] == [("俞建奎", "0955-7655608")]


# --- seed 000: no 文号 of its own, no year ----------------------------------------------------------------

SEED_000_DEADLINES = ["6月15日", "6月25日", "8月10日", "8月31日", "9月1日", "9月10日", "9月20日", "10月10日"]


def test_000_target() -> None:
    target = seed("000").target
    assert target is not None and target.rate == 0.9
    assert target.by.words == "9月10日前" and target.by.day == date(2020, 9, 10)
    assert target.origin.line == 85


def test_000_takes_the_year_of_the_documents_it_cites_and_says_so() -> None:
    plan = seed("000")  # no 文号 or date of its own: both notices it implements are 〔2020〕
    assert plan.year == 2020 and plan.year_note == "取自所引文件的文号"
    assert plan.year_origin is not None and "〔2020〕" in plan.year_origin.quote
    assert (
        sorted({d.due.words.removesuffix("前") for d in plan.deliverables}, key=SEED_000_DEADLINES.index)
        == SEED_000_DEADLINES
    )
    assert all(d.due.day is not None and d.due.day.year == 2020 for d in plan.deliverables)


def test_000_without_its_citations_keeps_every_date_in_the_notices_words() -> None:
    plan = import_notice(seed_text("000").replace("〔2020〕", ""))
    assert plan.year is None and plan.start is None and plan.end is None
    assert all(d.due.day is None and d.due.readable for d in plan.deliverables)
    assert plan.target is not None and plan.target.by.day is None  # none invented


def test_000_deadlines_resolve_with_a_year_given() -> None:
    plan = seed("000", year=2020)
    expected = {date(2020, int(m), int(d)) for m, d in (w.removesuffix("日").split("月") for w in SEED_000_DEADLINES)}
    assert {d.due.day for d in plan.deliverables} == expected
    assert plan.target is not None and plan.target.by.day == date(2020, 9, 10)
    cases = next(d for d in plan.deliverables if d.due.day == date(2020, 9, 1))
    assert (cases.name, cases.to) == ("典型案例", "区厅")
    first = next(d for d in plan.deliverables if d.due.day == date(2020, 6, 15))
    assert first.units == ("办公室", "执法监察支队", "法制科")  # （责任单位：办公室、执法监察支队、法制科）


def test_000_sources_and_focus_areas() -> None:
    plan = seed("000")
    assert [s.value for s in plan.sources] == [
        "信访举报",
        "媒体曝光",
        "行政复议",
        "行政诉讼",
        "上级机关督查督办",
        "巡视巡察",
        "专项检查",
        "卫片执法检查",
        "例行督察",
    ]
    assert {s.origin.line for s in plan.sources} == {121}
    assert [f.value for f in plan.focus_areas] == ["制度建设", "履行职责", "回应群众诉求", "队伍建设", "责任追究"]
    assert [u.value for u in plan.units] == ["办公室", "执法监察支队", "法制科"]


# --- seed 004: the 43 tasks -------------------------------------------------------------------------------

E, T = "各行政执法部门〔单位〕", "各乡镇〔街道〕"
ET = (E, T)
J = "司法局"
DATE, YEARLY, THEN, ONGOING = (
    TaskDeadlineKind.DATE,
    TaskDeadlineKind.YEARLY,
    TaskDeadlineKind.DATE_THEN_ONGOING,
    TaskDeadlineKind.ONGOING,
)
# number: (牵头单位, 配合单位, 责任单位, 完成时限, kind)
SEED_004 = {
    1: ((), (), ET, "长期坚持", ONGOING),
    2: ((), (), ET, "长期坚持", ONGOING),
    3: ((), (), ET, "2024年6月15日前并长期坚持", THEN),
    4: ((), (), ET, "长期坚持", ONGOING),
    5: ((), (), ET, "长期坚持", ONGOING),
    6: ((J,), ET, (), "长期坚持", ONGOING),
    7: ((J,), ET, (), "长期坚持", ONGOING),
    8: ((), (), ET, "2024年2月底前并长期坚持", THEN),
    9: ((), (), ET, "长期坚持", ONGOING),
    10: ((), (), ET, "2024年1月底前并长期坚持", THEN),
    11: ((), (), ET, "2024年3月底前", DATE),
    12: ((), (), ET, "长期坚持", ONGOING),
    13: ((J,), (), ET, "2024年5月底前", DATE),
    14: ((), (), ET, "长期坚持", ONGOING),
    15: (("政府办", "发展和改革局", "市场监督管理分局"), ("各行业主管部门",), (), "长期坚持", ONGOING),
    16: ((), (), ET, "2024年3月底前并长期坚持", THEN),
    17: ((), (), ET, "每年10月底前", YEARLY),
    18: (("工业信息化和商务局", "市场监督管理分局"), ("各行政主管部门〔单位〕", T), (), "长期坚持", ONGOING),
    19: ((), (), ET, "每年2月底前", YEARLY),
    20: ((), (), ET, "2025年11月底前", DATE),
    21: (("区委编办",), (T,), (), "2024年12月底前并长期坚持", THEN),
    22: (("区委编办",), ("审批服务管理局", T), (), "2024年10月底前并长期坚持", THEN),
    23: ((), (), ET, "长期坚持", ONGOING),
    24: ((J,), ET, (), "长期坚持", ONGOING),
    25: ((J, "公安分局"), ET, (), "长期坚持", ONGOING),
    26: ((), (), ET, "长期坚持", ONGOING),
    27: ((J,), ET, (), "长期坚持", ONGOING),
    28: ((J,), ET, (), "长期坚持", ONGOING),
    29: ((), (), ET, "长期坚持", ONGOING),
    30: ((J,), ET, (), "2024年底前并长期坚持", THEN),
    31: ((J,), (T,), (), "2024年10月底前并长期坚持", THEN),
    32: ((J,), ET, (), "每年1月底前", YEARLY),
    33: ((), (), (J,), "每年2月底前", YEARLY),
    34: ((), (), ET, "长期坚持", ONGOING),
    35: ((J, "审批服务管理局"), ET, (), "长期坚持", ONGOING),
    36: ((J,), ET, (), "长期坚持", ONGOING),
    37: ((), (), ET, "2024年6月底前并长期坚持", THEN),
    38: ((), (), ET, "2024年5月底前并长期坚持", THEN),
    39: ((J,), ET, (), "2024年12月底前并长期坚持", THEN),
    40: ((), (), ET, "长期坚持", ONGOING),
    41: (("财政局", "人力资源和社会保障局"), ET, (), "长期坚持", ONGOING),
    42: ((), (), ET, "每年12月底前", YEARLY),
    43: (("财政局",), ET, (), "长期坚持", ONGOING),
}


def test_004_all_43_tasks_with_units_and_deadline_kinds() -> None:
    tasks = seed("004").tasks
    assert [t.number for t in tasks] == list(range(1, 44))
    got = {t.number: (t.lead, t.partners, t.responsible, t.deadline, t.kind) for t in tasks}
    assert got == SEED_004


def test_004_task_text_is_whole_across_pdf_line_breaks() -> None:
    tasks = {t.number: t for t in seed("004").tasks}
    assert tasks[9].text.startswith("除法律、行政法规另有规定的外，行政执法决定公开率达到100%")  # lines 69 and 71
    assert tasks[9].origin.line == 69 and tasks[9].deadline_origin is not None
    assert tasks[9].deadline_origin.line == 75
    assert tasks[40].text.endswith("对符合条件的可以予以免责。")


def test_004_names_units_and_collectives_and_no_deliverables() -> None:
    plan = seed("004")
    assert plan.name is not None and plan.name.value == "提升行政执法质量三年行动"
    assert plan.issuer is not None and plan.issuer.value == "吴忠市红寺堡区"
    assert [u.value for u in plan.units] == [
        J,
        "政府办",
        "发展和改革局",
        "市场监督管理分局",
        "工业信息化和商务局",
        "区委编办",
        "审批服务管理局",
        "公安分局",
        "财政局",
        "人力资源和社会保障局",
    ]
    assert set(plan.collectives) == {E, T, "各行业主管部门", "各行政主管部门〔单位〕"}
    assert plan.deliverables == [] and plan.phases == []  # task deadlines are not deliverables
    assert plan.year is None and plan.start is None  # (2023-2025年) is the cited notice's, not a span


@pytest.mark.parametrize("number", ["000", "001", "002", "003", "004"])
def test_every_seed_imports_and_every_date_is_from_the_notice(number: str) -> None:
    plan = seed(number)
    text = seed_text(number)
    for when in [d.due for d in plan.deliverables] + [p.end for p in plan.phases if p.end]:
        assert when.origin.line <= len(text.splitlines())
        if when.day is not None:
            assert str(when.day.month) in when.words  # the resolved month is the notice's own


def test_002_says_it_found_three_of_the_four_phases_it_announces() -> None:
    [shortfall] = seed("002").shortfalls
    assert "分为四个阶段" in shortfall.value and "只找到 3 个阶段" in shortfall.value and shortfall.origin.line == 48


def test_003_keeps_its_whole_title_and_the_issuer_it_names() -> None:
    plan = seed("003")
    assert plan.name is not None and plan.name.value == "武定县自然资源局行政执法实施方案"
    assert plan.issuer is not None and plan.issuer.value == "武定县自然资源局"  # not the portal's 武定县政府办
    found = [(p.name.value, p.start.day if p.start else None, p.end.day if p.end else None) for p in plan.phases]
    assert found == [
        ("安排部署阶段", date(2019, 7, 1), date(2019, 7, 31)),  # 2019年7月为安排部署阶段
        ("完善制度阶段", date(2019, 8, 1), date(2019, 8, 31)),
        ("全面实施阶段", date(2019, 9, 1), None),  # 2019年9月上旬开始为…: no end given
        ("整改提高阶段", date(2019, 10, 1), date(2019, 11, 30)),
        ("总结报告阶段", date(2019, 12, 1), date(2019, 12, 31)),
    ]
