"""A robot message from DingTalk (HTTP callback body or Stream `data`, the same JSON) → what duban acts on.

Parsing is the official SDK's `ChatbotMessage.from_dict`; this module adds what the SDK leaves to its
callers: required-field checks, the group @-mention rule, and the IncomingMessage the handlers take.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from dingtalk_stream import ChatbotMessage

from bot.dingtalk.media import RobotFile
from core.channels import Platform
from handlers.message import IncomingMessage
from storage.models import ID_LENGTH

PLATFORM = Platform.DINGTALK  # the identity namespace: senderStaffId, the userid inside the organisation
PRIVATE, GROUP = "1", "2"  # conversationType
TEXT_TYPES = ("text", "richText")
FILE_TYPES = ("picture", "file")

ASK_FOR_TEXT = "请发送文字消息。督办目前只能读懂文字，发送「帮助」可查看可用指令。"
UNREADABLE = "这条消息里有无法识别的字符（不完整的 Unicode 编码），督办没有处理，请检查后重新发送。"
OUTSIDER = "督办只为本单位钉钉用户服务，您的账号不属于本组织，请联系牵头部门。"


class PayloadError(ValueError):
    """The message body is not a robot message duban can read (the caller answers 400 / a 400 ack)."""


@dataclass(frozen=True)
class SessionWebhook:
    """Where DingTalk lets the bot answer this conversation for a while (about 90 minutes)."""

    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Inbound:
    """One robot message: for the handlers (`message`) or answered right here (`notice`)."""

    msg_id: str
    staff_id: str | None
    is_group: bool
    addressed: bool  # a one-to-one chat, or a group message that @-mentions the bot
    webhook: SessionWebhook | None
    message: IncomingMessage | None = None
    notice: str | None = None  # the reply when there is nothing for the handlers (an outsider, a voice message)
    file: RobotFile | None = None  # a picture or file to download, then hand to the handlers


def parse(payload: Any, *, now: datetime) -> Inbound:
    """Read a robot message; raise PayloadError with a reason for anything malformed."""
    if not isinstance(payload, dict):
        raise PayloadError("消息体应为 JSON 对象")
    try:
        robot = ChatbotMessage.from_dict(payload)
        texts = robot.get_text_list() if robot.message_type in TEXT_TYPES else None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PayloadError(f"无法解析消息：{type(error).__name__} {error}") from error
    msg_id = _short(_required_text(robot.message_id, "msgId"), "msgId")
    conversation_type = _required_text(robot.conversation_type, "conversationType")
    if conversation_type not in (PRIVATE, GROUP):
        raise PayloadError(f"conversationType 应为 1（单聊）或 2（群聊），收到 {conversation_type!r}")
    _required_text(robot.message_type, "msgtype")
    is_group = conversation_type == GROUP
    staff_id = _optional_text(robot.sender_staff_id, "senderStaffId") or None
    if staff_id is not None:
        _short(staff_id, "senderStaffId")
    _optional_text(robot.conversation_id, "conversationId")
    inbound = Inbound(
        msg_id=msg_id,
        staff_id=staff_id,
        is_group=is_group,
        addressed=not is_group or robot.is_in_at_list is True,
        webhook=_webhook(robot),
    )
    if staff_id is None:
        return replace(inbound, notice=OUTSIDER)
    if robot.message_type in FILE_TYPES:
        return replace(inbound, file=_file(payload, robot.message_type))
    if texts is None:
        return replace(inbound, notice=ASK_FOR_TEXT)
    if not all(isinstance(t, str) for t in texts):
        raise PayloadError("text.content 应为字符串")
    if not all(_utf8(t) for t in texts):
        return replace(inbound, notice=UNREADABLE)
    # DingTalk removes the "@机器人" from group messages but leaves the space that followed it.
    text = "\n".join(t.strip() for t in texts if t.strip())
    if not text:
        return replace(inbound, notice=ASK_FOR_TEXT)
    message = IncomingMessage(
        platform=PLATFORM,
        user_id=staff_id,
        text=text,
        received_at=now,
        message_id=msg_id,
        conversation_id=robot.conversation_id,
        is_group=is_group,
    )
    return replace(inbound, message=message)


def _utf8(text: str) -> bool:
    """Whether `text` can be stored and sent on: JSON's "\ud800" escapes make strings no encoder takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _required_text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"缺少字段 {name}")
    return _check_utf8(value, name)


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{name} 应为字符串")
    return _check_utf8(value, name)


def _check_utf8(value: str, name: str) -> str:
    if not _utf8(value):
        raise PayloadError(f"{name} 含有无效的 Unicode 字符")
    return value


def _short(value: str, name: str) -> str:
    if len(value) > ID_LENGTH:
        raise PayloadError(f"{name} 超过 {ID_LENGTH} 个字符")
    return value


def _webhook(robot: ChatbotMessage) -> SessionWebhook | None:
    url = _optional_text(robot.session_webhook, "sessionWebhook")
    if not url:
        return None
    expires = robot.session_webhook_expired_time
    try:
        expires_at = datetime.fromtimestamp(expires / 1000, tz=UTC) if expires else None
    except (OverflowError, OSError, ValueError) as error:
        raise PayloadError("sessionWebhookExpiredTime 不是有效的毫秒时间戳") from error
    return SessionWebhook(url, expires_at)


def _file(payload: dict[str, Any], message_type: str) -> RobotFile:
    content = payload.get("content")
    if not isinstance(content, dict):
        raise PayloadError("content 应为对象")
    code = _required_text(content.get("downloadCode"), "content.downloadCode")
    name = _optional_text(content.get("fileName"), "content.fileName") or (
        "图片.jpg" if message_type == "picture" else ""
    )
    return RobotFile(download_code=code, robot_code=_optional_text(payload.get("robotCode"), "robotCode"), name=name)
