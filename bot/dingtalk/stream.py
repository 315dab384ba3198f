"""Stream mode (消息接收模式: Stream): the official dingtalk-stream SDK holds a websocket open to DingTalk,
so the bot needs no public address — what many government networks require.

Robot messages arrive as CallbackMessage frames whose `data` is the same JSON as an HTTP callback body;
RobotMessageHandler parses them with the same code and answers them through a RobotChannel, as the callback
does. The SDK's own ChatbotHandler.reply_text is not used: it posts with blocking `requests` (no timeout) from
inside the event loop and ignores DingTalk's errcode; replies go through RobotChannel.deliver instead (async
httpx: sessionWebhook, else work notification, else the outbox).

The SDK reconnects when its websocket closes, but not when the connection stays open and nothing arrives on it
(a gateway that answers the websocket's pings yet sends no frames, DingTalk's own SYSTEM pings included): the
gateway client's watchdog closes such a connection after SILENCE_LIMIT seconds, and the SDK opens a new one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import httpx
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, ChatbotMessage, Credential
from dingtalk_stream import DingTalkStreamClient as _SdkClient
from dingtalk_stream.version import VERSION_STRING
from sqlalchemy.exc import SQLAlchemyError

from bot.dingtalk.channel import RobotChannel
from bot.dingtalk.clients import HTTP_TIMEOUT
from bot.dingtalk.inbound import PLATFORM, PayloadError, parse
from bot.observability import counting_callback
from bot.services import Services
from bot.timing import LoopTiming, Timing

log = logging.getLogger("duban.dingtalk")
# The SDK logs the connection ticket at INFO: give it a logger of its own that starts at WARNING.
sdk_log = logging.getLogger("duban.dingtalk.sdk")
sdk_log.setLevel(logging.WARNING)
OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
STOP_ATTEMPTS = 5
SILENCE_LIMIT = 180.0  # seconds without any frame; DingTalk's gateway sends a SYSTEM ping well within this


class RobotMessageHandler(CallbackHandler):
    """The SDK callback for robot messages (topic /v1.0/im/bot/messages/get)."""

    def __init__(self, channel: RobotChannel) -> None:
        super().__init__()
        self.channel = channel

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        """Handle one frame; the answer becomes its ACK (a non-200 ACK makes DingTalk deliver it again)."""
        with counting_callback(PLATFORM) as counted:
            try:
                inbound = parse(message.data, now=self.channel.services.clock.now())
            except PayloadError as error:
                log.warning("dingtalk stream frame refused", extra={"reason": str(error)})
                counted.outcome = "malformed"
                return AckMessage.STATUS_BAD_REQUEST, str(error)
            log.info(
                "dingtalk message",
                extra={
                    "msg_id": inbound.msg_id,
                    "group": inbound.is_group,
                    "addressed": inbound.addressed,
                    "mode": "stream",
                },
            )
            try:
                await self.channel.answer_and_deliver(inbound)
            except SQLAlchemyError as error:
                log.error(
                    "dingtalk stream message failed: database error",
                    extra={"msg_id": inbound.msg_id, "error": type(error).__name__},
                )
                counted.outcome = "unavailable"
                return AckMessage.STATUS_SYSTEM_EXCEPTION, "database unavailable"
            return AckMessage.STATUS_OK, "OK"


class GatewayClient(_SdkClient):
    """The SDK's client, opening its connection at DUBAN_DINGTALK_STREAM_API_BASE with a timeout.

    The SDK posts to a module constant with `requests` and no timeout, and finds its local IP by routing a
    UDP socket towards a public address; this override keeps the SDK's protocol (same request body) and
    lets private deployments and tests choose the gateway.
    """

    def __init__(
        self,
        credential: Credential,
        *,
        api_base: str,
        logger: logging.Logger,
        timing: Timing | None = None,
        silence_limit: float = SILENCE_LIMIT,
    ) -> None:
        super().__init__(credential, logger=logger)
        self.open_connection_url = f"{api_base.rstrip('/')}{OPEN_CONNECTION_PATH}"
        self.timing = timing or LoopTiming()
        self.silence_limit = silence_limit
        self._last_heard: float | None = None

    async def run(self) -> None:
        """The SDK's connect-and-reconnect loop, with the watchdog beside it."""
        watchdog = asyncio.create_task(self.watch())
        try:
            await self.start()
        finally:
            watchdog.cancel()

    async def watch(self) -> None:
        """Close the connection when nothing has arrived on it for silence_limit seconds."""
        while True:
            heard = self._last_heard if self._last_heard is not None else self.timing.monotonic()
            quiet_for = self.timing.monotonic() - heard
            if quiet_for >= self.silence_limit and self.websocket is not None:
                log.warning("dingtalk stream silent; replacing the connection", extra={"silent_seconds": quiet_for})
                self._last_heard = self.timing.monotonic()  # the next connection gets the whole limit
                await self.websocket.close()
                continue
            await self.timing.sleep(
                self.silence_limit - quiet_for if quiet_for < self.silence_limit else self.silence_limit
            )

    async def route_message(self, json_message: dict[str, Any]) -> str:
        self._last_heard = self.timing.monotonic()
        result: str = await super().route_message(json_message)
        return result

    def open_connection(self) -> dict[str, Any] | None:
        topics = [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
            "localIp": "",
        }
        try:
            response = httpx.post(self.open_connection_url, json=body, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            connection: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.error("dingtalk stream: opening the connection failed", extra={"error": type(error).__name__})
            return None
        self._last_heard = self.timing.monotonic()
        log.info("dingtalk stream connected")
        return connection


class StreamRunner:
    """Runs the Stream client for the app's lifetime, in its own thread and event loop, so that nothing the
    SDK blocks on (its connection request, a slow DingTalk) can stall the web app."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._thread = threading.Thread(target=self._main, name="dingtalk-stream", daemon=True)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._thread.start()
        self._started.wait()

    def stop(self) -> None:
        """Cancel the client and wait for its thread. The SDK swallows the first cancellation (it treats it
        as a dropped connection and sleeps before reconnecting), so cancel until the thread has ended."""
        for _ in range(STOP_ATTEMPTS):
            if self._loop is None or self._task is None or not self._thread.is_alive():
                break
            self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout=1)
        if self._thread.is_alive():
            log.warning("dingtalk stream client did not stop in time")

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except asyncio.CancelledError:
            pass
        finally:
            self._started.set()

    async def _serve(self) -> None:
        settings = self.services.settings
        assert settings.dingtalk_app_key and settings.dingtalk_app_secret
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        self._started.set()
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            channel = RobotChannel(self.services, http)
            credential = Credential(settings.dingtalk_app_key, settings.dingtalk_app_secret.get_secret_value())
            client = GatewayClient(credential, api_base=settings.dingtalk_stream_api_base, logger=sdk_log)
            client.register_callback_handler(ChatbotMessage.TOPIC, RobotMessageHandler(channel))
            try:
                await client.run()
            finally:
                await channel.drain()
