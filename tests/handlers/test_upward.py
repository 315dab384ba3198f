"""A child campaign's coordinator submits what the parent asks of its unit (报送), and a child plan's coordinators
are the unit's contacts in the parent."""

from __future__ import annotations

import pytest

from tests.handlers.test_rollup import nest  # noqa: F401  (the fixture)
from tests.nested import CITY, CITY_COORDINATOR, FARMING, FARMING_COORDINATOR, NATURAL, NATURAL_COORDINATOR, Nest


def _owing(reply: str, deliverable: str) -> str:
    return next(line for line in reply.split("\n") if line.startswith(f"· {deliverable}（"))


def test_a_child_plan_with_coordinators_gave_the_parent_its_contacts(nest: Nest) -> None:  # noqa: F811
    owing = _owing(nest.send(CITY, CITY_COORDINATOR, "未报送"), "专项整治工作联系人")
    assert "沙坡头区、中宁县" in owing
    assert "市自然资源局" not in owing and "沙坡头区农业农村局" not in owing


def test_a_child_coordinators_submission_counts_as_the_units_in_the_parent(nest: Nest) -> None:  # noqa: F811
    assert "市自然资源局" in _owing(nest.send(CITY, CITY_COORDINATOR, "未报送"), "行政裁量基准")
    listing = nest.send(NATURAL, NATURAL_COORDINATOR, "报送")
    assert f"「市自然资源局」在上级专项整治「{CITY}」的报送事项" in listing
    assert "1. 专项整治工作联系人（6月10日前，已报送（7月1日））" in listing
    assert "2. 行政裁量基准（9月30日前，未报送）" in listing
    reply = nest.send(NATURAL, NATURAL_COORDINATOR, "报送 裁量基准")
    assert (
        f"已在上级专项整治「{CITY}」登记「市自然资源局」报送「行政裁量基准」，请按要求将材料报同级司法行政机关" in reply
    )
    assert "市自然资源局" not in _owing(nest.send(CITY, CITY_COORDINATOR, "未报送"), "行政裁量基准")
    assert "· 市自然资源局：" not in nest.send(CITY, CITY_COORDINATOR, "汇总 自然资源局").split("报送事项")[0]
    assert "无需重复报送" in nest.send(NATURAL, NATURAL_COORDINATOR, "报送 行政裁量基准")
    # The child's own deliverables stay the child's: a 科室's 报送 there does not touch the city's list.
    assert "已登记「法制科」报送「典型案例」" in nest.send(NATURAL, "FaZhi", "报送 典型案例")
    assert "市自然资源局" in _owing(nest.send(CITY, CITY_COORDINATOR, "未报送"), "专项整治工作总结及专项整治情况统计表")


def test_a_near_name_is_offered_and_a_coordinator_without_a_parent_is_told_why(nest: Nest) -> None:  # noqa: F811
    offer = nest.send(FARMING, FARMING_COORDINATOR, "报送 工作总结报告")
    assert "是指「专项整治工作总结及专项整治情况统计表」吗？" in offer
    assert "登记「沙坡头区农业农村局」报送「专项整治工作总结及专项整治情况统计表」" in nest.send(
        FARMING, FARMING_COORDINATOR, "确认"
    )
    assert "本专项整治没有上级专项整治" in nest.send(CITY, CITY_COORDINATOR, "报送 行政裁量基准")


@pytest.mark.parametrize(
    "text", ["报送 裁量基准", "报送：行政裁量基准", "【报送】行政裁量基准", "报送 2", "报送 行政裁量基准。"]
)
def test_the_ways_a_coordinator_writes_it(nest: Nest, text: str) -> None:  # noqa: F811
    assert "登记「市自然资源局」报送「行政裁量基准」" in nest.send(NATURAL, NATURAL_COORDINATOR, text)
