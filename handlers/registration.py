"""登记 / 批准 / 驳回: how a liaison officer becomes known to the bot (seed 000 附件1 fields).

A registered liaison's 登记 is an update: it starts from the record the bot holds, changes only the fields
given and shows the whole record. A registration that becomes active submits the plan's contact form (the
deliverable with `kind: contacts`) for the unit: the bot now holds exactly that contact.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from core.channels import Route
from core.roles import Role
from core.statuses import ContactStatus
from handlers.commands import COORDINATOR, EVERYONE, Args, command, dialog_fields, fields_of
from handlers.context import Context, notify
from handlers.dialogs import DialogSpec, Field, FieldError, at_most, start, words
from handlers.message import Choice, Reply
from handlers.parsing import echoed, looks_like_email, normalize_phone, strip_punct, take_number
from storage.models import Campaign, Contact
from storage.repos import Audit, Campaigns, Deliverables, People, Units

# Longer than any real value, and within the columns (String(100) 职务, String(200) 微信或邮箱); a unit name or a
# phone number is matched fuzzily or by regular expressions, which should not be handed a whole essay.
UNIT_LIMIT = 100
PHONE_LIMIT = 40
TITLE_LIMIT = 50
CONTACT_LIMIT = 100


def _check_unit(ctx: Context, raw: str) -> str:
    raw = at_most(UNIT_LIMIT)(ctx, raw)
    unit, candidates = Units(ctx.session).resolve(ctx.campaign, strip_punct(raw))
    if unit is not None:
        return unit.name
    hint = f"您要找的是不是：{'、'.join(candidates)}？" if candidates else "请核对单位全称。"
    raise FieldError(f"未找到单位「{echoed(raw)}」。{hint}请重新发送单位名称。")


def _check_phone(ctx: Context, raw: str) -> str:
    phone = normalize_phone(at_most(PHONE_LIMIT)(ctx, raw))
    if phone is None:
        raise FieldError("不是有效的电话号码，请发送11位手机号或带区号的固定电话（如 0955-7655608）。")
    return phone


# Besides letters and digits: the separators of minority and foreign names (买买提·艾力, Mary-Jane O'Neil). Anything
# else — <b>, [text](link), ** — is markup, not a name, wherever the name is shown later.
_NAME_MARKS = frozenset("·•・.-'’ ")


def _check_name(_ctx: Context, raw: str) -> str:
    name = strip_punct(raw)
    if not all(unicodedata.category(ch)[0] in "LMN" or ch in _NAME_MARKS for ch in name):
        raise FieldError(
            "姓名只能由文字组成（少数民族姓名可用间隔号「·」），不能带 <、[ ]、* 之类的符号，请发送真实姓名。"
        )
    if not 1 < len(name) <= 20:
        raise FieldError("请发送真实姓名（2–20个字）。")
    return name


REGISTER_FIELDS = (
    Field(
        "unit",
        "单位",
        words("单位名称 所在单位 工作单位 部门 部门名称 科室 科室名称 处室"),
        "请发送您所在的单位名称（如：法制科）。",
        check=_check_unit,
    ),
    Field("name", "姓名", words("名字 联系人 联系人姓名 联络员 联络员姓名"), "请发送您的姓名。", check=_check_name),
    Field(
        "title", "职务", words("职位 岗位 职务职级"), "请发送您的职务（如：法制科科长）。", check=at_most(TITLE_LIMIT)
    ),
    Field(
        "phone",
        "电话",
        words("联系电话 手机 手机号 手机号码 电话号码 联系方式 办公电话 座机 固话 移动电话"),
        "请发送您的联系电话（手机号，或带区号的固定电话）。",
        check=_check_phone,
    ),
    Field(
        "contact",
        "邮箱",
        words("微信 微信号 微信或邮箱 邮件 电子邮箱 电子邮件 电邮 email mail"),
        required=False,
        check=at_most(CONTACT_LIMIT),
    ),
)


def _held(ctx: Context) -> Contact | None:
    """The registration the sender already has (active or waiting for approval), which 登记 updates."""
    contact = ctx.actor.contact
    return contact if contact is not None and contact.status in (ContactStatus.ACTIVE, ContactStatus.PENDING) else None


def _prefill(ctx: Context) -> dict[str, str]:
    contact = _held(ctx)
    if contact is None:
        return {}
    values = {
        "unit": contact.unit.name,
        "name": contact.name,
        "title": contact.title,
        "phone": contact.phone,
        "contact": contact.wechat_or_email,
    }
    return {k: v for k, v in values.items() if v}


def record(values: dict[str, str]) -> str:
    """The whole registration, one field a line, as seed 000's 附件1 has it."""
    return "\n".join(f"{f.label}：{values.get(f.key) or '（未填）'}" for f in REGISTER_FIELDS)


def _review(ctx: Context, values: dict[str, str]) -> str:
    contact = _held(ctx)
    pending = contact is not None and contact.status is ContactStatus.PENDING
    head = f"您的登记（登记号 {contact.id}）正在等待牵头部门审核" if pending and contact else "您已登记为本单位联络员"
    return (
        f"{head}，现有信息：\n{record(values)}\n要修改哪一项，请直接发送，如「电话：13909550033」；发送「取消」退出。"
    )


def _infer(text: str) -> dict[str, str]:
    """A bare phone number or e-mail address says which field it is."""
    if normalize_phone(text) is not None:
        return {"phone": text}
    if looks_like_email(text):
        return {"contact": text}
    return {}


def _register(ctx: Context, values: dict[str, str]) -> Reply:
    people = People(ctx.session)
    unit = Units(ctx.session).find(ctx.campaign, values["unit"])
    assert unit is not None  # checked by _check_unit
    details = {
        "name": values["name"],
        "title": values.get("title"),
        "phone": values["phone"],
        "wechat_or_email": values.get("contact"),
    }
    current = ctx.actor.contact
    if current is not None and current.status is ContactStatus.ACTIVE and current.unit_id == unit.id:
        changed = {key: value for key, value in details.items() if getattr(current, key) != value}
        if not changed:
            return Reply.of(f"您在「{unit.name}」的联络员信息没有变化：\n{record(values)}")
        for key, value in changed.items():
            setattr(current, key, value)
        current.updated_at = ctx.now
        ctx.audit("contact.update", entity="contact", entity_id=current.id, **changed)
        return Reply.of(f"已更新您在「{unit.name}」的联络员信息：\n{record(values)}")

    if current is not None and current.status is ContactStatus.ACTIVE:
        ctx.audit("denied", command="登记", reason="unit change", unit=unit.name)
        return Reply.of(
            f"您已是「{current.unit.name}」的联络员，不能在聊天中改到「{unit.name}」。"
            "如需调整所在单位，请联系牵头部门。"
        )
    prelisted = people.prelisted(unit, values["phone"])
    if prelisted is not None:
        contact = prelisted
        contact.status = ContactStatus.ACTIVE
        if current is not None and current.status is ContactStatus.PENDING:
            current.status = ContactStatus.REJECTED  # superseded by the pre-listed entry
    elif current is not None and current.status is ContactStatus.PENDING:
        contact = current  # a pending registration is corrected in place, keeping its 登记号
        contact.unit_id, contact.unit = unit.id, unit
    else:
        contact = Contact(
            campaign_id=ctx.campaign.id, unit_id=unit.id, unit=unit, status=ContactStatus.PENDING, created_at=ctx.now
        )
        ctx.session.add(contact)
    for key, value in details.items():
        setattr(contact, key, value)
    contact.updated_at = ctx.now
    ctx.session.flush()
    people.bind(ctx.campaign, ctx.message.platform, ctx.message.user_id, contact=contact, now=ctx.now)

    if contact.status is ContactStatus.ACTIVE:
        ctx.audit("contact.activate", entity="contact", entity_id=contact.id, via="prelisted", **details)
        return Reply.of(
            f"登记成功！您已是「{unit.name}」的专项整治联络员。\n{record(values)}"
            f"{_contact_form_submitted(ctx.session, ctx.campaign, contact, ctx.now)}\n"
            "发送「帮助」查看可用的指令。"
        )
    ctx.audit("contact.register", entity="contact", entity_id=contact.id, **details)
    coordinators = [i for c in people.coordinators(ctx.campaign) for i in c.identities]
    ctx.notify(
        coordinators,
        f"新的联络员登记待审核（登记号 {contact.id}）：{unit.name} {_card(contact)}\n"
        f"回复「批准 {contact.id}」或「驳回 {contact.id} 理由」。",
        page=("在督办网页审核", "/dashboard/registrations"),
    )
    return Reply.of(f"已提交登记（登记号 {contact.id}），等待牵头部门审核，审核后会通知您。\n{record(values)}")


def _contact_form_submitted(session: Session, campaign: Campaign, contact: Contact, now: datetime) -> str:
    """Submit the campaign's contact form for the contact's unit; the sentence that says so, or ""."""
    submission = Deliverables(session).submit_contact_form(campaign, contact, at=now)
    if submission is None:
        return ""
    Audit(session).record(
        campaign=campaign,
        actor="duban",
        action="deliverable.submit",
        at=now,
        entity="submission",
        entity_id=submission.id,
        via="registration",
        unit=contact.unit.name,
    )
    form = Deliverables(session).contact_form(campaign)
    return f"\n「{contact.unit.name}」的「{form.name if form else '联系人'}」已随登记报送。"


def _card(contact: Contact) -> str:
    parts = [contact.name, contact.title, contact.phone, contact.wechat_or_email]
    return " / ".join(p for p in parts if p)


REGISTER = DialogSpec(
    "register", "登记联络员", REGISTER_FIELDS, _register, prefill=_prefill, review=_review, infer=_infer
)


@command(
    "登记",
    "注册",
    roles=EVERYONE,
    order=10,
    usage="登记 — 登记或更新联络员信息（单位/姓名/职务/电话/邮箱）",
    read=dialog_fields(REGISTER),
    dialog=REGISTER,
)
def register(ctx: Context, args: Args) -> Reply:
    if ctx.actor.role is Role.COORDINATOR:
        return Reply.of("您是牵头部门的协调人，无需登记为联络员。")
    return start(ctx, REGISTER, fields_of(args))


class RegistrationError(ValueError):
    """The registration cannot be decided; the message (Chinese) says why."""


def decide_registration(
    session: Session,
    campaign: Campaign,
    contact_id: int,
    *,
    approve: bool,
    reason: str | None,
    actor: str,
    now: datetime,
    route: Route,
    message_id: str | None = None,
) -> Contact:
    """Approve or reject a pending registration, audit it and tell the applicant (chat and dashboard)."""
    contact = People(session).contact(campaign, contact_id)
    if contact is None or contact.status is not ContactStatus.PENDING:
        raise RegistrationError(f"没有待审核的登记号 {contact_id}。")
    contact.status = ContactStatus.ACTIVE if approve else ContactStatus.REJECTED
    contact.updated_at = now
    Audit(session).record(
        campaign=campaign,
        actor=actor,
        action="contact.approve" if approve else "contact.reject",
        at=now,
        entity="contact",
        entity_id=contact.id,
        message_id=message_id,
        **({} if approve else {"reason": reason or None}),
    )
    if approve:
        submitted = _contact_form_submitted(session, campaign, contact, now)
        text = f"您登记为「{contact.unit.name}」联络员的申请已通过审核。{submitted.strip()}发送「帮助」查看可用的指令。"
    else:
        because = f"理由：{reason}。" if reason else ""
        text = (
            f"您登记为「{contact.unit.name}」联络员的申请未通过审核。{because}"
            "如有疑问请联系牵头部门，或重新发送「登记」。"
        )
    others = [c.id for c in Campaigns(session).serving() if c.id != campaign.id]
    notify(session, campaign, route, contact.identities, text, now=now, others=others)
    return contact


def read_decision(rest: str) -> Args:
    """批准 8 / 驳回 8 不是本单位人员 / 批准 李娜: the 登记号 (or whom) and a reason."""
    number, note = take_number(rest)
    if number is None:
        return {"number": None, "who": strip_punct(rest) or None}
    return {"number": number, "reason": strip_punct(note) or None}


def _pending_list(ctx: Context) -> str:
    pending = People(ctx.session).pending(ctx.campaign)
    if not pending:
        return "目前没有待审核的联络员登记。"
    lines = [
        f"登记号 {c.id}：{c.unit.name} {c.name}" + (f"（{c.title}）" if c.title else "") + f" {c.phone or ''}"
        for c in pending
    ]
    return f"当前待审核的联络员登记 {len(pending)} 个：\n" + "\n".join(lines)


def _decide(ctx: Context, args: Args, *, approve: bool) -> Reply:
    verb = "批准" if approve else "驳回"
    number = args.get("number")
    who = args.get("who")
    if number is None and who:
        matches = [c for c in People(ctx.session).pending(ctx.campaign) if who in (c.name, c.unit.name)]
        if len(matches) == 1:
            number = matches[0].id
    if number is None:
        head = f"没有找到「{echoed(who)}」的待审核登记。" if who else ""
        listed = Reply.of(
            f"{head}{_pending_list(ctx)}\n回复「{verb} 登记号」，如「{verb} 3」"
            + ("。" if approve else "，可在后面写理由。")
        )
        return replace(listed, choices=_decision_choices(ctx))
    try:
        contact = decide_registration(
            ctx.session,
            ctx.campaign,
            number,
            approve=approve,
            reason=args.get("reason"),
            actor=ctx.actor_label,
            now=ctx.now,
            route=ctx.route,
            message_id=ctx.message.message_id,
        )
    except RegistrationError as error:
        return Reply.of(f"{error}{_pending_list(ctx)}")
    if approve:
        return Reply.of(f"已批准登记号 {contact.id}：{contact.unit.name} {_card(contact)}，已通知本人。")
    return Reply.of(f"已驳回登记号 {contact.id}（{contact.unit.name} {contact.name}），已通知本人。")


CHOICES_SHOWN = 3  # registrations offered as 批准/驳回 buttons (a WeCom card holds six buttons)


def _decision_choices(ctx: Context) -> tuple[Choice, ...]:
    """批准 N / 驳回 N for the oldest pending registrations: a click is the typed command, so a rejection made
    this way has no reason (typing 驳回 N 理由 gives one)."""
    pending = People(ctx.session).pending(ctx.campaign)[:CHOICES_SHOWN]
    return tuple(Choice(f"{verb} {c.id} {c.name}", f"{verb} {c.id}") for c in pending for verb in ("批准", "驳回"))


def _decides(args: Args) -> bool:
    return args.get("number") is not None or bool(args.get("who"))


@command(
    "批准",
    "同意",
    "通过",
    roles=COORDINATOR,
    order=90,
    read=read_decision,
    writes=_decides,
    usage="批准 <登记号> — 通过联络员登记（不带登记号则列出待审核的）",
)
def approve(ctx: Context, args: Args) -> Reply:
    return _decide(ctx, args, approve=True)


@command(
    "驳回",
    "拒绝",
    "退回",
    "不同意",
    roles=COORDINATOR,
    order=91,
    usage="驳回 <登记号> [理由] — 驳回联络员登记",
    read=read_decision,
    writes=_decides,
)
def reject(ctx: Context, args: Args) -> Reply:
    return _decide(ctx, args, approve=False)
