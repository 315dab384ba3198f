"""How duban answers what arrives over the 智能机器人 long connection.

Text, and the text of mixed messages, goes through the same Dispatcher as every other channel, identified as
the WeCom member (`wecom` userid, the same people as the app's). The reply goes back as a stream message on the
callback's req_id — markdown, growing in steps when it is long, `<@sender>` first in a group — and whatever
exceeds one stream message, or cannot go on the req_id any more (a reconnect in between), goes to the chat as
a proactive markdown message. A reply that offers choices is followed by a card with a button per choice
(bot/wecom_robot/cards.py); a voice message's transcription is echoed and acted on only once confirmed. A
message WeCom delivers again after a reconnect (same msgid, same sender) is handled once: the Dispatcher answers
it from the record of the first delivery.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from functools import partial
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from bot.media import RETRY_PAUSES, download
from bot.observability import counting_callback
from bot.services import Services
from bot.wecom import texts
from bot.wecom.client import split_by_bytes
from bot.wecom_robot import cards, media, protocol
from bot.wecom_robot.connection import Liveness, LongConnection, RobotError, Timing
from bot.wecom_robot.inbound import (
    PLATFORM,
    CardClick,
    Chat,
    EnterChat,
    PayloadError,
    RobotMessage,
    dedupe_key,
    parse_event,
    parse_message,
)
from handlers.message import IncomingMessage, Reply

log = logging.getLogger("duban.wecom_robot")

METRIC_LABEL = "wecom_robot"
STREAM_STEP_BYTES = 2048  # a long reply grows on the user's screen in steps of about this size
MEDIA_TIMEOUT = httpx.Timeout(60.0, connect=10.0)  # a 20 MB download on a slow link
NOT_YOURS = "这个按钮是给 <@{asked}> 的，您的点击没有执行。"


class RobotChannel:
    """Owns the long connection and answers its callbacks through the platform-neutral Dispatcher."""

    def __init__(self, services: Services, *, timing: Timing | None = None, liveness: Liveness | None = None) -> None:
        settings = services.settings
        assert settings.wecom_bot_id and settings.wecom_bot_secret
        self.services = services
        self.media_pauses: tuple[float, ...] = RETRY_PAUSES
        self.connection = LongConnection(
            url=settings.wecom_bot_ws_url,
            bot_id=settings.wecom_bot_id,
            secret=settings.wecom_bot_secret.get_secret_value(),
            on_callback=self.on_callback,
            timing=timing,
            liveness=liveness,
        )

    async def on_callback(self, frame: protocol.Frame) -> None:
        with counting_callback(METRIC_LABEL) as counted:
            try:
                if frame.cmd == protocol.MESSAGE_CALLBACK:
                    callback: Any = parse_message(frame.body, now=self.services.clock.now())
                else:
                    callback = parse_event(frame.body)
            except PayloadError as error:
                log.warning("wecom robot callback refused", extra={"reason": str(error)})
                counted.outcome = "malformed"
                return
            # A group's chatid is logged: it is what a plan's `groups: {channel: wecom_aibot, chatid: …}` needs.
            log.info(
                "wecom robot callback",
                extra={
                    "kind": type(callback).__name__,
                    "msg_id": callback.chat.msg_id,
                    "group": callback.chat.is_group,
                    "chat": callback.chat.chat_id if callback.chat.is_group else None,
                },
            )
            try:
                if isinstance(callback, RobotMessage):
                    await self._answer(frame.req_id, callback)
                elif isinstance(callback, EnterChat):
                    await self._welcome(frame.req_id, callback.chat)
                elif isinstance(callback, CardClick):
                    await self._click(frame.req_id, callback)
            except SQLAlchemyError as error:
                # Nothing was committed, and WeCom does not deliver a message again for want of an answer.
                log.error("wecom robot message failed: database error", extra={"error": type(error).__name__})
                counted.outcome = "unavailable"
                await self.deliver(frame.req_id, callback.chat, Reply.of(texts.LATE_FAILURE))

    async def _answer(self, req_id: str, message: RobotMessage) -> None:
        if not message.addressed:
            log.info("wecom robot group message not addressed to the bot", extra={"msg_id": message.chat.msg_id})
            return
        if message.attachments:
            await self._receive_files(req_id, message)
            return
        if message.message is None:
            reply = Reply.of(texts.TEXT_ONLY)
        else:
            reply = await self.services.handle(PLATFORM, message.message)
        await self.deliver(req_id, message.chat, reply)

    async def _receive_files(self, req_id: str, message: RobotMessage) -> None:
        """Pictures and files (WeCom keeps them five minutes): downloaded now, each handed to the Dispatcher like
        the other channels' (a mixed message's text is the first one's caption); the replies go back together."""
        caption = message.message.text if message.message is not None else ""
        texts_: list[str] = []
        async with httpx.AsyncClient(timeout=MEDIA_TIMEOUT) as http:
            for index, attachment in enumerate(message.attachments):
                name = "图片.jpg" if attachment.kind == "image" else ""
                received = await download(
                    partial(media.fetch_staged, http, attachment, name),
                    name=name,
                    platform=METRIC_LABEL,
                    pauses=self.media_pauses,
                )
                incoming = IncomingMessage(
                    platform=PLATFORM,
                    user_id=message.chat.user_id,
                    text=caption if index == 0 else "",
                    received_at=self.services.clock.now(),
                    message_id=f"{dedupe_key(message.chat)}:{index}",
                    conversation_id=message.chat.chat_id,
                    is_group=message.chat.is_group,
                    attachment=received,
                )
                try:
                    reply = await self.services.handle(PLATFORM, incoming)
                finally:
                    if received.staged is not None:
                        received.staged.discard()
                texts_.extend(reply.texts)
        await self.deliver(req_id, message.chat, Reply.of(*texts_))

    async def _welcome(self, req_id: str, chat: Chat) -> None:
        """The menu for the user's role, as the app's greeting, within WeCom's 5 seconds for a welcome."""
        menu = IncomingMessage(
            platform=PLATFORM,
            user_id=chat.user_id,
            text="帮助",
            received_at=self.services.clock.now(),
            message_id=dedupe_key(chat),
        )
        reply = await self.services.handle(PLATFORM, menu)
        text = texts.GREETING + "\n" + "\n\n".join(reply.texts)
        try:
            await self.connection.respond(
                req_id, {"msgtype": "text", "text": {"content": text}}, cmd=protocol.RESPOND_WELCOME
            )
        except RobotError as error:  # too late for a welcome: the menu is one 帮助 away
            log.warning("wecom robot welcome not sent", extra={"errcode": error.errcode, "detail": str(error)})

    async def _click(self, req_id: str, click: CardClick) -> None:
        """A button: the typed answer it stands for, from the person who was asked, through the Dispatcher."""
        try:
            clicked = cards.read_key(click.event_key)
        except cards.CardError:
            log.info("wecom robot click on a card duban did not make", extra={"task_id": click.task_id})
            return
        if clicked.user_id != click.chat.user_id:
            log.info("wecom robot click refused: not the person asked", extra={"msg_id": click.chat.msg_id})
            await self.deliver(None, click.chat, Reply.of(NOT_YOURS.format(asked=clicked.user_id)))
            return
        message = IncomingMessage(
            platform=PLATFORM,
            user_id=click.chat.user_id,
            text=clicked.text,
            received_at=self.services.clock.now(),
            message_id=dedupe_key(click.chat),
            conversation_id=click.chat.chat_id,
            is_group=click.chat.is_group,
            answers=clicked.offer_id,
        )
        reply = await self.services.handle(PLATFORM, message)
        try:
            await self.connection.respond(
                req_id, cards.answered_card(click.task_id, clicked.label), cmd=protocol.RESPOND_UPDATE
            )
        except RobotError as error:  # the card keeps its buttons; a second click is refused as stale
            log.warning("wecom robot card not updated", extra={"errcode": error.errcode, "detail": str(error)})
        await self.deliver(None, click.chat, reply)

    async def deliver(self, req_id: str | None, chat: Chat, reply: Reply) -> None:
        """Send a reply: a stream message on the callback's req_id, then proactive messages for the rest (all of
        it without a req_id: the answer to a click); then its choices as a card of buttons."""
        content = reply.markdown or "\n\n".join(reply.texts)
        if chat.is_group:
            content = f"<@{chat.user_id}>\n{content}"
        first, *rest = split_by_bytes(content, protocol.STREAM_MAX_BYTES) or [""]
        if req_id is None:
            rest.insert(0, first)
        else:
            try:
                await self._stream(req_id, first, images=_image_items(reply))
            except RobotError as error:
                log.warning(
                    "wecom robot reply not accepted on its req_id; sending it to the chat",
                    extra={"errcode": error.errcode, "detail": str(error), "msg_id": chat.msg_id},
                )
                rest.insert(0, first)
        bodies = [protocol.markdown_body(part) for part in rest]
        if reply.choices and not reply.duplicate:
            bodies.append(
                cards.choice_card(reply.choices, asked=chat.user_id, offer_id=reply.offer_id, question=reply.texts[-1])
            )
        for body in bodies:
            try:
                await self.connection.send(chat.chat_id, body)
            except RobotError as error:
                log.error(
                    "wecom robot reply lost",
                    extra={"errcode": error.errcode, "detail": str(error), "msg_id": chat.msg_id},
                )
                return

    async def _stream(self, req_id: str, content: str, *, images: list[dict[str, Any]]) -> None:
        """One stream message, sent as growing prefixes when it is long; charts ride on the last frame."""
        stream_id = protocol.new_req_id("stream")
        steps = split_by_bytes(content, STREAM_STEP_BYTES)
        shown = ""
        for step in steps[:-1]:
            shown += step
            await self.connection.respond(req_id, protocol.stream_body(stream_id, shown, finish=False))
        body = protocol.stream_body(stream_id, content, finish=True)
        if images:
            body["stream"]["msg_item"] = images
        await self.connection.respond(req_id, body)


def _image_items(reply: Reply) -> list[dict[str, Any]]:
    """Charts as the stream's picture items (base64 and md5 of the PNG), which WeCom shows under the text."""
    return [
        {
            "msgtype": "image",
            "image": {
                "base64": base64.b64encode(image.data).decode(),
                "md5": hashlib.md5(image.data, usedforsecurity=False).hexdigest(),
            },
        }
        for image in reply.images
    ]
