"""Dates as notices write them (issue: month-only and 旬 ranges, years carried across a range and a year
boundary, (一) / 1. / 第一阶段 markers, phases in prose, 至 / — / - / 到), and what a deliverable is."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.notice import import_notice
from handlers.notice.writer import render_plan


def phases(text: str) -> list[tuple[str, date | str | None, date | str | None]]:
    def shown(when):  # type: ignore[no-untyped-def]
        return None if when is None else (when.day or when.words)

    return [(p.name.value, shown(p.start), shown(p.end)) for p in import_notice(text).phases]


@pytest.mark.parametrize(("heading", "start", "end"), [
    ("(一)动员部署阶段(4月-5月中旬)", date(2005, 4, 1), date(2005, 5, 20)),
    ("(二)集中整治阶段(5月下旬-8月)", date(2005, 5, 21), date(2005, 8, 31)),
    ("(三)督查阶段(5月)", date(2005, 5, 1), date(2005, 5, 31)),
    ("(四)摸底阶段(5月-8月)", date(2005, 5, 1), date(2005, 8, 31)),
    ("(五)总结巩固阶段(2011年2月-2011年10月上旬)", date(2011, 2, 1), date(2011, 10, 10)),
    ("上报审核阶段(2005年4-5月):", date(2005, 4, 1), date(2005, 5, 31)),
    ("1.动员部署阶段(8月1日—8月20日)。", date(2005, 8, 1), date(2005, 8, 20)),
    ("2、统一规划阶段(4月15日-6月15日)", date(2005, 4, 15), date(2005, 6, 15)),
    ("(二)调查评议阶段(7月--10月)", date(2005, 7, 1), date(2005, 10, 31)),
    ("第二阶段:集中整治(5月15日至11月底)。", date(2005, 5, 15), date(2005, 11, 30)),
    ("(一)动员部署阶段(9月26日至30日)。", date(2005, 9, 26), date(2005, 9, 30)),
    ("(三)总结验收阶段(2012年2月7日至2月29日)。", date(2012, 2, 7), date(2012, 2, 29)),
    ("(二)清剿火患阶段(9月26日到2月6日)。", date(2005, 9, 26), date(2006, 2, 6)),
    ("(一)自查自纠阶段(截止2005年6月底)", None, date(2005, 6, 30)),
])
def test_phase_headings_as_notices_write_them(heading: str, start: date | None, end: date) -> None:
    text = f"{heading}各单位认真组织。\n于2005年12月1日前将《总结》报县政府。"  # the year comes from here
    assert phases(text)[0][1:] == (start, end)


@pytest.mark.parametrize(("sentence", "name", "start", "end"), [
    ("2016年12月1日至2017年1月31日是集中整治阶段,各地根据方案开展整治。", "集中整治阶段",
     date(2016, 12, 1), date(2017, 1, 31)),
    ("4月8日至20日為自查整改期,各單位組織整改。", "自查整改期", "4月8日", "4月20日"),
    ("宣传阶段为2017年12月1日至12月10日,各乡镇召开动员会议。", "宣传阶段", date(2017, 12, 1), date(2017, 12, 10)),
    ("此次活动分为三个阶段进行。第一阶段:宣传发动阶段(4月初至4月中旬)", "宣传发动阶段", "4月初", "4月中旬"),
])
def test_phases_in_prose(sentence: str, name: str, start: object, end: object) -> None:
    assert phases(sentence) == [(name, start, end)]


@pytest.mark.parametrize(("sentence", "start", "end"), [
    ("公安部部署各地公安交管部门2015年8月1日至9月27日,在全国开展集中整治交通违法行为统一行动。",
     date(2015, 8, 1), date(2015, 9, 27)),
    ("具体安排如下:一、活动时间2015年8月1日至8月31日二、活动地点XX村", date(2015, 8, 1), date(2015, 8, 31)),
    ("整治为期一个月,从201x年5月2日至5月31日。", "5月2日", "5月31日"),
    ("从2018年12月19日起至2019年底,将在全市开展专项行动。", date(2018, 12, 19), date(2019, 12, 31)),
])
def test_campaign_spans_as_notices_write_them(sentence: str, start: object, end: object) -> None:
    plan = import_notice(sentence)
    assert plan.start is not None and plan.end is not None
    assert (plan.start.day or plan.start.words, plan.end.day or plan.end.words) == (start, end)


def test_a_time_named_in_passing_is_no_span() -> None:
    assert import_notice("区、县一级的评议时间为10月上旬,市级评议活动放在10月中旬进行。").start is None


def test_a_template_year_is_no_year() -> None:
    found = phases("第一阶段:宣传动员阶段(20xx年5月2日至5月15日)。成立领导小组。")
    assert found == [("宣传动员阶段", "5月2日", "5月15日")]
    assert import_notice("第一阶段:宣传动员阶段(20**年5月2日至5月15日)。").year is None


def test_month_only_phases_load_as_the_whole_month_without_a_year() -> None:
    text = render_plan(import_notice("(一)动员部署阶段(5月)各县制定方案。\n(二)督查阶段(8月-11月)开展督查。"))
    assert "    start: 5月1日  # 第1行「5月」；通知未写年份" in text
    assert "    end: 5月底  # 第1行「5月」；通知未写年份" in text
    assert "    end: 11月底  # 第2行「11月」；通知未写年份" in text


def test_the_year_of_a_document_title_when_nothing_better_with_a_note() -> None:
    plan = import_notice("(五)总结考核阶段(10月1日至11月10日)。各市于11月10日前将《2005年环保专项行动工作总结》"
                         "报省环保专项行动领导小组办公室。")
    assert plan.year == 2005 and plan.year_note == "取自文中所提文件的标题"
    assert plan.phases[0].end is not None and plan.phases[0].end.day == date(2005, 11, 10)
    text = render_plan(plan)
    assert ("未写年份的日期按 2005 年计：第1行「《2005年环保专项行动工作总结》」"
            "（取自文中所提文件的标题，请核对）") in text


def test_deliverables_paired_with_their_dates_and_the_year_carried() -> None:
    plan = import_notice("各县区分别在2011年6月10日、8月10日前将半年工作总结和典型案例报市整治办。")
    assert [(d.name, d.due.day, d.to) for d in plan.deliverables] == [
        ("半年工作总结", date(2011, 6, 10), "市整治办"), ("典型案例", date(2011, 8, 10), "市整治办")]
    twice = import_notice("并分别于2009年6月底和7月底报送阶段性报告。").deliverables
    assert [(d.name, d.due.day) for d in twice] == [("阶段性报告（2009年6月底）", date(2009, 6, 30)),
                                                   ("阶段性报告（7月底）", date(2009, 7, 31))]


def test_deliverables_are_named_by_what_is_sent_with_sender_and_recipient_apart() -> None:
    plan = import_notice("各地市环保专项行动领导小组须将典型环境违法案件查处情况以及挂牌督办问题整改情况"
                         "于2005年9月25日前报送省环保专项行动领导小组办公室。")
    [item] = plan.deliverables
    assert item.name == "典型环境违法案件查处情况以及挂牌督办问题整改情况"
    assert (item.sender, item.to) == ("各地市环保专项行动领导小组", "省环保专项行动领导小组办公室")
    assert "    # 报送单位：各地市环保专项行动领导小组" in render_plan(plan)


@pytest.mark.parametrize("sentence", [
    "水利部要求2019年7月19日前全面完成各项任务,使河湖面貌明显改观。",
    "到2025年底前,建立准入严、监管严、处罚重的燃气安全管理机制。",
    "省政府安委会决定于2025年6月底前,在全省范围组织开展化工行业安全生产整治提升专项行动。",
    "于2020年6月4日召开动员会议。",
])
def test_a_deadline_for_work_is_not_a_deliverable(sentence: str) -> None:
    plan = import_notice(sentence)
    assert plan.deliverables == []


def test_a_counted_promise_short_of_phases_is_said_at_the_top() -> None:
    plan = import_notice("本次整治分为三个阶段进行。\n(一)动员阶段(5月)部署。\n(二)整治阶段(6月-8月)整改。")
    text = render_plan(plan)
    assert "# 注意：第1行「分为三个阶段」：通知写明「分为三个阶段」，只找到 2 个阶段：请对照通知补全 phases" in text
    assert import_notice("分宣传、整治两个阶段进行:宣传阶段为2017年12月1日至12月10日,"
                         "整治阶段为2017年12月11日至2018年1月31日。").shortfalls == []
