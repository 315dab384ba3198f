"""Fixtures of the hostile tests: the WeCom and DingTalk sides from tests/bot (callbacks signed and encrypted as
the platforms do), and `duban serve` itself as a process where the server's own behaviour is what is tested."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.bot.dingtalk.conftest import ding, dingtalk_client, dingtalk_people, fake_dingtalk, fake_dingtalk_server
from tests.bot.wecom.conftest import qyapi, qyapi_server, side
from tests.security.server import Served

__all__ = [
    "ding",
    "dingtalk_client",
    "dingtalk_people",
    "fake_dingtalk",
    "fake_dingtalk_server",
    "qyapi",
    "qyapi_server",
    "side",
]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `duban serve` with these DUBAN_* settings (the database and a session key at least)."""
    started: list[Served] = []

    def start(**env: str) -> Served:
        workdir = tmp_path / f"serve-{len(started)}"
        workdir.mkdir()
        server = Served(env, workdir)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
            # Captured, so shown only when the test fails: what the server said about a surprising status.
            print(f"--- {server.log} (last 40 lines)", *server.lines()[-40:], sep="\n")
