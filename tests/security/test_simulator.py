"""The simulator speaks as any user. Where no platform is configured (`make run`) that is the point; beside a
configured WeCom or DingTalk it is off unless switched on, and then it answers only a coordinator logged in to
the dashboard. Its message ids are its own: they never take a real WeCom message's place, nor the reverse."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from core.clock import ManualClock
from core.statuses import ContactStatus
from storage.db import transaction
from storage.models import AuditEntry, Contact, WeeklyReport
from tests.bot.test_dashboard_access import log_in
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import FakeQyapi
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database, SimChat, make_settings
from tests.factories import build_ledger, set_password


@pytest.fixture
def ledger(plan_loaded: Database) -> Database:
    build_ledger(plan_loaded)  # 李娜 waits for approval
    set_password(plan_loaded)  # 俞建奎 logs in to the dashboard as yu
    return plan_loaded


def pending(db: Database) -> Contact:
    with transaction(db.sessions) as session:
        return session.scalars(select(Contact).where(Contact.name == "李娜")).one()


def approve_as_coordinator(client: TestClient, db: Database) -> int:
    return client.post("/sim/api/messages", json={"user": "YuJianKui", "text": f"批准 {pending(db).id}"}).status_code


def test_beside_a_configured_platform_the_simulator_is_off(
    ledger: Database, qyapi: FakeQyapi, clock: ManualClock
) -> None:
    with TestClient(create_app(wecom_settings(ledger, qyapi), clock=clock)) as client:
        assert approve_as_coordinator(client, ledger) == 404
        assert client.get("/sim").status_code == 404
        assert client.get("/sim/api/users").status_code == 404
    assert pending(ledger).status is ContactStatus.PENDING


def test_switched_on_beside_a_platform_it_answers_only_a_logged_in_coordinator(
    ledger: Database, qyapi: FakeQyapi, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = wecom_settings(ledger, qyapi, simulator="on", secret_key="simulator-test")
    with (
        caplog.at_level(logging.WARNING, logger="duban.app"),
        TestClient(create_app(settings, clock=clock), follow_redirects=False) as client,
    ):
        assert any("simulator is on beside a configured platform" in r.getMessage() for r in caplog.records)
        refused = client.post("/sim/api/messages", json={"user": "YuJianKui", "text": f"批准 {pending(ledger).id}"})
        assert refused.status_code == 401 and "请先以牵头部门协调人身份登录" in refused.json()["detail"]
        assert client.get("/sim/api/outbox").status_code == 401
        assert client.get("/sim").headers["location"] == "/dashboard/login?next=%2Fsim"
        assert pending(ledger).status is ContactStatus.PENDING

        assert log_in(client, next="/sim").headers["location"] == "/sim"
        assert client.get("/sim").status_code == 200
        assert approve_as_coordinator(client, ledger) == 200
    assert pending(ledger).status is ContactStatus.ACTIVE
    with transaction(ledger.sessions) as session:
        approval = session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.approve")).one()
    assert approval.actor == "sim:YuJianKui"  # the trail says it came from the simulator, not from WeCom


def test_without_a_platform_it_is_on_and_open_as_make_run_has_it(ledger: Database, clock: ManualClock) -> None:
    with TestClient(create_app(make_settings(ledger), clock=clock)) as client:
        assert client.get("/sim").status_code == 200
        assert approve_as_coordinator(client, ledger) == 200
    assert pending(ledger).status is ContactStatus.ACTIVE


@pytest.fixture
def both(
    ledger: Database, qyapi: FakeQyapi, side: WeComSide, clock: ManualClock
) -> Iterator[tuple[SimChat, WeComChat]]:
    settings = wecom_settings(ledger, qyapi, simulator=True, secret_key="simulator-test")
    with TestClient(create_app(settings, clock=clock)) as client:
        log_in(client)
        yield SimChat(client), WeComChat(client, side, qyapi)


def reports(db: Database) -> list[str]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(WeeklyReport.text).order_by(WeeklyReport.id)))


def test_a_simulator_msgid_never_stands_for_a_wecom_message(both: tuple[SimChat, WeComChat], ledger: Database) -> None:
    sim, wecom = both
    sim.send("MaQiang", "周报 模拟器里试发的周报", msgid="7000000000000000901")
    # The real message with that MsgId is handled, not dropped as a repeat of the simulator's.
    assert "替换" in wecom.send("MaQiang", "周报 企业微信里正式报送的周报", msg_id="7000000000000000901")
    assert "企业微信里正式报送的周报" in reports(ledger) and "模拟器里试发的周报" not in reports(ledger)


def test_a_wecom_msgid_never_answers_the_simulator(both: tuple[SimChat, WeComChat]) -> None:
    sim, wecom = both
    sent = wecom.send("MaQiang", "周报 企业微信里正式报送的周报", msg_id="7000000000000000902")
    answer = sim.send("MaQiang", "帮助", msgid="7000000000000000902")
    assert answer != sent and "可用指令" in answer  # its own answer, not the stored WeCom reply
