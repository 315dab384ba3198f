"""通知 / 回执: a coordinator tells every unit something, and sees who has acknowledged it.

`通知 <内容>` goes to each active liaison over their own channel (the outbox, one keyed row each),
`通知 未报送 <事项> <内容>` only to the units still missing that deliverable (or this week's report); each liaison
it goes to gets a receipt. A liaison's 收到 (已阅, 好的, 👍 …) acknowledges every notice they have not acknowledged
yet — handlers.smalltalk calls `acknowledge_notices` for any acknowledgement, in the middle of a dialog too, and
with no notice outstanding it stays small talk. `回执` lists, unit by unit, who has and who has not. With the
plan's `notice_receipt_reminder_hours` the scheduler reminds those who have not, once (scheduler.rules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from core.dates import format_near
from core.workdays import WorkCalendar
from handlers.commands import COORDINATOR, LIAISON, Args, command
from handlers.context import Context, named
from handlers.dialogs import offer_command
from handlers.message import Reply
from handlers.parsing import clipped, match_choice, strip_punct, to_int
from storage.models import Contact, Notice, NoticeReceipt, Unit
from storage.repos import Deliverables, KeyedMessage, Notices, Outbox, People, Reports, Units

NOTICE_LIMIT = 1000  # characters: a notice is read on a phone; longer material goes as a file
MAX_NAMES = 60  # units named per line of 回执; the dashboard lists them all
OFFICE_HOURS = (time(9), time(18))  # a receipt reminder due outside them waits for 09:00 of a working day
ALL_UNITS = "全部单位"
USAGE = (
    "格式：通知 <内容>（发给各单位联络员），或 通知 未报送 <事项> <内容>（只发给尚未报送该事项的单位，"
    "如「通知 未报送 周报 请于今天12:00前报送」）。"
)
_MISSING = re.compile(r"^未报送(?:的单位)?[\s:,、]*")
_ITEM_END = re.compile(r"[\s:,、]")
_NUMBER = re.compile(r"^(?:通知)?\s*[(\[#]?\s*第?\s*(\S+?)\s*(?:号|条)?\s*[)\]]?$")
# 谁没回执？ 哪些单位还没确认收到 回执情况如何: a coordinator asking for receipts in words.
_ASKING_RECEIPTS = re.compile(
    r"(?:(?:谁|哪些单位|哪个单位|哪些人)还?(?:没有?|未)(?:回执|回复|确认|收到)+(?:通知)?"
    r"(?:的?单位)?|回执(?:情况)?(?:呢|如何|怎么样)?)[?？]*"
)


def read_notice(rest: str) -> Args:
    """通知 <内容>, or 通知 未报送 <事项> <内容>: the text, and the deliverable (周报: this week's report) whose
    missing units alone get it."""
    text = rest.strip()
    missing = _MISSING.match(text)
    if missing is None:
        return {"text": text}
    rest = text[missing.end() :]
    if rest.startswith("周报"):
        item, body = "周报", rest[2:]
    else:
        end = _ITEM_END.search(rest)
        item, body = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
    return {"missing": item, "text": body.lstrip(" :,、\n")}


def chase_moment(sent: datetime, hours: int, calendar: WorkCalendar) -> datetime:
    """`hours` after a notice, kept to office hours: due at night, on a weekend or a holiday, the reminder goes out
    at 09:00 of the next working day."""
    moment = (sent + timedelta(hours=hours)).replace(second=0, microsecond=0)
    opens, closes = OFFICE_HOURS
    day = moment.date()
    if calendar.is_workday(day) and moment.time() <= closes:
        return max(moment, moment.replace(hour=opens.hour, minute=opens.minute))
    day += timedelta(days=1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=moment.tzinfo)


def _when(moment: datetime, ctx: Context) -> str:
    local = moment.astimezone(ctx.now.tzinfo)
    return f"{format_near(local.date(), ctx.today)} {local:%H:%M}"


def _audience(ctx: Context, item: str | None, text: str) -> tuple[str, list[Unit]] | Reply:
    """Who a notice goes to: every unit, or those still missing `item`; a reply when `item` is unclear."""
    units = list(Units(ctx.session).all(ctx.campaign))
    if item is None:
        return ALL_UNITS, units
    if item == "周报":
        iso_year, iso_week = ctx.week()
        reported = Reports(ctx.session).weekly_late(ctx.campaign, iso_year, iso_week)
        return f"未报送第{iso_week}周周报的单位", [u for u in units if u.id not in reported]
    repo = Deliverables(ctx.session)
    deliverables = list(repo.all(ctx.campaign))
    found = match_choice(item, [d.name for d in deliverables])
    chosen = next((d for d in deliverables if d.name == found.value), None)
    if chosen is None and len(found.suggestions) == 1:
        meant = found.suggestions[0]
        return offer_command(
            ctx,
            f"没有报送事项「{clipped(item, 30)}」，是指「{meant}」吗？回复「确认」发给未报送"
            f"「{meant}」的单位，或重新发送。",
            f"通知 未报送 {meant} {text}",
        )
    if chosen is None:
        listing = "、".join(["周报", *(d.name for d in deliverables)])
        return Reply.of(f"没有报送事项「{clipped(item, 30)}」，通知没有发出。可以写：{listing}。\n{USAGE}")
    done = repo.submissions(ctx.campaign).get(chosen.id, set())
    return f"未报送「{chosen.name}」的单位", [u for u in units if repo.owes(chosen, u) and u.id not in done]


def _message(ctx: Context, number: int, audience: str, text: str) -> str:
    """The notice as a liaison reads it: who sent it, to whom, and how to acknowledge it."""
    coordinator = ctx.actor.coordinator
    sender = f"牵头部门 {coordinator.name}" if coordinator is not None else "牵头部门"
    to = "" if audience == ALL_UNITS else f"（发给{audience}）"
    return (
        f"【通知〔{number}〕】{to}{text}\n"
        f"——{sender}，{format_near(ctx.today, ctx.today)} {ctx.now:%H:%M}。收到请回复「收到」。"
    )


@command(
    "通知",
    roles=COORDINATOR,
    order=80,
    read=read_notice,
    usage="通知 <内容> — 发给各单位联络员，回复「收到」记为回执；通知 未报送 <事项> <内容> 只发给未报送的单位",
)
def send_notice(ctx: Context, args: Args) -> Reply:
    text = (args.get("text") or "").strip()
    item = args.get("missing")
    if item == "":
        return Reply.of(f"请写明是哪个事项未报送的单位。{USAGE}")
    if len(text) < 2:
        return Reply.of(f"请写明通知内容。{USAGE}")
    if len(text) > NOTICE_LIMIT:
        return Reply.of(f"通知太长了（{len(text)}字），请控制在{NOTICE_LIMIT}字以内；详细材料请另行发送文件。")
    audience = _audience(ctx, item, text)
    if isinstance(audience, Reply):
        return audience
    label, units = audience
    if not units:
        return Reply.of(f"各单位都已报送，没有{label}，通知没有发出。")
    liaisons = [c for c in People(ctx.session).active_liaisons([u.id for u in units]) if c.identities]
    reached = {c.unit_id for c in liaisons}
    unreached = [u.name for u in units if u.id not in reached]
    if not liaisons:
        return Reply.of(f"{label}（{len(units)} 个）都还没有联络员登记，通知没有发出。")
    hours = ctx.campaign.notice_receipt_reminder_hours
    notice = Notice(
        campaign_id=ctx.campaign.id,
        number=Notices(ctx.session).next_number(ctx.campaign),
        text=text,
        audience=label,
        unreached=unreached,
        sent_at=ctx.now,
        coordinator_id=ctx.actor.coordinator.id if ctx.actor.coordinator is not None else None,
        remind_at=chase_moment(ctx.now, hours, ctx.calendar) if hours else None,
    )
    notice.receipts = [NoticeReceipt(contact_id=c.id) for c in liaisons]
    ctx.session.add(notice)
    ctx.session.flush()
    message = _message(ctx, notice.number, label, text)
    identities = [i for contact in liaisons for i in contact.identities]
    several = People(ctx.session).in_several(
        ctx.campaign, ctx.others, ((i.platform, i.external_id) for i in identities)
    )
    # One batch of keyed rows: a campaign of thousands of units gets its notice in one INSERT, each copy once.
    Outbox(ctx.session).enqueue_keyed(
        campaign=ctx.campaign,
        now=ctx.now,
        messages=[
            KeyedMessage(
                key=f"notice:c{ctx.campaign.id}/{notice.number}:{i.platform}:{i.external_id}",
                channel=ctx.route(i.platform),
                target=i.external_id,
                text=named(ctx.campaign, message) if (i.platform, i.external_id) in several else message,
            )
            for i in identities
        ],
    )
    ctx.audit(
        "notice.send",
        entity="notice",
        entity_id=notice.id,
        number=notice.number,
        audience=label,
        liaisons=len(liaisons),
        unreached=len(unreached),
    )
    lines = [f"已发出通知〔{notice.number}〕（{label}）：送达 {len(reached)} 个单位的 {len(liaisons)} 位联络员。"]
    if unreached:
        lines.append(f"未送达 {len(unreached)} 个单位（尚无联络员）：{_names(unreached)}。")
    lines.append("联络员回复「收到」即记为回执，发送「回执」查看谁已确认、谁还没有。")
    if notice.remind_at is not None:
        lines.append(f"{_when(notice.remind_at, ctx)} 仍未回执的联络员，督办会再提醒一次。")
    return Reply.of("\n".join(lines))


def _names(names: Sequence[str]) -> str:
    return "、".join(names[:MAX_NAMES]) + (f" 等{len(names)}个单位" if len(names) > MAX_NAMES else "")


def read_number(rest: str) -> Args:
    """回执 [编号]: 回执 3, 回执 〔3〕, 回执 第三号; anything else is kept to say it is not a number."""
    typed = strip_punct(rest)
    found = _NUMBER.match(typed)
    number = to_int(found[1]) if found else None
    return {"number": number, "typed": typed if typed and number is None else None}


@dataclass(frozen=True)
class UnitReceipts:
    """One unit's answer to a notice: its liaisons' receipts, and the first acknowledgement (None: none yet)."""

    unit: Unit
    receipts: tuple[NoticeReceipt, ...]

    @property
    def first(self) -> NoticeReceipt | None:
        acknowledged = [r for r in self.receipts if r.acknowledged_at is not None]
        return min(acknowledged, key=_acknowledged) if acknowledged else None

    @property
    def liaisons(self) -> str:
        return "、".join(r.contact.name for r in self.receipts)


def by_unit(notice: Notice) -> list[UnitReceipts]:
    """The units a notice reached, in plan order, each with its receipts (what 回执 and the dashboard show)."""
    units: dict[int, list[NoticeReceipt]] = {}
    for receipt in sorted(notice.receipts, key=lambda r: (r.contact.unit.position, r.id)):
        units.setdefault(receipt.contact.unit_id, []).append(receipt)
    return [UnitReceipts(rows[0].contact.unit, tuple(rows)) for rows in units.values()]


def _receipt_lines(ctx: Context, notice: Notice) -> list[str]:
    units = by_unit(notice)
    done = [f"{u.unit.name}（{u.first.contact.name} {_when(_acknowledged(u.first), ctx)}）" for u in units if u.first]
    waiting = [f"{u.unit.name}（{u.liaisons}）" for u in units if u.first is None]
    sent = _when(notice.sent_at, ctx)
    if notice.coordinator is not None:
        sent += f" {notice.coordinator.name}"
    lines = [
        f"通知〔{notice.number}〕（{sent}发给{notice.audience}）：{clipped(notice.text, 60)}",
        f"回执：{len(done)}/{len(units)} 个单位已确认收到"
        + (f"，另有 {len(notice.unreached)} 个单位没有联络员、未送达" if notice.unreached else ""),
    ]
    if waiting:
        lines.append(f"未确认（{len(waiting)}）：{_names(waiting)}")
    if done:
        lines.append(f"已确认（{len(done)}）：{_names(done)}")
    if notice.unreached:
        lines.append(f"未送达（{len(notice.unreached)}，尚无联络员）：{_names(notice.unreached)}")
    if notice.remind_at is not None and waiting:
        verb = "已于" if notice.remind_at <= ctx.now else "将于"
        lines.append(f"{verb} {_when(notice.remind_at, ctx)} 提醒未确认的联络员（只提醒一次）。")
    return lines


def _acknowledged(receipt: NoticeReceipt) -> datetime:
    assert receipt.acknowledged_at is not None
    return receipt.acknowledged_at


def read_receipts_phrase(text: str) -> Args | None:
    """谁没回执？ 哪些单位还没确认收到 回执(2): asking for receipts without 回执 first, or with a bracketed number."""
    if _ASKING_RECEIPTS.fullmatch(text):
        return {"number": None, "typed": None}
    if text.startswith("回执"):
        found = read_number(text[2:])
        return found if found["number"] is not None else None
    return None


@command(
    "回执",
    "回执情况",
    "查看回执",
    roles=COORDINATOR,
    order=82,
    read=read_number,
    writes=False,
    phrase=read_receipts_phrase,
    usage="回执 [编号] — 最近一条（或第几条）通知谁已确认收到、谁还没有",
)
def receipts(ctx: Context, args: Args) -> Reply:
    if args.get("typed"):
        return Reply.of(
            f"「{clipped(args['typed'], 30)}」不是通知编号。发送「回执」查看最近一条通知的回执，"
            "「回执 编号」查看某一条。"
        )
    repo = Notices(ctx.session)
    number = args.get("number")
    notice = repo.by_number(ctx.campaign, number)
    if notice is None:
        if number is None:
            return Reply.of(f"还没有发过通知。{USAGE}")
        known = repo.numbers(ctx.campaign)
        listing = f"已发的通知编号：{'、'.join(map(str, known))}。" if known else "还没有发过通知。"
        return Reply.of(f"没有编号为 {number} 的通知。{listing}")
    lines = _receipt_lines(ctx, notice)
    others = [n for n in repo.numbers(ctx.campaign) if n != notice.number]
    if others:
        lines.append(f"其他通知：{'、'.join(f'〔{n}〕' for n in others[-10:])}，发送「回执 编号」查看。")
    return Reply.of("\n".join(lines))


def acknowledge_notices(ctx: Context) -> str | None:
    """Record the sender's receipt of every notice they were sent and have not acknowledged; the sentence that
    says so, or None when there is none (the acknowledgement is then only small talk)."""
    contact: Contact | None = ctx.actor.contact
    if contact is None:
        return None
    owed = Notices(ctx.session).outstanding(contact)
    if not owed:
        return None
    for receipt in owed:
        receipt.acknowledged_at = ctx.now
    numbers = [r.notice.number for r in owed]
    ctx.audit("notice.acknowledge", entity="notice", entity_id=owed[-1].notice_id, numbers=numbers)
    if len(owed) == 1:
        notice = owed[0].notice
        return f"已确认收到通知〔{notice.number}〕「{clipped(notice.text, 20)}」，牵头部门可以看到您的回执。"
    listed = "".join(f"〔{n}〕" for n in numbers)
    return f"已确认收到通知{listed}，牵头部门可以看到您的回执。"


@command("回执", roles=LIAISON, order=47, usage="回执 — 确认收到牵头部门的通知（直接回复「收到」也可以）")
def liaison_receipt(ctx: Context, _args: Args) -> Reply:
    return Reply.of(acknowledge_notices(ctx) or "目前没有需要确认收到的通知。")
