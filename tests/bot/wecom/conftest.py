"""Fixtures for the WeCom channel: the fake qyapi server, the WeCom side of callbacks, a configured app."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from core.clock import ManualClock
from tests.bot.wecom.fake_qyapi import CORP_ID, SECRET, FakeQyapi, LoopbackServer
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database, make_settings

TOKEN = "DubanCallbackToken"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
AGENT_ID = 1000002


@pytest.fixture(scope="session")
def qyapi_server() -> Iterator[FakeQyapi]:
    fake = FakeQyapi()
    with LoopbackServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def qyapi(qyapi_server: FakeQyapi) -> FakeQyapi:
    qyapi_server.reset()
    return qyapi_server


def wecom_settings(db: Database, qyapi: FakeQyapi, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "wecom_corp_id": CORP_ID,
        "wecom_agent_id": AGENT_ID,
        "wecom_secret": SECRET,
        "wecom_token": TOKEN,
        "wecom_aes_key": AES_KEY,
        "wecom_api_base": qyapi.url,
    }
    return make_settings(db, **(values | overrides))


@pytest.fixture
def side(clock: ManualClock) -> WeComSide:
    return WeComSide(corp_id=CORP_ID, token=TOKEN, aes_key=AES_KEY, agent_id=AGENT_ID, clock=clock)


@pytest.fixture
def wecom_client(plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(wecom_settings(plan_loaded, qyapi), clock=clock)) as client:
        yield client


@pytest.fixture
def wecom(wecom_client: TestClient, side: WeComSide, qyapi: FakeQyapi) -> WeComChat:
    return WeComChat(wecom_client, side, qyapi)
