"""The outbound senders registry and the reminder scheduler wired from Settings.

This is the seam where platform clients plug in: each implements scheduler.outbound.Sender and is
registered under the channels it serves (wecom_app, wecom_robot, dingtalk_work, dingtalk_robot).
The simulator channel is always there, so `make run` shows every reminder without any account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from bot.services import Services, dashboard_link_for, route_for
from bot.settings import Settings
from scheduler.leader import leadership_for
from scheduler.outbound import Sender, SimulatorSender
from scheduler.service import SchedulerService


def senders_by_channel(clients: Iterable[Sender]) -> dict[str, Sender]:
    """Channel name → the client that delivers on it; the simulator is always there."""
    return {channel: sender for sender in (SimulatorSender(), *clients) for channel in sender.channels}


def build_scheduler(settings: Settings, services: Services, clients: Iterable[Sender] = ()) -> SchedulerService:
    """The reminder scheduler of this process (it leads only if it wins the election).

    `clients` are the platform senders the lifespan has built (e.g. bot.dingtalk.build_senders(...)
    with the channel's HTTP client); their channels come in addition to the simulator's.
    """
    return SchedulerService(
        services.sessions,
        clock=services.clock,
        senders=senders_by_channel(clients),
        route=route_for(settings),
        leadership=leadership_for(settings.database_url),
        grace=timedelta(seconds=settings.reminder_grace),
        campaign_name=settings.campaign,
        link=dashboard_link_for(settings),
    )


OUTBOUND_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@asynccontextmanager
async def running_scheduler(
    settings: Settings, services: Services, channels: Iterable[Sender] = ()
) -> AsyncIterator[SchedulerService]:
    """The reminder scheduler for the app's lifetime, delivering through every platform client this
    configuration allows (group robots need only their webhook; app messages need the app's settings) and the
    `channels` the lifespan runs itself (the 智能机器人 connection)."""
    from bot.dingtalk import build_senders as dingtalk_senders
    from bot.wecom.client import build_senders as wecom_senders

    async with httpx.AsyncClient(timeout=OUTBOUND_TIMEOUT) as http:
        clients = [
            *channels,
            *wecom_senders(settings, services.sessions, services.clock, http),
            *dingtalk_senders(settings, services.sessions, services.clock, http),
        ]
        reminders = build_scheduler(settings, services, clients)
        await reminders.start()
        try:
            yield reminders
        finally:
            await reminders.stop()
