"""DingTalk's callback signature covers only the timestamp. Within the hour it is accepted, a captured signature
must not carry another body — to this replica or another — while DingTalk delivering the same message again is
still answered as a repeat."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from core.clock import ManualClock
from core.statuses import ContactStatus
from storage.db import transaction
from storage.models import CallbackSignature, Contact
from tests.bot.dingtalk.conftest import (
    COORDINATOR_STAFF,
    LU_STAFF,
    MA_STAFF,
    DingTalkChat,
    dingtalk_settings,
    millis,
    unchanged,
)
from tests.bot.dingtalk.fake_dingtalk import FakeDingTalk
from tests.conftest import Database
from tests.factories import build_ledger


@pytest.fixture
def replicas(
    dingtalk_ledger: Database, fake_dingtalk: FakeDingTalk, clock: ManualClock
) -> Iterator[tuple[DingTalkChat, DingTalkChat]]:
    settings = dingtalk_settings(dingtalk_ledger, fake_dingtalk)
    with TestClient(create_app(settings, clock=clock)) as one, TestClient(create_app(settings, clock=clock)) as two:
        yield DingTalkChat(one, clock), DingTalkChat(two, clock)


@pytest.fixture
def dingtalk_ledger(dingtalk_people: Database) -> Database:
    build_ledger(dingtalk_people)  # 李娜 waits for approval; 俞建奎 is on DingTalk as manager4521
    return dingtalk_people


def pending(db: Database) -> Contact:
    with transaction(db.sessions) as session:
        return session.scalars(select(Contact).where(Contact.name == "李娜")).one()


def test_a_captured_signature_does_not_carry_another_body(
    replicas: tuple[DingTalkChat, DingTalkChat], dingtalk_ledger: Database, clock: ManualClock
) -> None:
    one, two = replicas
    stamp = millis(clock)
    assert one.post(one.message(LU_STAFF, "帮助"), timestamp=stamp).status_code == 200
    # Someone who saw those headers sends the coordinator's approval with them, to either replica.
    forged = one.message(COORDINATOR_STAFF, f"批准 {pending(dingtalk_ledger).id}")
    with unchanged(dingtalk_ledger):
        for replica in (one, two):
            refused = replica.post(forged, timestamp=stamp)
            assert refused.status_code == 403 and "重放" in refused.json()["detail"]
    assert pending(dingtalk_ledger).status is ContactStatus.PENDING
    # Freshly signed, the same message is a message like any other.
    approved = one.post(one.message(COORDINATOR_STAFF, f"批准 {pending(dingtalk_ledger).id}"), timestamp=stamp + 1)
    assert "已批准" in approved.json()["text"]["content"]


def test_dingtalk_delivering_the_same_message_again_is_still_a_repeat(
    ding: DingTalkChat, dingtalk_ledger: Database, clock: ManualClock
) -> None:
    body, stamp = ding.message(MA_STAFF, "周报 本周完成执法案卷评查3件"), millis(clock)
    first = ding.post(body, timestamp=stamp)
    assert first.status_code == 200 and "已收到「执法监察支队」" in first.json()["text"]["content"]
    assert ding.post(body, timestamp=stamp).json() == {}  # answered once, not refused, not handled twice


def test_signatures_are_forgotten_once_too_old_to_pass(
    ding: DingTalkChat, dingtalk_ledger: Database, clock: ManualClock
) -> None:
    ding.send(LU_STAFF, "帮助")
    clock.advance(timedelta(hours=2, seconds=1))  # the first one's timestamp is past the hour on both sides
    ding.send(LU_STAFF, "帮助")
    with transaction(dingtalk_ledger.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CallbackSignature)) == 1
