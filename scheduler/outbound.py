"""The outbound-message interface: what every platform client implements and the delivery worker calls.

A sender never raises for a platform's refusal: it returns a SendResult saying whether the message
went out, may be retried (5xx, timeouts, rate limits such as WeCom 45009 or DingTalk 130101), or never
will (bad webhook, user not in the app's visible range …). Channels are named:

    sim             the simulator outbox (always available)
    wecom_app       WeCom self-built app message to a userid (message/send)
    wecom_robot     WeCom group robot webhook (webhook/send?key=…)
    wecom_aibot     WeCom 智能机器人: a proactive message on its long connection to a group's chatid
    wecom_aibot_chat  the same to a member's one-to-one chat with the robot (their userid)
    dingtalk_work   DingTalk work notification to a staffId (asyncsend_v2)
    dingtalk_robot  DingTalk custom group robot (robot/send?access_token=…, signed)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from core.channels import Channel

CHANNELS = frozenset(Channel)


class SendStatus(enum.StrEnum):
    OK = "ok"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    detail: str = ""  # errcode/errmsg or the HTTP status; never the message body
    retry_after: float | None = None  # seconds, when the platform says how long to wait

    @classmethod
    def ok(cls, detail: str = "") -> SendResult:
        return cls(SendStatus.OK, detail)

    @classmethod
    def retryable(cls, detail: str, retry_after: float | None = None) -> SendResult:
        return cls(SendStatus.RETRYABLE, detail, retry_after)

    @classmethod
    def permanent(cls, detail: str) -> SendResult:
        return cls(SendStatus.PERMANENT, detail)


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one target. For robots, `address` is the webhook URL (a 智能机器人 group: its chatid) and
    `secret` its signing key."""

    channel: str
    target: str  # a userid / staffId, or a group name for robots
    text: str
    markdown: str | None = None
    mentions: tuple[str, ...] = ()  # mobiles to @-mention in a group
    address: str | None = None
    secret: str | None = None
    key: str | None = None  # the outbox key, for platform-side duplicate checks


class Sender(Protocol):
    """A platform client able to deliver messages on some channels."""

    channels: frozenset[str]

    async def send(self, message: OutboundMessage) -> SendResult: ...


class SimulatorSender:
    """The simulator channel: the outbox row itself is what /sim shows, so delivery just succeeds."""

    channels: frozenset[str] = frozenset({Channel.SIM})

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult.ok("simulator")


# Platform error codes worth another try later: WeCom -1 (system busy) and 45009 (API frequency limit),
# DingTalk 130101 (robot sent too fast) and 90018 (too many requests). Everything else that is not 0
# (bad key, user out of the app's visible range, content refused …) will fail the same way again.
RETRYABLE_ERRCODES = frozenset({-1, 45009, 130101, 90018})


def classify_response(http_status: int, errcode: int | None, errmsg: str = "") -> SendResult:
    """The SendResult for a platform's HTTP answer: 5xx and throttling are retryable, other errors permanent."""
    if http_status >= 500 or http_status == 429:
        return SendResult.retryable(f"HTTP {http_status}")
    if http_status >= 400:
        return SendResult.permanent(f"HTTP {http_status}")
    if not errcode:
        return SendResult.ok()
    detail = f"errcode {errcode} {errmsg}".strip()
    if errcode in RETRYABLE_ERRCODES:
        return SendResult.retryable(detail)
    return SendResult.permanent(detail)
