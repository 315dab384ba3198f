"""The inbound contract: what every channel promises about a message its platform delivers.

A channel checks the platform's signature, turns the payload into one IncomingMessage, and hands it to
`Answering.answer`. What happens next is the same on every platform and is written here once:

- Reply budget. The platform waits only a few seconds for its response. The Dispatcher's reply goes back in
  the response when it is ready within the channel's budget; otherwise the response goes out empty and the
  reply follows later through the channel's own `deliver` (an app message, a session webhook …).
- Late failure. A database error after the response went out cannot be retried by the platform, so the sender
  is told to send the message again (the channel's `failed`); nothing was committed.
- Duplicate answer. A message delivered again (same platform message id) is not handled twice: the Dispatcher
  answers it from the record of the first delivery and marks the reply `duplicate`; the channel decides what,
  if anything, goes out again.
- Unavailable database. A database error within the budget propagates, the app answers 503 (bot.app), and
  the platform delivers the message again.

The simulator has no budget (its page waits for the reply) and keeps only the last two promises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.observability import note_callback
from bot.services import Services
from handlers.message import IncomingMessage, Reply
from scheduler.outbound import OutboundMessage, SendResult
from storage.db import transaction
from storage.repos import Campaigns, Outbox

log = logging.getLogger("duban.inbound")

LATE_SEND_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # seconds between tries of a late reply while the database is away


class Answering:
    """One channel's answers within its reply budget, and the replies still on their way after it."""

    def __init__(self, services: Services, *, channel: str, budget: float) -> None:
        self.services = services
        self.channel = channel  # for logs: wecom, dingtalk …
        self.budget = budget  # seconds
        self.pending: set[asyncio.Task[None]] = set()

    async def answer(
        self,
        platform: str,
        message: IncomingMessage,
        *,
        deliver: Callable[[Reply], Awaitable[None]],
        failed: Callable[[], Awaitable[None]],
    ) -> Reply | None:
        """The Dispatcher's reply if it is ready within the budget; otherwise None, and the reply goes out
        through `deliver` when it is ready (or `failed` tells the sender to try again)."""
        handling = self.services.handle(platform, message)
        done, _ = await asyncio.wait({handling}, timeout=self.budget)
        if handling in done:
            return handling.result()  # a SQLAlchemyError propagates: the app answers 503 and the platform retries
        log.warning(
            "reply over budget, it follows later",
            extra={"channel": self.channel, "budget_seconds": self.budget, "message_id": message.message_id},
        )
        note_callback("deferred")
        self.later(self._late(handling, deliver, failed))
        return None

    async def _late(
        self,
        handling: asyncio.Future[Reply],
        deliver: Callable[[Reply], Awaitable[None]],
        failed: Callable[[], Awaitable[None]],
    ) -> None:
        try:
            reply = await handling
        except SQLAlchemyError as error:
            # The platform already has its response and will not deliver the message again.
            log.error(
                "message failed after the reply budget", extra={"channel": self.channel, "error": type(error).__name__}
            )
            await failed()
            return
        await deliver(reply)

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` after the response, keeping it until it is done (the loop holds only weak references)."""
        task = asyncio.create_task(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the replies still on their way (at shutdown), so that none is dropped."""
        if self.pending:
            await asyncio.wait(self.pending, timeout=timeout)


async def patiently(send: Callable[[], Awaitable[SendResult]]) -> SendResult:
    """A send from a background task, after the platform had its response, so it must not raise: an access
    token is read from the database, and a database outage — the usual reason a reply is late — is waited out
    for a while (LATE_SEND_PAUSES) instead of losing the reply."""
    for pause in LATE_SEND_PAUSES:
        try:
            return await send()
        except SQLAlchemyError:
            await asyncio.sleep(pause)
    try:
        return await send()
    except SQLAlchemyError as error:
        return SendResult.retryable(f"数据库不可用：{type(error).__name__}")


def queue_reply(services: Services, message: OutboundMessage) -> None:
    """Leave a reply the platform would not take now to the outbox, whose delivery worker retries it (under the
    campaign served, when there is only one: a reply is not filed under a campaign otherwise)."""
    with transaction(services.sessions) as session:
        serving = Campaigns(session).serving(services.settings.campaign)
        Outbox(session).enqueue(
            campaign=serving[0] if len(serving) == 1 else None,
            channel=message.channel,
            target=message.target,
            text=message.text,
            markdown=message.markdown,
            key=message.key,
            now=services.clock.now(),
        )
    log.info("reply queued in the outbox", extra={"channel": str(message.channel), "key": message.key})
