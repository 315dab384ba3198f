"""Files and pictures sent in chat: kept with a deliverable (报送事项), an issue (佐证材料) or a week's 周报.

What a file is for, in this order: its caption (`报送 自查整改报告`, `#12`, `进展 #12 已整改`, `周报`); an 已整改
held back for want of evidence; what the sender did just before (a file right after `报送 …` or `进展 #12 …`,
or after another file, belongs with it). Otherwise the bot keeps the file aside and asks, with numbered choices
(an offer in the dialog state, so a restart does not lose the question); the answer (`2`, `报送 2`, `#12`,
`周报`) files every file waiting. A later file for a deliverable the unit already sent files for asks
whether it replaces them or adds to them (`替换` / `追加`).

A file is stored (storage.files) only once the sender is a registered liaison and the file is of an allowed
kind; otherwise the reply says why and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.roles import Role
from core.statuses import DeliverableKind
from handlers.commands import COORDINATOR, LIAISON, Args, command, declared
from handlers.context import Context
from handlers.dialogs import OFFER, OFFER_KIND
from handlers.message import Reply
from handlers.parsing import match_choice, normalize, read_bare_reference, strip_punct
from storage.files import KIND_NAMES, MAX_FILE_BYTES, clean_name
from storage.models import (
    Campaign,
    Deliverable,
    Issue,
    Material,
    MaterialTarget,
    Progress,
    Submission,
    Unit,
)
from storage.repos import Deliverables, Dialogs, Issues, Units

RECENT = timedelta(minutes=10)  # a file this soon after 报送/进展/another file belongs with it
EVIDENCE = "_evidence"  # dialog state of an 已整改 waiting for a file: {"number": 12, "run": "进展 #12 已整改"}
LISTED_ISSUES = 8  # open issues offered as choices for a file

TEXTS = {
    "stranger": "您还未登记为联络员，督办没有保存这个文件。请先发送「登记」。",
    "pending": "您的登记正在等待牵头部门审核，审核通过后才能报送材料；这个文件没有保存。",
    "coordinator": (
        "材料由各单位联络员报送，督办没有保存这个文件。查看各单位的材料请发送「材料 事项名」或打开督办网页。"
    ),
    "too_large": f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB，督办没有保存。请压缩或拆分后分几次发送。",
    "download_failed": "没能从平台取到这个文件（已多次重试），督办没有保存，请重新发送一次。",
    "empty": "这个文件是空的（0 字节），督办没有保存，请检查后重新发送。",
}


@dataclass(frozen=True)
class Target:
    kind: MaterialTarget
    deliverable: Deliverable | None = None
    issue: Issue | None = None

    def label(self, ctx: Context) -> str:
        if self.deliverable is not None:
            return f"报送「{self.deliverable.name}」的材料"
        if self.issue is not None:
            return f"#{self.issue.number}「{self.issue.title}」的佐证材料"
        return f"第{ctx.week()[1]}周周报的附件"


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"


# --- receiving a file -------------------------------------------------------------------------------------


def receive(ctx: Context, progress_in: Callable[[str], Args | None]) -> Reply:
    """A file or picture arrived: refuse it, or keep it and file it (or ask what it is for)."""
    attachment = ctx.message.attachment
    assert attachment is not None
    role = ctx.actor.role
    if role is not Role.LIAISON:
        ctx.audit("material.refused", reason=role)
        return Reply.of(TEXTS.get(role, TEXTS["stranger"]))
    staged = attachment.staged
    problem = attachment.problem or ("download_failed" if staged is None else None if staged.size else "empty")
    if problem is None and staged.kind is None:
        ctx.audit("material.refused", reason="type")
        return Reply.of(f"督办只接收 {KIND_NAMES}；这个文件不是其中之一（可执行程序、宏文件等一律不收），没有保存。")
    if problem is not None:
        ctx.audit("material.refused", reason=problem)
        return Reply.of(TEXTS[problem])
    contact = ctx.actor.contact
    assert contact is not None
    ctx.files.put(ctx.session, staged, now=ctx.now)
    material = Material(
        campaign_id=ctx.campaign.id,
        unit_id=contact.unit_id,
        contact_id=contact.id,
        platform=ctx.message.platform,
        external_id=ctx.message.user_id,
        sha256=staged.sha256,
        name=clean_name(attachment.name, staged.kind),
        size=staged.size,
        kind=staged.kind,
        received_at=ctx.now,
    )
    ctx.session.add(material)
    ctx.session.flush()
    ctx.audit("material.receive", entity="material", entity_id=material.id, kind=material.kind, size=material.size)
    received = f"已收到文件「{material.name}」（{_size(material.size)}）。"
    caption = normalize(ctx.message.text)
    if caption:
        return _captioned(ctx, caption, received, progress_in)
    held = _held_evidence(ctx)
    if held is not None:
        return Reply.of(received, *file_pending(ctx, held).texts)
    recent = _recent_target(ctx)
    if recent is not None:
        return Reply.of(received, *file_pending(ctx, recent).texts)
    return Reply.of(received, ask(ctx))


def _captioned(ctx: Context, caption: str, received: str, progress_in: Callable[[str], Args | None]) -> Reply:
    """A file with a caption: the caption says where it goes; a progress report in it (`progress_in` reads
    one, as the chat reads 进展 #12 已整改 or 12号问题已整改) runs once filed."""
    target = read_target(ctx, caption)
    if target is not None:
        return Reply.of(received, *file_pending(ctx, target).texts)
    number = read_bare_reference(caption)
    if number is not None:  # an issue that is not the unit's, or none at all
        return Reply.of(received, str(_own_issue(ctx, number)), ask(ctx))
    progress = progress_in(caption)
    if progress is not None:
        issue = _own_issue(ctx, progress["number"])
        if isinstance(issue, str):
            return Reply.of(received, issue, ask(ctx))
        filed = file_pending(ctx, Target(MaterialTarget.ISSUE, issue=issue))
        return Reply.of(received, *filed.texts, *declared("进展").run(ctx, progress).texts)
    return Reply.of(received, f"没有看懂说明「{caption[:20]}」。", ask(ctx))


def read_target(ctx: Context, text: str) -> Target | None:
    """`报送 自查整改报告` / `报送 2`, `#12` / `12号问题`, `周报` / `周报附件`: where files go, or None."""
    text = strip_punct(normalize(text))
    if text in ("周报", "周报附件", "本周周报", "作为周报附件"):
        return Target(MaterialTarget.WEEKLY)
    if text.startswith("报送"):
        deliverable = _deliverable(ctx, text[2:].lstrip(" :;,，、"))
        return Target(MaterialTarget.DELIVERABLE, deliverable=deliverable) if deliverable else None
    number = read_bare_reference(text)
    if number is not None:
        issue = _own_issue(ctx, number)
        return Target(MaterialTarget.ISSUE, issue=issue) if isinstance(issue, Issue) else None
    return None


def _owed(ctx: Context) -> list[Deliverable]:
    contact = ctx.actor.contact
    assert contact is not None
    repo = Deliverables(ctx.session)
    return [d for d in repo.all(ctx.campaign) if repo.owes(d, contact.unit) and d.kind is not DeliverableKind.CONTACTS]


def _deliverable(ctx: Context, name: str) -> Deliverable | None:
    owed = _owed(ctx)
    found = match_choice(name, [d.name for d in owed])
    return next((d for d in owed if d.name == found.value), None)


def _own_issue(ctx: Context, number: int) -> Issue | str:
    contact = ctx.actor.contact
    assert contact is not None
    issue = Issues(ctx.session).by_number(ctx.campaign, number)
    if issue is None:
        return f"没有编号为 #{number} 的问题。"
    if issue.unit_id != contact.unit_id:
        return f"#{number} 不是「{contact.unit.name}」的问题，佐证材料只能附在本单位的问题上。"
    return issue


def _pending(ctx: Context) -> list[Material]:
    return list(
        ctx.session.scalars(
            select(Material)
            .where(
                Material.campaign_id == ctx.campaign.id,
                Material.platform == ctx.message.platform,
                Material.external_id == ctx.message.user_id,
                Material.target.is_(None),
            )
            .order_by(Material.id)
        )
    )


def has_pending(ctx: Context) -> bool:
    return bool(_pending(ctx))


def _recent_target(ctx: Context) -> Target | None:
    """What the sender did within RECENT: filed a file, reported progress, or marked a deliverable sent."""
    contact = ctx.actor.contact
    assert contact is not None
    since = ctx.now - RECENT
    candidates: list[tuple[Any, Target]] = []
    last = ctx.session.scalars(
        select(Material)
        .where(
            Material.campaign_id == ctx.campaign.id,
            Material.platform == ctx.message.platform,
            Material.external_id == ctx.message.user_id,
            Material.filed_at >= since,
        )
        .order_by(Material.filed_at.desc(), Material.id.desc())
        .limit(1)
    ).first()
    if last is not None and last.target is not None:
        candidates.append((last.filed_at, _target_of(ctx, last)))
    progress = ctx.session.scalars(
        select(Progress)
        .where(Progress.contact_id == contact.id, Progress.created_at >= since)
        .order_by(Progress.id.desc())
        .limit(1)
    ).first()
    if progress is not None:
        candidates.append((progress.created_at, Target(MaterialTarget.ISSUE, issue=progress.issue)))
    submission = ctx.session.scalars(
        select(Submission)
        .where(Submission.contact_id == contact.id, Submission.submitted_at >= since)
        .order_by(Submission.submitted_at.desc())
        .limit(1)
    ).first()
    if submission is not None:
        deliverable = ctx.session.get(Deliverable, submission.deliverable_id)
        if deliverable is not None and deliverable.kind is not DeliverableKind.CONTACTS:
            candidates.append((submission.submitted_at, Target(MaterialTarget.DELIVERABLE, deliverable=deliverable)))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _target_of(ctx: Context, material: Material) -> Target:
    """Where a filed material is."""
    assert material.target is not None
    deliverable = ctx.session.get(Deliverable, material.deliverable_id) if material.deliverable_id else None
    issue = ctx.session.get(Issue, material.issue_id) if material.issue_id else None
    return Target(material.target, deliverable, issue)


def _issue_words(number: int) -> list[str]:
    return [
        f"#{number}",
        f"# {number}",
        f"{number}号",
        f"{number}号问题",
        f"问题{number}",
        f"第{number}条",
        f"第{number}号",
        f"#{number}号",
    ]


def ask(ctx: Context) -> str:
    """Ask what the waiting files are for, with numbered choices; kept as an offer in the dialog state."""
    contact = ctx.actor.contact
    assert contact is not None
    waiting = _pending(ctx)
    owed = _owed(ctx)
    issues = [i for i in Issues(ctx.session).open_for_unit(ctx.campaign, contact.unit)][:LISTED_ISSUES]
    options: list[dict[str, Any]] = []
    lines = [f"这{'个' if len(waiting) == 1 else f' {len(waiting)} 个'}文件是什么材料？请回复编号："]
    for index, deliverable in enumerate(owed, 1):
        lines.append(f"{index}. 报送「{deliverable.name}」")
        options.append(
            {
                "words": [
                    str(index),
                    f"报送{index}",
                    f"报送 {index}",
                    f"第{index}项",
                    deliverable.name,
                    f"报送{deliverable.name}",
                    f"报送 {deliverable.name}",
                ],
                "run": f"材料 报送 {deliverable.name}",
            }
        )
    weekly = len(owed) + 1
    lines.append(f"{weekly}. 本周周报的附件")
    options.append({"words": [str(weekly), "周报", "周报附件", "本周周报"], "run": "材料 周报"})
    if issues:
        lines.append("或问题的佐证材料（回复问题编号）：" + "、".join(f"#{i.number} {i.title}" for i in issues))
        options.extend({"words": _issue_words(i.number), "run": f"材料 #{i.number}"} for i in issues)
    saved = Dialogs(ctx.session).get(ctx.campaign, ctx.message.platform, ctx.message.user_id)
    if saved is not None and saved.kind != OFFER_KIND:  # a dialog in progress (周报, 问题 …) is not dropped
        lines.append(
            "您正在填写的内容保留着；填完后发送「材料 报送 事项名」「材料 #编号」或「材料 周报」说明这个文件的用途。"
        )
        return "\n".join(lines)
    lines.append("（回复「取消」不保存）")
    question = "\n".join(lines)
    options.append({"words": ["取消", "不要了", "删除"], "run": "材料 取消"})
    Dialogs(ctx.session).save(
        ctx.campaign,
        ctx.message.platform,
        ctx.message.user_id,
        kind=OFFER_KIND,
        fields={OFFER: {"question": question, "options": options}},
        now=ctx.now,
    )
    return question


def _held_evidence(ctx: Context) -> Target | None:
    saved = Dialogs(ctx.session).get(ctx.campaign, ctx.message.platform, ctx.message.user_id)
    held = (saved.fields or {}).get(EVIDENCE) if saved is not None and saved.kind == OFFER_KIND else None
    if not held:
        return None
    issue = _own_issue(ctx, int(held["number"]))
    return Target(MaterialTarget.ISSUE, issue=issue) if isinstance(issue, Issue) else None


# --- filing ---------------------------------------------------------------------------------------------


def _current(ctx: Context, unit_id: int, deliverable: Deliverable) -> list[Material]:
    return list(
        ctx.session.scalars(
            select(Material)
            .where(
                Material.deliverable_id == deliverable.id, Material.unit_id == unit_id, Material.replaced_at.is_(None)
            )
            .order_by(Material.id)
        )
    )


def file_pending(ctx: Context, target: Target, *, mode: str | None = None) -> Reply:
    """File every waiting file of the sender under `target`. A deliverable the unit already sent files for
    earlier (not in this burst) asks first whether to replace them or add to them, unless `mode` says."""
    contact = ctx.actor.contact
    assert contact is not None
    waiting = _pending(ctx)
    if not waiting:
        return Reply.of("没有等待说明用途的文件。请先发送文件或图片，再说明是哪项材料。")
    dialogs = Dialogs(ctx.session)
    where = (ctx.campaign, ctx.message.platform, ctx.message.user_id)
    if target.deliverable is not None:
        earlier = _current(ctx, contact.unit_id, target.deliverable)
        burst = any(m.filed_at and m.filed_at >= ctx.now - RECENT for m in earlier)
        if earlier and mode is None and not burst:
            name = target.deliverable.name
            question = (
                f"「{contact.unit.name}」已报送「{name}」的材料 {len(earlier)} 份"
                f"（{'、'.join(m.name for m in earlier[:3])}）。这次的文件是替换原文件，还是追加？"
                "回复「替换」或「追加」。"
            )
            offer = {
                "question": question,
                "options": [
                    {"words": ["替换", "1", "替换原文件", "覆盖", "更新"], "run": f"材料 替换 {name}"},
                    {"words": ["追加", "2", "添加", "增加", "补充", "追加材料"], "run": f"材料 追加 {name}"},
                    {"words": ["取消"], "run": "材料 取消"},
                ],
            }
            dialogs.save(*where, kind=OFFER_KIND, fields={OFFER: offer}, now=ctx.now)
            return Reply.of(question)
        if mode == "replace":
            for material in earlier:
                material.replaced_at = ctx.now
    held = _held_evidence(ctx)
    saved = dialogs.get(*where)
    if saved is not None and saved.kind == OFFER_KIND:  # the question about these files is answered
        dialogs.clear(*where)
    week = ctx.week()
    for material in waiting:
        material.target, material.filed_at = target.kind, ctx.now
        material.deliverable_id = target.deliverable.id if target.deliverable else None
        material.issue_id = target.issue.id if target.issue else None
        material.iso_year, material.iso_week = week if target.kind is MaterialTarget.WEEKLY else (None, None)
    ctx.session.flush()
    ctx.audit(
        "material.file",
        target=target.kind.value,
        count=len(waiting),
        deliverable=target.deliverable.name if target.deliverable else None,
        issue=target.issue.number if target.issue else None,
        replaced=mode == "replace",
    )
    lines = [
        f"已作为{target.label(ctx)}保存 {len(waiting)} 个文件"
        + ("（已替换原文件）" if mode == "replace" else "")
        + f"，共 {_count(ctx, target, contact.unit_id)} 份。"
    ]
    if target.deliverable is not None:
        lines.extend(_mark_submitted(ctx, target.deliverable))
    reply = Reply.of(*lines)
    if held is not None and target.issue is not None and held.issue is not None and held.issue.id == target.issue.id:
        # The 已整改 that waited for this evidence goes through now.
        progress = declared("进展")
        reply = Reply.of(*reply.texts, *progress.run(ctx, progress.read(f"#{target.issue.number} 已整改")).texts)
    return reply


def _count(ctx: Context, target: Target, unit_id: int) -> int:
    query = select(func.count(Material.id)).where(
        Material.campaign_id == ctx.campaign.id, Material.replaced_at.is_(None)
    )
    if target.deliverable is not None:
        query = query.where(Material.deliverable_id == target.deliverable.id, Material.unit_id == unit_id)
    elif target.issue is not None:
        query = query.where(Material.issue_id == target.issue.id)
    else:
        year, week = ctx.week()
        query = query.where(
            Material.unit_id == unit_id,
            Material.target == MaterialTarget.WEEKLY,
            Material.iso_year == year,
            Material.iso_week == week,
        )
    return int(ctx.session.scalar(query) or 0)


def _mark_submitted(ctx: Context, deliverable: Deliverable) -> list[str]:
    """The files are the submission: record it when the unit had not marked it sent."""
    contact = ctx.actor.contact
    assert contact is not None
    if Deliverables(ctx.session).submission(deliverable, contact.unit) is not None:
        return []
    late = submit(ctx, deliverable).late
    return [f"已登记「{contact.unit.name}」报送「{deliverable.name}」" + ("（已逾期）" if late else "") + "。"]


def submit(ctx: Context, deliverable: Deliverable) -> Submission:
    """Record (and audit) that the sender's unit submitted `deliverable` now — by `报送` or by sending its files."""
    contact = ctx.actor.contact
    assert contact is not None
    late = ctx.today > deliverable.due
    submission = Submission(
        deliverable_id=deliverable.id, unit_id=contact.unit_id, contact_id=contact.id, submitted_at=ctx.now, late=late
    )
    ctx.session.add(submission)
    ctx.session.flush()
    ctx.audit(
        "deliverable.submit", entity="submission", entity_id=submission.id, deliverable=deliverable.name, late=late
    )
    return submission


def discard_pending(ctx: Context) -> int:
    """Drop the sender's waiting files (the stored content stays if anything else uses it)."""
    waiting = _pending(ctx)
    for material in waiting:
        ctx.session.delete(material)
    ctx.session.flush()
    return len(waiting)


# --- evidence for 销号 ------------------------------------------------------------------------------------


def evidence_needed(campaign: Campaign, issue: Issue) -> bool:
    return campaign.evidence_required or (issue.focus_area or "") in (campaign.evidence_focus_areas or [])


def evidence_count(ctx: Context, issue: Issue) -> int:
    return int(
        ctx.session.scalar(
            select(func.count(Material.id)).where(Material.issue_id == issue.id, Material.replaced_at.is_(None))
        )
        or 0
    )


def before_progress(ctx: Context, issue: Issue, rectifying: bool) -> Reply | None:
    """Called by 进展 before it records anything: files waiting for a purpose go with this issue; an 已整改
    that needs evidence and has none is held (None: go on)."""
    notes: list[str] = []
    if has_pending(ctx):
        notes.extend(file_pending(ctx, Target(MaterialTarget.ISSUE, issue=issue)).texts)
    if not rectifying or not evidence_needed(ctx.campaign, issue) or evidence_count(ctx, issue):
        return Reply.of(*notes) if notes else None
    question = (
        f"#{issue.number}「{issue.title}」需要佐证材料才能销号：请发送整改前后的照片或佐证文件"
        f"（图片、PDF、Word 等），收到后即按「已整改」销号。"
    )
    Dialogs(ctx.session).save(
        ctx.campaign,
        ctx.message.platform,
        ctx.message.user_id,
        kind=OFFER_KIND,
        fields={OFFER: {"question": question, "options": []}, EVIDENCE: {"number": issue.number}},
        now=ctx.now,
    )
    ctx.audit("issue.evidence_wanted", entity="issue", entity_id=issue.id, number=issue.number)
    return Reply.of(*notes, question)


# --- the 材料 command -------------------------------------------------------------------------------------


def _read_material(rest: str) -> Args:
    return {"rest": strip_punct(normalize(rest))}


@command(
    "材料",
    roles=LIAISON,
    order=49,
    read=_read_material,
    writes=lambda args: bool(args.get("rest")),
    usage="材料 [报送 事项名 | #编号 | 周报] — 发送文件后说明它是什么材料；只发「材料」查看本单位已报送的文件",
)
def file_material(ctx: Context, args: Args) -> Reply:
    rest: str = args.get("rest") or ""
    if not rest:
        return _unit_listing(ctx)
    if rest == "取消":
        count = discard_pending(ctx)
        Dialogs(ctx.session).clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
        return Reply.of(f"已取消，{count} 个文件没有保存。" if count else "没有等待说明用途的文件。")
    for word, mode in (("替换", "replace"), ("追加", "add")):
        if rest.startswith(word):
            deliverable = _deliverable(ctx, rest[len(word) :].strip())
            if deliverable is None:
                return Reply.of("没有找到这个报送事项，请重新发送文件。")
            return file_pending(ctx, Target(MaterialTarget.DELIVERABLE, deliverable=deliverable), mode=mode)
    number = read_bare_reference(rest)
    if number is not None and isinstance(issue := _own_issue(ctx, number), str):
        return Reply.of(issue)  # another unit's issue, or none at all
    target = read_target(ctx, rest) or read_target(ctx, f"报送 {rest}")
    if target is None:
        return Reply.of(f"没有看懂「{rest[:20]}」是哪项材料。" + (ask(ctx) if has_pending(ctx) else ""))
    return file_pending(ctx, target)


def _unit_listing(ctx: Context) -> Reply:
    contact = ctx.actor.contact
    assert contact is not None
    rows = ctx.session.scalars(
        select(Material)
        .where(Material.unit_id == contact.unit_id, Material.target.is_not(None), Material.replaced_at.is_(None))
        .order_by(Material.id)
    ).all()
    if not rows:
        return Reply.of(f"「{contact.unit.name}」还没有通过督办报送文件。直接发送文件或图片即可。")
    lines = [f"「{contact.unit.name}」已报送的文件（{len(rows)} 份）："]
    for material in rows[-20:]:
        when = material.received_at.astimezone(ctx.now.tzinfo)
        lines.append(f"· {material.name}（{when:%m-%d %H:%M}，{_target_of(ctx, material).label(ctx)}）")
    return Reply.of("\n".join(lines))


@command(
    "材料",
    roles=COORDINATOR,
    order=49,
    read=_read_material,
    writes=False,
    usage="材料 <事项> — 各单位报送该事项的文件份数和尚未报送的单位",
)
def materials_summary(ctx: Context, args: Args) -> Reply:
    deliverables = [d for d in Deliverables(ctx.session).all(ctx.campaign) if d.kind is not DeliverableKind.CONTACTS]
    if not deliverables:
        return Reply.of("方案里没有报送事项。")
    name = args.get("rest") or ""
    found = match_choice(name, [d.name for d in deliverables]) if name else None
    chosen = next((d for d in deliverables if found is not None and d.name == found.value), None)
    if chosen is None:
        listing = "\n".join(f"{i}. {d.name}（{_files_line(ctx, d)}）" for i, d in enumerate(deliverables, 1))
        head = f"没有找到报送事项「{name}」。" if name else ""
        return Reply.of(f"{head}请发送「材料 事项名」，各事项收到的文件：\n{listing}")
    return Reply.of(
        deliverable_summary(
            ctx.session, ctx.campaign, chosen, link=ctx.dashboard_link(f"/dashboard/materials/{chosen.id}")
        )
    )


def _files_line(ctx: Context, deliverable: Deliverable) -> str:
    counts = files_by_unit(ctx.session, deliverable)
    return f"{len(counts)} 个单位、{sum(counts.values())} 份文件"


def files_by_unit(session: Session, deliverable: Deliverable) -> dict[int, int]:
    rows = session.execute(
        select(Material.unit_id, func.count(Material.id))
        .where(Material.deliverable_id == deliverable.id, Material.replaced_at.is_(None))
        .group_by(Material.unit_id)
    )
    return {unit_id: int(count) for unit_id, count in rows}


def deliverable_summary(session: Session, campaign: Campaign, deliverable: Deliverable, *, link: str | None) -> str:
    """`材料 <事项>`: how many units sent files, how many files, and who has not."""
    units: Sequence[Unit] = [
        u for u in Units(session).all(campaign) if not u.retired and Deliverables.owes(deliverable, u)
    ]
    counts = files_by_unit(session, deliverable)
    submitted = Deliverables(session).submissions(campaign).get(deliverable.id, set())
    with_files = [u for u in units if counts.get(u.id)]
    marked_only = [u for u in units if not counts.get(u.id) and u.id in submitted]
    missing = [u for u in units if not counts.get(u.id) and u.id not in submitted]
    lines = [
        f"「{deliverable.name}」（{deliverable.due:%m月%d日}前）：{len(with_files)}/{len(units)} 个单位"
        f"已报送文件，共 {sum(counts.get(u.id, 0) for u in units)} 份。"
    ]
    if with_files:
        lines.append("已报送：" + "、".join(f"{u.name}（{counts[u.id]}份）" for u in with_files))
    if marked_only:
        lines.append("已登记报送但没有通过督办发送文件：" + "、".join(u.name for u in marked_only))
    lines.append("尚未报送：" + ("、".join(u.name for u in missing) if missing else "无"))
    if link:
        lines.append(f"下载全部文件：{link}")
    return "\n".join(lines)
