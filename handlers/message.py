"""The platform-neutral message types every channel converts to and from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class IncomingMessage:
    """One text message from a user, whatever platform it came from.

    `platform` is the identity namespace (``wecom``, ``dingtalk``); the simulator speaks as WeCom users.
    `message_id` is the platform's id used to drop retried deliveries; None when the channel has none.
    """

    platform: str
    user_id: str
    text: str
    received_at: datetime
    message_id: str | None = None
    conversation_id: str | None = None
    is_group: bool = False


@dataclass(frozen=True)
class Reply:
    """What the bot answers, as one or more plain-text messages."""

    texts: tuple[str, ...]
    duplicate: bool = field(default=False, compare=False)  # answered from the record of an earlier delivery

    @classmethod
    def of(cls, *texts: str) -> Reply:
        return cls(tuple(t for t in texts if t))
