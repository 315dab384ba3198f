"""A reply that misses the budget goes out as an app message even when the database is away at that moment.

Found by tests/reliability (PostgreSQL restarted mid-load): the app message reads the access token from the
database, the read raised in the background task, and the late reply — or the "please resend" notice for a
message WeCom will not re-send — never reached the user ("Task exception was never retrieved").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from bot.wecom.client import WeComApi
from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import MESSAGE_SEND, FakeQyapi
from tests.bot.wecom.platform import WeComSide
from tests.conftest import Database

DOWN = OperationalError("SELECT 1", {}, Exception("the database system is shutting down"))


class Gated:
    """The real dispatcher, finishing only when the test says so (after the reply budget), or failing."""

    def __init__(self, inner: Dispatcher, fail: bool = False) -> None:
        self.inner, self.fail = inner, fail
        self.gate = threading.Event()

    def handle(self, message: IncomingMessage) -> Reply:
        assert self.gate.wait(timeout=10), "the test never opened the gate"
        if self.fail:
            raise DOWN
        return self.inner.handle(message)


@pytest.fixture
def slow_client(
    plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """A budget of 50 ms, and a token lookup that finds the database away twice before it is back."""
    cached = WeComApi._cached
    outage = [DOWN, DOWN]

    def flaky(self: WeComApi, refused: str | None) -> Any:
        if outage:
            raise outage.pop()
        return cached(self, refused)

    monkeypatch.setattr(WeComApi, "_cached", flaky)
    with TestClient(create_app(wecom_settings(plan_loaded, qyapi, wecom_reply_budget=0.05), clock=clock)) as client:
        yield client


@pytest.mark.parametrize("fail", [False, True], ids=["late reply", "resend notice"])
def test_a_late_reply_waits_out_a_database_outage(
    slow_client: TestClient, side: WeComSide, qyapi: FakeQyapi, fail: bool
) -> None:
    services = slow_client.app.state.services  # type: ignore[attr-defined]
    gated = Gated(services.dispatcher, fail=fail)
    services.dispatcher = gated
    callback = side.callback(side.text_xml("MaQiang", "帮助", "6200000000000000001"))
    assert slow_client.post("/wecom/callback", params=callback.params, content=callback.body).content == b""
    gated.gate.set()
    [sent] = qyapi.wait_for(MESSAGE_SEND, 1)
    assert sent.json is not None and sent.json["touser"] == "MaQiang"
    assert ("请稍后重新发送" if fail else "可用指令") in sent.json["text"]["content"]
