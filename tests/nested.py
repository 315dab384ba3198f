"""Seed 001's city campaign with seeds 000 and 002 below it (tests/fixtures/nested/), and chat with each of them.

Each campaign is served by its own dispatcher (DUBAN_CAMPAIGN's one-campaign mode), as separate deployments or
a deployment that tells campaigns apart by sender would reach it: the story is the same either way.
"""

from __future__ import annotations

import itertools

from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from tests.conftest import FIXTURES, Database

NESTED = FIXTURES / "nested"
CITY = "中卫市行政执法不作为慢作为乱作为专项整治"
NATURAL = "自然资源领域行政执法不作为慢作为乱作为专项整治"
FARMING = "沙坡头区农业农村行政执法不作为乱作为专项整治"
PLANS = {CITY: "city.yaml", NATURAL: "natural_resources.yaml", FARMING: "agriculture.yaml"}

CITY_COORDINATOR = "ZhangMin"  # 张敏 of the city's 司法局
NATURAL_COORDINATOR = "LuHeJian"  # 陆和建, 自然资源局's liaison to the city: its campaign's coordinator
FARMING_COORDINATOR = "YuJianKui"  # 俞建奎 at the district's 农业综合行政执法大队


def load_nested(db: Database, clock: ManualClock) -> None:
    """The parent first: a child names it, so it must be there."""
    for name in (CITY, NATURAL, FARMING):
        with transaction(db.sessions) as session:
            load_plan(session, read_plan(NESTED / PLANS[name]), now=clock.now())


class Nest:
    """Sends messages to any of the three campaigns as any user, at the clock's time."""

    def __init__(self, db: Database, clock: ManualClock) -> None:
        self.clock = clock
        self.dispatchers = {name: Dispatcher(db.sessions, campaign_name=name) for name in PLANS}
        self._ids = itertools.count(1)

    def reply(self, campaign: str, user: str, text: str) -> Reply:
        message = IncomingMessage("wecom", user, text, self.clock.now(), message_id=f"nest-{next(self._ids)}")
        return self.dispatchers[campaign].handle(message)

    def send(self, campaign: str, user: str, text: str) -> str:
        return "\n".join(self.reply(campaign, user, text).texts)

    def register(self, campaign: str, coordinator: str, user: str, unit: str, phone: str) -> None:
        """A liaison registers and the child's coordinator approves them."""
        reply = self.send(campaign, user, f"登记 单位：{unit} 姓名：{user}同志 职务：科员 电话：{phone}")
        assert "已提交登记（登记号" in reply, reply
        number = reply.split("登记号 ")[1].split("）")[0]
        assert "已批准" in self.send(campaign, coordinator, f"批准 {number}")


def issue_text(title: str, due: str, area: str, source: str = "专项检查") -> str:
    return (
        f"问题 线索名称：{title} 线索来源：{source} 整治重点：{area} 线索内容：{title}的具体情况 "
        f"整改措施：限期整改 整改目标：整改到位 责任人：张三 完成时限：{due}"
    )
