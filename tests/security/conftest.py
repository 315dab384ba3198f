"""Fixtures of the hostile tests: the WeCom and DingTalk sides from tests/bot (callbacks signed and encrypted as
the platforms do), and `duban serve` itself as a process where the server's own behaviour is what is tested."""

from __future__ import annotations

from tests.bot.dingtalk.conftest import fake_dingtalk, fake_dingtalk_server
from tests.bot.wecom.conftest import qyapi, qyapi_server, side

__all__ = ["fake_dingtalk", "fake_dingtalk_server", "qyapi", "qyapi_server", "side"]
