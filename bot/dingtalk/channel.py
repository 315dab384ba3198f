"""How duban answers a DingTalk robot message, whichever way it arrived (HTTP callback or Stream).

The Dispatcher is synchronous and touches the database, so it runs in a worker thread. An HTTP callback
waits for it up to DUBAN_DINGTALK_REPLY_BUDGET and answers in the response body; a slower reply, and every
Stream-mode reply, goes through the message's sessionWebhook while it is valid, else as a work notification,
else into the outbox for the delivery worker to retry. A redelivered message (same msgId) gets no second reply.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from bot.dingtalk import media
from bot.dingtalk.clients import AccessTokens, SessionWebhookClient, build_senders
from bot.dingtalk.inbound import PLATFORM, Inbound
from bot.inbound import Answering, queue_reply
from bot.media import RETRY_PAUSES, download
from bot.services import Services
from core.channels import Channel
from handlers.message import Attachment, IncomingMessage, Reply
from scheduler.outbound import OutboundMessage, Sender, SendStatus

log = logging.getLogger("duban.dingtalk")

WORK_CHANNEL = Channel.DINGTALK_WORK
WEBHOOK_MARGIN = timedelta(minutes=1)  # a sessionWebhook this close to expiry may die in flight
RETRY_LATER = "抱歉，系统暂时无法处理您刚才的消息，请稍后重新发送。"


class RobotChannel:
    """Answers DingTalk robot messages through the platform-neutral Dispatcher (one per event loop)."""

    def __init__(self, services: Services, http: httpx.AsyncClient) -> None:
        settings = services.settings
        self.services = services
        self.answering = Answering(services, channel=PLATFORM, budget=settings.dingtalk_reply_budget)
        self.webhooks = SessionWebhookClient(api_base=settings.dingtalk_api_base, http=http)
        senders = build_senders(settings, services.sessions, services.clock, http)
        self.work: Sender | None = next((s for s in senders if WORK_CHANNEL in s.channels), None)
        self.http = http
        self.tokens: AccessTokens | None = getattr(self.work, "tokens", None)  # the app's, shared with notifications
        self.stream_api_base = settings.dingtalk_stream_api_base
        self.robot_code = settings.dingtalk_app_key or ""  # an internal app's robot is addressed by its AppKey
        self.media_pauses: tuple[float, ...] = RETRY_PAUSES

    async def answer(self, inbound: Inbound) -> Reply | None:
        """The reply for the callback's response body; None when there is none or it will go out later.

        Database errors propagate, so the callback answers 503 and DingTalk delivers the message again.
        """
        if not inbound.addressed:
            return None
        if inbound.file is not None:  # acknowledged now; downloaded, handled and answered after
            self.answering.later(self._receive_file(inbound))
            return None
        if inbound.message is None:
            return Reply.of(inbound.notice or "")
        reply = await self.answering.answer(
            PLATFORM,
            inbound.message,
            deliver=lambda late: self._deliver_late(inbound, late),
            failed=lambda: self.deliver(inbound, Reply.of(RETRY_LATER)),
        )
        if reply is None or reply.duplicate:
            return None
        self.answering.later(self._send_images(inbound, reply))
        return reply

    async def answer_and_deliver(self, inbound: Inbound) -> None:
        """Stream mode: handle the message and send the reply (no response body to put it in)."""
        if not inbound.addressed:
            return
        if inbound.file is not None:
            await self._receive_file(inbound)
            return
        if inbound.message is None:
            await self.deliver(inbound, Reply.of(inbound.notice or ""))
            return
        reply = await self.services.handle(PLATFORM, inbound.message)
        if not reply.duplicate:
            await self.deliver(inbound, reply)
            await self._send_images(inbound, reply)

    async def _receive_file(self, inbound: Inbound) -> None:
        """Download a picture or file (retried with back-off), hand it to the Dispatcher, deliver the reply."""
        file = inbound.file
        assert file is not None and inbound.staff_id is not None
        if self.tokens is None:
            attachment = Attachment(name=file.name, problem="download_failed")
        else:
            tokens = self.tokens
            attachment = await download(
                lambda: media.fetch(self.http, tokens, self.stream_api_base, self.robot_code, file),
                name=file.name,
                platform=PLATFORM,
                pauses=self.media_pauses,
            )
        message = IncomingMessage(
            platform=PLATFORM,
            user_id=inbound.staff_id,
            text="",
            received_at=self.services.clock.now(),
            message_id=inbound.msg_id,
            is_group=inbound.is_group,
            attachment=attachment,
        )
        try:
            reply = await self.services.handle(PLATFORM, message)
        except SQLAlchemyError as error:
            log.error(
                "dingtalk file failed: database error", extra={"msg_id": inbound.msg_id, "error": type(error).__name__}
            )
            reply = Reply.of(RETRY_LATER)
        finally:
            if attachment.staged is not None:
                attachment.staged.discard()
        if not reply.duplicate:
            await self.deliver(inbound, reply)

    async def _send_images(self, inbound: Inbound, reply: Reply) -> None:
        """Charts go as image work notifications: robot replies and session webhooks cannot carry an upload."""
        send_image = getattr(self.work, "send_image", None)
        if not reply.images or inbound.staff_id is None or send_image is None:
            return
        for image in reply.images:
            result = await send_image(inbound.staff_id, image)
            if result.status is not SendStatus.OK:  # the numbers are in the text; the chart only illustrates them
                log.warning("dingtalk chart not delivered", extra={"msg_id": inbound.msg_id, "detail": result.detail})

    async def drain(self) -> None:
        """Wait for replies still being worked on (at shutdown), so none is dropped."""
        await self.answering.drain()

    async def _deliver_late(self, inbound: Inbound, reply: Reply) -> None:
        if not reply.duplicate:
            await self.deliver(inbound, reply)
            await self._send_images(inbound, reply)

    async def deliver(self, inbound: Inbound, reply: Reply) -> None:
        """Send a reply outside a response body: sessionWebhook, else work notification, else the outbox."""
        text = "\n\n".join(reply.texts)
        if not text:
            return
        now = self.services.clock.now()
        webhook = inbound.webhook
        if webhook is not None and (webhook.expires_at is None or webhook.expires_at - WEBHOOK_MARGIN > now):
            result = await self.webhooks.reply(
                webhook.url, text, at_staff_id=inbound.staff_id if inbound.is_group else None, markdown=reply.markdown
            )
            if result.status is SendStatus.OK:
                log.info("dingtalk reply sent", extra={"msg_id": inbound.msg_id, "via": "session_webhook"})
                return
            log.warning("dingtalk session webhook failed", extra={"msg_id": inbound.msg_id, "detail": result.detail})
        if inbound.staff_id is None:
            log.warning("dingtalk reply undeliverable: no staffId", extra={"msg_id": inbound.msg_id})
            return
        message = OutboundMessage(
            channel=WORK_CHANNEL,
            target=inbound.staff_id,
            text=text,
            markdown=reply.markdown,
            key=f"dingtalk-reply:{inbound.msg_id}",
        )
        if self.work is not None:
            result = await self.work.send(message)
            if result.status is SendStatus.OK:
                log.info("dingtalk reply sent", extra={"msg_id": inbound.msg_id, "via": "work_notification"})
                return
            log.warning("dingtalk work notification failed", extra={"msg_id": inbound.msg_id, "detail": result.detail})
            if result.status is SendStatus.PERMANENT:
                return
        await asyncio.to_thread(queue_reply, self.services, message)
