"""A callback body from the 智能机器人 long connection → what duban acts on.

Messages (`aibot_msg_callback`) become an IncomingMessage for the handlers, with the group and mention facts a
reply needs; events (`aibot_event_callback`) become EnterChat or CardClick. WeCom delivers a group message only
when it @-mentions the bot, and leaves the mention in the text (`@督办 汇总`): the leading mentions are
removed, and a group text without any mention is not for the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.channels import Platform
from handlers.message import IncomingMessage
from storage.models import ID_LENGTH

PLATFORM = Platform.WECOM  # the robot's from.userid is the member's userid in the corp, the same as the app's
SINGLE, GROUP = "single", "group"
# WeCom puts a U+2005 after an @-mention; `\s` covers it and the ordinary spaces.
_LEADING_MENTIONS = re.compile(r"^(?:\s*@[^\s@]+\s+)+|^\s*@[^\s@]+\s*$")
_ANY_MENTION = re.compile(r"(?:^|\s)@[^\s@]+")


class PayloadError(ValueError):
    """A callback body duban cannot read."""


@dataclass(frozen=True)
class Attachment:
    """A picture or file WeCom holds for five minutes: encrypted with its own key (media.fetch)."""

    kind: Literal["image", "file"]
    url: str
    aes_key: str


@dataclass(frozen=True)
class Chat:
    """Where a callback came from and who sent it."""

    msg_id: str
    user_id: str
    chat_id: str  # the group's chatid, or the sender's userid in a one-to-one chat (where proactive sends go)
    is_group: bool


@dataclass(frozen=True)
class RobotMessage:
    """A message callback. `message` is None when there is no text for the handlers (a bare picture or file)."""

    chat: Chat
    addressed: bool  # one-to-one, or a group message that @-mentions somebody (WeCom only sends those with the bot)
    message: IncomingMessage | None
    attachments: tuple[Attachment, ...] = ()
    voice: bool = False  # the text is WeCom's transcription of a voice message


@dataclass(frozen=True)
class EnterChat:
    """The user opened the one-to-one chat for the first time today; a welcome may answer within 5 seconds."""

    chat: Chat


@dataclass(frozen=True)
class CardClick:
    """A button on a template card the bot sent was clicked."""

    chat: Chat
    event_key: str  # the clicked button's key
    task_id: str  # the card's task_id, needed to update the card


@dataclass(frozen=True)
class OtherEvent:
    """An event duban does not act on (feedback, a new event type); `event_type` is logged."""

    chat: Chat
    event_type: str


Callback = RobotMessage | EnterChat | CardClick | OtherEvent


def parse_message(body: dict[str, Any], *, now: datetime) -> RobotMessage:
    """Read an aibot_msg_callback body; raise PayloadError with a reason for anything malformed."""
    chat = _chat(body)
    msgtype = _text(body, "msgtype")
    texts: list[str] = []
    attachments: list[Attachment] = []
    if msgtype == "text":
        texts.append(_text(_object(body, "text"), "content"))
    elif msgtype == "voice":
        texts.append(_text(_object(body, "voice"), "content"))
    elif msgtype == "mixed":
        items = _object(body, "mixed").get("msg_item")
        if not isinstance(items, list):
            raise PayloadError("mixed.msg_item 应为数组")
        for item in items:
            if not isinstance(item, dict):
                raise PayloadError("mixed.msg_item 的元素应为对象")
            if item.get("msgtype") == "text":
                texts.append(_text(_object(item, "text"), "content"))
            elif item.get("msgtype") == "image":
                attachments.append(_attachment("image", _object(item, "image")))
    elif msgtype in ("image", "file"):
        attachments.append(_attachment("image" if msgtype == "image" else "file", _object(body, msgtype)))
    text = "\n".join(t.strip() for t in texts if t.strip())
    addressed = not chat.is_group or bool(_ANY_MENTION.search(text))
    if chat.is_group:
        text = _LEADING_MENTIONS.sub("", text).strip()
    message = None
    if text:
        message = IncomingMessage(
            platform=PLATFORM,
            user_id=chat.user_id,
            text=text,
            received_at=now,
            message_id=dedupe_key(chat),
            conversation_id=chat.chat_id,
            is_group=chat.is_group,
            spoken=msgtype == "voice",
        )
    return RobotMessage(
        chat=chat, addressed=addressed, message=message, attachments=tuple(attachments), voice=msgtype == "voice"
    )


def parse_event(body: dict[str, Any]) -> EnterChat | CardClick | OtherEvent:
    """Read an aibot_event_callback body."""
    chat = _chat(body)
    event = _object(body, "event")
    event_type = _text(event, "eventtype")
    if event_type == "enter_chat":
        return EnterChat(chat)
    if event_type == "template_card_event":
        # WeCom's page nests the details under the event type's name; its Node SDK reads them from `event`
        # itself. Either is accepted.
        nested = event.get(event_type)
        details = nested if isinstance(nested, dict) else event
        return CardClick(chat, event_key=_text(details, "event_key"), task_id=_text(details, "task_id"))
    return OtherEvent(chat, event_type)


def dedupe_key(chat: Chat) -> str:
    """The Dispatcher's message id: WeCom's msgid and the sender, so a redelivery is handled once."""
    key = f"robot:{chat.msg_id}:{chat.user_id}"
    if len(key) > ID_LENGTH:
        raise PayloadError(f"msgid 与 userid 合计超过 {ID_LENGTH} 个字符")
    return key


def _chat(body: dict[str, Any]) -> Chat:
    msg_id = _text(body, "msgid")
    user_id = _text(_object(body, "from"), "userid")
    chattype = body.get("chattype") or SINGLE
    if chattype not in (SINGLE, GROUP):
        raise PayloadError(f"chattype 应为 single 或 group，收到 {chattype!r}")
    is_group = chattype == GROUP
    chat_id = _text(body, "chatid") if is_group else user_id
    return Chat(msg_id=msg_id, user_id=user_id, chat_id=chat_id, is_group=is_group)


def _attachment(kind: Literal["image", "file"], value: dict[str, Any]) -> Attachment:
    return Attachment(kind=kind, url=_text(value, "url"), aes_key=_text(value, "aeskey"))


def _object(value: dict[str, Any], name: str) -> dict[str, Any]:
    found = value.get(name)
    if not isinstance(found, dict):
        raise PayloadError(f"缺少对象 {name}")
    return found


def _text(value: dict[str, Any], name: str) -> str:
    found = value.get(name)
    if not isinstance(found, str) or not found:
        raise PayloadError(f"缺少字段 {name}")
    return found
