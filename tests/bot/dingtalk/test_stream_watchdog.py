"""The Stream connection's liveness watchdog: a connection that keeps receiving frames (DingTalk's SYSTEM pings)
is kept; one that stays open but silent is closed, and the SDK opens a new one, on which messages flow again."""

from __future__ import annotations

import asyncio
import json

import httpx
from dingtalk_stream import ChatbotMessage, Credential

from bot.dingtalk.channel import RobotChannel
from bot.dingtalk.stream import GatewayClient, RobotMessageHandler, sdk_log
from bot.services import build_services
from core.clock import ManualClock
from tests.bot.dingtalk.conftest import dingtalk_settings
from tests.bot.dingtalk.fake_dingtalk import OPEN_CONNECTION, SESSION, STREAM, STREAM_ACK, FakeDingTalk
from tests.bot.dingtalk.test_stream import RECORDED
from tests.bot.wecom_robot.conftest import ManualTiming
from tests.conftest import Database

SILENCE_LIMIT = 60.0


def system_ping(n: int) -> dict[str, object]:
    """A SYSTEM ping as DingTalk's gateway sends it; the SDK acknowledges it."""
    return {
        "specVersion": "1.0",
        "type": "SYSTEM",
        "data": json.dumps({"opaque": f"o{n}"}),
        "headers": {
            "contentType": "application/json",
            "messageId": f"ping-{n}",
            "topic": "ping",
            "time": "1700000000000",
        },
    }


def test_a_silent_stream_connection_is_replaced_and_a_live_one_kept(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    settings = dingtalk_settings(plan_loaded, fake_dingtalk, dingtalk_mode="stream")
    services = build_services(settings, clock)
    timing = ManualTiming(clock)

    def seen(path: str, n: int) -> bool:
        return len(fake_dingtalk.calls(path)) >= n

    async def work() -> None:
        async with httpx.AsyncClient() as http:
            client = GatewayClient(
                Credential(FakeDingTalk.APP_KEY, FakeDingTalk.APP_SECRET),
                api_base=settings.dingtalk_stream_api_base,
                logger=sdk_log,
                timing=timing,
                silence_limit=SILENCE_LIMIT,
            )
            client.register_callback_handler(ChatbotMessage.TOPIC, RobotMessageHandler(RobotChannel(services, http)))
            running = asyncio.create_task(client.run())
            try:
                await timing.run_until(lambda: seen(STREAM, 1), step=0.01, limit=30)
                for n in range(1, 6):  # five minutes of pings every 50 s: the connection stays
                    await timing.advance(SILENCE_LIMIT - 10)
                    fake_dingtalk.push_frame(system_ping(n))
                    await timing.run_until(lambda n=n: seen(STREAM_ACK, n), step=0.01, limit=5)  # type: ignore[misc]
                assert len(fake_dingtalk.calls(STREAM)) == 1
                silent_for = await timing.run_until(lambda: seen(STREAM, 2), limit=3 * SILENCE_LIMIT)
                assert SILENCE_LIMIT - 10 <= silent_for <= SILENCE_LIMIT + 5
                assert len(fake_dingtalk.calls(OPEN_CONNECTION)) == 2
                fake_dingtalk.push_frame(RECORDED)  # the new connection carries messages
                await timing.run_until(lambda: seen(SESSION, 1), step=0.01, limit=30)
            finally:
                while not running.done():  # the SDK takes the first cancellation for a dropped connection
                    running.cancel()
                    await asyncio.wait({running}, timeout=0.1)

    asyncio.run(work())
    assert "您的身份：未登记用户" in fake_dingtalk.calls(SESSION)[0].body["text"]["content"]
