"""One dispatcher from an IncomingMessage to a Reply: dedupe, identity, dialogs, commands, audit.

Each message is read once (handlers.reading.read_message) and then acted on. Inside a dialog nothing that
is itself a command is taken as the answer: a read-only command is answered and the question repeated, a
writing one is held until the user says 继续 or 切换 (or 取消). Every message gets a reply; an unrecognised
one gets a hint and the role's menu, small talk one short line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.channels import Route, route_to_simulator
from core.roles import Role
from handlers import materials
from handlers.choosing import Chooser, split_prefix
from handlers.commands import Args, Command, fields_of
from handlers.context import Context, DashboardLink, campaign_label, named, no_dashboard_link
from handlers.dialogs import (
    CONFIRM_WORDS,
    CONTINUE,
    OFFER,
    OFFER_KIND,
    STALE_CHOICE,
    SWITCH,
    DialogSpec,
    new_offer,
    offer_reply,
    question,
    resume,
    resume_question,
    settle,
    switch_offer,
    values_of,
    where,
)
from handlers.menu import how_to, menu
from handlers.message import IncomingMessage, Reply
from handlers.reading import ANSWER, CANCEL, CHOICE, EMPTY, RESUME, SMALL_TALK, Reading, dialog_command, read_message
from handlers.smalltalk import receipt, small_talk_reply
from storage.db import transaction
from storage.files import DatabaseFiles, Files
from storage.models import Campaign
from storage.repos import Actor, Campaigns, Dialogs, People, Processed

log = logging.getLogger("duban.handlers")


def _denied(ctx: Context, command_: Command) -> Reply:
    role = ctx.actor.role
    ctx.audit("denied", command=command_.name, role=role)
    if role is Role.STRANGER:
        return Reply.of("您还未登记为联络员，请先发送「登记」。\n" + menu(role))
    if role is Role.PENDING:
        contact = ctx.actor.contact
        number = f"（登记号 {contact.id}）" if contact else ""
        return Reply.of(f"您的登记{number}正在等待牵头部门审核，审核后才能使用「{command_.name}」。")
    if Role.LIAISON not in command_.roles:
        return Reply.of(f"「{command_.name}」仅限牵头部门协调人使用。\n" + menu(role, ctx))
    return Reply.of(f"「{command_.name}」供各单位联络员使用。\n" + menu(role, ctx))


def _run(ctx: Context, reading: Reading) -> Reply:
    assert reading.command is not None
    if ctx.actor.role not in reading.command.roles:
        return _denied(ctx, reading.command)
    return reading.command.run(ctx, reading.args)


_IDLE_WORDS = {CONTINUE: "继续", SWITCH: "切换", **{w: "确认" for w in ("确认", "确定")}}


def _outside(ctx: Context, reading: Reading) -> Reply:
    """A message with no dialog waiting."""
    if reading.kind == EMPTY:
        return Reply.of("请发送文字消息。\n" + menu(ctx.actor.role, ctx))
    if reading.kind == CANCEL:
        return Reply.of("当前没有需要取消的操作。发送「帮助」查看可用指令。")
    if reading.kind == SMALL_TALK:
        return Reply.of(small_talk_reply(ctx, reading.args["kind"]))
    if reading.command is not None:
        return _run(ctx, reading)
    text = ctx.message.text.strip()
    if text in _IDLE_WORDS:
        return Reply.of(f"当前没有需要{_IDLE_WORDS[text]}的操作。发送「帮助」查看可用指令。")
    return Reply.of(
        receipt(ctx)  # 收到，明天报送: a receipt
        or how_to(ctx.actor.role, text)  # 怎么报周报？ the lines of the command asked about
        or "没有看懂这条消息。\n" + menu(ctx.actor.role, ctx)
    )


def _with_question(reply: Reply, pending: str) -> Reply:
    """A read-only command's answer, then the question the dialog is still waiting on."""
    markdown = f"{reply.markdown}\n\n{pending}" if reply.markdown else None
    return Reply((*reply.texts, pending), markdown=markdown, images=reply.images)


def _in_dialog(ctx: Context, spec: DialogSpec, state: Mapping[str, Any], reading: Reading) -> Reply:
    """A message while a dialog waits for a field (or for the answer to an offer)."""
    dialogs = Dialogs(ctx.session)
    if reading.kind == CANCEL:
        dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
        return Reply.of(f"已取消{spec.title}，没有保存任何内容。发送「帮助」查看可用指令。")
    if reading.kind == CHOICE:
        option = state[OFFER]["options"][reading.args["option"]]
        if "set" in option:
            return settle(ctx, spec, state, option)
        if "run" in option:
            dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
            return _outside(ctx, read_message(option["run"], role=ctx.actor.role))
        return resume_question(ctx, spec, state)
    if reading.kind == RESUME:
        return resume_question(ctx, spec, state)
    if reading.kind == ANSWER:
        return resume(ctx, spec, state, fields_of(reading.args))
    pending = question(ctx, spec, state)
    if reading.kind == EMPTY:
        return Reply.of("请发送文字消息。", pending)
    if reading.kind == SMALL_TALK:
        return Reply.of(small_talk_reply(ctx, reading.args["kind"], pending=pending))
    found = reading.command
    assert found is not None
    if found.dialog is not None and found.dialog.kind == spec.kind:
        given = fields_of(reading.args)
        collected = values_of(state)
        if any(collected.get(key) for key in given.values):
            return switch_offer(ctx, spec, state, ctx.message.text.strip())  # a new entry, not this one
        if given.values or given.free:
            return resume(ctx, spec, state, given)  # 周报 … inside 周报: the missing fields, labelled
        return Reply.of(f"{where(ctx, spec, state)}。", pending)
    if ctx.actor.role not in found.roles:
        return _with_question(_denied(ctx, found), pending)
    if not found.writes_with(reading.args):
        return _with_question(
            found.run(ctx, reading.args),
            pending if state.get(OFFER) else f"您正在{spec.title}，请接着回复：\n{pending}",
        )
    return switch_offer(ctx, spec, state, ctx.message.text.strip())


VOICE_DROPPED = "已放弃这条语音，没有保存任何内容。"
_BEFORE_VOICE = "_before_voice"  # the offer a voice message's confirmation stands in front of


def _hear(ctx: Context, kind: str | None, state: Mapping[str, Any]) -> Reply:
    """A voice message: echo WeCom's transcription and keep it as an offer; only a yes acts on it (as if typed)."""
    heard = ctx.message.text.strip()
    offer = new_offer(
        f"我听到的是：{heard}\n回复「确认」按这句话处理，回复「取消」放弃。",
        [{"words": list(CONFIRM_WORDS), "say": heard}],
        voice=True,
    )
    before = state.get(OFFER)
    if before is not None and before.get("voice"):  # a second voice message replaces the first
        before = state.get(_BEFORE_VOICE)
    fields = {**state, OFFER: offer, _BEFORE_VOICE: before}
    Dialogs(ctx.session).save(
        ctx.campaign, ctx.message.platform, ctx.message.user_id, kind=kind or OFFER_KIND, fields=fields, now=ctx.now
    )
    return offer_reply(offer)


def _settle_voice(ctx: Context, kind: str, state: Mapping[str, Any], reading: Reading) -> Reply:
    """The answer to a voice message's echo: the state goes back to what it was before the voice message, then
    a yes acts on the transcription, 取消 drops it, and anything else is read as a new message."""
    before = state.get(_BEFORE_VOICE)
    restored = {k: v for k, v in state.items() if k not in (OFFER, _BEFORE_VOICE)} | ({OFFER: before} if before else {})
    dialogs = Dialogs(ctx.session)
    if kind == OFFER_KIND and before is None:
        dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
    else:
        dialogs.save(ctx.campaign, ctx.message.platform, ctx.message.user_id, kind=kind, fields=restored, now=ctx.now)
    if reading.kind == CHOICE:
        said = state[OFFER]["options"][reading.args["option"]]["say"]
        return route_message(replace(ctx, message=replace(ctx.message, text=said, answers=None, spoken=False)))
    if reading.kind == CANCEL:
        owner = dialog_command(kind)
        pending = question(ctx, owner.dialog, restored) if owner is not None and owner.dialog is not None else ""
        return Reply.of(VOICE_DROPPED, pending or (str(before["question"]) if before else "发送「帮助」查看可用指令。"))
    return route_message(replace(ctx, message=replace(ctx.message, answers=None)))


def _progress_in(ctx: Context, caption: str) -> Args | None:
    """The 进展 a file's caption reports (进展 #12 已整改, 12号问题已整改), read as the chat reads it."""
    reading = read_message(caption, role=ctx.actor.role)
    return reading.args if reading.kind == "进展" and reading.args.get("number") is not None else None


def route_message(ctx: Context) -> Reply:
    """Read the message against the sender's dialog, if any, and act on it (inside the caller's transaction)."""
    if ctx.message.attachment is not None:
        return materials.receive(ctx, lambda caption: _progress_in(ctx, caption))
    dialogs = Dialogs(ctx.session)
    saved = dialogs.get(ctx.campaign, ctx.message.platform, ctx.message.user_id)
    state: dict[str, Any] = dict(saved.fields) if saved is not None else {}
    kind = saved.kind if saved is not None else None
    if ctx.message.answers is not None and (state.get(OFFER) or {}).get("id") != ctx.message.answers:
        return Reply.of(STALE_CHOICE)
    if ctx.message.spoken:
        return _hear(ctx, kind, state)
    reading = read_message(ctx.message.text, dialog=kind, state=state, role=ctx.actor.role)
    if saved is not None and (state.get(OFFER) or {}).get("voice"):
        return _settle_voice(ctx, saved.kind, state, reading)
    if saved is None:
        return _outside(ctx, reading)
    if kind == OFFER_KIND:
        dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
        if reading.kind == CHOICE:
            return _outside(
                ctx, read_message(state[OFFER]["options"][reading.args["option"]]["run"], role=ctx.actor.role)
            )
        if reading.kind == CANCEL:
            dropped = materials.discard_pending(ctx)  # files waiting to be told what they are for
            return Reply.of(f"已取消{f'，{dropped} 个文件没有保存' if dropped else ''}。发送「帮助」查看可用指令。")
        return _outside(ctx, reading)
    owner = dialog_command(kind or "")
    if owner is None or owner.dialog is None:  # a dialog of a command that no longer exists
        dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
        return _outside(ctx, read_message(ctx.message.text, role=ctx.actor.role))
    return _in_dialog(ctx, owner.dialog, state, reading)


class Dispatcher:
    """Turns each incoming message into exactly one reply and at most one set of effects."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        route: Route = route_to_simulator,
        campaign_name: str | None = None,
        link: DashboardLink = no_dashboard_link,
        files: Files | None = None,
    ) -> None:
        self.sessions = sessions
        self.files = files or Files(DatabaseFiles())
        self.route = route
        self.campaign_name = campaign_name
        self.link = link

    def handle(self, message: IncomingMessage) -> Reply:
        """Process a message once. A redelivered message id gets the stored replies and no new effects.

        Database outages propagate (channels answer 503 so the platform retries); any other error rolls
        the whole message back and the user gets an apology instead of a stack trace.
        """
        for attempt in (1, 2):
            try:
                return self._handle_once(message)
            except IntegrityError:
                # A concurrent writer won a race on a unique rule (the same message id delivered twice, two
                # liaisons of one unit sending this week's report): run once more against what it wrote.
                if attempt == 2:
                    raise
            except SQLAlchemyError:
                raise
            except Exception:
                log.exception("handler failed", extra={"platform": message.platform})
                return Reply.of("抱歉，处理这条消息时出错了，请稍后重试；如多次出现请联系牵头部门。")
        raise AssertionError("unreachable")

    def _handle_once(self, message: IncomingMessage) -> Reply:
        with transaction(self.sessions) as session:
            processed = Processed(session)
            record = None
            if message.message_id is not None:
                record = processed.claim(message.origin, message.user_id, message.message_id, message.received_at)
                if record is None:
                    stored = processed.replies(message.origin, message.user_id, message.message_id)
                    return Reply(tuple(stored or ()), duplicate=True)
            serving = Campaigns(session).serving(self.campaign_name)
            if not serving:
                reply = Reply.of("督办尚未加载专项整治方案，请联系管理员（duban plan load 方案.yaml）。")
            elif len(serving) == 1:
                reply = self._in_the_campaign(session, serving[0], message)
            else:
                reply = self._in_one_of(session, serving, message)
            if record is not None:
                processed.settle(record, reply.texts)
            return reply

    def _context(
        self, session: Session, campaign: Campaign, message: IncomingMessage, actor: Actor, others: tuple[int, ...]
    ) -> Context:
        return Context(
            session=session,
            campaign=campaign,
            message=message,
            actor=actor,
            route=self.route,
            link=self.link,
            files=self.files,
            others=others,
        )

    def _in_the_campaign(self, session: Session, campaign: Campaign, message: IncomingMessage) -> Reply:
        """The deployment serves one campaign: every message is for it (its name typed in front is dropped)."""
        prefixed = split_prefix(message.text, [campaign]) if campaign.alias and message.text else None
        if prefixed is not None and prefixed[1].strip():
            message = replace(message, text=prefixed[1])
        actor = People(session).actor(campaign, message.platform, message.user_id)
        reply = route_message(self._context(session, campaign, message, actor, ()))
        return replace(reply if reply.texts else Reply.of("已收到。"), campaign=campaign_label(campaign))

    def _in_one_of(self, session: Session, serving: Sequence[Campaign], message: IncomingMessage) -> Reply:
        """The deployment serves several campaigns: the one this message is for (handlers.choosing), or a question."""
        destination = Chooser(session, serving, message).choose()
        campaign = destination.campaign
        if destination.reply is not None:
            return replace(destination.reply, campaign=campaign_label(campaign) if campaign else None)
        assert campaign is not None
        others = tuple(c.id for c in serving if c.id != campaign.id)
        reply = route_message(self._context(session, campaign, destination.message, destination.actor, others))
        if not reply.texts:
            reply = Reply.of("已收到。")
        if destination.named:
            reply = named_reply(reply, campaign)
        if destination.note:
            reply = replace(reply, texts=(*reply.texts, destination.note))
        return replace(reply, campaign=campaign_label(campaign))


def named_reply(reply: Reply, campaign: Campaign) -> Reply:
    """The reply as said to someone in several campaigns: its first message (and its markdown) open with
    【三年行动】."""
    first, *rest = reply.texts
    return replace(
        reply,
        texts=(named(campaign, first), *rest),
        markdown=named(campaign, reply.markdown) if reply.markdown else None,
    )
