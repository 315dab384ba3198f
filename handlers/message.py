"""The platform-neutral message types every channel converts to and from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """A file or picture that came as the message (its text, if any, is the caption).

    The channel has already fetched it into a staging file (`staged`, a storage.files.StagedFile) or says why
    it could not: `problem` is ``too_large`` or ``download_failed``. The handler decides whether it is kept.
    """

    name: str
    staged: Any = field(default=None, compare=False)
    problem: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """One text message from a user, whatever platform it came from.

    `platform` is the identity namespace (``wecom``, ``dingtalk``); the simulator speaks as WeCom users.
    `message_id` is the platform's id used to drop retried deliveries; None when the channel has none.
    `via` names the channel that carried it when that is not the platform itself (``sim``).
    """

    platform: str
    user_id: str
    text: str
    received_at: datetime
    message_id: str | None = None
    conversation_id: str | None = None
    is_group: bool = False
    via: str | None = None
    attachment: Attachment | None = None
    # A button click carries the id of the offer its card was made for (a stale click is refused); a voice
    # message's text is WeCom's transcription, echoed for a confirmation before it is acted on.
    answers: str | None = None
    spoken: bool = False

    @property
    def origin(self) -> str:
        """Where the message came from, for the duplicate check and the audit trail: the simulator finds people by
        their WeCom ids, but its message ids never meet WeCom's and its actions are never recorded as WeCom's."""
        return self.via or self.platform


@dataclass(frozen=True, eq=False)
class Image:
    """A picture attached to a reply (a chart), for channels that can upload media.

    Drawn on first access of `data`, not when the handler returns: the handler runs inside the database
    transaction, and drawing there would hold the write lock for as long as the drawing takes.
    """

    name: str  # file name shown by the platform, e.g. 整改率.png
    mime: str
    render: Callable[[], bytes] = field(repr=False)

    @cached_property
    def data(self) -> bytes:
        return self.render()


@dataclass(frozen=True)
class Choice:
    """One answer to the question a reply asks, for channels that show buttons: `text` is exactly what the user
    would type instead (确认, 取消, 批准 3), so a click goes through the same dispatcher path as the typed reply."""

    label: str
    text: str


@dataclass(frozen=True)
class Reply:
    """What the bot answers: one or more plain-text messages, optionally richer variants of the same.

    `markdown` is the whole reply as one markdown message for channels that render it (WeCom and DingTalk
    markdown); `images` are pictures to send after it; `choices` are buttons for the question it asks.
    Channels without them send `texts` alone.
    """

    texts: tuple[str, ...]
    duplicate: bool = field(default=False, compare=False)  # answered from the record of an earlier delivery
    markdown: str | None = field(default=None, compare=False)
    images: tuple[Image, ...] = field(default=(), compare=False)
    choices: tuple[Choice, ...] = field(default=(), compare=False)
    offer_id: str | None = field(default=None, compare=False)  # the offer the choices settle, when there is one
    campaign: str | None = field(default=None, compare=False)  # the campaign it was handled in (for the metrics)

    @classmethod
    def of(cls, *texts: str) -> Reply:
        return cls(tuple(t for t in texts if t))
