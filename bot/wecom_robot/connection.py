"""The long connection itself: connect, authenticate, heartbeat, watch for silence, reconnect with back-off.

Spoken directly over the `websockets` library rather than through one of the PyPI SDKs (deploy/wecom.md says
why: none of them reconnects after WeCom closes a connection cleanly). One `LongConnection.run()` keeps one
connection alive until it is cancelled:

- authenticate with `aibot_subscribe`; a refusal (errcode ≠ 0) waits a long back-off, as does being replaced
  by another connection of the same bot (`disconnected_event`), so two holders do not take turns every second;
- a `ping` every `heartbeat` seconds; `max_missed_acks` unanswered pings in a row end the connection;
- a watchdog, independent of the heartbeat, ends a connection on which nothing at all arrived for
  `silence_limit` seconds — an unanswered subscribe, or a send stuck on a dead TCP connection;
- callbacks are handed to `on_callback` as tasks, so a slow handler never holds up the heartbeat's acks;
- replies and proactive messages wait for WeCom's answer (same req_id) for `ack_timeout` seconds.

All waiting goes through a `Timing`, so tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from bot.timing import LoopTiming, Timing
from bot.wecom_robot import protocol
from bot.wecom_robot.protocol import Frame, ProtocolError

log = logging.getLogger("duban.wecom_robot")

OPEN_TIMEOUT = 10.0  # seconds for TCP, TLS and the WebSocket handshake
MAX_FRAME_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Liveness:
    """The connection's timings, in seconds. WeCom's SDKs ping every 30 s and give up after two missed acks."""

    heartbeat: float = 30.0
    max_missed_acks: int = 2
    silence_limit: float = 75.0
    ack_timeout: float = 5.0
    backoff_first: float = 1.0
    backoff_max: float = 60.0
    refused_backoff_first: float = 60.0  # after an authentication refusal or a takeover by another connection
    refused_backoff_max: float = 600.0


class RobotError(Exception):
    """WeCom refused a command (errcode ≠ 0), or did not answer it in time."""

    def __init__(self, detail: str, errcode: int | None = None) -> None:
        super().__init__(detail)
        self.errcode = errcode


class NotConnected(RobotError):
    """No authenticated connection right now."""

    def __init__(self) -> None:
        super().__init__("no authenticated connection")


class _Ended(Exception):
    """Why a connection ended; `refused` asks for the long back-off."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.refused = reason, refused


CallbackHandler = Callable[[Frame], Coroutine[Any, Any, None]]


@dataclass
class _Turn:
    """Commands waiting to go on one req_id."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class LongConnection:
    def __init__(
        self,
        *,
        url: str,
        bot_id: str,
        secret: str,
        on_callback: CallbackHandler,
        timing: Timing | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        self.url, self.bot_id, self._secret = url, bot_id, secret
        self.on_callback = on_callback
        self.timing = timing or LoopTiming()
        self.liveness = liveness or Liveness()
        self.authenticated = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._turns: dict[str, _Turn] = {}
        self._callbacks: set[asyncio.Task[None]] = set()
        self._last_heard = 0.0
        self._missed_acks = 0

    # --- running -------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a connection up until cancelled; never returns otherwise."""
        failures = refusals = 0
        try:
            while True:
                try:
                    await self._session()
                except _Ended as ended:
                    reason, refused = ended.reason, ended.refused
                except (OSError, websockets.WebSocketException, TimeoutError, RobotError) as error:
                    reason, refused = type(error).__name__, False
                if self.authenticated.is_set():  # it worked for a while: start the back-off afresh
                    failures = refusals = 0
                self._reset()
                live = self.liveness
                if refused:
                    refusals += 1
                    delay = min(live.refused_backoff_first * 2 ** (refusals - 1), live.refused_backoff_max)
                else:
                    failures += 1
                    refusals = 0
                    delay = min(live.backoff_first * 2 ** (failures - 1), live.backoff_max)
                log.warning("wecom robot connection ended", extra={"reason": reason, "retry_in_seconds": delay})
                await self.timing.sleep(delay)
        finally:
            self._reset()
            await self.drain()

    async def drain(self) -> None:
        """Wait for the callbacks being handled (at shutdown), so no reply is cut off half-way."""
        if self._callbacks:
            await asyncio.gather(*self._callbacks, return_exceptions=True)

    async def _session(self) -> None:
        async with websockets.connect(
            self.url, open_timeout=OPEN_TIMEOUT, ping_interval=None, close_timeout=1, max_size=MAX_FRAME_BYTES
        ) as ws:
            self._ws = ws
            self._last_heard = self.timing.monotonic()
            log.info("wecom robot connected", extra={"bot_id": self.bot_id})
            tasks = [
                asyncio.create_task(self._read(ws)),
                asyncio.create_task(self._watch()),
                asyncio.create_task(self._authenticate_and_beat()),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # raises why the connection ended
                raise _Ended("connection closed")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # A dead peer never answers a closing handshake: drop the TCP connection instead of waiting.
                ws.transport.abort()

    async def _authenticate_and_beat(self) -> None:
        answer = await self._request(
            protocol.SUBSCRIBE,
            {"bot_id": self.bot_id, "secret": self._secret},
            timeout=self.liveness.silence_limit,
            check=False,
        )
        if answer.errcode != 0:
            log.error(
                "wecom robot authentication refused: check DUBAN_WECOM_BOT_ID, DUBAN_WECOM_BOT_SECRET and "
                "that the robot's API mode is the long connection",
                extra={"errcode": answer.errcode, "errmsg": answer.errmsg},
            )
            raise _Ended(f"authentication refused ({answer.errcode})", refused=True)
        self.authenticated.set()
        log.info("wecom robot authenticated", extra={"bot_id": self.bot_id})
        while True:
            await self.timing.sleep(self.liveness.heartbeat)
            if self._missed_acks >= self.liveness.max_missed_acks:
                raise _Ended(f"{self._missed_acks} heartbeats unanswered")
            self._missed_acks += 1
            await self._send(Frame(protocol.PING, protocol.new_req_id(protocol.PING)))

    async def _watch(self) -> None:
        """End the connection when nothing has arrived for silence_limit seconds."""
        while True:
            quiet_for = self.timing.monotonic() - self._last_heard
            if quiet_for >= self.liveness.silence_limit:
                raise _Ended(f"silent for {quiet_for:.0f} s")
            await self.timing.sleep(self.liveness.silence_limit - quiet_for)

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self._last_heard = self.timing.monotonic()
            try:
                frame = protocol.decode(raw)
            except ProtocolError as error:
                log.warning("wecom robot frame refused", extra={"reason": str(error)})
                continue
            if frame.cmd in (protocol.MESSAGE_CALLBACK, protocol.EVENT_CALLBACK):
                if _superseded(frame):
                    log.error(
                        "wecom robot replaced by another connection of the same bot: is a second "
                        "deployment using DUBAN_WECOM_BOT_ID?",
                        extra={"bot_id": self.bot_id},
                    )
                    raise _Ended("another connection took over", refused=True)
                self._handle_later(self.on_callback(frame))
            elif frame.req_id.startswith(protocol.PING):
                if frame.errcode == 0:
                    self._missed_acks = 0
            elif (waiting := self._pending.pop(frame.req_id, None)) is not None and not waiting.done():
                waiting.set_result(frame)
            else:
                log.info("wecom robot frame ignored", extra={"cmd": frame.cmd, "errcode": frame.errcode})

    def _handle_later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._callbacks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Task[None]) -> None:
        self._callbacks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("wecom robot callback failed", exc_info=error)

    def _reset(self) -> None:
        self.authenticated.clear()
        self._ws = None
        self._missed_acks = 0
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_exception(NotConnected())
        self._pending.clear()

    # --- sending -------------------------------------------------------------------------------------------

    async def respond(self, req_id: str, body: dict[str, Any], *, cmd: str = protocol.RESPOND) -> None:
        """Answer the callback `req_id` (a reply, a welcome, a card update); RobotError if WeCom refuses it."""
        await self._request(cmd, body, req_id=req_id)

    async def send(self, chat_id: str, body: dict[str, Any]) -> None:
        """A proactive message to a chat: a group's chatid, or a userid for the one-to-one chat."""
        await self._request(protocol.SEND, {"chatid": chat_id, **body})

    async def _request(
        self,
        cmd: str,
        body: dict[str, Any],
        *,
        req_id: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> Frame:
        """Send a command and wait for WeCom's answer to it. Commands on one req_id (the frames of a reply) go
        one at a time, each after the answer to the one before, as WeCom's SDKs send them."""
        if cmd != protocol.SUBSCRIBE and not self.authenticated.is_set():
            raise NotConnected()
        req_id = req_id or protocol.new_req_id(cmd)
        turn = self._turns.setdefault(req_id, _Turn())
        turn.users += 1
        try:
            async with turn.lock:
                return await self._exchange(cmd, body, req_id=req_id, timeout=timeout, check=check)
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[req_id]

    async def _exchange(
        self, cmd: str, body: dict[str, Any], *, req_id: str, timeout: float | None, check: bool
    ) -> Frame:
        answer: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = answer
        try:
            await self._send(Frame(cmd, req_id, body))
            timer: asyncio.Future[Any] = asyncio.ensure_future(self.timing.sleep(timeout or self.liveness.ack_timeout))
            try:
                await asyncio.wait({answer, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
            if not answer.done():
                raise RobotError(f"no answer to {cmd}")
            frame = answer.result()
        finally:
            if self._pending.get(req_id) is answer:
                del self._pending[req_id]
        if check and frame.errcode != 0:
            raise RobotError(f"{cmd} refused: {frame.errmsg}", frame.errcode)
        return frame

    async def _send(self, frame: Frame) -> None:
        if self._ws is None:
            raise NotConnected()
        try:
            await self._ws.send(frame.encode())
        except websockets.ConnectionClosed as error:
            raise NotConnected() from error


def _superseded(frame: Frame) -> bool:
    event = frame.body.get("event")
    return isinstance(event, dict) and event.get("eventtype") == "disconnected_event"


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Stop a running connection (or anything else) and wait until it has."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
