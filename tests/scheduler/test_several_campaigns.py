"""The reminder engine ticks every campaign the deployment serves: two overlapping campaigns (tests/fixtures/plan.yaml
and plan_three_year.yaml, alias 三年行动) each remind their own people, and a reminder to someone in both — or to a
group — says which campaign it is about."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from scheduler.engine import ReminderEngine
from storage.db import transaction
from storage.models import OutboxMessage, SchedulerState
from tests.conftest import FIXTURES, Database, at

FIRST = "行政执法不作为慢作为乱作为专项整治"


def route(_platform: str) -> str:
    return "sim"


@pytest.fixture
def both(plan_loaded: Database, clock: ManualClock) -> Database:
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan_three_year.yaml"), now=clock.now())
    return plan_loaded


def queued(db: Database) -> list[tuple[str, str]]:
    """(target, text) of every queued message, by target then text."""
    with transaction(db.sessions) as session:
        return sorted((m.target, m.text) for m in session.scalars(select(OutboxMessage)))


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_friday_reminds_each_campaigns_people_and_names_the_campaign_for_the_shared_liaison(
    both: Database, clock: ManualClock
) -> None:
    engine = ReminderEngine(both.sessions, clock=clock, route=route)
    before = sample("duban_reminders_queued_total", campaign="三年行动")
    clock.set(at("2020-07-17 08:59"))
    engine.tick()
    clock.set(at("2020-07-17 09:00:30"))
    engine.tick()

    weekly = [(target, text) for target, text in queued(both) if "【周报提醒】" in text]
    ask = "专项整治工作信息尚未报送，请于今天{}前发送「周报 本周工作情况……」。"
    assert weekly == sorted(
        [
            ("MaQiang", f"【{FIRST}】【周报提醒】执法监察支队第29周" + ask.format("12:00")),
            ("MaQiang", "【三年行动】【周报提醒】自然资源局第29周" + ask.format("17:00")),
            ("WangFang", "【周报提醒】办公室第29周" + ask.format("12:00")),
            ("ZhangWei", "【周报提醒】红寺堡镇第29周" + ask.format("17:00")),
        ]
    )
    # The group of 三年行动 hears of its deliverable due on Monday, named: the deployment serves two campaigns.
    group = [text for target, text in queued(both) if target == "三年行动工作群"]
    assert group and all(text.startswith("【三年行动】【报送事项提醒】「行政执法人员培训情况」") for text in group)
    assert sample("duban_reminders_queued_total", campaign="三年行动") - before == 3  # 马强, 张伟, the group
    with transaction(both.sessions) as session:
        assert len(session.scalars(select(SchedulerState)).all()) == 2  # a watermark per campaign


def test_a_deployment_for_one_campaign_reminds_only_it_and_names_nothing(both: Database, clock: ManualClock) -> None:
    engine = ReminderEngine(both.sessions, clock=clock, route=route, campaign_name=FIRST)
    clock.set(at("2020-07-17 08:59"))
    engine.tick()
    clock.set(at("2020-07-17 09:00:30"))
    engine.tick()
    assert [target for target, _text in queued(both)] == ["MaQiang", "WangFang"]
    assert all(text.startswith("【周报提醒】") for _target, text in queued(both))
