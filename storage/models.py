"""The campaign data model (a plan fills it: docs/plan-format.md) as SQLAlchemy 2.0 typed ORM classes.

English identifiers, Chinese only in user text. The rules that matter are database constraints:
one weekly report per unit per ISO week, unique issue numbers per campaign, one chat identity per
platform user and campaign, one record per processed platform message, one outbox row per reminder key.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.statuses import ContactStatus, DeliverableKind, IssueStatus, OutboxStatus, TaskDeadlineKind, TaskRole

# Explicit constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no timezone type and hands back naive values; storing UTC and re-attaching it on the way
    out keeps comparisons (is this report late? is this reminder due?) identical on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


INTEGER_MAX = 2**31 - 1  # the largest value of an INTEGER column (ids, issue and task numbers, counts)
ID_LENGTH = 128  # characters of a platform's user id or message id; channels refuse longer ones


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings with a CHECK, so adding a value later is a simple migration on both databases.
    return Enum(
        cls,
        native_enum=False,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        create_constraint=True,
        name=cls.__name__.lower(),
    )


class Campaign(Base):
    __tablename__ = "campaigns"
    # A unique index rather than a constraint: SQLite adds one to an existing table without copying it.
    __table_args__ = (Index("uq_campaigns_alias", "alias", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # What a liaison serving several campaigns types before a command: 【三年行动】周报 … (docs/chat-grammar.md).
    alias: Mapped[str | None] = mapped_column(String(40))
    # No longer served: no messages routed to it, no reminders, not offered; its data stays for the record.
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The campaign this one reports up to, and which of the parent's units it is (docs/plan-format.md, "Nesting").
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    parent_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL", use_alter=True, name="fk_campaigns_parent_unit_id_units")
    )
    issuer: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    target_rate: Mapped[float | None]
    target_by: Mapped[date | None] = mapped_column(Date)
    focus_areas: Mapped[list[Any]] = mapped_column(default=list)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    report_weekday: Mapped[int] = mapped_column(Integer, default=4)  # 0 = Monday … 4 = Friday
    report_remind_at: Mapped[list[Any]] = mapped_column(default=lambda: ["09:00", "11:00"])
    report_due: Mapped[str] = mapped_column(String(5), default="12:00")
    deadline_nudges_days: Mapped[list[Any]] = mapped_column(default=lambda: [7, 3, 1, 0])
    holidays: Mapped[list[Any]] = mapped_column(default=list)  # ISO dates
    workdays: Mapped[list[Any]] = mapped_column(default=list)
    public_naming: Mapped[bool] = mapped_column(Boolean, default=True)
    notice_receipt_reminder_hours: Mapped[int | None] = mapped_column(Integer)  # None: receipts are never chased
    # 已整改 waits for at least one file (photo, scan) on the issue: for every issue, or those of these 整治重点.
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_focus_areas: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    phases: Mapped[list[Phase]] = relationship(back_populates="campaign", order_by="Phase.position")
    units: Mapped[list[Unit]] = relationship(
        back_populates="campaign", order_by="Unit.position", foreign_keys="Unit.campaign_id"
    )
    deliverables: Mapped[list[Deliverable]] = relationship(back_populates="campaign", order_by="Deliverable.position")


class Phase(Base):
    __tablename__ = "phases"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    start: Mapped[date | None] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="phases")


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    groups: Mapped[list[Any]] = mapped_column(default=list)  # collective names, e.g. 各乡镇〔街道〕
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)  # dropped from the plan, history kept

    campaign: Mapped[Campaign] = relationship(back_populates="units", foreign_keys=[campaign_id])
    contacts: Mapped[list[Contact]] = relationship(back_populates="unit", order_by="Contact.id")


class Contact(Base):
    """A unit's liaison officer (联系人, seed 000 附件1), pre-listed by the plan or registered in chat."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)  # doubles as the 登记号 of a registration
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(100))  # 职务
    phone: Mapped[str | None] = mapped_column(String(30), index=True)
    wechat_or_email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ContactStatus] = mapped_column(_enum(ContactStatus), default=ContactStatus.PENDING)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    unit: Mapped[Unit] = relationship(back_populates="contacts")
    identities: Mapped[list[ChatIdentity]] = relationship(back_populates="contact")


class Coordinator(Base):
    """Someone in the lead office: sees everything, approves registrations, logs in to the dashboard."""

    __tablename__ = "coordinators"
    __table_args__ = (UniqueConstraint("campaign_id", "name"), UniqueConstraint("login"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))
    login: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]

    identities: Mapped[list[ChatIdentity]] = relationship(back_populates="coordinator")


class DashboardSession(Base):
    """Someone signed in to the dashboard. The cookie carries a random token, this row its SHA-256: the
    session ends when the row goes (logout, a new password, `duban user sessions --revoke`) or at `expires_at`,
    whatever the cookie still says.

    A password sign-in is a coordinator's; a WeCom or DingTalk sign-in names the platform user it came from
    (`platform`, `external_id`), a coordinator or a liaison (read-only, their own unit), and holds only while
    the plan still maps that user to them."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        CheckConstraint("(coordinator_id IS NULL) <> (contact_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str | None] = mapped_column(String(16))  # None: signed in with a password
    external_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    address: Mapped[str | None] = mapped_column(String(64))  # where the login came from, for `user sessions`
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    coordinator: Mapped[Coordinator | None] = relationship()
    contact: Mapped[Contact | None] = relationship()


class UsedSignInCode(Base):
    """A WeCom or DingTalk sign-in code already exchanged: a code is good for one sign-in, even if the platform
    would answer for it again, or the address with it was copied along with the browser's cookie."""

    __tablename__ = "used_sign_in_codes"
    __table_args__ = (UniqueConstraint("platform", "code_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    code_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)  # platforms' codes live 5 minutes; kept a little longer


class ChatIdentity(Base):
    """A platform user id (WeCom userid, DingTalk staffId; the simulator uses WeCom's namespace)."""

    __tablename__ = "chat_identities"
    __table_args__ = (
        UniqueConstraint("campaign_id", "platform", "external_id"),
        CheckConstraint("(contact_id IS NULL) <> (coordinator_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]

    contact: Mapped[Contact | None] = relationship(back_populates="identities")
    coordinator: Mapped[Coordinator | None] = relationship(back_populates="identities")


class Group(Base):
    """A chat group that receives deadline nudges through a group robot webhook."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(32))  # wecom_robot / wecom_aibot / dingtalk_robot / sim
    webhook: Mapped[str | None] = mapped_column(Text)  # the group's address: a robot webhook, or a wecom_aibot chatid
    secret: Mapped[str | None] = mapped_column(String(200))


class Deliverable(Base):
    __tablename__ = "deliverables"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    recipient: Mapped[str | None] = mapped_column(String(200))  # 报…司法局 / 区厅
    unit_names: Mapped[list[Any] | None] = mapped_column(JSON)  # None: every unit owes it
    kind: Mapped[DeliverableKind | None] = mapped_column(_enum(DeliverableKind))  # None: an ordinary one
    position: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="deliverables")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("deliverable_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class Issue(Base):
    """One row of the 问题清单 (seed 000 附件2) plus focus area and status."""

    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
        Index("ix_issues_campaign_unit_status_due", "campaign_id", "unit_id", "status", "due"),  # covers 汇总's counts
        # 逾期: overdue issues counted from the index alone (status IN the open ones, due < today), and the
        # first of them listed by unit, due date and number without sorting the ledger.
        Index("ix_issues_campaign_status_due", "campaign_id", "status", "due"),
        Index("ix_issues_campaign_unit_due", "campaign_id", "unit_id", "due", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 序号 shown as #12
    year: Mapped[int] = mapped_column(Integer)  # 年度
    title: Mapped[str] = mapped_column(String(200))  # 线索名称
    source: Mapped[str] = mapped_column(String(50))  # 线索来源
    content: Mapped[str] = mapped_column(Text)  # 线索内容
    measures: Mapped[str] = mapped_column(Text)  # 整改措施
    goal: Mapped[str] = mapped_column(Text)  # 整改目标
    owner: Mapped[str] = mapped_column(String(100))  # 责任人
    due: Mapped[date] = mapped_column(Date, index=True)  # 完成时限
    due_text: Mapped[str | None] = mapped_column(String(50))  # as the liaison wrote it
    remark: Mapped[str | None] = mapped_column(Text)  # 备注
    focus_area: Mapped[str | None] = mapped_column(String(50))  # 整治重点
    status: Mapped[IssueStatus] = mapped_column(_enum(IssueStatus), default=IssueStatus.OPEN)
    percent: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    rectified_at: Mapped[datetime | None]

    unit: Mapped[Unit] = relationship()
    progress: Mapped[list[Progress]] = relationship(back_populates="issue", order_by="Progress.id")


class Progress(Base):
    """整改进展: append-only; the issue row carries the latest status."""

    __tablename__ = "progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    status: Mapped[IssueStatus] = mapped_column(_enum(IssueStatus))
    percent: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    issue: Mapped[Issue] = relationship(back_populates="progress")
    contact: Mapped[Contact | None] = relationship()


class WeeklyReport(Base):
    __tablename__ = "weekly_reports"
    __table_args__ = (
        UniqueConstraint("unit_id", "iso_year", "iso_week"),
        # One week's reports of a campaign, or of every campaign below a parent (storage.repos.Rollup).
        Index("ix_weekly_reports_campaign_week", "campaign_id", "iso_year", "iso_week"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    iso_year: Mapped[int] = mapped_column(Integer)
    iso_week: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    revisions: Mapped[int] = mapped_column(Integer, default=1)

    contact: Mapped[Contact | None] = relationship()  # who sent the current text


class StatsReport(Base):
    """A unit's figures for one 整治重点 column of 附件3 (处理人数, 党纪政务处分人数)."""

    __tablename__ = "stats_reports"
    __table_args__ = (
        UniqueConstraint("unit_id", "focus_area"),
        CheckConstraint("handled >= 0 AND disciplined >= 0", name="non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    focus_area: Mapped[str] = mapped_column(String(50))
    handled: Mapped[int] = mapped_column(Integer, default=0)  # 处理人数
    disciplined: Mapped[int] = mapped_column(Integer, default=0)  # 党纪政务处分人数
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]


class Task(Base):
    """A numbered task of a standing task division (seed 004)."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    deadline_kind: Mapped[TaskDeadlineKind] = mapped_column(_enum(TaskDeadlineKind))
    deadline_text: Mapped[str | None] = mapped_column(String(100))
    due: Mapped[date | None] = mapped_column(Date)  # for date / date_then_ongoing
    yearly_month: Mapped[int | None] = mapped_column(Integer)
    yearly_day: Mapped[int | None] = mapped_column(Integer)
    unmatched_units: Mapped[list[Any]] = mapped_column(default=list)

    units: Mapped[list[TaskUnit]] = relationship(back_populates="task", cascade="all, delete-orphan")


class TaskUnit(Base):
    __tablename__ = "task_units"
    __table_args__ = (UniqueConstraint("task_id", "unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    role: Mapped[TaskRole] = mapped_column(_enum(TaskRole))

    task: Mapped[Task] = relationship(back_populates="units")


class TaskProgress(Base):
    """任务进展: append-only. A row with `done` completes the unit's share of the task; for a yearly task,
    that year's (`period`), so that next year's occurrence is owed again."""

    __tablename__ = "task_progress"
    __table_args__ = (Index("ix_task_progress_task_unit", "task_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    period: Mapped[int | None] = mapped_column(Integer)  # the year, for a yearly task
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class Notice(Base):
    """A coordinator's 通知 to the liaisons (of every unit, or of the units still missing something), numbered per
    campaign. Its receipts are the liaisons it went to; each is acknowledged when they answer 收到 (已阅, 好的 …)."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 通知〔3〕
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(200))  # 全部单位 / 未报送「自查整改报告」的单位
    unreached: Mapped[list[Any]] = mapped_column(default=list)  # names of audience units with no liaison to write to
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime]
    remind_at: Mapped[datetime | None]  # when liaisons who have not acknowledged are reminded, once (None: never)

    coordinator: Mapped[Coordinator | None] = relationship()
    receipts: Mapped[list[NoticeReceipt]] = relationship(back_populates="notice", order_by="NoticeReceipt.id")


class NoticeReceipt(Base):
    """A liaison a notice went to, and when they acknowledged it (None: not yet)."""

    __tablename__ = "notice_receipts"
    __table_args__ = (UniqueConstraint("notice_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    acknowledged_at: Mapped[datetime | None]

    notice: Mapped[Notice] = relationship(back_populates="receipts")
    contact: Mapped[Contact] = relationship()


class DialogState(Base):
    """A guided dialog in progress (the bot asks for one missing field at a time); survives restarts."""

    __tablename__ = "dialog_states"
    __table_args__ = (UniqueConstraint("campaign_id", "platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class CampaignChoice(Base):
    """Which campaign a person who belongs to several is talking to today, and the question the bot asked when a
    message did not say (docs/chat-grammar.md, "Several campaigns"). One row per platform user, not per campaign."""

    __tablename__ = "campaign_choices"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # The campaign picked, and the day (in its timezone) the pick holds for; both None until one is picked.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    day: Mapped[date | None] = mapped_column(Date)
    # The question waiting for an answer: the message it keeps, the campaigns offered, when it was asked.
    question: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """Who changed what, when, from which message — including refused attempts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(160))  # platform:userid, cli, dashboard:login
    action: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str | None] = mapped_column(String(48))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProcessedMessage(Base):
    """A platform message already handled; a retried delivery gets the stored replies, not a second effect.

    A message is known by where it came from (wecom, dingtalk, sim), who sent it and its id: an id is only the
    platform's word about one sender's message, so another sender (or the simulator) reusing it is another message.
    """

    __tablename__ = "processed_messages"
    __table_args__ = (UniqueConstraint("platform", "sender", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    received_at: Mapped[datetime] = mapped_column(index=True)
    replies: Mapped[list[Any]] = mapped_column(default=list)


class CallbackSignature(Base):
    """A callback signature already accepted. DingTalk's signs only the timestamp, so until that timestamp leaves
    the skew window the same signature would pass with any body: it is good for the body it first came with."""

    __tablename__ = "callback_signatures"
    __table_args__ = (UniqueConstraint("platform", "signature"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))
    body_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)  # when its timestamp is too old to be accepted anyway


class OutboxMessage(Base):
    """A message the bot sends outside a reply: notifications, reminders, nudges (a durable queue)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_outbox_status_due", "status", "not_before"),
        # The delivery worker claims due rows in (channel, target, id) order: read in order, not sorted each round.
        Index("ix_outbox_status_route", "status", "channel", "target", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    key: Mapped[str | None] = mapped_column(String(255))  # rule:subject:recipient:occurrence; None = ad hoc
    channel: Mapped[str] = mapped_column(String(32))  # sim / wecom_app / wecom_robot / dingtalk_robot / …
    target: Mapped[str] = mapped_column(String(255))  # user id or group name
    text: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str | None] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(default=list)  # mobiles to @
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class AccessToken(Base):
    """A platform access token shared by every process (WeCom and DingTalk allow few fetches a day)."""

    __tablename__ = "access_tokens"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)  # e.g. wecom:<corpid>:<agentid>
    token: Mapped[str] = mapped_column(String(1024))
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SchedulerState(Base):
    """How far the reminder engine has looked, per campaign: moments after the watermark are still to do.

    Kept in the database rather than in an APScheduler job store, so a restarted or newly elected
    scheduler knows exactly which moments it missed (and can send or drop them by the grace period).
    """

    __tablename__ = "scheduler_state"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    watermark: Mapped[datetime]
    updated_at: Mapped[datetime]


class MaterialTarget(enum.StrEnum):
    DELIVERABLE = "deliverable"  # a 报送事项's material (自查整改报告, 统计表 …)
    ISSUE = "issue"  # evidence for an issue (整改前后照片, 佐证材料)
    WEEKLY = "weekly"  # an attachment to a week's 周报


class StoredFile(Base):
    """One file's content, kept once however often it is sent (content-addressed by SHA-256).

    `location` says where the bytes are: `database` (stored_file_chunks, so every replica and pg_dump have them)
    or `local` (a directory of the process, storage.files.LocalFiles)."""

    __tablename__ = "stored_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # pdf, docx, jpg … as read from the content
    location: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class StoredFileChunk(Base):
    __tablename__ = "stored_file_chunks"

    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Material(Base):
    """A file a liaison sent in chat, and what it is for. `target` None: waiting for the sender to say."""

    __tablename__ = "materials"
    __table_args__ = (Index("ix_materials_sender", "campaign_id", "platform", "external_id", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), index=True)
    name: Mapped[str] = mapped_column(String(120))  # the sender's file name, sanitised
    size: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime]
    target: Mapped[MaterialTarget | None] = mapped_column(_enum(MaterialTarget))
    deliverable_id: Mapped[int | None] = mapped_column(ForeignKey("deliverables.id", ondelete="CASCADE"), index=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    iso_year: Mapped[int | None] = mapped_column(Integer)
    iso_week: Mapped[int | None] = mapped_column(Integer)
    filed_at: Mapped[datetime | None]  # when it was given its target
    replaced_at: Mapped[datetime | None]  # a later file for the same deliverable replaced it

    unit: Mapped[Unit] = relationship()
    contact: Mapped[Contact | None] = relationship()
