"""The DingTalk (钉钉) channel: robot messages in (HTTP callback or Stream), group robots and work notifications out.

`router` serves /dingtalk/callback; `running` is the channel's part of the app's lifespan; `build_senders`
gives the scheduler's delivery worker the dingtalk_robot and dingtalk_work senders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from bot.dingtalk.callback import router
from bot.dingtalk.channel import RobotChannel
from bot.dingtalk.clients import HTTP_TIMEOUT, build_senders
from bot.dingtalk.stream import StreamRunner
from bot.services import Services

__all__ = ["build_senders", "router", "running"]
log = logging.getLogger("duban.dingtalk")


@asynccontextmanager
async def running(app: FastAPI, services: Services) -> AsyncIterator[None]:
    """The channel for the app's lifetime; in Stream mode, also the Stream client beside the web app."""
    settings = services.settings
    if settings.dingtalk_agent_id is None:
        log.warning("DUBAN_DINGTALK_AGENT_ID is not set: late replies and notifications cannot reach DingTalk users")
    stream = StreamRunner(services) if settings.dingtalk_mode == "stream" else None
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        app.state.dingtalk = channel = RobotChannel(services, http)
        if stream is not None:
            stream.start()
            log.info("dingtalk stream mode started")
        try:
            yield
        finally:
            if stream is not None:
                await asyncio.to_thread(stream.stop)
            await channel.drain()
            app.state.dingtalk = None
