"""Where people write from and how messages reach them.

A platform is an identity namespace (a WeCom userid and a DingTalk staff id are different people even when the
strings match); a channel is one way of sending. The simulator speaks as WeCom users but sends on its own channel.
"""

from __future__ import annotations

import enum
from collections.abc import Callable


class Platform(enum.StrEnum):
    """The identity namespace a sender belongs to."""

    WECOM = "wecom"
    DINGTALK = "dingtalk"


class Channel(enum.StrEnum):
    """An outbound channel: the outbox records which one carries each message."""

    SIM = "sim"  # the web simulator's 发出的消息 panel
    WECOM_APP = "wecom_app"  # a WeCom self-built application, to a member
    WECOM_ROBOT = "wecom_robot"  # a WeCom group robot (webhook)
    WECOM_AIBOT = "wecom_aibot"  # a work group, through the WeCom 智能机器人's long connection
    WECOM_AIBOT_CHAT = "wecom_aibot_chat"  # a member's one-to-one chat with the 智能机器人
    DINGTALK_WORK = "dingtalk_work"  # a DingTalk work notice, to a member
    DINGTALK_ROBOT = "dingtalk_robot"  # a DingTalk group robot


# Maps a platform (identity namespace) to the outbound channel that reaches it. The bot layer decides this from its
# configuration; commands and reminders never know which platforms are configured.
Route = Callable[[str], str]


def route_to_simulator(_platform: str) -> str:
    """The route of a deployment with no platform configured: everything goes to the simulator."""
    return Channel.SIM
