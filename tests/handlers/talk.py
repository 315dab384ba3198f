"""Talk to the dispatcher directly: no HTTP and no channel, the clock in the test's hand.

The one place the unit tests of the chat commands import the dispatcher and the message types from, so that
moving those modules changes one import here.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from core.clock import ManualClock
from handlers.commands import menu_commands
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from storage.db import transaction
from storage.models import AuditEntry, OutboxMessage
from tests.conftest import Database

__all__ = ["Talk", "command_names"]


def command_names() -> set[str]:
    """The name (first word) of every declared chat command."""
    return {declared.name for declared in menu_commands()}


class Talk:
    """Sends chat messages as any user (WeCom ids by default) through one Dispatcher and reads what they changed."""

    def __init__(self, db: Database, clock: ManualClock) -> None:
        self.db = db
        self.clock = clock
        self.dispatcher = Dispatcher(db.sessions)
        self._ids = itertools.count(1)

    def reply(self, user: str, text: str, *, platform: str = "wecom") -> Reply:
        message = IncomingMessage(platform, user, text, self.clock.now(), message_id=f"unit-{next(self._ids)}")
        return self.dispatcher.handle(message)

    def send(self, user: str, text: str, *, platform: str = "wecom") -> str:
        """The reply's texts as one string (what the user reads, message after message)."""
        return "\n".join(self.reply(user, text, platform=platform).texts)

    def outbox(self) -> list[tuple[str, str, str]]:
        """Every queued outgoing message: (channel, target, text), oldest first."""
        with transaction(self.db.sessions) as session:
            rows = session.execute(
                select(OutboxMessage.channel, OutboxMessage.target, OutboxMessage.text).order_by(OutboxMessage.id)
            ).all()
        return [(channel, target, text) for channel, target, text in rows]

    def audit(self) -> list[tuple[str, dict[str, Any]]]:
        """The audit trail: (action, detail), oldest first."""
        with transaction(self.db.sessions) as session:
            rows = session.execute(select(AuditEntry.action, AuditEntry.detail).order_by(AuditEntry.id)).all()
        return [(action, dict(detail or {})) for action, detail in rows]
