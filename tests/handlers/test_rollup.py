"""A parent campaign's 汇总 with its children in it (seed 001 above seeds 000 and 002), through the dispatcher."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from storage.db import transaction
from storage.repos import Campaigns, Rollup
from tests.conftest import Database, at
from tests.nested import (
    CITY,
    CITY_COORDINATOR,
    FARMING,
    FARMING_COORDINATOR,
    NATURAL,
    NATURAL_COORDINATOR,
    Nest,
    issue_text,
    load_nested,
)


@pytest.fixture
def nest(db: Database) -> Nest:
    """On 1 July: two 科室 of 自然资源局 and the district's 执法大队 register and log issues."""
    clock = ManualClock(at("2020-07-01 09:00"))
    load_nested(db, clock)
    nest = Nest(db, clock)
    nest.register(NATURAL, NATURAL_COORDINATOR, "FaZhi", "法制科", "13909551001")
    nest.register(NATURAL, NATURAL_COORDINATOR, "ZhiDui", "支队", "13909551002")
    nest.register(FARMING, FARMING_COORDINATOR, "DaDui", "执法大队", "13909552001")
    for title, due in (("案卷归档不及时", "7月10日前"), ("执法证件未年检", "9月30日前")):
        assert "已登记问题" in nest.send(NATURAL, "FaZhi", issue_text(title, due, "制度建设"))
    assert "已登记问题 #3" in nest.send(NATURAL, "ZhiDui", issue_text("举报回复超期", "8月31日前", "回应群众诉求"))
    assert "已登记问题 #1" in nest.send(FARMING, "DaDui", issue_text("裁量基准未公开", "7月20日前", "强化社会监督"))
    clock.set(at("2020-07-06 10:00"))
    assert "已销号" in nest.send(NATURAL, "FaZhi", "2号问题已整改")
    assert "已销号" in nest.send(FARMING, "DaDui", "1号问题已整改")
    clock.set(at("2020-07-15 10:00"))  # a Wednesday: 案卷归档不及时 is five days overdue
    return nest


def test_the_tree_below_a_campaign_names_the_unit_each_child_counts_under(nest: Nest, db: Database) -> None:
    with transaction(db.sessions) as session:
        city = Campaigns(session).current(CITY)
        assert city is not None
        below = {b.campaign.name: (b.unit_id, b.depth) for b in Rollup(session).below(city)}
        units = {u.name: u.id for u in city.units}
        assert below == {NATURAL: (units["市自然资源局"], 1), FARMING: (units["沙坡头区农业农村局"], 1)}
        assert [b.campaign.name for b in Rollup(session).below(city, units["市自然资源局"])] == [NATURAL]
        natural = Campaigns(session).current(NATURAL)
        assert natural is not None and Rollup(session).below(natural) == []


def test_the_parents_summary_counts_each_child_as_its_unit(nest: Nest) -> None:
    reply = nest.send(CITY, CITY_COORDINATOR, "汇总")
    assert "问题：共 4 个，未整改 2，整改中 0，已整改 2，逾期 1" in reply  # the children's issues, none of its own
    assert "整改率：50.0%（2/4）" in reply
    assert "· 市自然资源局：逾期问题1个" in reply  # the child's overdue issue makes its unit red in the city
    assert "下级专项整治（已计入上面各项）：" in reply
    assert (
        f"· 市自然资源局（{NATURAL}，5 个单位）：问题 3 个，整改率 33.3%（1/3），下级目标 90%（9月10日前），"
        "按进度今日应达 39.2%，逾期 1；本周周报 0/5 个单位已报送"
    ) in reply
    assert f"· 沙坡头区农业农村局（{FARMING}，4 个单位）：问题 1 个，整改率 100.0%（1/1），逾期 0" in reply
    # The children's coordinators answer for them: both units count as having someone to write to.
    assert "联络员登记：2/8 个单位" in reply


def test_a_child_units_weekly_report_is_every_one_of_its_units_reports(nest: Nest) -> None:
    nest.clock.set(at("2020-07-17 11:00"))  # Friday, before the 12:00 due time
    for user in ("DaDui",):
        assert "已收到" in nest.send(FARMING, user, "周报 本周完成执法案卷评查3件")
    missing = nest.send(CITY, CITY_COORDINATOR, "未报送")
    assert "沙坡头区农业农村局：1/4 个单位已报送" in missing
    assert "市自然资源局：0/5 个单位已报送" in missing
    assert "沙坡头区农业农村局" in missing.split("\n")[0]  # three of its units have not: it has not reported

    for user, unit, phone in (("NongJi", "农技中心", "13909552002"), ("XuMu", "畜牧中心", "13909552003")):
        nest.register(FARMING, FARMING_COORDINATOR, user, unit, phone)
        assert "已收到" in nest.send(FARMING, user, "周报 本周开展执法检查2次")
    nest.register(FARMING, FARMING_COORDINATOR, "BanGong", "办公室", "13909552004")
    nest.clock.set(at("2020-07-17 14:00"))
    assert "迟报" in nest.send(FARMING, "BanGong", "周报 本周整理执法案卷")
    missing = nest.send(CITY, CITY_COORDINATOR, "未报送")
    assert "沙坡头区农业农村局：4/4 个单位已报送（迟报 1）" in missing
    assert "沙坡头区农业农村局" not in missing.split("\n")[0]  # every unit of it has: so has it, late


def test_summary_of_a_child_unit_drills_into_the_child(nest: Nest) -> None:
    reply = nest.send(CITY, CITY_COORDINATOR, "汇总 自然资源局")
    assert "【市自然资源局】专项整治情况" in reply
    assert "问题：共 3 个，未整改 2，整改中 0，已整改 1，逾期 1" in reply  # combined, as in the city's 汇总
    assert f"下级专项整治「{NATURAL}」（已计入上面各项）：" in reply
    assert "下级协调人：陆和建" in reply
    assert "本单位在本专项整治登记的问题：共 0 个" in reply
    assert "联络员登记：2/5 个单位" in reply  # the child's own 汇总 from here on
    assert "整改率：33.3%（1/3），目标 90%（9月10日前，还剩 57 天），按进度今日应达 39.2%" in reply
    assert "· 法制科：逾期问题1个" in reply
    assert "联络员未登记：办公室、国土空间规划科、耕地保护科" in reply


def test_a_child_without_a_parent_link_is_summarised_as_before(nest: Nest) -> None:
    reply = nest.send(NATURAL, NATURAL_COORDINATOR, "汇总")
    assert f"【{NATURAL}】汇总" in reply and "下级专项整治" not in reply
    assert "问题：共 3 个，未整改 2，整改中 0，已整改 1，逾期 1" in reply


def test_overdue_names_the_child_units_with_overdue_issues(nest: Nest) -> None:
    reply = nest.send(CITY, CITY_COORDINATOR, "逾期")
    assert reply.startswith("逾期未整改问题 1 个（截至2020年7月15日）")
    assert f"· 市自然资源局（{NATURAL}）：1 个，发送「汇总 市自然资源局」查看" in reply
    assert "【法制科】1 个" in nest.send(NATURAL, NATURAL_COORDINATOR, "逾期")
