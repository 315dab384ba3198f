"""Which campaign a message is for, when one deployment serves several (docs/chat-grammar.md, "Several campaigns").

A person may be a liaison or a coordinator in more than one campaign at once. Their message goes, in this order:

1. to the campaign it names: its alias or its full name before the command, as 【三年行动】周报 …, [三年行动]周报 …,
   三年行动 周报 …, 三年行动：周报 … (the name is removed before the message is read). A campaign the sender is not
   in takes them as unregistered there — they may 登记 into it;
2. to the campaign picked in answer to the bot's question about it, when one is waiting (2, 第2个, the alias, the
   name, 切换 三年行动): the question kept the message, which is now handled there;
3. to the campaign of `切换 三年行动` / `换到三年行动`, which becomes today's choice;
4. to the campaign where a dialog (or an offer) of theirs is under way, when there is exactly one;
5. to the only campaign they belong to;
6. small talk (收到, 好的, 谢谢) to the one campaign whose notice waits for their receipt, or to any when none does;
7. to the campaign they picked earlier today (in its timezone);
8. to the only one of their campaigns under way today (between its start and end);
9. else, belonging to several, they are asked once, with numbered choices, and the message waits for the answer;
   belonging to none, a 登记 goes to the campaign whose unit it names (or the only one under way), or asks which
   campaign to register in; any other message from a stranger is answered as by the first campaign under way
   (what a stranger is told is the same in all).

A reply names its campaign (【三年行动】…) when the person belongs to more than one, or when it comes from a campaign
other than their only one; never when they simply have one.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.roles import Role
from handlers.context import campaign_label
from handlers.dialogs import STALE_CHOICE
from handlers.message import Choice, IncomingMessage, Reply
from handlers.parsing import acknowledges, clipped, normalize, small_talk, strip_punct, to_int
from handlers.reading import CANCEL, match_command, read_message
from storage.models import Campaign
from storage.repos import Actor, Audit, Choices, Dialogs, Notices, People, Units, name_key

NOBODY = Actor(None, None, None)
# What may follow a campaign's name or alias before the command: 三年行动 周报 / 三年行动：周报 / 三年行动，周报.
_AFTER_NAME = " \n:：,，、·-—|"
_BRACKETED = re.compile(r"^[【\[〔(（]\s*([^】\]〕)）\n]{1,60}?)\s*[】\]〕)）]")
_SWITCH = re.compile(
    r"^(?:切换至|切换为|切换到|切换|换到|换成|改到|改为|转到|切到)\s*(?:专项整治|专项)?\s*[:：]?\s*(\S.*)$"
)
# An answer as typed around the number or the name: 第2个, 选第二个, 2号, 三年行动那个, 是三年行动的, 就是三年行动吧.
_PICK_WORDS = re.compile(r"^(?:就是|是)?(?:选择?第|选择?|第)?\s*(.+?)\s*(?:个|项|号|那个|这个)?的?(?:吧|呀|啊)?$")
HELP_WORDS = frozenset({"帮助", "菜单", "help", "?", "？"})


def _fold(text: str) -> str:
    """Full width to half width (NFKC), and letters to lower case where that keeps the length."""
    text = unicodedata.normalize("NFKC", text)
    lowered = text.casefold()
    return lowered if len(lowered) == len(text) else text


class Named(Protocol):
    """A campaign as far as its names go (a Campaign, or a plan's `campaign` for a reader without a session)."""

    @property
    def name(self) -> str: ...

    @property
    def alias(self) -> str | None: ...


N = TypeVar("N", bound=Named)


def _names(campaign: Named) -> list[str]:
    return [n for n in (campaign.alias, campaign.name) if n]


def _is(text: str, campaign: Named) -> bool:
    key = name_key(text)
    return bool(key) and any(key == name_key(n) for n in _names(campaign))


def named_campaign(text: str, campaigns: Sequence[Campaign]) -> Campaign | None:
    """The campaign `text` is the alias or the name of (width, case, spaces and brackets aside), or the one campaign
    whose alias or name contains it (三年 for 三年行动)."""
    exact = next((c for c in campaigns if _is(text, c)), None)
    if exact is not None:
        return exact
    key = name_key(text)
    if len(key) < 2:
        return None
    containing = [c for c in campaigns if any(key in name_key(n) for n in _names(c))]
    return containing[0] if len(containing) == 1 else None


def split_prefix(text: str, campaigns: Sequence[N]) -> tuple[N, str] | None:
    """The campaign a message starts by naming and the message without it: 【三年行动】周报 …, [三年行动] 周报 …,
    三年行动 周报 …, 三年行动：周报 …, 三年行动周报 … (a command straight after), or the full name in their place."""
    stripped = text.lstrip()
    folded = _fold(stripped)
    if len(folded) != len(stripped):  # a compatibility character that is not one-for-one: read the folded text
        stripped = unicodedata.normalize("NFKC", stripped)
    bracketed = _BRACKETED.match(folded)
    if bracketed is not None:
        found = next((c for c in campaigns if _is(bracketed.group(1), c)), None)
        if found is not None:
            return found, stripped[bracketed.end() :].lstrip(_AFTER_NAME)
    words = sorted(((_fold(n), c) for c in campaigns for n in _names(c)), key=lambda wc: -len(wc[0]))
    for word, campaign in words:
        if not folded.startswith(word):
            continue
        rest = stripped[len(word) :]
        if not rest or rest[0] in _AFTER_NAME or match_command(rest.lstrip())[0] is not None:
            return campaign, rest.lstrip(_AFTER_NAME)
    return None


def read_switch(text: str, campaigns: Sequence[Campaign]) -> Campaign | None:
    """The campaign of 切换 三年行动 / 换到三年行动 / 切换到 提升行政执法质量三年行动."""
    match = _SWITCH.match(normalize(text))
    return named_campaign(strip_punct(match.group(1)), campaigns) if match else None


OUT_OF_RANGE = "out of range"


def read_pick(text: str, options: Sequence[Campaign], campaigns: Sequence[Campaign]) -> Campaign | str | None:
    """The answer to the question: a number of the list (2, 第2个, 二), an alias or a name ([三年行动], 切换 三年行动),
    OUT_OF_RANGE for a number the list does not have, or None when the message is something else."""
    typed = strip_punct(normalize(text))
    switched = read_switch(typed, campaigns)
    if switched is not None:
        return switched
    bracketed = _BRACKETED.fullmatch(typed)
    if bracketed is not None:
        typed = bracketed.group(1)
    match = _PICK_WORDS.match(typed)
    number = to_int(match.group(1)) if match else None
    if number is not None:
        return options[number - 1] if 1 <= number <= len(options) else OUT_OF_RANGE
    for said in dict.fromkeys((typed, match.group(1) if match else typed)):  # 三年行动那个 → 三年行动
        found = named_campaign(said, options) or next((c for c in campaigns if _is(said, c)), None)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Destination:
    """Where a message goes: the campaign, the message to handle there (its campaign's name removed, or the message
    the question kept), the sender there, and whether the reply names the campaign. Or a `reply` that answers the
    message without handling it in any campaign (the question, a cancelled question)."""

    campaign: Campaign | None
    message: IncomingMessage
    actor: Actor = NOBODY
    named: bool = False
    reply: Reply | None = None
    note: str | None = None  # a line after the reply: the kept message that was dropped


def _today(campaign: Campaign, message: IncomingMessage) -> date:
    return message.received_at.astimezone(ZoneInfo(campaign.timezone)).date()


def _option_line(number: int, campaign: Campaign) -> str:
    alias = f"（简称：{campaign.alias}）" if campaign.alias else ""
    return f"{number}. {campaign.name}{alias}"


class Chooser:
    """Picks the campaign of one message among the served ones, inside the dispatcher's transaction."""

    def __init__(self, session: Session, serving: Sequence[Campaign], message: IncomingMessage) -> None:
        self.session, self.serving, self.message = session, list(serving), message
        self.actors = People(session).memberships([c.id for c in serving], message.platform, message.user_id)
        self.members = [c for c in self.serving if self.actors.get(c.id, NOBODY).role is not Role.STRANGER]
        self.choices = Choices(session)
        self.row = self.choices.get(message.platform, message.user_id)

    def to(self, campaign: Campaign, message: IncomingMessage | None = None, *, explicit: bool = True) -> Destination:
        """Handle the message in `campaign`; the reply names it unless it is simply the sender's one campaign (or
        the first one, for a stranger who did not say)."""
        mine = self.members == [campaign] or (not self.members and not explicit)
        return Destination(campaign, message or self.message, self.actors.get(campaign.id, NOBODY), named=not mine)

    def choose(self) -> Destination:
        message = self.message
        dropped: str | None = None
        question = self._question()
        if question is not None:
            answered = self._answer(question)
            if answered is not None:
                return answered
            dropped = str(question.get("text") or question.get("file") or "")
            self.choices.drop_question(message.platform, message.user_id, now=message.received_at)
        destination = self._route()
        if not dropped:
            return destination
        note = f"（之前那条「{clipped(dropped, 20)}」没有办理，需要的话请重新发送。）"
        if destination.reply is None:
            return replace(destination, note=note)
        return replace(destination, reply=replace(destination.reply, texts=(note, *destination.reply.texts)))

    def _route(self) -> Destination:
        message = self.message
        prefixed = split_prefix(message.text, self.serving) if message.text else None
        if prefixed is not None:
            campaign, rest = prefixed
            if not rest.strip() and message.attachment is None:
                return self._switch(campaign)  # the name alone: 三年行动
            return self.to(campaign, replace(message, text=rest))
        switched = read_switch(message.text, self.serving) if message.attachment is None else None
        if switched is not None:
            return self._switch(switched)
        under_way = Dialogs(self.session).under_way([c.id for c in self.serving], message.platform, message.user_id)
        if len(under_way) == 1:
            return self.to(next(c for c in self.serving if c.id == under_way[0]))
        if len(self.members) == 1:
            return self.to(self.members[0])
        acknowledged = self._acknowledged()
        if acknowledged is not None:
            return self.to(acknowledged)
        picked = self._picked_today()
        if picked is not None:
            return self.to(picked)
        if self.members:
            running = self._running(self.members)
            return self.to(running[0]) if len(running) == 1 else self._ask(running or self.members)
        return self._stranger()

    def _running(self, campaigns: Sequence[Campaign]) -> list[Campaign]:
        """The campaigns whose dates include today: one that ended long ago is not worth a question."""
        return [c for c in campaigns if c.start <= _today(c, self.message) <= c.end]

    def _acknowledged(self) -> Campaign | None:
        """收到, 好的, 谢谢 …: small talk needs no question. An acknowledgement goes to the one campaign with a notice
        waiting for the sender's receipt; with none waiting anywhere, any campaign answers it alike."""
        text = self.message.text
        if self.message.attachment is not None or not (small_talk(normalize(text)) or acknowledges(text)):
            return None
        notices = Notices(self.session)
        owing = [
            c
            for c in self.members
            if (contact := self.actors[c.id].contact) is not None and notices.outstanding(contact)
        ]
        if len(owing) == 1:
            return owing[0]
        return self.members[0] if not owing and small_talk(normalize(text)) else None

    # --- a stranger everywhere ------------------------------------------------------------------------

    def _stranger(self) -> Destination:
        reading = read_message(self.message.text, role=Role.STRANGER) if self.message.attachment is None else None
        running = self._running(self.serving) or self.serving
        if reading is None or reading.command is None or reading.command.name != "登记":
            return self.to(running[0], explicit=False)
        unit = reading.args.get("unit")
        if unit:
            units = Units(self.session)
            having = [c for c in self.serving if units.resolve(c, strip_punct(unit))[0] is not None]
            if len(having) == 1:
                return self.to(having[0])
        if len(running) == 1:
            return self.to(running[0], explicit=False)
        return self._ask(running, registering=True)

    # --- today's choice and the question ---------------------------------------------------------------

    def _picked_today(self) -> Campaign | None:
        """Today's choice: one of the campaigns the sender belongs to (any, for someone in none yet)."""
        if self.row is None or self.row.campaign_id is None:
            return None
        campaign = next((c for c in self.serving if c.id == self.row.campaign_id), None)
        if campaign is None or (self.members and campaign not in self.members):
            return None
        return campaign if self.row.day == _today(campaign, self.message) else None

    def _question(self) -> dict[str, Any] | None:
        question = self.row.question if self.row is not None else None
        if not question:
            return None
        options = [c for c in self.serving if c.id in question.get("options", ())]
        if not options or question.get("day") != _today(options[0], self.message).isoformat():
            return None  # asked on another day, or about campaigns no longer served: the message is new
        return question

    def _ask(self, options: Sequence[Campaign], *, registering: bool = False) -> Destination:
        message = self.message
        if message.answers is not None:  # a button of a question answered or dropped since: no new question
            return Destination(None, message, reply=Reply.of(STALE_CHOICE))
        file = message.attachment.name if message.attachment is not None else None
        question = {
            "id": secrets.token_hex(6),
            "options": [c.id for c in options],
            "day": _today(options[0], message).isoformat(),
            "text": message.text if file is None else "",
            "spoken": message.spoken,
            "file": file,
            "registering": registering,
        }
        self.choices.ask(message.platform, message.user_id, question, now=message.received_at)
        return Destination(None, message, reply=self._question_reply(question, options))

    def _question_reply(self, question: dict[str, Any], options: Sequence[Campaign], *before: str) -> Reply:
        lines = [_option_line(n, c) for n, c in enumerate(options, 1)]
        example = next((c.alias for c in options if c.alias), None)
        if question.get("registering"):
            head = "本平台同时在办以下专项整治，您要登记为哪一个的联络员？请回复序号："
            tail = ""
        else:
            said = f"文件「{question['file']}」" if question.get("file") else f"「{clipped(question['text'], 20)}」"
            head = f"您同时参与以下专项整治，这条消息{said}是哪个专项整治的？请回复序号："
            tail = "回复后今天内不再询问，要改用另一个请发送「切换 简称」"
            tail += f"；也可以在消息前加简称，如「【{example}】周报 …」。" if example else "。"
        choices = tuple(Choice(campaign_label(c), str(n)) for n, c in enumerate(options, 1))
        return Reply(
            Reply.of(*before, "\n".join([head, *lines, *([tail] if tail else [])])).texts,
            choices=(*choices, Choice("取消", "取消")),
            offer_id=str(question["id"]),
        )

    def _answer(self, question: dict[str, Any]) -> Destination | None:
        """The message as an answer to the question, or None when it is something else (a new message)."""
        message = self.message
        options = [c for c in self.serving if c.id in question["options"]]
        if message.answers is not None and message.answers != question["id"]:
            return None  # a button of an earlier question: the dispatcher finds it stale
        if message.attachment is not None:
            return None
        picked = read_pick(message.text, options, self.serving)
        if isinstance(picked, Campaign):
            return self._picked(picked, question)
        if picked == OUT_OF_RANGE:
            return Destination(
                None, message, reply=self._question_reply(question, options, f"请回复 1–{len(options)} 之间的序号。")
            )
        reading = read_message(message.text)
        if reading.kind == CANCEL:
            self.choices.drop_question(message.platform, message.user_id, now=message.received_at)
            return Destination(None, message, reply=Reply.of("好的，刚才那条消息没有办理。发送「帮助」查看可用指令。"))
        if strip_punct(normalize(message.text)).casefold() in HELP_WORDS:
            return Destination(
                None,
                message,
                reply=self._question_reply(
                    question, options, "请先选择专项整治，选好后再发送「帮助」可查看该专项整治的指令。"
                ),
            )
        return None

    def _picked(self, campaign: Campaign, question: dict[str, Any]) -> Destination:
        """Remember the answer for today and handle the message the question kept, there."""
        self._remember(campaign, via="question")
        if question.get("file"):
            return Destination(
                campaign,
                self.message,
                reply=Reply.of(
                    f"好的，今天的消息按「{campaign.name}」办理。刚才的文件「{question['file']}」请重新发送。"
                ),
            )
        kept = replace(self.message, text=str(question["text"]), spoken=bool(question.get("spoken")), answers=None)
        return self.to(campaign, kept)

    def _switch(self, campaign: Campaign) -> Destination:
        """切换 三年行动: today's messages go to that campaign — one the sender belongs to, or any while they belong
        to none (their only campaign takes their messages all the same)."""
        label = campaign_label(campaign)
        if campaign in self.members and len(self.members) == 1:
            lines = [f"您只参与「{campaign.name}」这一个专项整治，消息都按它办理，无需切换。"]
        elif self.members and campaign not in self.members:
            lines = [
                f"您还不是「{campaign.name}」的联络员，消息仍按您参与的专项整治办理。"
                f"如需登记为它的联络员，请发送「【{label}】登记」。"
            ]
        else:
            self._remember(campaign, via="switch")
            lines = [f"已切换到「{campaign.name}」，今天的消息默认按此专项整治办理。"]
            if not self.members:
                lines.append("您还未登记为联络员，发送「登记」即可登记。")
            under_way = Dialogs(self.session).under_way(
                [c.id for c in self.serving if c.id != campaign.id], self.message.platform, self.message.user_id
            )
            if under_way:
                other = next(c for c in self.serving if c.id == under_way[0])
                lines.append(
                    f"您在「{campaign_label(other)}」还有未完成的操作，接下来的回复会先接着它；发送「取消」可放弃。"
                )
        return Destination(campaign, self.message, reply=Reply.of("\n".join(lines)))

    def _remember(self, campaign: Campaign, *, via: str) -> None:
        message = self.message
        self.choices.pick(
            message.platform, message.user_id, campaign, day=_today(campaign, message), now=message.received_at
        )
        Audit(self.session).record(
            campaign=campaign,
            actor=f"{message.origin}:{message.user_id}",
            action="campaign.choose",
            at=message.received_at,
            message_id=message.message_id,
            via=via,
        )
