"""Nested campaigns end to end: seed 001's city campaign with seeds 000 and 002 below it, each served by its own
app (DUBAN_CAMPAIGN), everyone talking through the simulator; the city's coordinator reads the figures in chat and
on the dashboard, and downloads the tables."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from bot.app import create_app
from core.clock import ManualClock
from storage.db import transaction
from storage.repos import Campaigns
from tests.bot.test_dashboard_desk import words
from tests.conftest import Database, SimChat, at, make_settings
from tests.factories import set_password
from tests.nested import (
    CITY,
    CITY_COORDINATOR,
    FARMING,
    FARMING_COORDINATOR,
    NATURAL,
    NATURAL_COORDINATOR,
    issue_text,
    load_nested,
)


class Apps:
    """One app per campaign on the same database and clock, as three `DUBAN_CAMPAIGN` deployments would be."""

    def __init__(self, clients: dict[str, TestClient]) -> None:
        self.clients = clients
        self.chats = {name: SimChat(client) for name, client in clients.items()}

    def send(self, campaign: str, user: str, text: str) -> str:
        return self.chats[campaign].send(user, text)

    def register(self, campaign: str, coordinator: str, user: str, unit: str, phone: str) -> None:
        reply = self.send(campaign, user, f"登记\n单位：{unit}\n姓名：{user}同志\n职务：科员\n电话：{phone}")
        number = re.search(r"登记号 (\d+)", reply).group(1)  # type: ignore[union-attr]
        assert "已批准" in self.send(campaign, coordinator, f"批准 {number}")


@pytest.fixture
def apps(db: Database) -> Iterator[Apps]:
    clock = ManualClock(at("2020-07-01 09:00"))
    load_nested(db, clock)
    set_password(db, name="张敏", login="zhangmin")
    with ExitStack() as stack:
        clients = {
            name: stack.enter_context(
                TestClient(create_app(make_settings(db, campaign=name, secret_key="k"), clock=clock))
            )
            for name in (CITY, NATURAL, FARMING)
        }
        apps = Apps(clients)
        apps.register(NATURAL, NATURAL_COORDINATOR, "FaZhi", "法制科", "13909551001")
        apps.register(NATURAL, NATURAL_COORDINATOR, "ZhiDui", "执法监察支队", "13909551002")
        apps.register(FARMING, FARMING_COORDINATOR, "DaDui", "执法大队", "13909552001")
        assert "已登记问题 #1" in apps.send(NATURAL, "FaZhi", issue_text("案卷归档不及时", "7月10日前", "制度建设"))
        assert "已登记问题 #2" in apps.send(NATURAL, "FaZhi", issue_text("执法证件未年检", "9月30日前", "队伍建设"))
        assert "已登记问题 #3" in apps.send(NATURAL, "ZhiDui", issue_text("举报回复超期", "8月31日前", "回应群众诉求"))
        assert "已登记问题 #1" in apps.send(FARMING, "DaDui", issue_text("裁量基准未公开", "7月20日前", "强化社会监督"))
        clock.set(at("2020-07-10 10:00"))  # Friday of week 28
        assert "已销号" in apps.send(NATURAL, "FaZhi", "进展 2 已整改 已全部年检")
        assert "整改中 50%" in apps.send(FARMING, "DaDui", "#1 50% 已起草公开方案")
        clock.set(at("2020-07-17 11:00"))  # Friday of week 29, before the 12:00 due time
        assert "已收到" in apps.send(NATURAL, "FaZhi", "周报 本周完成执法案卷评查3件")
        assert "已收到" in apps.send(FARMING, "DaDui", "周报 本周开展执法检查2次")
        clock.set(at("2020-07-17 15:00"))
        assert "迟报" in apps.send(NATURAL, "ZhiDui", "周报 本周核查举报线索2件")
        yield apps


def test_the_city_reads_its_departments_campaigns_as_their_units(apps: Apps) -> None:
    summary = apps.send(CITY, CITY_COORDINATOR, "汇总")
    assert "问题：共 4 个，未整改 2，整改中 1，已整改 1，逾期 1" in summary
    assert (
        f"· 市自然资源局（{NATURAL}，5 个单位）：问题 3 个，整改率 33.3%（1/3），下级目标 90%（9月10日前），"
        "按进度今日应达 41.0%，逾期 1；本周周报 2/5 个单位已报送（迟报 1）"
    ) in summary
    assert f"· 沙坡头区农业农村局（{FARMING}，4 个单位）：问题 1 个，整改率 0.0%（0/1），逾期 0" in summary

    drill = apps.send(CITY, CITY_COORDINATOR, "汇总 市自然资源局")
    assert f"下级专项整治「{NATURAL}」" in drill
    assert "本周周报（第29周）：2/5 个单位已报送；未报送：办公室、国土空间规划科、耕地保护科" in drill
    assert "· 法制科：逾期问题1个" in drill

    # 自然资源局's coordinator 报送s the city's 行政裁量基准 from inside its own campaign.
    before = apps.send(CITY, CITY_COORDINATOR, "未报送")
    assert re.search(r"· 行政裁量基准（[^）]*）：未报送 [^\n]*市自然资源局", before)
    assert "已在上级专项整治" in apps.send(NATURAL, NATURAL_COORDINATOR, "报送 行政裁量基准")
    after = apps.send(CITY, CITY_COORDINATOR, "未报送")
    assert not re.search(r"· 行政裁量基准（[^）]*）：未报送 [^\n]*市自然资源局", after)
    assert "市自然资源局：2/5 个单位已报送（迟报 1）" in after


def _sign_in(client: TestClient) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/login").text).group(1)  # type: ignore[union-attr]
    client.post("/dashboard/login", data={"login": "zhangmin", "password": "correct horse", "csrf": token})


def test_the_citys_dashboard_shows_each_child_and_links_to_it(apps: Apps, db: Database) -> None:
    with transaction(db.sessions) as session:
        natural = Campaigns(session).current(NATURAL)
        city = Campaigns(session).current(CITY)
        assert natural is not None and city is not None
        natural_id = natural.id
        unit_id = next(u.id for u in city.units if u.name == "市自然资源局")
    client = apps.clients[CITY]
    _sign_in(client)
    overview = client.get("/dashboard").text
    children = overview[overview.index('data-testid="children-table"') :]
    assert f'<a href="/dashboard?campaign={natural_id}">{NATURAL}</a>' in children
    row = words(children[: children.index("</tr>", children.index(NATURAL))])
    assert "市自然资源局" in row and "5 3 33.3% 90%（2020年9月10日前）" in row and "2/5（迟报 1）" in row
    assert '<b data-testid="rate">25.0%</b>' in overview  # the city's rate counts the children's issues

    units = client.get("/dashboard/units").text
    assert f'href="/dashboard?campaign={natural_id}" title="{NATURAL}">下级专项整治</a>' in units

    page = client.get(f"/dashboard/units/{unit_id}").text
    child = words(page[page.index('data-testid="unit-child"') :])
    assert f"{NATURAL} （5 个单位）：问题 3 个，整改率 33.3%，逾期 1；本周周报 2/5（迟报 1）" in child


def test_the_citys_tables_list_the_childrens_issues_under_their_units(apps: Apps) -> None:
    client = apps.clients[CITY]
    _sign_in(client)
    response = client.get("/dashboard/export/issues.xlsx")
    assert response.status_code == 200
    rows = [[c for c in row] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]
    groups = [row[0] for row in rows if row[0] and all(c in (None, "") for c in row[1:])]
    assert "市自然资源局" in groups and "沙坡头区农业农村局" in groups
    start = next(i for i, row in enumerate(rows) if row[0] == "市自然资源局")
    titles = [row[2] for row in rows[start + 1 : start + 4]]
    assert titles == ["举报回复超期", "案卷归档不及时", "执法证件未年检"]  # in the child's order: 支队, then 法制科
    remark = rows[start + 2][9]
    assert "下级专项整治「自然资源」法制科 #1" in remark and "编号#" not in remark
    assert rows[start + 4][0] == "市农业农村局"  # the next unit's group row

    stats = client.get("/dashboard/export/stats.xlsx")
    table = {row[0]: row[1:] for row in load_workbook(io.BytesIO(stats.content)).active.iter_rows(values_only=True)}
    # 制度建设 and 队伍建设 of 000 are the city's 行政执法制度建设 and 执法队伍建设; 回应群众诉求 and 002's
    # 强化社会监督 are none of the city's four, so the 备注 counts them.
    assert table["发现问题数"][:4] == (1, 0, 0, 1)
    assert table["整改问题数"][:4] == (0, 0, 0, 1)
    assert "下级专项整治另有2个问题的整治重点不在上表各项中" in table["备注"][0]
