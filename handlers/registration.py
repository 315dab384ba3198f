"""登记 / 批准 / 驳回: how a liaison officer becomes known to the bot (seed 000 附件1 fields)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.context import Context, Route, notify
from handlers.dialogs import DialogSpec, Field, FieldError, at_most, start
from handlers.message import Reply
from handlers.parsing import echoed, normalize_phone, strip_punct, take_number
from storage.models import Campaign, Contact, ContactStatus
from storage.repos import Audit, People, Units

# Longer than any real value, and within the columns (String(100) 职务, String(200) 微信或邮箱); a unit name or a
# phone number is matched fuzzily or by regular expressions, which should not be handed a whole essay.
UNIT_LIMIT = 100
PHONE_LIMIT = 40
TITLE_LIMIT = 50
CONTACT_LIMIT = 100


def _check_unit(ctx: Context, raw: str) -> str:
    raw = at_most(UNIT_LIMIT)(ctx, raw)
    unit = Units(ctx.session).find(ctx.campaign, strip_punct(raw))
    if unit is not None:
        return unit.name
    closest = Units(ctx.session).closest(ctx.campaign, raw)
    hint = f"您要找的是不是：{'、'.join(closest)}？" if closest else "请核对单位全称。"
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
        raise FieldError("姓名只能由文字组成（少数民族姓名可用间隔号「·」），不能带 <、[ ]、* 之类的符号，"
                         "请发送真实姓名。")
    if not 1 < len(name) <= 20:
        raise FieldError("请发送真实姓名（2–20个字）。")
    return name


REGISTER_FIELDS = (
    Field("unit", "单位", ("单位名称", "所在单位", "部门", "科室"), "请发送您所在的单位名称（如：法制科）。",
          check=_check_unit),
    Field("name", "姓名", ("名字", "联系人", "联络员"), "请发送您的姓名。", check=_check_name),
    Field("title", "职务", ("职位", "岗位"), "请发送您的职务（如：法制科科长）。",
          check=at_most(TITLE_LIMIT)),
    Field("phone", "电话", ("联系电话", "手机", "手机号", "电话号码"), "请发送您的联系电话（手机号）。",
          check=_check_phone),
    Field("contact", "邮箱", ("微信", "微信或邮箱", "邮件", "email", "Email", "E-mail"), required=False,
          check=at_most(CONTACT_LIMIT)),
)


def _register(ctx: Context, values: dict[str, str]) -> Reply:
    people = People(ctx.session)
    unit = Units(ctx.session).find(ctx.campaign, values["unit"])
    assert unit is not None  # checked by _check_unit
    details = {"name": values["name"], "title": values.get("title"), "phone": values["phone"],
               "wechat_or_email": values.get("contact")}
    current = ctx.actor.contact
    if current is not None and current.status is ContactStatus.ACTIVE and current.unit_id == unit.id:
        for key, value in details.items():
            setattr(current, key, value)
        current.updated_at = ctx.now
        ctx.audit("contact.update", entity="contact", entity_id=current.id, **details)
        return Reply.of(f"已更新您在「{unit.name}」的联系人信息：{_card(current)}")

    if current is not None and current.status is ContactStatus.ACTIVE:
        ctx.audit("denied", command="登记", reason="unit change", unit=unit.name)
        return Reply.of(f"您已是「{current.unit.name}」的联络员，不能在聊天中改到「{unit.name}」。"
                        "如需调整所在单位，请联系牵头部门。")
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
        contact = Contact(campaign_id=ctx.campaign.id, unit_id=unit.id, unit=unit,
                          status=ContactStatus.PENDING, created_at=ctx.now)
        ctx.session.add(contact)
    for key, value in details.items():
        setattr(contact, key, value)
    contact.updated_at = ctx.now
    ctx.session.flush()
    people.bind(ctx.campaign, ctx.message.platform, ctx.message.user_id, contact=contact, now=ctx.now)

    if contact.status is ContactStatus.ACTIVE:
        ctx.audit("contact.activate", entity="contact", entity_id=contact.id, via="prelisted", **details)
        return Reply.of(f"登记成功！您已是「{unit.name}」的专项整治联络员。\n{_card(contact)}\n"
                        "发送「帮助」查看可用的指令。")
    ctx.audit("contact.register", entity="contact", entity_id=contact.id, **details)
    coordinators = [i for c in people.coordinators(ctx.campaign) for i in c.identities]
    ctx.notify(coordinators, f"新的联络员登记待审核（登记号 {contact.id}）：{unit.name} {_card(contact)}\n"
                             f"回复「批准 {contact.id}」或「驳回 {contact.id} 理由」。")
    return Reply.of(f"已提交登记（登记号 {contact.id}），等待牵头部门审核，审核后会通知您。\n{_card(contact)}")


def _card(contact: Contact) -> str:
    parts = [contact.name, contact.title, contact.phone, contact.wechat_or_email]
    return " / ".join(p for p in parts if p)


REGISTER = DialogSpec("register", "登记联络员", REGISTER_FIELDS, _register)


def register(ctx: Context, rest: str) -> Reply:
    if ctx.actor.role == "coordinator":
        return Reply.of("您是牵头部门的协调人，无需登记为联络员。")
    return start(ctx, REGISTER, rest)


class RegistrationError(ValueError):
    """The registration cannot be decided; the message (Chinese) says why."""


def decide_registration(session: Session, campaign: Campaign, contact_id: int, *, approve: bool,
                        reason: str | None, actor: str, now: datetime, route: Route,
                        message_id: str | None = None) -> Contact:
    """Approve or reject a pending registration, audit it and tell the applicant (chat and dashboard)."""
    contact = People(session).contact(campaign, contact_id)
    if contact is None or contact.status is not ContactStatus.PENDING:
        raise RegistrationError(f"没有待审核的登记号 {contact_id}。")
    contact.status = ContactStatus.ACTIVE if approve else ContactStatus.REJECTED
    contact.updated_at = now
    Audit(session).record(campaign=campaign, actor=actor, action="contact.approve" if approve else "contact.reject",
                          at=now, entity="contact", entity_id=contact.id, message_id=message_id,
                          **({} if approve else {"reason": reason or None}))
    if approve:
        text = f"您登记为「{contact.unit.name}」联络员的申请已通过审核。发送「帮助」查看可用的指令。"
    else:
        because = f"理由：{reason}。" if reason else ""
        text = (f"您登记为「{contact.unit.name}」联络员的申请未通过审核。{because}"
                "如有疑问请联系牵头部门，或重新发送「登记」。")
    notify(session, campaign, route, contact.identities, text, now=now)
    return contact


def _decide(ctx: Context, rest: str, *, approve: bool) -> Reply:
    verb = "批准" if approve else "驳回"
    number, note = take_number(rest)
    if number is None:
        return Reply.of(f"请写明登记号，例如「{verb} 3」。发送「汇总」可查看待审核的登记。")
    try:
        contact = decide_registration(ctx.session, ctx.campaign, number, approve=approve, reason=note or None,
                                      actor=ctx.actor_label, now=ctx.now, route=ctx.route,
                                      message_id=ctx.message.message_id)
    except RegistrationError as error:
        pending = People(ctx.session).pending(ctx.campaign)
        listing = "、".join(f"{c.id}（{c.unit.name} {c.name}）" for c in pending) or "无"
        return Reply.of(f"{error}当前待审核：{listing}")
    if approve:
        return Reply.of(f"已批准登记号 {contact.id}：{contact.unit.name} {_card(contact)}，已通知本人。")
    return Reply.of(f"已驳回登记号 {contact.id}（{contact.unit.name} {contact.name}），已通知本人。")


def approve(ctx: Context, rest: str) -> Reply:
    return _decide(ctx, rest, approve=True)


def reject(ctx: Context, rest: str) -> Reply:
    return _decide(ctx, rest, approve=False)
