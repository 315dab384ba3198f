"""Callback bodies as WeCom sends them (document path 100719 and 101027) → what duban acts on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.wecom_robot.inbound import CardClick, EnterChat, OtherEvent, PayloadError, parse_event, parse_message
from tests.bot.wecom_robot.fake_server import event, text_message

NOW = datetime(2020, 7, 15, 2, 0, tzinfo=UTC)


def test_a_one_to_one_text_is_for_the_handlers_as_the_wecom_member() -> None:
    parsed = parse_message(text_message("LuHeJian", " 周报 本周完成案卷评查3件 ", msg_id="CAIQ1"), now=NOW)
    assert parsed.addressed and not parsed.chat.is_group and parsed.chat.chat_id == "LuHeJian"
    message = parsed.message
    assert message is not None
    assert (message.platform, message.user_id, message.text) == ("wecom", "LuHeJian", "周报 本周完成案卷评查3件")
    assert message.message_id == "robot:CAIQ1:LuHeJian" and message.received_at == NOW


@pytest.mark.parametrize("text", ["@督办 汇总", "@督办\u2005汇总", "@张三 @督办 汇总", " @督办  汇总\n"])
def test_a_group_text_loses_its_leading_mentions(text: str) -> None:
    parsed = parse_message(text_message("YuJianKui", text, group="wrkSFfCgAA01"), now=NOW)
    assert parsed.addressed and parsed.chat.is_group and parsed.chat.chat_id == "wrkSFfCgAA01"
    assert parsed.message is not None and parsed.message.text == "汇总" and parsed.message.is_group


def test_a_group_text_without_a_mention_is_not_addressed() -> None:
    parsed = parse_message(text_message("YuJianKui", "大家辛苦了", group="wrkSFfCgAA01"), now=NOW)
    assert not parsed.addressed


def test_a_mention_alone_leaves_no_text() -> None:
    parsed = parse_message(text_message("YuJianKui", "@督办", group="wrkSFfCgAA01"), now=NOW)
    assert parsed.addressed and parsed.message is None


def test_mixed_messages_give_their_text_and_their_pictures() -> None:
    body = text_message("LuHeJian", "unused") | {
        "msgtype": "mixed",
        "mixed": {
            "msg_item": [
                {"msgtype": "text", "text": {"content": "进展 #3 已整改"}},
                {"msgtype": "image", "image": {"url": "https://wework.example/1", "aeskey": "k1"}},
            ]
        },
    }
    parsed = parse_message(body, now=NOW)
    assert parsed.message is not None and parsed.message.text == "进展 #3 已整改"
    [picture] = parsed.attachments
    assert (picture.kind, picture.url, picture.aes_key) == ("image", "https://wework.example/1", "k1")


def test_a_file_carries_its_own_key_and_no_text() -> None:
    body = text_message("LuHeJian", "unused") | {
        "msgtype": "file",
        "file": {"url": "https://wework.example/f", "aeskey": "k2"},
    }
    parsed = parse_message(body, now=NOW)
    assert parsed.message is None and [a.kind for a in parsed.attachments] == ["file"]


def test_a_voice_message_is_marked_as_transcribed() -> None:
    body = text_message("LuHeJian", "unused") | {"msgtype": "voice", "voice": {"content": "周报本周完成评查三件"}}
    parsed = parse_message(body, now=NOW)
    assert parsed.voice and parsed.message is not None and parsed.message.text == "周报本周完成评查三件"


def test_events_enter_chat_card_clicks_and_others() -> None:
    assert isinstance(parse_event(event("LuHeJian", "enter_chat")), EnterChat)
    click = parse_event(
        event(
            "YuJianKui", "template_card_event", card_type="button_interaction", event_key="approve:3", task_id="reg-3"
        )
    )
    assert isinstance(click, CardClick) and (click.event_key, click.task_id) == ("approve:3", "reg-3")
    flat = event("YuJianKui", "template_card_event")
    flat["event"] |= {"event_key": "reject:3", "task_id": "reg-3"}  # the Node SDK's reading of the same event
    flat_click = parse_event(flat)
    assert isinstance(flat_click, CardClick) and (flat_click.event_key, flat_click.task_id) == ("reject:3", "reg-3")
    other = parse_event(event("LuHeJian", "feedback_event"))
    assert isinstance(other, OtherEvent) and other.event_type == "feedback_event"


@pytest.mark.parametrize(
    "change",
    [
        {"msgid": None},
        {"from": {}},
        {"from": "LuHeJian"},
        {"chattype": "channel"},
        {"text": {"content": 3}},
        {"chattype": "group"},  # a group message without its chatid
        {"msgtype": "mixed", "mixed": {"msg_item": "x"}},
        {"msgid": "m" * 200},
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(change: dict[str, Any]) -> None:
    body = {k: v for k, v in (text_message("LuHeJian", "帮助") | change).items() if v is not None}
    with pytest.raises(PayloadError):
        parse_message(body, now=NOW)
