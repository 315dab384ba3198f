"""The duplicate check knows who sent a message: a message id is the platform's word about one sender's message,
so another sender's message with the same id is still handled, and answered for that sender."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from core.clock import ManualClock
from storage.db import transaction
from storage.models import WeeklyReport
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import FakeQyapi
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database


@pytest.fixture
def wecom(plan_loaded: Database, qyapi: FakeQyapi, side: WeComSide, clock: ManualClock) -> Iterator[WeComChat]:
    with TestClient(create_app(wecom_settings(plan_loaded, qyapi), clock=clock)) as client:
        yield WeComChat(client, side, qyapi)


def test_two_senders_with_one_msg_id_are_two_messages(wecom: WeComChat, plan_loaded: Database) -> None:
    assert "牵头部门协调人" in wecom.send("YuJianKui", "帮助", msg_id="7000000000000000777")
    # 马强's message is handled for him: not answered with the coordinator's stored menu, and his report is written.
    assert "已收到「执法监察支队」" in wecom.send("MaQiang", "周报 本周完成案卷评查3件", msg_id="7000000000000000777")
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(WeeklyReport.text)).all() == ["本周完成案卷评查3件"]


def test_the_same_sender_retrying_still_gets_the_first_answer(wecom: WeComChat, plan_loaded: Database) -> None:
    first = wecom.send("MaQiang", "周报 本周完成案卷评查3件", msg_id="7000000000000000778")
    assert wecom.send("MaQiang", "周报 这一条是重试，不应写入", msg_id="7000000000000000778") == first
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(WeeklyReport.text)).all() == ["本周完成案卷评查3件"]
