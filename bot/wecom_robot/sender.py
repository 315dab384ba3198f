"""Channel wecom_aibot: reminders to a work group as proactive messages on the 智能机器人 long connection.

Only the process holding the connection can send; in any other the message is retryable, and stays in the
outbox until the holder — which the connection's election makes the scheduler leader — delivers it.
"""

from __future__ import annotations

from bot.wecom.client import split_by_bytes
from bot.wecom_robot import protocol
from bot.wecom_robot.connection import LongConnection, NotConnected, RobotError
from scheduler.outbound import OutboundMessage, SendResult, classify_response

CHANNEL = "wecom_aibot"


class RobotSender:
    channels = frozenset({CHANNEL})

    def __init__(self, connection: LongConnection) -> None:
        self.connection = connection

    async def send(self, message: OutboundMessage) -> SendResult:
        if not message.address:
            return SendResult.permanent("group without a chatid")
        if not self.connection.authenticated.is_set():
            return SendResult.retryable("this process does not hold the robot's connection")
        for part in split_by_bytes(message.markdown or message.text, protocol.STREAM_MAX_BYTES):
            try:
                await self.connection.send(message.address, protocol.markdown_body(part))
            except NotConnected:
                return SendResult.retryable("the robot's connection closed")
            except RobotError as error:
                if error.errcode is None:  # no answer in time: it may or may not have arrived
                    return SendResult.retryable(str(error))
                return classify_response(200, error.errcode, str(error))
        return SendResult.ok()
