"""Template cards with buttons for the choices a reply offers (确认/取消, 继续/切换, 批准 N/驳回 N).

A button's key carries who was asked, the offer it was made for and the exact text the click stands for. A
click becomes that text, sent by the clicker, through the same Dispatcher as a typed reply: the same checks,
audit and duplicate key (the click event's msgid and sender). Only the person asked may click (in a group
everyone sees the card); a click on a card whose offer is settled or gone is refused by the Dispatcher.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from handlers.message import Choice

MAX_BUTTONS = 6  # WeCom's button_interaction card holds at most six buttons
TITLE = "请选择"
DESC_CHARS = 120  # the card repeats the question's start; the whole question is in the reply above it
DONE_KEY = "duban:done"  # the single inert button of a card that has been answered


class CardError(ValueError):
    """A button key duban did not make."""


@dataclass(frozen=True)
class Clicked:
    """What a button stands for: `text` typed by `user_id`, answering offer `offer_id` (None: no offer)."""

    user_id: str
    offer_id: str | None
    text: str
    label: str


def choice_card(choices: tuple[Choice, ...], *, asked: str, offer_id: str | None, question: str) -> dict[str, Any]:
    """An aibot_send_msg body: a button_interaction card with a button per choice (the first six)."""
    buttons = [
        {
            "text": c.label,
            "style": 1 if i == 0 else 2,
            "key": json.dumps(
                {"u": asked, "o": offer_id or "", "t": c.text, "l": c.label}, ensure_ascii=False, separators=(",", ":")
            ),
        }
        for i, c in enumerate(choices[:MAX_BUTTONS])
    ]
    desc = question if len(question) <= DESC_CHARS else question[: DESC_CHARS - 1] + "…"
    return {
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": TITLE, "desc": desc},
            "task_id": f"duban_{secrets.token_hex(8)}",
            "button_list": buttons,
        },
    }


def read_key(event_key: str) -> Clicked:
    """The click a button key stands for; CardError for a key of another card (or an answered one)."""
    try:
        data = json.loads(event_key)
    except json.JSONDecodeError as error:
        raise CardError("not a duban button") from error
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("u", "o", "t", "l")):
        raise CardError("not a duban button")
    if not data["u"] or not data["t"]:
        raise CardError("button without its user or text")
    return Clicked(user_id=data["u"], offer_id=data["o"] or None, text=data["t"], label=data["l"])


def answered_card(task_id: str, label: str) -> dict[str, Any]:
    """An aibot_respond_update_msg body: the clicked card, replaced by one inert button naming the choice."""
    return {
        "response_type": "update_template_card",
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": f"已选择：{label}"},
            "task_id": task_id,
            "button_list": [{"text": f"已选择：{label}", "style": 2, "key": DONE_KEY}],
        },
    }
