"""Two overlapping campaigns in one deployment, told through the simulator (/sim/api/*): the test campaign
(tests/fixtures/plan.yaml) and a three-year action modelled on seed 004 (plan_three_year.yaml, alias 三年行动).
马强 (MaQiang) is a liaison in both; 王芳 only in the first; 张伟 only in the second."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Unit, WeeklyReport
from tests.bot.test_observability import metric
from tests.conftest import FIXTURES, Database, SimChat, at, make_settings

FIRST = "行政执法不作为慢作为乱作为专项整治"
ASKED = "是哪个专项整治的"


def load_three_year(db: Database, clock: ManualClock) -> None:
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan_three_year.yaml"), now=clock.now())


@pytest.fixture
def both(plan_loaded: Database, clock: ManualClock) -> Database:
    load_three_year(plan_loaded, clock)
    return plan_loaded


@pytest.fixture
def sim(both: Database, clock: ManualClock) -> Iterator[SimChat]:
    with TestClient(create_app(make_settings(both), clock=clock)) as client:
        yield SimChat(client)


def reports(db: Database) -> list[tuple[str, str]]:
    with transaction(db.sessions) as session:
        rows = session.execute(select(Unit.name, WeeklyReport.text).join(Unit, Unit.id == WeeklyReport.unit_id)).all()
    return sorted((unit, text) for unit, text in rows)


def test_people_in_one_campaign_talk_as_before_and_the_shared_liaison_names_or_is_asked(
    sim: SimChat, both: Database, clock: ManualClock
) -> None:
    # Unambiguous: each of these belongs to one campaign, and no reply names it.
    assert sim.send("WangFang", "周报 本周公布监督电话").startswith("已收到「办公室」第29周周报")
    assert sim.send("ZhangWei", "周报 本周组织执法培训").startswith("已收到「红寺堡镇」第29周周报")

    # Named: 马强 says which, in the forms people type, and the reply says which too.
    assert sim.send("MaQiang", "【三年行动】周报 本周完成全员轮训").startswith("【三年行动】已收到「自然资源局」")
    assert sim.send("MaQiang", f"{FIRST}：周报 本周核查图斑").startswith(f"【{FIRST}】已收到「执法监察支队」")

    # Asked and remembered: a message that does not say is asked about once; the answer handles it.
    asked = sim.send("MaQiang", "进展 #1 已整改")
    assert ASKED in asked and "1. 行政执法不作为慢作为乱作为专项整治" in asked and "（简称：三年行动）" in asked
    assert sim.send("MaQiang", "三年行动").startswith("【三年行动】没有编号为 #1 的问题")
    assert sim.send("MaQiang", "周报 本周完成全员轮训并考核").startswith("【三年行动】")  # the same day: not asked
    clock.advance(timedelta(days=1))
    assert ASKED in sim.send("MaQiang", "我的问题")  # the next day: asked again
    assert sim.send("MaQiang", "1").startswith(f"【{FIRST}】")

    assert reports(both) == [
        ("办公室", "本周公布监督电话"),
        ("执法监察支队", "本周核查图斑"),
        ("红寺堡镇", "本周组织执法培训"),
        ("自然资源局", "本周完成全员轮训并考核"),
    ]


def test_the_simulator_lists_the_people_of_every_campaign(sim: SimChat) -> None:
    users = {u["id"]: u["label"] for u in sim.client.get("/sim/api/users").json()["users"]}
    assert users["ZhangWei"] == "张伟（【三年行动】红寺堡镇 · 联络员）"
    assert users["QiShaoBo"] == "祁少波（【三年行动】牵头部门 · 协调人）"
    assert users["MaQiang"] == f"马强（【{FIRST}】执法监察支队 · 联络员；【三年行动】自然资源局 · 联络员）"


def test_messages_are_counted_by_campaign(sim: SimChat) -> None:
    client = sim.client
    before = metric(client, "duban_messages_total", platform="sim", campaign="三年行动")
    sim.send("ZhangWei", "我的问题")
    sim.send("MaQiang", "【三年行动】我的问题")
    assert metric(client, "duban_messages_total", platform="sim", campaign="三年行动") == before + 2
    asked = metric(client, "duban_messages_total", platform="sim", campaign="none")
    sim.send("MaQiang", "我的问题")  # the question belongs to no campaign yet
    assert metric(client, "duban_messages_total", platform="sim", campaign="none") == asked + 1


def test_friday_reminders_name_the_campaign_for_the_shared_liaison(both: Database) -> None:
    clock = ManualClock(at("2020-07-17 09:00:30"))  # the service starts half a minute after the report reminders
    settings = make_settings(both).model_copy(update={"scheduler": "on"})
    with TestClient(create_app(settings, clock=clock)) as client:
        outbox = SimChat(client).outbox()
        pending = metric(client, "duban_campaign_outbox_pending_messages", campaign="三年行动")
    reminders = sorted((m["to"], m["text"].partition("第29周")[0]) for m in outbox if "【周报提醒】" in m["text"])
    assert reminders == sorted(
        [
            ("MaQiang", f"【{FIRST}】【周报提醒】执法监察支队"),
            ("MaQiang", "【三年行动】【周报提醒】自然资源局"),
            ("WangFang", "【周报提醒】办公室"),
            ("ZhangWei", "【周报提醒】红寺堡镇"),
        ]
    )
    assert any(m["to"] == "三年行动工作群" and m["text"].startswith("【三年行动】") for m in outbox)
    assert pending == 0  # the simulator's outbox is sent at once


def test_a_deployment_for_one_campaign_still_serves_only_it(both: Database, clock: ManualClock) -> None:
    with TestClient(create_app(make_settings(both, campaign=FIRST), clock=clock)) as client:
        sim = SimChat(client)
        assert sim.send("MaQiang", "周报 本周核查图斑").startswith("已收到「执法监察支队」第29周周报")
        assert "未登记用户" in sim.send("ZhangWei", "帮助")  # not a liaison of this campaign
        users = {u["id"] for u in client.get("/sim/api/users").json()["users"]}
    assert "ZhangWei" not in users and "MaQiang" in users
