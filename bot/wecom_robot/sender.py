"""Channels wecom_aibot and wecom_aibot_chat: reminders to a work group (its chatid), and notifications to a member
(their userid: the one-to-one chat), as proactive messages on the 智能机器人 long connection.

Only the process holding the connection can send; in any other the message is retryable, and stays in the
outbox until the holder — which the connection's election makes the scheduler leader — delivers it.
"""

from __future__ import annotations

from bot.wecom.client import split_by_bytes
from bot.wecom_robot import protocol
from bot.wecom_robot.connection import LongConnection, NotConnected, RobotError
from scheduler.outbound import OutboundMessage, SendResult, classify_response

GROUPS, MEMBERS = "wecom_aibot", "wecom_aibot_chat"


class RobotSender:
    channels = frozenset({GROUPS, MEMBERS})

    def __init__(self, connection: LongConnection) -> None:
        self.connection = connection

    async def send(self, message: OutboundMessage) -> SendResult:
        chat_id = message.address if message.channel == GROUPS else message.target
        if not chat_id:
            return SendResult.permanent("group without a chatid")
        if not self.connection.authenticated.is_set():
            return SendResult.retryable("this process does not hold the robot's connection")
        for part in split_by_bytes(message.markdown or message.text, protocol.STREAM_MAX_BYTES):
            try:
                await self.connection.send(chat_id, protocol.markdown_body(part))
            except NotConnected:
                return SendResult.retryable("the robot's connection closed")
            except RobotError as error:
                if error.errcode is None:  # no answer in time: it may or may not have arrived
                    return SendResult.retryable(str(error))
                return classify_response(200, error.errcode, str(error))
        return SendResult.ok()
