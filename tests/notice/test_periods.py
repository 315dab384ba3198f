"""Dates as notices write them (issue: month-only and 旬 ranges, years carried across a range and a year
boundary, (一) / 1. / 第一阶段 markers, phases in prose, 至 / — / - / 到), and what a deliverable is."""

from __future__ import annotations

from datetime import date

import pytest

from notice import import_notice
from notice.writer import render_plan


def phases(text: str) -> list[tuple[str, date | str | None, date | str | None]]:
    def shown(when):  # type: ignore[no-untyped-def]
        return None if when is None else (when.day or when.words)

    return [(p.name.value, shown(p.start), shown(p.end)) for p in import_notice(text).phases]


@pytest.mark.parametrize(
    ("heading", "start", "end"),
    [
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
    ],
)
def test_phase_headings_as_notices_write_them(heading: str, start: date | None, end: date) -> None:
    text = f"{heading}各单位认真组织。\n于2005年12月1日前将《总结》报县政府。"  # the year comes from here
    assert phases(text)[0][1:] == (start, end)


@pytest.mark.parametrize(
    ("sentence", "name", "start", "end"),
    [
        (
            "2016年12月1日至2017年1月31日是集中整治阶段,各地根据方案开展整治。",
            "集中整治阶段",
            date(2016, 12, 1),
            date(2017, 1, 31),
        ),
        ("4月8日至20日為自查整改期,各單位組織整改。", "自查整改期", "4月8日", "4月20日"),
        ("宣传阶段为2017年12月1日至12月10日,各乡镇召开动员会议。", "宣传阶段", date(2017, 12, 1), date(2017, 12, 10)),
        ("此次活动分为三个阶段进行。第一阶段:宣传发动阶段(4月初至4月中旬)", "宣传发动阶段", "4月初", "4月中旬"),
    ],
)
def test_phases_in_prose(sentence: str, name: str, start: object, end: object) -> None:
    assert phases(sentence) == [(name, start, end)]


@pytest.mark.parametrize(
    ("sentence", "start", "end"),
    [
        (
            "公安部部署各地公安交管部门2015年8月1日至9月27日,在全国开展集中整治交通违法行为统一行动。",
            date(2015, 8, 1),
            date(2015, 9, 27),
        ),
        ("具体安排如下:一、活动时间2015年8月1日至8月31日二、活动地点XX村", date(2015, 8, 1), date(2015, 8, 31)),
        ("整治为期一个月,从201x年5月2日至5月31日。", "5月2日", "5月31日"),
        ("从2018年12月19日起至2019年底,将在全市开展专项行动。", date(2018, 12, 19), date(2019, 12, 31)),
    ],
)
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
    plan = import_notice(
        "(五)总结考核阶段(10月1日至11月10日)。各市于11月10日前将《2005年环保专项行动工作总结》"
        "报省环保专项行动领导小组办公室。"
    )
    assert plan.year == 2005 and plan.year_note == "取自文中所提文件的标题"
    assert plan.phases[0].end is not None and plan.phases[0].end.day == date(2005, 11, 10)
    text = render_plan(plan)
    assert (
        "未写年份的日期按 2005 年计：第1行「《2005年环保专项行动工作总结》」（取自文中所提文件的标题，请核对）"
    ) in text


def test_deliverables_paired_with_their_dates_and_the_year_carried() -> None:
    plan = import_notice("各县区分别在2011年6月10日、8月10日前将半年工作总结和典型案例报市整治办。")
    assert [(d.name, d.due.day, d.to) for d in plan.deliverables] == [
        ("半年工作总结", date(2011, 6, 10), "市整治办"),
        ("典型案例", date(2011, 8, 10), "市整治办"),
    ]
    twice = import_notice("并分别于2009年6月底和7月底报送阶段性报告。").deliverables
    assert [(d.name, d.due.day) for d in twice] == [
        ("阶段性报告（2009年6月底）", date(2009, 6, 30)),
        ("阶段性报告（7月底）", date(2009, 7, 31)),
    ]


def test_deliverables_are_named_by_what_is_sent_with_sender_and_recipient_apart() -> None:
    plan = import_notice(
        "各地市环保专项行动领导小组须将典型环境违法案件查处情况以及挂牌督办问题整改情况"
        "于2005年9月25日前报送省环保专项行动领导小组办公室。"
    )
    [item] = plan.deliverables
    assert item.name == "典型环境违法案件查处情况以及挂牌督办问题整改情况"
    assert (item.sender, item.to) == ("各地市环保专项行动领导小组", "省环保专项行动领导小组办公室")
    assert "    # 报送单位：各地市环保专项行动领导小组" in render_plan(plan)


@pytest.mark.parametrize(
    "sentence",
    [
        "水利部要求2019年7月19日前全面完成各项任务,使河湖面貌明显改观。",
        "到2025年底前,建立准入严、监管严、处罚重的燃气安全管理机制。",
        "省政府安委会决定于2025年6月底前,在全省范围组织开展化工行业安全生产整治提升专项行动。",
        "于2020年6月4日召开动员会议。",
    ],
)
def test_a_deadline_for_work_is_not_a_deliverable(sentence: str) -> None:
    plan = import_notice(sentence)
    assert plan.deliverables == []


def test_a_counted_promise_short_of_phases_is_said_at_the_top() -> None:
    plan = import_notice("本次整治分为三个阶段进行。\n(一)动员阶段(5月)部署。\n(二)整治阶段(6月-8月)整改。")
    text = render_plan(plan)
    assert "# 注意：第1行「分为三个阶段」：通知写明「分为三个阶段」，只找到 2 个阶段：请对照通知补全 phases" in text
    assert (
        import_notice(
            "分宣传、整治两个阶段进行:宣传阶段为2017年12月1日至12月10日,整治阶段为2017年12月11日至2018年1月31日。"
        ).shortfalls
        == []
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这次整治分为三个阶段:第一阶段(5月至6月) 为动员部署阶段。各地部署。", [("动员部署阶段", "5月1日", "6月底")]),
        ("第二阶段 ( 年 7 月 至 12月)为组织实施阶段。", [("组织实施阶段", "7月1日", "12月底")]),  # a year left blank
        ("(二)专项整治阶段(**年3月31日至8月31日)\n交通、公安部门联合执法。", [("专项整治阶段", "3月31日", "8月31日")]),
        (
            "第一阶段(即日起至10月中旬):摸底调查与规划部署。组织人员实地了解。",
            [("第一阶段：摸底调查与规划部署", None, "10月中旬")],
        ),
        (
            "本次行动分为动员部署、自查自纠、集中整治、总结提升四个阶段。第三阶段为2月下旬至4月底,县里检查。",
            [("集中整治", "2月下旬", "4月底")],
        ),
        ("治理分三个阶段进行。第二阶段自明年1月11日起到明年底结束,完成河道平整。", [("第二阶段", "1月11日", "12月底")]),
        ("在第三阶段(2017年到2020年),恢复河道功能。", [("第三阶段", date(2017, 1, 1), date(2020, 12, 31))]),
    ],
)
def test_phases_dated_by_their_ordinal(text: str, expected: list[tuple[str, object, object]]) -> None:
    assert phases(text) == expected


def test_next_year_is_the_notices_year_plus_one_or_no_year() -> None:
    dated = phases("于2015年12月1日前报送方案。\n第二阶段自明年1月11日起到明年底结束。")
    assert dated == [("第二阶段", date(2016, 1, 11), date(2016, 12, 31))]


def test_one_phase_in_several_windows() -> None:
    assert phases(
        "(二)全面禁烧阶段(5月下旬至6月中旬、9月下旬至11月上旬)。各地巡查。\n"
        "(三)检查总结阶段(6月下旬和11月底)。市里督查。"
    ) == [
        ("全面禁烧阶段", "5月下旬", "6月中旬"),
        ("全面禁烧阶段", "9月下旬", "11月上旬"),
        ("检查总结阶段", "6月下旬", "6月下旬"),
        ("检查总结阶段", "11月底", "11月底"),
    ]


def test_a_time_line_under_a_heading_without_one() -> None:
    text = (
        "2021年秸秆禁烧工作方案\n(一)组织发动阶段。时间:夏收前(5月30日一6月4日)、秋收前(9月20日一9月30日)。召开会议。"
    )
    plan = import_notice(text)
    assert [(p.name.value, p.start and p.start.day, p.end and p.end.day) for p in plan.phases] == [
        ("组织发动阶段", date(2021, 5, 30), date(2021, 6, 4)),
        ("组织发动阶段", date(2021, 9, 20), date(2021, 9, 30)),
    ]
    assert (plan.year, plan.year_note) == (2021, "取自通知标题")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "行动分四阶段依次推进:2018年底前进行排查,建立问题清单;2019年1至5月进行集中整治;6至7月开展全面核查;"
            "8至12月组织“回头看”。",
            [
                ("排查", None, date(2018, 12, 31)),
                ("集中整治", date(2019, 1, 1), date(2019, 5, 31)),
                ("全面核查", date(2019, 6, 1), date(2019, 7, 31)),
                ("回头看", date(2019, 8, 1), date(2019, 12, 31)),
            ],
        ),
        (
            "行动分为2个阶段:8月1日至8月10日,重点整治旅游客车;8月13日至8月22日,重点整治校车。",
            [("重点整治旅游客车", "8月1日", "8月10日"), ("重点整治校车", "8月13日", "8月22日")],
        ),
        ("(四)5-6月,开展高毒农药专项整治行动,继续收缴高毒农药。", [("高毒农药专项整治行动", "5月1日", "6月底")]),
        ("(五)下半年普查一次全省的农资企业,摸清资质。", [("普查一次全省的农资企业", "7月1日", "12月底")]),
        (
            "(四)第四阶段(2002年四季度):督查整改重点问题。",
            [("第四阶段：督查整改重点问题", date(2002, 10, 1), date(2002, 12, 31))],
        ),
        ("省政府安委会决定于2025年6月底前,在全省范围组织开展化工行业安全生产整治提升专项行动。", []),
        ("7月1日至20日,由各县(区)人民政府组织验收。", []),
    ],
)
def test_phases_named_by_their_work(text: str, expected: list[tuple[str, object, object]]) -> None:
    assert phases(text) == expected


def test_an_end_that_is_a_festival_is_left_for_a_person() -> None:
    plan = import_notice("第三阶段 ( 年年底至 2005 年春节前)为总结验收阶段。")
    [phase] = plan.phases
    assert phase.name.value == "总结验收阶段" and phase.start is not None and phase.start.words == "12月底"
    assert phase.end is not None
    assert (phase.end.words, phase.end.day, phase.end.readable) == ("2005年春节前", None, False)
    assert (
        "    end: 2005年春节前  # TODO 第1行「第三阶段（年年底至2005年春节前）为总结验收阶段」：无法确定日期"
        in render_plan(plan)
    )


def test_spans_from_the_day_of_the_notice_or_until_a_festival() -> None:
    today = import_notice("联席会议办公室从即日起至12月31日,在全省集中开展“雷霆反电诈”攻坚战役。")
    assert (today.start, today.end and today.end.words) == (None, "12月31日")
    assert "第1行写明「即日起」，即通知印发之日" in render_plan(today)
    festival = import_notice("本镇将于20xx年11月1日至20xx年春节前,在全镇范围内开展根治欠薪冬季专项行动。")
    assert festival.start is not None and festival.start.words == "11月1日"
    assert festival.end is not None and (festival.end.words, festival.end.readable) == ("春节前", False)
    phase_only = import_notice("从即日起到明年1月10日为第一阶段。期间集中整治。")
    assert (phase_only.start, phase_only.end) == (None, None) and len(phase_only.phases) == 1


def test_the_year_of_a_period_or_of_a_campaign_named_for_it() -> None:
    quarter = import_notice("(四)第四阶段(2002年四季度):督查整改。\n3、各区于12月底以前将总结材料上报市创优办。")
    assert quarter.year == 2002 and quarter.year_note is None
    assert [(d.name, d.due.day) for d in quarter.deliverables] == [("总结材料", date(2002, 12, 31))]
    season = import_notice("县城管局开展2014年度冬季违法建筑集中清理整治活动。此次整治活动自11月3日起至12月31日止。")
    assert (season.year, season.year_note) == (2014, "取自专项整治的名称")
    assert season.start is not None and season.start.day == date(2014, 11, 3)


def test_a_mistyped_yu_before_a_deadline() -> None:
    [item] = import_notice("各责任单位制定专项整治行动方案,与2017年8月30日前报镇河长办备案。").deliverables
    assert item.name.endswith("专项整治行动方案") and (item.due.day, item.to) == (date(2017, 8, 30), "镇河长办")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "会议明确,整治分为调查摸底、宣传动员、专项整治等三个阶段,其中专项整治阶段从4月21日到6月30日,设卡检查。",
            [("专项整治阶段", "4月21日", "6月30日")],
        ),
        (
            "(一)动员部署阶段,2019年2月13日—2月17日。各企业制定方案。",
            [("动员部署阶段", date(2019, 2, 13), date(2019, 2, 17))],
        ),
        (
            "专项监督检查分四个阶段,2月13日前完成动员部署阶段,5月6日前完成集中整治阶段。",
            [("动员部署阶段", None, "2月13日"), ("集中整治阶段", None, "5月6日")],
        ),
    ],
)
def test_a_phase_dated_after_its_name_or_by_when_it_is_done(
    text: str, expected: list[tuple[str, object, object]]
) -> None:
    assert phases(text) == expected
    assert import_notice(text).start is None  # a phase's dates are not the campaign's


@pytest.mark.parametrize(
    ("sentence", "start", "end"),
    [
        ("记者获悉,4月1日至6月30日,京津冀两市一省的交通运管部门将联手开展联合治超专项行动。", "4月1日", "6月30日"),
        ("这次大检查从2011年8月至9月进行。", date(2011, 8, 1), date(2011, 9, 30)),
        ("“春雷行动”的展开时间为4月10日零时至19日24时。", "4月10日", "4月19日"),
        ("专项整治从今年6月15日开始,到年底结束。", "6月15日", "12月底"),
        (
            "市里决定自2月上旬至6月底,在全市开展2023年春季校园食品安全专项监督检查。",
            date(2023, 2, 1),
            date(2023, 6, 30),
        ),
    ],
)
def test_more_campaign_spans_as_notices_write_them(sentence: str, start: object, end: object) -> None:
    plan = import_notice(sentence)
    assert plan.start is not None and plan.end is not None
    assert (plan.start.day or plan.start.words, plan.end.day or plan.end.words) == (start, end)


def test_a_period_that_opens_a_clause_of_other_work_is_no_span() -> None:
    assert import_notice("8月1日至9月20日,由市专项行动领导小组派出联合检查组,到现场检查重点问题。").start is None
    assert import_notice("2003年以来各项重点工作的落实情况要查深查透,开展检查。").year is None
