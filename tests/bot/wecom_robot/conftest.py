"""Fixtures for the 智能机器人 channel: the fake gateway and media host on loopback, and time moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.settings import Settings
from core.clock import ManualClock
from tests.bot.dingtalk.fake_dingtalk import LoopbackServer
from tests.bot.wecom_robot.fake_server import BOT_ID, SECRET, FakeMediaHost, FakeRobotServer
from tests.conftest import Database, make_settings

LOOPBACK_PAUSE = 0.005  # seconds of real time for loopback I/O between steps of manual time
# On a loaded machine the bot may take a few steps of manual time to react to what the gateway said. Nothing can
# happen *before* its moment, so lower bounds in the tests are exact and upper bounds allow this much slack.
SLACK = 15


class ManualTiming:
    """The connection's Timing on a ManualClock: sleepers wake when a test advances the clock past their end."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        entry = (self.monotonic() + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    async def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        now = self.monotonic()
        for deadline, woken in list(self._sleepers):
            if deadline <= now and not woken.done():
                woken.set_result(None)
        await asyncio.sleep(LOOPBACK_PAUSE)

    async def run_until(self, condition: Callable[[], bool], *, step: float = 1.0, limit: float = 900.0) -> float:
        """Advance in steps until `condition` holds; return the seconds of manual time that took."""
        passed = 0.0
        while not condition():
            if passed >= limit:
                raise AssertionError(f"still waiting after {limit:.0f} s of manual time")
            await self.advance(step)
            passed += step
        return passed


@pytest.fixture(scope="session")
def robot_server() -> Iterator[FakeRobotServer]:
    with FakeRobotServer() as server:
        yield server


@pytest.fixture
def fake_robot(robot_server: FakeRobotServer) -> Iterator[FakeRobotServer]:
    robot_server.reset()
    yield robot_server
    robot_server.reset()


@pytest.fixture(scope="session")
def media_host() -> Iterator[FakeMediaHost]:
    host = FakeMediaHost()
    with LoopbackServer(host.app) as server:
        host.base_url = server.url
        yield host


@pytest.fixture
def timing(clock: ManualClock) -> ManualTiming:
    return ManualTiming(clock)


def robot_settings(db: Database, fake: FakeRobotServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"wecom_bot_id": BOT_ID, "wecom_bot_secret": SECRET, "wecom_bot_ws_url": fake.url}
    return make_settings(db, **values).model_copy(update=overrides)
