"""Minimal platform senders for tests: they post what the WeCom APIs expect to a FakePlatform.

The real clients live in bot/wecom and bot/dingtalk; these only do enough of the wire format for the
delivery tests to count requests at a fake server and to exercise retries, failures and duplicate checks.
"""

from __future__ import annotations

from typing import Any

import httpx

from scheduler.outbound import OutboundMessage, SendResult, classify_response

TIMEOUT = 10.0  # seconds: generous, a loaded test machine must not turn a slow answer into a retry


class _HttpSender:
    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def _post(self, url: str, body: dict[str, Any]) -> SendResult:
        if self._client is None:  # created in the event loop that sends
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._client.post(url, json=body)
        except httpx.TimeoutException:
            return SendResult.retryable("timeout")
        except httpx.TransportError as error:
            return SendResult.retryable(type(error).__name__)
        payload = response.json() if response.headers.get("content-type") == "application/json" else {}
        return classify_response(response.status_code, payload.get("errcode"), payload.get("errmsg", ""))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class FakeWecomRobotSender(_HttpSender):
    """Group robot webhook: the row's group address is the full webhook URL."""

    channels = frozenset({"wecom_robot"})

    async def send(self, message: OutboundMessage) -> SendResult:
        assert message.address, "a robot message carries its group's webhook"
        return await self._post(
            message.address,
            {"msgtype": "text", "text": {"content": message.text, "mentioned_mobile_list": list(message.mentions)}},
        )


class FakeWecomAppSender(_HttpSender):
    """App message/send, with WeCom's duplicate check on (the guard against a re-send after a crash)."""

    channels = frozenset({"wecom_app"})

    def __init__(self, api_base: str, timeout: float = TIMEOUT) -> None:
        super().__init__(timeout)
        self.api_base = api_base

    async def send(self, message: OutboundMessage) -> SendResult:
        return await self._post(
            f"{self.api_base}/cgi-bin/message/send?access_token=test-token",
            {
                "touser": message.target,
                "msgtype": "text",
                "agentid": 1000002,
                "text": {"content": message.text},
                "enable_duplicate_check": 1,
                "duplicate_check_interval": 1800,
            },
        )
