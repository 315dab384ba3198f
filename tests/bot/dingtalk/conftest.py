"""DingTalk fixtures: the fake platform on loopback, an app wired to it, and a chat that signs like DingTalk."""

from __future__ import annotations

import copy
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.settings import Settings
from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from storage.db import transaction
from storage.models import Base, Contact, Coordinator
from storage.repos import Campaigns, People
from tests.bot.dingtalk.fake_dingtalk import FakeDingTalk, LoopbackServer, dingtalk_sign
from tests.bot.wecom.platform import rendered
from tests.conftest import Database, make_settings

PAYLOADS = Path(__file__).with_name("payloads")
LU_STAFF = "0158431162271125"  # 陆和建, as in the recorded payloads; registers through DingTalk
MA_STAFF = "0233305124211239"  # 马强, who also has a WeCom userid (MaQiang)
COORDINATOR_STAFF = "manager4521"  # 俞建奎


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def millis(clock: ManualClock, delta: timedelta = timedelta()) -> int:
    return int((clock.now() + delta).timestamp() * 1000)


@pytest.fixture(scope="session")
def fake_dingtalk_server() -> Iterator[FakeDingTalk]:
    fake = FakeDingTalk()
    with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        yield fake


@pytest.fixture
def fake_dingtalk(fake_dingtalk_server: FakeDingTalk) -> FakeDingTalk:
    fake_dingtalk_server.reset()
    return fake_dingtalk_server


def dingtalk_settings(db: Database, fake: FakeDingTalk, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "dingtalk_app_key": fake.APP_KEY,
        "dingtalk_app_secret": fake.APP_SECRET,
        "dingtalk_agent_id": fake.AGENT_ID,
        "dingtalk_api_base": fake.base_url,
        "dingtalk_stream_api_base": fake.base_url,
        # generous, so a loaded test machine still answers in the response body; late-reply tests lower it
        "dingtalk_reply_budget": 30.0,
    }
    return make_settings(db, **(values | overrides))


@pytest.fixture
def dingtalk_people(plan_loaded: Database, clock: ManualClock) -> Database:
    """The coordinator and 马强 also use DingTalk (identities are per platform; 马强 keeps his WeCom one)."""
    with transaction(plan_loaded.sessions) as session:
        campaign = Campaigns(session).current()
        assert campaign is not None
        people = People(session)
        coordinator = session.scalars(select(Coordinator).where(Coordinator.name == "俞建奎")).one()
        people.bind(campaign, "dingtalk", COORDINATOR_STAFF, coordinator=coordinator, now=clock.now())
        ma = session.scalars(select(Contact).where(Contact.name == "马强")).one()
        people.bind(campaign, "dingtalk", MA_STAFF, contact=ma, now=clock.now())
    return plan_loaded


def table_counts(db: Database) -> dict[str, int]:
    """Rows per table, but for the signatures the replay guard keeps of every callback it accepted."""
    with transaction(db.sessions) as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
            if t.name != "callback_signatures"
        }


@contextmanager
def unchanged(db: Database) -> Iterator[None]:
    """Asserts that the block wrote nothing to any table."""
    before = table_counts(db)
    yield
    assert table_counts(db) == before


class GatedDispatcher:
    """The real dispatcher behind a gate the test opens: a handler that is slow for as long as the test likes.

    Only messages whose text `holds` are held; with an `error`, a held message fails with it once released.
    """

    def __init__(
        self, inner: Dispatcher, error: Exception | None = None, holds: Callable[[str], bool] = lambda _text: True
    ) -> None:
        self.inner = inner
        self.error = error
        self.holds = holds
        self.gate = threading.Event()

    def handle(self, message: IncomingMessage) -> Reply:
        if self.holds(message.text):
            assert self.gate.wait(timeout=10), "the test never opened the gate"
            if self.error is not None:
                raise self.error
        return self.inner.handle(message)


class DingTalkChat:
    """Posts robot messages to /dingtalk/callback exactly as DingTalk does: JSON body, timestamp + sign headers."""

    def __init__(self, client: TestClient, clock: ManualClock, secret: str = FakeDingTalk.APP_SECRET) -> None:
        self.client = client
        self.clock = clock
        self.secret = secret
        # DingTalk signs each callback as it sends it: on a clock that stands still, a millisecond apart each, since
        # the bot refuses a signature it has seen with another body.
        self._sent = itertools.count()

    def message(
        self,
        staff_id: str | None,
        text: str,
        *,
        group: bool = False,
        at: bool = True,
        msg_id: str | None = None,
        webhook_valid_for: timedelta = timedelta(minutes=90),
    ) -> dict[str, Any]:
        body = copy.deepcopy(payload("group_text" if group else "private_text"))
        body["msgId"] = msg_id or f"msg{uuid.uuid4().hex}"
        body["text"]["content"] = f" {text}" if group else text
        body["createAt"] = millis(self.clock)
        body["sessionWebhookExpiredTime"] = millis(self.clock, webhook_valid_for)
        if staff_id is None:
            del body["senderStaffId"]
        else:
            body["senderStaffId"] = staff_id
        if group:
            body["isInAtList"] = at
            if not at:
                body["atUsers"] = []
        return body

    def post(
        self,
        body: dict[str, Any] | bytes,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        stamp = str(millis(self.clock) + next(self._sent) if timestamp is None else timestamp)
        signed = {
            "timestamp": stamp,
            "sign": dingtalk_sign(stamp, secret or self.secret),
            "content-type": "application/json; charset=utf-8",
        }
        content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return self.client.post("/dingtalk/callback", content=content, headers=signed | (headers or {}))

    def send(self, staff_id: str, text: str, **options: Any) -> str:
        """The reply DingTalk would show (from the response body); "" when the bot stays silent."""
        response = self.post(self.message(staff_id, text, **options))
        assert response.status_code == 200, response.text
        return shown(response.json())


def shown(answer: dict[str, Any]) -> str:
    """What the user reads of a robot answer: its text, or its markdown as rendered ("" for no answer)."""
    if not answer:
        return ""
    if answer["msgtype"] == "markdown":
        return rendered(answer["markdown"]["text"])
    return str(answer["text"]["content"])


@pytest.fixture
def dingtalk_client(plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk) -> Iterator[TestClient]:
    with TestClient(create_app(dingtalk_settings(plan_loaded, fake_dingtalk), clock=clock)) as client:
        yield client


@pytest.fixture
def ding(dingtalk_client: TestClient, clock: ManualClock) -> DingTalkChat:
    return DingTalkChat(dingtalk_client, clock)
