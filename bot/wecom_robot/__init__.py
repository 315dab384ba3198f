"""The WeCom 智能机器人 channel: a WebSocket long connection that duban opens to WeCom (no public address needed),
for one-to-one chats and groups that @-mention the bot.

WeCom keeps one connection per bot: a second one replaces the first. So in a deployment exactly one process
holds it — a process with DUBAN_SCHEDULER=on that wins the robot's own election (a PostgreSQL advisory lock
keyed by the bot id, or a lock file beside a SQLite database), checked every `ELECTION_SECONDS`; when the
holder dies its lock goes with it and a standby connects at its next check. Only the scheduler leader stands
(`eligible`), so the process that delivers the outbox is the one that can send a group's reminders on the
connection. `running` is the channel's part of the app's lifespan.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot.services import Services
from bot.wecom_robot.channel import RobotChannel
from bot.wecom_robot.connection import Liveness, LoopTiming, Timing, cancel_and_wait
from scheduler.leader import Leadership, leadership_for

__all__ = ["ConnectionHolder", "RobotChannel", "running"]
log = logging.getLogger("duban.wecom_robot")

ELECTION_SECONDS = 15.0  # with PostgreSQL's ~30 s to notice a vanished holder, a standby takes over within 60 s
ELIGIBILITY_SECONDS = 1.0  # how often a process that may not stand yet (not the scheduler leader) looks again


def lock_key(bot_id: str) -> int:
    """The advisory lock key of one bot (a signed 64-bit integer, as PostgreSQL's keys are)."""
    return int.from_bytes(hashlib.sha256(f"duban-wecom-robot:{bot_id}".encode()).digest()[:8], "big", signed=True)


class ConnectionHolder:
    """Runs the channel's connection while, and only while, this process holds the bot's lock."""

    def __init__(
        self,
        channel: RobotChannel,
        leadership: Leadership,
        *,
        timing: Timing,
        election_seconds: float = ELECTION_SECONDS,
        eligible: Callable[[], bool] = lambda: True,
    ) -> None:
        self.channel, self.leadership, self.timing = channel, leadership, timing
        self.election_seconds = election_seconds
        self.eligible = eligible
        self._connection: asyncio.Task[None] | None = None

    @property
    def holding(self) -> bool:
        return self._connection is not None

    async def run(self) -> None:
        try:
            while True:
                await self.elect()
                await self.timing.sleep(
                    self.election_seconds if self.holding or self.eligible() else ELIGIBILITY_SECONDS
                )
        finally:
            await self._stop()
            await asyncio.to_thread(self.leadership.release)

    async def elect(self) -> None:
        """Take the connection when the lock is free; let it go when the lock was lost."""
        if self._connection is not None:
            if not self.eligible():
                log.warning("no longer the scheduler leader; leaving the wecom robot connection to the new one")
                await self._stop()
                await asyncio.to_thread(self.leadership.release)
            elif not await asyncio.to_thread(self.leadership.still_held):
                log.warning("wecom robot lock lost; closing the connection")
                await self._stop()
            return
        if self.eligible() and await asyncio.to_thread(self.leadership.try_acquire):
            log.info("wecom robot lock acquired; this process holds the connection")
            self._connection = asyncio.create_task(self.channel.connection.run())

    async def _stop(self) -> None:
        if self._connection is not None:
            await cancel_and_wait(self._connection)
            self._connection = None


@asynccontextmanager
async def running(
    app: FastAPI,
    services: Services,
    *,
    timing: Timing | None = None,
    liveness: Liveness | None = None,
    eligible: Callable[[], bool] = lambda: True,
) -> AsyncIterator[RobotChannel]:
    """The channel for the app's lifetime, its connection held by whichever eligible process wins the lock."""
    settings = services.settings
    assert settings.wecom_bot_id
    timing = timing or LoopTiming()
    channel = RobotChannel(services, timing=timing, liveness=liveness)
    leadership = leadership_for(settings.database_url, name="wecom-robot", key=lock_key(settings.wecom_bot_id))
    holder = asyncio.create_task(ConnectionHolder(channel, leadership, timing=timing, eligible=eligible).run())
    app.state.wecom_robot = channel
    try:
        yield channel
    finally:
        await cancel_and_wait(holder)
        app.state.wecom_robot = None
