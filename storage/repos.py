"""Repositories: a session wrapped with the verbs the handlers, the CLI and the channels use.

Every method works inside the caller's transaction; none commits. Times are aware datetimes.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar, TypeVarTuple, cast
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Select, String, Table, bindparam, case, delete, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import ReturningInsert

from core.issues import IssueRecord
from core.roles import Role
from core.statuses import ContactStatus, DeliverableKind, IssueStatus, OutboxStatus
from storage.models import (
    INTEGER_MAX,
    AccessToken,
    AuditEntry,
    CallbackSignature,
    Campaign,
    CampaignChoice,
    ChatIdentity,
    Contact,
    Coordinator,
    DashboardSession,
    Deliverable,
    DialogState,
    Issue,
    Material,
    Notice,
    NoticeReceipt,
    OutboxMessage,
    ProcessedMessage,
    Progress,
    StatsReport,
    Submission,
    Task,
    TaskProgress,
    Unit,
    UsedSignInCode,
    WeeklyReport,
)


def fits_integer(value: int) -> bool:
    """Whether an id or number a user typed can name a row at all: PostgreSQL refuses to compare an INTEGER
    column with 2**31 (and SQLite with 2**63), so a larger number is answered "no such row" without asking."""
    return -INTEGER_MAX - 1 <= value <= INTEGER_MAX


def name_key(text: str) -> str:
    """How unit names are compared: NFKC (full/half width), no spaces or brackets, case-folded."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if not ch.isspace() and ch not in "()[]【】〔〕《》<>").casefold()


class NamedUnit(Protocol):
    """A unit as far as its names go: a `Unit`, or a plain row of one (汇总 reads thousands without the ORM)."""

    @property
    def name(self) -> str: ...

    @property
    def aliases(self) -> Sequence[str]: ...


_Named = TypeVar("_Named", bound=NamedUnit)


class Repo:
    def __init__(self, session: Session) -> None:
        self.session = session


# Statements every message runs are built once, with bound parameters: building a select() and computing its
# cache key cost about as much as executing it on SQLite. SQLAlchemy caches the compiled SQL either way.
def _param(name: str) -> Any:
    return bindparam(name, unique=False)


_Columns = TypeVarTuple("_Columns")


class PerUnit(Generic[*_Columns]):
    """A statement built once, for every unit or for one (bound as :unit_id). Building a select with its
    expressions and cache key took about a third of a liaison's 汇总 (bench/NOTES.md)."""

    def __init__(self, statement: Select[*_Columns], unit_column: ColumnElement[int] | QueryableAttribute[int]) -> None:
        self.every = statement
        self.one = statement.where(unit_column == _param("unit_id"))

    def __call__(self, unit_id: int | None) -> Select[*_Columns]:
        return self.every if unit_id is None else self.one


class Campaigns(Repo):
    _named = select(Campaign).where(Campaign.name == _param("name")).limit(1)
    _newest = select(Campaign).order_by(Campaign.id.desc()).limit(1)
    _serving = select(Campaign).where(Campaign.archived.is_(False)).order_by(Campaign.id)  # runs for every message

    def current(self, name: str | None = None) -> Campaign | None:
        """The campaign the bot serves: the named one, else the most recently created."""
        if name:
            return self.session.scalars(self._named, {"name": name}).first()
        return self.session.scalars(self._newest).first()

    def serving(self, name: str | None = None) -> Sequence[Campaign]:
        """The campaigns this deployment serves: only the named one (DUBAN_CAMPAIGN, for deployments that run one
        process per campaign), else every campaign not archived, oldest first."""
        if name:
            return self.session.scalars(self._named, {"name": name}).all()
        return self.session.scalars(self._serving).all()

    def every(self) -> Sequence[Campaign]:
        """Every campaign, archived ones too, oldest first (the command line lists and finds them all)."""
        return self.session.scalars(select(Campaign).order_by(Campaign.id)).all()

    def by_alias(self, alias: str) -> Campaign | None:
        return self.session.scalars(select(Campaign).where(Campaign.alias == alias).limit(1)).first()

    def children(self, campaign: Campaign) -> Sequence[Campaign]:
        """The campaigns that report up to this one (plan `campaign.parent`), in the order of their parent units."""
        return self.session.scalars(
            select(Campaign)
            .join(Unit, Unit.id == Campaign.parent_unit_id)
            .where(Campaign.parent_id == campaign.id, Campaign.archived.is_(False))
            .order_by(Unit.position, Campaign.id)
        ).all()

    def lock(self, campaign: Campaign) -> None:
        """Serialize writers that derive a value from the campaign's rows (the next issue number).

        PostgreSQL takes a row lock; SQLite already holds the database write lock (BEGIN IMMEDIATE).
        """
        self.session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())


MAX_CANDIDATES = 5  # unit names offered when what was typed fits several


class Units(Repo):
    _all = (
        select(Unit).where(Unit.campaign_id == _param("campaign_id"), Unit.retired.is_(False)).order_by(Unit.position)
    )

    def all(self, campaign: Campaign) -> Sequence[Unit]:
        return self.session.scalars(self._all, {"campaign_id": campaign.id}).all()

    def find(self, campaign: Campaign, name: str) -> Unit | None:
        """A unit by its name or an alias, ignoring width, spaces and brackets."""
        key = name_key(name)
        for unit in self.all(campaign):
            if key == name_key(unit.name) or any(key == name_key(a) for a in unit.aliases):
                return unit
        return None

    def resolve(self, campaign: Campaign, name: str) -> tuple[Unit | None, list[str]]:
        """The unit a person means, and the names it could be when it is not clear.

        Tried in order, each only when exactly one unit fits: the name or an alias; a name or alias that
        starts with what was typed (国土 → 国土空间规划科); one that contains it (调查监测) or that it contains
        (自然资源局法制科); a common abbreviation — its characters in order from the first (食安 → 食品安全科).
        """
        units = self.all(campaign)
        key = name_key(name)
        if not key:
            return None, []
        names = [(unit, [name_key(n) for n in (unit.name, *unit.aliases)]) for unit in units]
        tests: tuple[Callable[[str], bool], ...] = (
            lambda k: k == key,
            lambda k: k.startswith(key),
            lambda k: key in k or (len(k) > 1 and k in key),
            lambda k: k[0] == key[0] and _in_order(key, k),
        )
        for fits in tests:
            found = [unit for unit, keys in names if any(fits(k) for k in keys)]
            if len(found) == 1:
                return found[0], []
            if found:
                return None, [u.name for u in found][:MAX_CANDIDATES]
        return None, self.closest(campaign, name)

    def closest(self, campaign: Campaign, name: str, limit: int = 3) -> list[str]:
        """Names that look like what the user typed, best first (for "未找到单位" replies)."""
        choices: dict[str, str] = {}
        for unit in self.all(campaign):
            choices[name_key(unit.name)] = unit.name
            for alias in unit.aliases:
                choices.setdefault(name_key(alias), unit.name)
        matches = process.extract(name_key(name), list(choices), scorer=fuzz.WRatio, limit=limit * 3)
        names: list[str] = []
        for key, score, _ in matches:
            if score >= 40 and choices[key] not in names:
                names.append(choices[key])
        return names[:limit]


def _in_order(short: str, long: str) -> bool:
    """Every character of `short` appears in `long`, in the same order (an abbreviation)."""
    rest = iter(long)
    return len(short) > 1 and all(ch in rest for ch in short)


@dataclass(frozen=True)
class Actor:
    """Who sent a message, resolved from the platform identity (never from message text)."""

    identity: ChatIdentity | None
    contact: Contact | None
    coordinator: Coordinator | None

    @property
    def role(self) -> Role:
        if self.coordinator is not None:
            return Role.COORDINATOR
        if self.contact is None:
            return Role.STRANGER
        if self.contact.status is ContactStatus.ACTIVE:
            return Role.LIAISON
        if self.contact.status is ContactStatus.PENDING:
            return Role.PENDING
        return Role.STRANGER


class People(Repo):
    _actor = (
        select(ChatIdentity)
        .where(
            ChatIdentity.campaign_id == _param("campaign_id"),
            ChatIdentity.platform == _param("platform"),
            ChatIdentity.external_id == _param("external_id"),
        )
        # One joined query: this runs for every message, and selectinload spent three more round trips.
        .options(joinedload(ChatIdentity.contact).joinedload(Contact.unit), joinedload(ChatIdentity.coordinator))
    )

    def actor(self, campaign: Campaign, platform: str, external_id: str) -> Actor:
        identity = self.session.scalars(
            self._actor, {"campaign_id": campaign.id, "platform": platform, "external_id": external_id}
        ).first()
        if identity is None:
            return Actor(None, None, None)
        return Actor(identity, identity.contact, identity.coordinator)

    _memberships = (
        select(ChatIdentity)
        .where(
            ChatIdentity.campaign_id.in_(bindparam("campaign_ids", expanding=True)),
            ChatIdentity.platform == _param("platform"),
            ChatIdentity.external_id == _param("external_id"),
        )
        .options(joinedload(ChatIdentity.contact).joinedload(Contact.unit), joinedload(ChatIdentity.coordinator))
    )

    def memberships(self, campaign_ids: Sequence[int], platform: str, external_id: str) -> dict[int, Actor]:
        """Who the sender is in each of these campaigns where they have an identity (one query for all, built once:
        it runs for every message where several campaigns are served)."""
        identities = self.session.scalars(
            self._memberships,
            {"campaign_ids": list(campaign_ids), "platform": platform, "external_id": external_id},
        ).all()
        return {i.campaign_id: Actor(i, i.contact, i.coordinator) for i in identities}

    def in_several(
        self, campaign: Campaign, others: Sequence[int], people: Iterable[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which of these (platform, user id) — people of `campaign` — are also liaisons, applicants or coordinators
        in one of the `others` campaigns: a message to them names the campaign it is about."""
        wanted = set(people)
        if not others or not wanted:
            return set()
        found: set[tuple[str, str]] = set()
        ids = sorted({external_id for _platform, external_id in wanted})
        for start in range(0, len(ids), 500):
            rows = self.session.execute(
                select(ChatIdentity.platform, ChatIdentity.external_id)
                .outerjoin(Contact, Contact.id == ChatIdentity.contact_id)
                .where(
                    ChatIdentity.campaign_id.in_([o for o in others if o != campaign.id]),
                    ChatIdentity.external_id.in_(ids[start : start + 500]),
                    (ChatIdentity.coordinator_id.is_not(None))
                    | Contact.status.in_([ContactStatus.ACTIVE, ContactStatus.PENDING]),
                )
            ).all()
            found.update((platform, external_id) for platform, external_id in rows)
        return found & wanted

    def prelisted(self, unit: Unit, phone: str) -> Contact | None:
        return self.session.scalars(
            select(Contact).where(
                Contact.unit_id == unit.id, Contact.phone == phone, Contact.status == ContactStatus.PRELISTED
            )
        ).first()

    def contact(self, campaign: Campaign, contact_id: int) -> Contact | None:
        if not fits_integer(contact_id):
            return None
        contact = self.session.get(Contact, contact_id, options=[selectinload(Contact.unit)])
        return contact if contact is not None and contact.campaign_id == campaign.id else None

    def bind(
        self,
        campaign: Campaign,
        platform: str,
        external_id: str,
        *,
        now: datetime,
        contact: Contact | None = None,
        coordinator: Coordinator | None = None,
    ) -> ChatIdentity:
        """Point a platform user at a contact or a coordinator (one identity per platform user)."""
        identity = self.session.scalars(
            select(ChatIdentity).where(
                ChatIdentity.campaign_id == campaign.id,
                ChatIdentity.platform == platform,
                ChatIdentity.external_id == external_id,
            )
        ).first()
        if identity is None:
            identity = ChatIdentity(campaign_id=campaign.id, platform=platform, external_id=external_id, created_at=now)
            self.session.add(identity)
        identity.contact, identity.coordinator = contact, coordinator
        identity.contact_id = contact.id if contact else None
        identity.coordinator_id = coordinator.id if coordinator else None
        self.session.flush()
        return identity

    def active_liaisons(self, unit_ids: Iterable[int]) -> Sequence[Contact]:
        return self.session.scalars(
            select(Contact)
            .where(Contact.unit_id.in_(list(unit_ids)), Contact.status == ContactStatus.ACTIVE)
            .options(selectinload(Contact.identities))
            .order_by(Contact.id)
        ).all()

    _pending = (
        select(Contact)
        .where(Contact.campaign_id == _param("campaign_id"), Contact.status == ContactStatus.PENDING)
        .options(joinedload(Contact.unit))
        .order_by(Contact.id)  # one query: 汇总 counts these every time
    )

    def pending(self, campaign: Campaign) -> Sequence[Contact]:
        return self.session.scalars(self._pending, {"campaign_id": campaign.id}).all()

    def coordinators(self, campaign: Campaign) -> Sequence[Coordinator]:
        return self.session.scalars(
            select(Coordinator)
            .where(Coordinator.campaign_id == campaign.id)
            .options(selectinload(Coordinator.identities))
            .order_by(Coordinator.id)
        ).all()

    def identities(self, campaign: Campaign) -> Sequence[ChatIdentity]:
        return self.session.scalars(
            select(ChatIdentity)
            .where(ChatIdentity.campaign_id == campaign.id)
            .options(
                selectinload(ChatIdentity.contact).selectinload(Contact.unit), selectinload(ChatIdentity.coordinator)
            )
            .order_by(ChatIdentity.id)
        ).all()


LEDGER_BATCH = 2000  # issues per fetch when the whole ledger is read (exports)


def issue_record(issue: Issue) -> IssueRecord:
    """A loaded issue as the ledger's record (its unit loaded too)."""
    return IssueRecord(
        issue.unit_id,
        issue.unit.name,
        issue.number,
        issue.year,
        issue.title,
        issue.source,
        issue.content,
        issue.measures,
        issue.goal,
        issue.owner,
        issue.due,
        issue.remark,
        issue.status,
        issue.percent,
        issue.rectified_at,
        issue.focus_area,
    )


# An issue's 佐证材料: the files sent for it in chat and not replaced since.
_EVIDENCE = (
    select(func.count(Material.id))
    .where(Material.issue_id == Issue.id, Material.replaced_at.is_(None))
    .correlate(Issue)
    .scalar_subquery()
)


class Issues(Repo):
    def next_number(self, campaign: Campaign) -> int:
        Campaigns(self.session).lock(campaign)
        highest = self.session.scalar(select(func.max(Issue.number)).where(Issue.campaign_id == campaign.id))
        return (highest or 0) + 1

    def by_number(self, campaign: Campaign, number: int) -> Issue | None:
        if not fits_integer(number):
            return None
        return self.session.scalars(
            select(Issue)
            .where(Issue.campaign_id == campaign.id, Issue.number == number)
            .options(selectinload(Issue.unit))
        ).first()

    def create(
        self,
        campaign: Campaign,
        unit: Unit,
        *,
        now: datetime,
        created_by: Contact | None,
        number: int | None = None,
        **fields: Any,
    ) -> Issue:
        """A new issue, numbered next in the campaign unless `number` (a free one, e.g. imported) is given."""
        issue = Issue(
            campaign_id=campaign.id,
            unit_id=unit.id,
            number=number or self.next_number(campaign),
            created_by_id=created_by.id if created_by else None,
            created_at=now,
            updated_at=now,
            status=IssueStatus.OPEN,
            percent=0,
            **fields,
        )
        self.session.add(issue)
        self.session.flush()
        return issue

    def add_progress(
        self,
        issue: Issue,
        *,
        status: IssueStatus,
        percent: int,
        note: str | None,
        contact: Contact | None,
        now: datetime,
    ) -> Progress:
        entry = Progress(
            issue_id=issue.id,
            status=status,
            percent=percent,
            note=note,
            contact_id=contact.id if contact else None,
            created_at=now,
        )
        self.session.add(entry)
        issue.status, issue.percent, issue.updated_at = status, percent, now
        issue.rectified_at = now if status is IssueStatus.RECTIFIED else None
        self.session.flush()
        return entry

    _open_for_unit = (
        select(Issue)
        .where(
            Issue.campaign_id == _param("campaign_id"),
            Issue.unit_id == _param("unit_id"),
            Issue.status != IssueStatus.RECTIFIED,
        )
        .order_by(Issue.due, Issue.number)
    )

    def records(self, campaign: Campaign, unit: Unit | None = None) -> Iterator[IssueRecord]:
        """The ledger in table order (unit, then issue number), read in batches (a server-side cursor on
        PostgreSQL) so memory stays flat however long it is."""
        stmt = (
            select(
                Issue.unit_id,
                Unit.name,
                Issue.number,
                Issue.year,
                Issue.title,
                Issue.source,
                Issue.content,
                Issue.measures,
                Issue.goal,
                Issue.owner,
                Issue.due,
                Issue.remark,
                Issue.status,
                Issue.percent,
                Issue.rectified_at,
                Issue.focus_area,
                _EVIDENCE,
            )
            .join(Unit, Unit.id == Issue.unit_id)
            .where(Issue.campaign_id == campaign.id)
            .order_by(Unit.position, Unit.id, Issue.number)
            .execution_options(yield_per=LEDGER_BATCH)
        )
        if unit is not None:
            stmt = stmt.where(Issue.unit_id == unit.id)
        for row in self.session.execute(stmt):
            yield IssueRecord(*row)  # type: ignore[call-arg]  # SQLAlchemy types a select() of at most ten columns

    def count(self, campaign: Campaign, unit: Unit | None = None) -> int:
        stmt = select(func.count()).select_from(Issue).where(Issue.campaign_id == campaign.id)
        if unit is not None:
            stmt = stmt.where(Issue.unit_id == unit.id)
        return int(self.session.scalar(stmt) or 0)

    def open_for_unit(self, campaign: Campaign, unit: Unit) -> Sequence[Issue]:
        """The unit's issues not yet rectified, each with `unit` set to the one given (no query to load it)."""
        issues = self.session.scalars(self._open_for_unit, {"campaign_id": campaign.id, "unit_id": unit.id}).all()
        for issue in issues:
            set_committed_value(issue, "unit", unit)
        return issues

    def of_unit(self, campaign: Campaign, unit: Unit) -> Sequence[Issue]:
        """Every issue of a unit: those not rectified first, by due date, then the rectified ones."""
        issues = self.session.scalars(
            select(Issue)
            .where(Issue.campaign_id == campaign.id, Issue.unit_id == unit.id)
            .order_by(Issue.status == IssueStatus.RECTIFIED, Issue.due, Issue.number)
        ).all()
        for issue in issues:
            set_committed_value(issue, "unit", unit)
        return issues

    _open_titles = (
        select(Issue.number, Issue.title, Issue.status, Issue.due)
        .where(
            Issue.campaign_id == _param("campaign_id"),
            Issue.unit_id == _param("unit_id"),
            Issue.status != IssueStatus.RECTIFIED,
        )
        .order_by(Issue.number)
    )

    def open_titles(self, campaign: Campaign, unit: Unit) -> Sequence[Any]:
        """(number, title, status, due) of the unit's issues not yet rectified: rows, not objects, since a new
        issue's title is compared with every one of them."""
        return self.session.execute(self._open_titles, {"campaign_id": campaign.id, "unit_id": unit.id}).all()

    # "Not rectified" spelled as IN the other statuses: an index on (campaign, status, due) then answers it alone.
    _NOT_RECTIFIED = tuple(s for s in IssueStatus if s is not IssueStatus.RECTIFIED)

    def _overdue(self, campaign: Campaign, today: date) -> Any:
        return (Issue.campaign_id == campaign.id) & Issue.status.in_(self._NOT_RECTIFIED) & (Issue.due < today)

    def overdue(self, campaign: Campaign, today: date, *, limit: int) -> OverduePage:
        """The first `limit` overdue issues by unit, due date and number, with the totals a reply states: three
        queries whatever the size of the ledger (a province has tens of thousands of overdue issues)."""
        where = self._overdue(campaign, today)
        total = int(self.session.scalar(select(func.count()).select_from(Issue).where(where)) or 0)
        first = self.session.scalars(
            select(Issue)
            .where(where)
            .options(selectinload(Issue.unit))
            .order_by(Issue.unit_id, Issue.due, Issue.number)
            .limit(limit)
        ).all()
        unit_ids = {issue.unit_id for issue in first}
        per_unit = (
            dict(
                self.session.execute(
                    select(Issue.unit_id, func.count())
                    .where(where, Issue.unit_id.in_(unit_ids))
                    .group_by(Issue.unit_id)
                ).all()
            )
            if unit_ids
            else {}
        )
        return OverduePage(total, first, per_unit)


@dataclass(frozen=True)
class OverduePage:
    total: int
    first: Sequence[Issue]  # in (unit id, due, number) order, with .unit loaded
    per_unit: dict[int, int]  # unit id → its overdue count, for the units in `first`


class UnitFigures(NamedTuple):
    """One unit's row of Standings.unit_figures (a database row that unpacks, and reads by these names, alike)."""

    id: int
    name: str
    aliases: list[str] | None  # None when the unit has none
    logged: int
    in_progress: int
    rectified: int
    overdue: int  # not rectified, due before today
    due_soon: int  # not rectified, due from today to the given day
    registered: bool  # has an active liaison
    reported: bool  # this week's report is in
    late: bool  # ... and came late (迟报)


_COUNTED = ("logged", "in_progress", "rectified", "overdue", "due_soon")


def _unit_figures(one_unit: bool) -> Select[Any]:
    """Standings.unit_figures' statement: the units, their issues counted in one GROUP BY, whether each has an
    active liaison, and the week's report of each (a filtered subquery rather than a join on unit, year and week:
    PostgreSQL then reads the unique index once instead of scanning the campaign's reports; SQLite plans both
    alike)."""
    not_done = Issue.status != IssueStatus.RECTIFIED
    counts = select(
        Issue.unit_id,
        func.count().label("logged"),
        func.sum(case((Issue.status == IssueStatus.IN_PROGRESS, 1), else_=0)).label("in_progress"),
        func.sum(case((Issue.status == IssueStatus.RECTIFIED, 1), else_=0)).label("rectified"),
        func.sum(case((not_done & (Issue.due < _param("today")), 1), else_=0)).label("overdue"),
        func.sum(case((not_done & Issue.due.between(_param("today"), _param("soon")), 1), else_=0)).label("due_soon"),
    ).where(Issue.campaign_id == _param("campaign_id"))
    weekly = select(WeeklyReport.unit_id, WeeklyReport.late).where(
        WeeklyReport.campaign_id == _param("campaign_id"),
        WeeklyReport.iso_year == _param("iso_year"),
        WeeklyReport.iso_week == _param("iso_week"),
    )
    if one_unit:  # a liaison's 汇总 reads one unit's issues and report, not the campaign's
        counts = counts.where(Issue.unit_id == _param("unit_id"))
        weekly = weekly.where(WeeklyReport.unit_id == _param("unit_id"))
    issues = counts.group_by(Issue.unit_id).subquery()
    reports = weekly.subquery()
    registered = (
        select(Contact.id)
        .where(Contact.unit_id == Unit.id, Contact.status == ContactStatus.ACTIVE)
        .exists()
        .correlate(Unit)
    )
    statement = (
        select(
            Unit.id,
            Unit.name,
            # Most units have none: '[]' is read as NULL rather than decoded as JSON for each of them.
            case((sql_cast(Unit.aliases, String) == "[]", None), else_=Unit.aliases).label("aliases"),
            *(func.coalesce(issues.c[name], 0).label(name) for name in _COUNTED),
            registered.label("registered"),
            reports.c.unit_id.is_not(None).label("reported"),
            func.coalesce(reports.c.late, False).label("late"),
        )
        .outerjoin(issues, issues.c.unit_id == Unit.id)
        .outerjoin(reports, reports.c.unit_id == Unit.id)
        .where(Unit.campaign_id == _param("campaign_id"), Unit.retired.is_(False))
        .order_by(Unit.position)
    )
    return statement.where(Unit.id == _param("unit_id")) if one_unit else statement


class Standings(Repo):
    """What 汇总 counts, per unit: issues by state, the units still in the campaign, who has a liaison. A fixed
    number of aggregate queries, whatever the number of units."""

    _NOT_DONE = Issue.status != IssueStatus.RECTIFIED
    _COUNTS = PerUnit(
        select(
            Issue.unit_id,
            func.count(),
            func.sum(case((Issue.status == IssueStatus.IN_PROGRESS, 1), else_=0)),
            func.sum(case((Issue.status == IssueStatus.RECTIFIED, 1), else_=0)),
            func.sum(case((_NOT_DONE & (Issue.due < _param("today")), 1), else_=0)),
            func.sum(case((_NOT_DONE & Issue.due.between(_param("today"), _param("soon")), 1), else_=0)),
        )
        .where(Issue.campaign_id == _param("campaign_id"))
        .group_by(Issue.unit_id),
        Issue.unit_id,
    )
    _UNITS = PerUnit(
        select(Unit.id, Unit.name, Unit.aliases)
        .where(Unit.campaign_id == _param("campaign_id"), Unit.retired.is_(False))
        .order_by(Unit.position),
        Unit.id,
    )
    _REGISTERED = PerUnit(
        select(Contact.unit_id).where(
            Contact.campaign_id == _param("campaign_id"), Contact.status == ContactStatus.ACTIVE
        ),
        Contact.unit_id,
    )
    _FIGURES_EVERY = _unit_figures(one_unit=False)
    _FIGURES_ONE = _unit_figures(one_unit=True)
    _PENDING = (
        select(func.count())
        .select_from(Contact)
        .where(Contact.campaign_id == _param("campaign_id"), Contact.status == ContactStatus.PENDING)
    )

    def unit_figures(
        self, campaign: Campaign, today: date, soon: date, iso_year: int, iso_week: int, unit_id: int | None = None
    ) -> Sequence[UnitFigures]:
        """Everything 汇总 shows per unit, in one statement, as plain tuples in the plan's order: of every unit
        still in the campaign, or of the one given (see UnitFigures; "due soon" is due from today to `soon`)."""
        statement = self._FIGURES_ONE if unit_id is not None else self._FIGURES_EVERY
        params = {
            "campaign_id": campaign.id,
            "unit_id": unit_id,
            "today": today,
            "soon": soon,
            "iso_year": iso_year,
            "iso_week": iso_week,
        }
        # Through the connection: rows as the driver gives them, without the ORM's wrapping of each (flushed
        # first, as session.execute would).
        self.session.flush()
        return cast(Sequence[UnitFigures], self.session.connection().execute(statement, params).all())

    def issue_counts(self, campaign: Campaign, today: date, soon: date, unit_id: int | None = None) -> Sequence[Any]:
        """(unit id, logged, in progress, rectified, overdue, due by `soon`) of every unit, or of the one given."""
        return self.session.execute(
            self._COUNTS(unit_id), {"campaign_id": campaign.id, "unit_id": unit_id, "today": today, "soon": soon}
        ).all()

    def units(self, campaign: Campaign, unit_id: int | None = None) -> Sequence[Any]:
        """(id, name, aliases) of the units still in the campaign, in the plan's order."""
        return self.session.execute(self._UNITS(unit_id), {"campaign_id": campaign.id, "unit_id": unit_id}).all()

    def registered(self, campaign: Campaign, unit_id: int | None = None) -> set[int]:
        """The ids of the units that have an active liaison."""
        return set(self.session.scalars(self._REGISTERED(unit_id), {"campaign_id": campaign.id, "unit_id": unit_id}))

    def pending_registrations(self, campaign: Campaign) -> int:
        return int(self.session.scalar(self._PENDING, {"campaign_id": campaign.id}) or 0)


class PlanRows(Repo):
    """What loading a plan reads and removes besides the rows it writes itself (plan.sync)."""

    def of_campaign(self, model: Any, campaign: Campaign) -> Sequence[Any]:
        """Every row of `model` (phases, units, deliverables, groups, coordinators, tasks) in the campaign."""
        return self.session.scalars(select(model).where(model.campaign_id == campaign.id)).all()

    def unit_in_use(self, unit: Unit) -> bool:
        """Whether anything was recorded for the unit (then it is retired, not deleted, when a plan drops it)."""
        return any(
            self.session.scalar(select(func.count()).select_from(model).where(model.unit_id == unit.id))
            for model in (Issue, WeeklyReport, Submission, Contact)
        )

    def contact(self, unit: Unit, *, phone: str | None = None, name: str | None = None) -> Contact | None:
        """The unit's contact with this phone (or, given a name, this name)."""
        match = Contact.phone == phone if name is None else Contact.name == name
        return self.session.scalars(select(Contact).where(Contact.unit_id == unit.id, match)).first()

    def submissions(self, deliverable: Deliverable) -> int:
        return int(
            self.session.scalar(
                select(func.count()).select_from(Submission).where(Submission.deliverable_id == deliverable.id)
            )
            or 0
        )

    def active_contacts(self, campaign: Campaign) -> Sequence[Contact]:
        return self.session.scalars(
            select(Contact)
            .where(Contact.campaign_id == campaign.id, Contact.status == ContactStatus.ACTIVE)
            .order_by(Contact.id)
        ).all()

    def remove_coordinator(self, coordinator: Coordinator) -> None:
        """A coordinator the plan no longer names, with their chat identities."""
        self.session.execute(
            delete(ChatIdentity)
            .where(ChatIdentity.coordinator_id == coordinator.id)
            .execution_options(synchronize_session=False)
        )
        self.session.delete(coordinator)

    def progress_reports(self, task: Task) -> int:
        return int(
            self.session.scalar(select(func.count()).select_from(TaskProgress).where(TaskProgress.task_id == task.id))
            or 0
        )


class Tables(Repo):
    """What the office's tables (附件1–3, exports/) read, and what importing them compares against."""

    def units(self, campaign: Campaign) -> Sequence[Unit]:
        """The units still in the campaign, in the plan's order."""
        return self.session.scalars(
            select(Unit)
            .where(Unit.campaign_id == campaign.id, Unit.retired.is_(False))
            .order_by(Unit.position, Unit.id)
        ).all()

    def contacts(self, campaign: Campaign, unit: Unit | None = None) -> Iterator[Any]:
        """附件1's rows: (unit name, name, title, phone, wechat or email) of each active or pre-listed contact,
        a row of Nones after the unit's name for a unit that has none."""
        stmt = (
            select(Unit.name, Contact.name, Contact.title, Contact.phone, Contact.wechat_or_email)
            .outerjoin(
                Contact,
                (Contact.unit_id == Unit.id) & Contact.status.in_([ContactStatus.ACTIVE, ContactStatus.PRELISTED]),
            )
            .where(Unit.campaign_id == campaign.id, Unit.retired.is_(False))
            .order_by(Unit.position, Unit.id, Contact.id)
        )
        if unit is not None:
            stmt = stmt.where(Unit.id == unit.id)
        yield from self.session.execute(stmt)

    def issues_by_area(self, campaign: Campaign, unit: Unit | None = None) -> Sequence[Any]:
        """(focus area, issues logged, issues rectified) for 附件3."""
        stmt = (
            select(Issue.focus_area, func.count(), func.sum(case((Issue.status == IssueStatus.RECTIFIED, 1), else_=0)))
            .where(Issue.campaign_id == campaign.id)
            .group_by(Issue.focus_area)
        )
        if unit is not None:
            stmt = stmt.where(Issue.unit_id == unit.id)
        return self.session.execute(stmt).all()

    def stats_by_area(self, campaign: Campaign, unit: Unit | None = None) -> Sequence[Any]:
        """(focus area, people handled, people disciplined) for 附件3, from the units' 统计."""
        stmt = (
            select(StatsReport.focus_area, func.sum(StatsReport.handled), func.sum(StatsReport.disciplined))
            .where(StatsReport.campaign_id == campaign.id)
            .group_by(StatsReport.focus_area)
        )
        if unit is not None:
            stmt = stmt.where(StatsReport.unit_id == unit.id)
        return self.session.execute(stmt).all()

    def listed_contacts(self, campaign: Campaign) -> Sequence[Contact]:
        """Every contact not rejected: what an imported 附件1 is matched against."""
        return self.session.scalars(
            select(Contact).where(Contact.campaign_id == campaign.id, Contact.status != ContactStatus.REJECTED)
        ).all()

    def issue_texts(self, campaign: Campaign) -> Sequence[Any]:
        """(unit id, title, content) of every issue: what an imported 附件2 is matched against."""
        return self.session.execute(
            select(Issue.unit_id, Issue.title, Issue.content).where(Issue.campaign_id == campaign.id)
        ).all()

    def issue_numbers(self, campaign: Campaign) -> set[int]:
        return set(self.session.scalars(select(Issue.number).where(Issue.campaign_id == campaign.id)))


class Reports(Repo):
    _weekly = select(WeeklyReport).where(
        WeeklyReport.unit_id == _param("unit_id"),
        WeeklyReport.iso_year == _param("iso_year"),
        WeeklyReport.iso_week == _param("iso_week"),
    )

    def weekly(self, unit: Unit, iso_year: int, iso_week: int, *, with_contact: bool = False) -> WeeklyReport | None:
        """A unit's report of one week; `with_contact` loads who sent it (to show, not only to replace it)."""
        statement = self._weekly.options(selectinload(WeeklyReport.contact)) if with_contact else self._weekly
        return self.session.scalars(statement, {"unit_id": unit.id, "iso_year": iso_year, "iso_week": iso_week}).first()

    _weekly_late = PerUnit(
        select(WeeklyReport.unit_id, WeeklyReport.late).where(
            WeeklyReport.campaign_id == _param("campaign_id"),
            WeeklyReport.iso_year == _param("iso_year"),
            WeeklyReport.iso_week == _param("iso_week"),
        ),
        WeeklyReport.unit_id,
    )

    def weekly_late(
        self, campaign: Campaign, iso_year: int, iso_week: int, *, unit_id: int | None = None
    ) -> dict[int, bool]:
        """Units (all, or just `unit_id`) with a weekly report for the week → whether it came late (迟报)."""
        return dict(
            self.session.execute(
                self._weekly_late(unit_id),
                {"campaign_id": campaign.id, "iso_year": iso_year, "iso_week": iso_week, "unit_id": unit_id},
            ).all()
        )

    def week_reports(self, campaign: Campaign, iso_year: int, iso_week: int) -> list[tuple[Unit, WeeklyReport | None]]:
        """Every unit in plan order with its report of the week (None: not sent), in one query: what the weekly
        bulletin and a coordinator's 「本周周报」 read."""
        rows = self.session.execute(
            select(Unit, WeeklyReport)
            .outerjoin(
                WeeklyReport,
                (WeeklyReport.unit_id == Unit.id)
                & (WeeklyReport.iso_year == iso_year)
                & (WeeklyReport.iso_week == iso_week),
            )
            .where(Unit.campaign_id == campaign.id, Unit.retired.is_(False))
            .options(selectinload(WeeklyReport.contact))
            .order_by(Unit.position)
        )
        return [(unit, report) for unit, report in rows]

    def unit_history(self, unit: Unit) -> Sequence[WeeklyReport]:
        """A unit's weekly reports, newest week first, with who sent each: the unit page and a coordinator's
        「周报 <单位> [上周]」."""
        return self.session.scalars(
            select(WeeklyReport)
            .where(WeeklyReport.unit_id == unit.id)
            .options(selectinload(WeeklyReport.contact))
            .order_by(WeeklyReport.iso_year.desc(), WeeklyReport.iso_week.desc())
        ).all()

    def stats(self, unit: Unit, focus_area: str) -> StatsReport | None:
        return self.session.scalars(
            select(StatsReport).where(StatsReport.unit_id == unit.id, StatsReport.focus_area == focus_area)
        ).first()


class Deliverables(Repo):
    _all = (
        select(Deliverable)
        .where(Deliverable.campaign_id == _param("campaign_id"))
        .order_by(Deliverable.due, Deliverable.position)
    )
    _submissions = PerUnit(
        select(Submission.deliverable_id, Submission.unit_id)
        .join(Deliverable, Deliverable.id == Submission.deliverable_id)
        .where(Deliverable.campaign_id == _param("campaign_id")),
        Submission.unit_id,
    )

    def all(self, campaign: Campaign) -> Sequence[Deliverable]:
        return self.session.scalars(self._all, {"campaign_id": campaign.id}).all()

    def submissions(self, campaign: Campaign, *, unit_id: int | None = None) -> dict[int, set[int]]:
        """deliverable id → ids of the units (all, or just `unit_id`) that submitted it."""
        rows = self.session.execute(self._submissions(unit_id), {"campaign_id": campaign.id, "unit_id": unit_id})
        result: dict[int, set[int]] = {}
        for deliverable_id, unit_id in rows:
            result.setdefault(deliverable_id, set()).add(unit_id)
        return result

    def submission(self, deliverable: Deliverable, unit: Unit) -> Submission | None:
        return self.session.scalars(
            select(Submission).where(Submission.deliverable_id == deliverable.id, Submission.unit_id == unit.id)
        ).first()

    def of_unit(self, campaign: Campaign, unit: Unit) -> list[tuple[Deliverable, Submission | None]]:
        """The deliverables a unit owes, by due date, each with the unit's submission (None: not yet)."""
        submitted = {
            s.deliverable_id: s for s in self.session.scalars(select(Submission).where(Submission.unit_id == unit.id))
        }
        return [(d, submitted.get(d.id)) for d in self.all(campaign) if self.owes(d, unit)]

    _contact_form = (
        select(Deliverable)
        .where(Deliverable.campaign_id == _param("campaign_id"), Deliverable.kind == DeliverableKind.CONTACTS)
        .limit(1)
    )

    def contact_form(self, campaign: Campaign) -> Deliverable | None:
        """The deliverable that is the campaign's contact form (附件1), if the plan names one."""
        return self.session.scalars(self._contact_form, {"campaign_id": campaign.id}).first()

    def submit_contact_form(self, campaign: Campaign, contact: Contact, *, at: datetime) -> Submission | None:
        """Record the contact form as submitted by the contact's unit, when the plan has one and the unit owes
        it and has not sent it: the bot now holds that very contact. Returns the new submission."""
        form = self.contact_form(campaign)
        if form is None or not self.owes(form, contact.unit) or self.submission(form, contact.unit) is not None:
            return None
        submission = Submission(
            deliverable_id=form.id,
            unit_id=contact.unit_id,
            contact_id=contact.id,
            submitted_at=at,
            late=at.astimezone(ZoneInfo(campaign.timezone)).date() > form.due,
        )
        self.session.add(submission)
        self.session.flush()
        return submission

    @staticmethod
    def owing(deliverable: Deliverable, units: Iterable[_Named]) -> list[_Named]:
        """Those of `units` that owe the deliverable (whether they submitted it aside): `owes` for many units,
        with the deliverable's names read once."""
        if deliverable.unit_names is None:
            return list(units)
        keys = {name_key(n) for n in deliverable.unit_names}
        return [u for u in units if name_key(u.name) in keys or any(name_key(a) in keys for a in u.aliases)]

    @staticmethod
    def owes(deliverable: Deliverable, unit: NamedUnit) -> bool:
        if deliverable.unit_names is None:
            return True
        keys = {name_key(n) for n in deliverable.unit_names}
        return name_key(unit.name) in keys or any(name_key(a) in keys for a in unit.aliases)


class Notices(Repo):
    def next_number(self, campaign: Campaign) -> int:
        Campaigns(self.session).lock(campaign)
        highest = self.session.scalar(select(func.max(Notice.number)).where(Notice.campaign_id == campaign.id))
        return (highest or 0) + 1

    def _with_receipts(self) -> Select[Notice]:
        return select(Notice).options(
            selectinload(Notice.receipts).selectinload(NoticeReceipt.contact).selectinload(Contact.unit),
            selectinload(Notice.coordinator),
        )

    def by_number(self, campaign: Campaign, number: int | None = None) -> Notice | None:
        """A notice with its receipts, who they went to and their units; without a number, the latest."""
        statement = self._with_receipts().where(Notice.campaign_id == campaign.id)
        if number is not None:
            statement = statement.where(Notice.number == number)
        return self.session.scalars(statement.order_by(Notice.number.desc()).limit(1)).first()

    def numbers(self, campaign: Campaign) -> list[int]:
        return list(
            self.session.scalars(select(Notice.number).where(Notice.campaign_id == campaign.id).order_by(Notice.number))
        )

    def listing(self, campaign: Campaign) -> list[tuple[Notice, int, int]]:
        """Every notice, newest first, with how many units it reached and how many of them have acknowledged it
        (a unit has when one of its liaisons has), in one query."""
        acknowledged = case((NoticeReceipt.acknowledged_at.is_not(None), Contact.unit_id))
        rows = self.session.execute(
            select(Notice, func.count(Contact.unit_id.distinct()), func.count(acknowledged.distinct()))
            .outerjoin(NoticeReceipt, NoticeReceipt.notice_id == Notice.id)
            .outerjoin(Contact, Contact.id == NoticeReceipt.contact_id)
            .where(Notice.campaign_id == campaign.id)
            .group_by(Notice.id)
            .order_by(Notice.number.desc())
        )
        return [(notice, int(reached), int(done)) for notice, reached, done in rows]

    def outstanding(self, contact: Contact) -> Sequence[NoticeReceipt]:
        """The receipts a liaison still owes: the notices they were sent and have not acknowledged, oldest first."""
        return self.session.scalars(
            select(NoticeReceipt)
            .join(Notice, Notice.id == NoticeReceipt.notice_id)
            .where(NoticeReceipt.contact_id == contact.id, NoticeReceipt.acknowledged_at.is_(None))
            .options(selectinload(NoticeReceipt.notice))
            .order_by(Notice.number)
        ).all()

    def to_chase(self, campaign: Campaign) -> Sequence[Notice]:
        """Notices whose receipts are to be chased once, with the receipts still owed and those liaisons' identities
        (what the reminder rules need)."""
        owed = NoticeReceipt.acknowledged_at.is_(None)
        return self.session.scalars(
            select(Notice)
            .where(Notice.campaign_id == campaign.id, Notice.remind_at.is_not(None), Notice.receipts.any(owed))
            .options(
                selectinload(Notice.receipts.and_(owed))
                .selectinload(NoticeReceipt.contact)
                .options(selectinload(Contact.identities), selectinload(Contact.unit))
            )
            .order_by(Notice.number)
        ).all()


class Dialogs(Repo):
    _get = select(DialogState).where(
        DialogState.campaign_id == _param("campaign_id"),
        DialogState.platform == _param("platform"),
        DialogState.external_id == _param("external_id"),
    )

    def get(self, campaign: Campaign, platform: str, external_id: str) -> DialogState | None:
        return self.session.scalars(
            self._get, {"campaign_id": campaign.id, "platform": platform, "external_id": external_id}
        ).first()

    def save(
        self, campaign: Campaign, platform: str, external_id: str, *, kind: str, fields: dict[str, Any], now: datetime
    ) -> None:
        state = self.get(campaign, platform, external_id)
        if state is None:
            state = DialogState(campaign_id=campaign.id, platform=platform, external_id=external_id)
            self.session.add(state)
        state.kind, state.fields, state.updated_at = kind, dict(fields), now

    def clear(self, campaign: Campaign, platform: str, external_id: str) -> None:
        state = self.get(campaign, platform, external_id)
        if state is not None:
            self.session.delete(state)

    _under_way = select(DialogState.campaign_id).where(
        DialogState.campaign_id.in_(bindparam("campaign_ids", expanding=True)),
        DialogState.platform == _param("platform"),
        DialogState.external_id == _param("external_id"),
    )

    def under_way(self, campaign_ids: Sequence[int], platform: str, external_id: str) -> list[int]:
        """The campaigns (of these) in which the sender has a dialog or a question waiting."""
        return list(
            self.session.scalars(
                self._under_way,
                {"campaign_ids": list(campaign_ids), "platform": platform, "external_id": external_id},
            )
        )


class Choices(Repo):
    """The campaign a person in several picked for today, and the question that asked them (CampaignChoice)."""

    _get = select(CampaignChoice).where(
        CampaignChoice.platform == _param("platform"), CampaignChoice.external_id == _param("external_id")
    )

    def get(self, platform: str, external_id: str) -> CampaignChoice | None:
        return self.session.scalars(self._get, {"platform": platform, "external_id": external_id}).first()

    def _row(self, platform: str, external_id: str, now: datetime) -> CampaignChoice:
        row = self.get(platform, external_id)
        if row is None:
            row = CampaignChoice(platform=platform, external_id=external_id, updated_at=now)
            self.session.add(row)
        row.updated_at = now
        return row

    def pick(self, platform: str, external_id: str, campaign: Campaign, *, day: date, now: datetime) -> None:
        """Remember `campaign` for the rest of `day`; any question waiting is settled by it."""
        row = self._row(platform, external_id, now)
        row.campaign_id, row.day, row.question = campaign.id, day, None

    def ask(self, platform: str, external_id: str, question: dict[str, Any], *, now: datetime) -> None:
        self._row(platform, external_id, now).question = dict(question)

    def drop_question(self, platform: str, external_id: str, *, now: datetime) -> None:
        row = self.get(platform, external_id)
        if row is not None and row.question is not None:
            row.question, row.updated_at = None, now


class Audit(Repo):
    def record(
        self,
        *,
        campaign: Campaign | None,
        actor: str,
        action: str,
        at: datetime,
        entity: str | None = None,
        entity_id: int | None = None,
        message_id: str | None = None,
        **detail: Any,
    ) -> None:
        self.session.add(
            AuditEntry(
                campaign_id=campaign.id if campaign else None,
                actor=actor,
                action=action,
                at=at,
                entity=entity,
                entity_id=entity_id,
                message_id=message_id,
                detail=detail,
            )
        )


@dataclass(frozen=True)
class KeyedMessage:
    """One row for Outbox.enqueue_keyed: a reminder with its unique key."""

    key: str
    channel: str
    target: str
    text: str
    mentions: Sequence[str] = ()
    status: OutboxStatus = OutboxStatus.PENDING
    not_before: datetime | None = None  # None: now


_OUTBOX = cast(Table, OutboxMessage.__table__)  # a mapped class's table, typed as any FromClause


def _keyed_statement(insert: Callable[[Table], postgresql.Insert | sqlite.Insert]) -> ReturningInsert[str]:
    return insert(_OUTBOX).on_conflict_do_nothing(index_elements=["key"]).returning(_OUTBOX.c.key)


class Outbox(Repo):
    _keyed: ClassVar[dict[str, ReturningInsert[str]]] = {
        "postgresql": _keyed_statement(postgresql.insert),
        "sqlite": _keyed_statement(sqlite.insert),
    }

    def enqueue(
        self,
        *,
        campaign: Campaign | None,
        channel: str,
        target: str,
        text: str,
        now: datetime,
        key: str | None = None,
        markdown: str | None = None,
        mentions: Sequence[str] = (),
        not_before: datetime | None = None,
    ) -> OutboxMessage | None:
        """Queue a message; with a key, a second enqueue of the same reminder is a no-op (returns None)."""
        message = OutboxMessage(
            campaign_id=campaign.id if campaign else None,
            key=key,
            channel=channel,
            target=target,
            text=text,
            markdown=markdown,
            mentions=list(mentions),
            status=OutboxStatus.PENDING,
            attempts=0,
            not_before=not_before or now,
            created_at=now,
        )
        if key is None:
            self.session.add(message)
            self.session.flush()
            return message
        try:
            with self.session.begin_nested():
                self.session.add(message)
        except IntegrityError:
            return None
        return message

    def enqueue_keyed(self, *, campaign: Campaign, messages: Sequence[KeyedMessage], now: datetime) -> set[str]:
        """Queue many keyed messages with INSERT … ON CONFLICT (key) DO NOTHING RETURNING key, sent as multi-row
        batches (SQLAlchemy's insertmanyvalues); returns the keys that were new. A Friday tick queues ten thousand
        reminders: one savepoint and flush each took most of it."""
        if not messages:
            return set()
        rows = [
            {
                "campaign_id": campaign.id,
                "key": m.key,
                "channel": m.channel,
                "target": m.target,
                "text": m.text,
                "markdown": None,
                "mentions": list(m.mentions),
                "status": m.status,
                "attempts": 0,
                "not_before": m.not_before or now,
                "created_at": now,
            }
            for m in messages
        ]
        statement = self._keyed[self.session.get_bind().dialect.name]
        return set(self.session.scalars(statement, rows))

    def for_channel(self, channel: str, limit: int = 500) -> Sequence[OutboxMessage]:
        newest = (
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel, OutboxMessage.status != OutboxStatus.MISSED)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
            .subquery()
        )
        return self.session.scalars(
            select(OutboxMessage).join(newest, newest.c.id == OutboxMessage.id).order_by(OutboxMessage.id)
        ).all()


_PROCESSED = cast(Table, ProcessedMessage.__table__)


def _claim_statement(insert: Callable[[Table], postgresql.Insert | sqlite.Insert]) -> ReturningInsert[int]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, with the dialect's own insert() (Core has no generic one)."""
    return (
        insert(_PROCESSED)
        .values(
            platform=_param("platform"),
            sender=_param("sender"),
            message_id=_param("message_id"),
            received_at=_param("now"),
            replies=[],
        )
        .on_conflict_do_nothing(index_elements=["platform", "sender", "message_id"])
        .returning(_PROCESSED.c.id)
    )


class Processed(Repo):
    """The dedupe records, in Core statements: they run for every message, and the unit of work that an ORM
    add/flush/dirty-check goes through cost more than the handler's own queries on short commands."""

    _replies = select(_PROCESSED.c.replies).where(
        _PROCESSED.c.platform == _param("platform"),
        _PROCESSED.c.sender == _param("sender"),
        _PROCESSED.c.message_id == _param("message_id"),
    )
    _settle = update(_PROCESSED).where(_PROCESSED.c.id == _param("record_id")).values(replies=_param("replies"))
    _claims: ClassVar[dict[str, ReturningInsert[int]]] = {
        "postgresql": _claim_statement(postgresql.insert),
        "sqlite": _claim_statement(sqlite.insert),
    }

    def replies(self, platform: str, sender: str, message_id: str) -> list[str] | None:
        replies = self.session.scalars(
            self._replies, {"platform": platform, "sender": sender, "message_id": message_id}
        ).first()
        return None if replies is None else list(replies)

    def claim(self, platform: str, sender: str, message_id: str, now: datetime) -> int | None:
        """Insert the message's record first thing in the transaction; its id, or None if it was already there.

        A concurrent duplicate waits on the unique index (PostgreSQL) or on the write lock (SQLite), then
        inserts nothing and reads the first one's replies: one statement for a new message, no error path."""
        claim = self._claims[self.session.get_bind().dialect.name]
        return self.session.scalar(
            claim, {"platform": platform, "sender": sender, "message_id": message_id, "now": now}
        )

    def settle(self, record_id: int, replies: Sequence[str]) -> None:
        """Store the replies a retried delivery will get."""
        self.session.execute(self._settle, {"record_id": record_id, "replies": list(replies)})


class DashboardSessions(Repo):
    """Dashboard sessions, by the SHA-256 of the token their cookie carries."""

    def open(
        self,
        token_hash: str,
        *,
        coordinator: Coordinator | None = None,
        contact: Contact | None = None,
        platform: str | None = None,
        external_id: str | None = None,
        address: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """A session of a coordinator or a liaison; `platform` and `external_id` name the platform user a WeCom or
        DingTalk sign-in came from (None for a password)."""
        self.session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
        self.session.add(
            DashboardSession(
                token_hash=token_hash,
                coordinator_id=coordinator.id if coordinator else None,
                contact_id=contact.id if contact else None,
                platform=platform,
                external_id=external_id,
                address=address,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def find(self, token_hash: str, now: datetime) -> DashboardSession | None:
        return self.session.scalars(
            select(DashboardSession)
            .where(DashboardSession.token_hash == token_hash, DashboardSession.expires_at > now)
            .options(joinedload(DashboardSession.coordinator), joinedload(DashboardSession.contact))
        ).first()

    def use_code(self, platform: str, code: str, *, now: datetime, expires_at: datetime) -> bool:
        """Record a sign-in code as used; False when it was used before (a replay)."""
        self.session.execute(delete(UsedSignInCode).where(UsedSignInCode.expires_at < now))
        insert = Signatures._inserts[self.session.get_bind().dialect.name]
        digest = hashlib.sha256(code.encode()).hexdigest()
        return (
            self.session.scalar(
                insert(UsedSignInCode)
                .values(platform=platform, code_sha256=digest, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["platform", "code_sha256"])
                .returning(UsedSignInCode.id)
            )
            is not None
        )

    def end(self, token_hash: str) -> None:
        self.session.execute(delete(DashboardSession).where(DashboardSession.token_hash == token_hash))

    def end_all(self, coordinator_ids: Iterable[int] | None = None) -> int:
        """End every session (of these coordinators); how many there were."""
        statement = delete(DashboardSession)
        if coordinator_ids is not None:
            statement = statement.where(DashboardSession.coordinator_id.in_(list(coordinator_ids)))
        return self.session.execute(statement).rowcount  # type: ignore[attr-defined,no-any-return]

    def current(self, now: datetime) -> Sequence[DashboardSession]:
        return self.session.scalars(
            select(DashboardSession)
            .where(DashboardSession.expires_at > now)
            .options(joinedload(DashboardSession.coordinator), joinedload(DashboardSession.contact))
            .order_by(DashboardSession.created_at)
        ).all()


class Signatures(Repo):
    """Callback signatures already used (CallbackSignature): one body per signature while it can still pass."""

    _inserts: ClassVar[dict[str, Callable[[Any], Any]]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

    def first_use(
        self, platform: str, signature: str, body_sha256: str, *, now: datetime, expires_at: datetime
    ) -> bool:
        """Record the signature with its body; False when it was used before with another body (a replay). The same
        body again is the platform delivering the message again, which the duplicate check answers."""
        self.session.execute(delete(CallbackSignature).where(CallbackSignature.expires_at < now))
        insert = self._inserts[self.session.get_bind().dialect.name]
        claimed = self.session.scalar(
            insert(CallbackSignature)
            .values(platform=platform, signature=signature, body_sha256=body_sha256, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["platform", "signature"])
            .returning(CallbackSignature.id)
        )
        if claimed is not None:
            return True
        first = self.session.scalar(
            select(CallbackSignature.body_sha256).where(
                CallbackSignature.platform == platform, CallbackSignature.signature == signature
            )
        )
        return first == body_sha256


class Tokens(Repo):
    def get(self, name: str) -> AccessToken | None:
        return self.session.get(AccessToken, name)

    def put(self, name: str, token: str, *, expires_at: datetime, now: datetime) -> None:
        row = self.session.get(AccessToken, name)
        if row is None:
            self.session.add(AccessToken(name=name, token=token, expires_at=expires_at, updated_at=now))
        else:
            row.token, row.expires_at, row.updated_at = token, expires_at, now

    def drop(self, name: str, token: str) -> None:
        """Forget a token the platform rejected (40014/42001), unless another process already replaced it."""
        row = self.session.get(AccessToken, name)
        if row is not None and row.token == token:
            self.session.delete(row)


class Tasks(Repo):
    """Seed 004's task division: tasks with their units, and the progress units report on them."""

    _all = (
        select(Task)
        .where(Task.campaign_id == _param("campaign_id"))
        .options(selectinload(Task.units))
        .order_by(Task.number)
    )
    _progress = (
        select(TaskProgress)
        .join(Task, Task.id == TaskProgress.task_id)
        .where(Task.campaign_id == _param("campaign_id"))
        .order_by(TaskProgress.id)
    )

    def all(self, campaign: Campaign) -> Sequence[Task]:
        return self.session.scalars(self._all, {"campaign_id": campaign.id}).all()

    def by_number(self, campaign: Campaign, number: int) -> Task | None:
        if not fits_integer(number):
            return None
        return self.session.scalars(
            select(Task).where(Task.campaign_id == campaign.id, Task.number == number).options(selectinload(Task.units))
        ).first()

    def progress(self, campaign: Campaign) -> Sequence[TaskProgress]:
        return self.session.scalars(self._progress, {"campaign_id": campaign.id}).all()

    def add_progress(
        self,
        task: Task,
        unit: Unit,
        *,
        period: int | None,
        done: bool,
        note: str | None,
        contact: Contact | None,
        now: datetime,
    ) -> TaskProgress:
        entry = TaskProgress(
            task_id=task.id,
            unit_id=unit.id,
            period=period,
            done=done,
            note=note,
            contact_id=contact.id if contact else None,
            created_at=now,
        )
        self.session.add(entry)
        self.session.flush()
        return entry


@dataclass(frozen=True)
class Below:
    """A campaign below another one (plan `campaign.parent`, at any depth), and the unit of the upper campaign
    it counts under: a grandchild counts under the unit its own parent is."""

    campaign: Campaign
    unit_id: int  # a unit of the campaign asked about
    depth: int  # 1: a child


class Rollup(Repo):
    """What a parent campaign reads of the campaigns below it: one aggregate per kind of figure over all of them,
    grouped by campaign, however many children and units there are."""

    _tree = select(Campaign.id, Campaign.parent_id, Campaign.parent_unit_id).where(Campaign.archived.is_(False))

    def below(self, campaign: Campaign, unit_id: int | None = None) -> list[Below]:
        """Every campaign below `campaign` that is served (not archived), children first, each with the unit of
        `campaign` it counts under; with `unit_id`, only those under that unit. A loop in the parents (a plan
        naming its own grandchild as parent) stops where it comes back."""
        rows = self.session.execute(self._tree).all()
        children: dict[int, list[tuple[int, int | None]]] = {}
        for id_, parent_id, parent_unit_id in rows:
            if parent_id is not None:
                children.setdefault(parent_id, []).append((id_, parent_unit_id))
        found: dict[int, tuple[int, int]] = {}  # campaign id → (unit id, depth)
        level = [(id_, unit) for id_, unit in children.get(campaign.id, []) if unit is not None]
        level = [(id_, unit) for id_, unit in level if unit_id is None or unit == unit_id]
        depth = 1
        while level:
            following: list[tuple[int, int]] = []
            for id_, unit in level:
                if id_ == campaign.id or id_ in found:
                    continue
                found[id_] = (unit, depth)
                following.extend((child, unit) for child, _ in children.get(id_, []))
            level, depth = following, depth + 1
        if not found:
            return []
        loaded = {c.id: c for c in self.session.scalars(select(Campaign).where(Campaign.id.in_(list(found))))}
        return sorted(
            (Below(loaded[id_], unit, depth) for id_, (unit, depth) in found.items()),
            key=lambda b: (b.depth, b.campaign.id),
        )

    # Counted by status in index order (campaign, status, due), then the open issues due by `soon` read as a range
    # of that index: half the work of one pass with a CASE per figure over every issue (bench/NOTES.md).
    _STATUSES = (
        select(Issue.campaign_id, Issue.status, func.count())
        .where(Issue.campaign_id.in_(bindparam("ids", expanding=True)))
        .group_by(Issue.campaign_id, Issue.status)
    )
    _DUE = (
        select(
            Issue.campaign_id,
            func.sum(case((Issue.due < _param("today"), 1), else_=0)),
            func.sum(case((Issue.due >= _param("today"), 1), else_=0)),
        )
        .where(
            Issue.campaign_id.in_(bindparam("ids", expanding=True)),
            Issue.status.in_(Issues._NOT_RECTIFIED),
            Issue.due <= _param("soon"),
        )
        .group_by(Issue.campaign_id)
    )
    _UNITS = (
        select(Unit.campaign_id, func.count())
        .where(Unit.campaign_id.in_(bindparam("ids", expanding=True)), Unit.retired.is_(False))
        .group_by(Unit.campaign_id)
    )
    # A retired unit's reports are left out by NOT EXISTS over the (few) retired units, not by joining every unit.
    _WEEKLY = (
        select(
            WeeklyReport.campaign_id,
            func.count(),
            func.sum(case((WeeklyReport.late.is_(True), 1), else_=0)),
        )
        .where(
            WeeklyReport.campaign_id.in_(bindparam("ids", expanding=True)),
            WeeklyReport.iso_year == _param("iso_year"),
            WeeklyReport.iso_week == _param("iso_week"),
            ~select(Unit.id).where(Unit.id == WeeklyReport.unit_id, Unit.retired.is_(True)).exists(),
        )
        .group_by(WeeklyReport.campaign_id)
    )
    _COORDINATORS = (
        select(Coordinator.campaign_id, func.count())
        .where(Coordinator.campaign_id.in_(bindparam("ids", expanding=True)))
        .group_by(Coordinator.campaign_id)
    )

    def issue_counts(self, ids: Sequence[int], today: date, soon: date) -> dict[int, tuple[int, int, int, int, int]]:
        """campaign id → (logged, in progress, rectified, overdue, due from today to `soon`)."""
        counts: dict[int, list[int]] = {}
        for campaign_id, status, n in self.session.execute(self._STATUSES, {"ids": list(ids)}):
            found = counts.setdefault(campaign_id, [0, 0, 0, 0, 0])
            found[0] += int(n)
            if status is IssueStatus.IN_PROGRESS:
                found[1] += int(n)
            elif status is IssueStatus.RECTIFIED:
                found[2] += int(n)
        due = self.session.execute(self._DUE, {"ids": list(ids), "today": today, "soon": soon})
        for campaign_id, overdue, soon_ in due:
            found = counts.setdefault(campaign_id, [0, 0, 0, 0, 0])
            found[3], found[4] = int(overdue or 0), int(soon_ or 0)
        return {campaign_id: (a, b, c, d, e) for campaign_id, (a, b, c, d, e) in counts.items()}

    def units(self, ids: Sequence[int]) -> dict[int, int]:
        """campaign id → units still in it."""
        return self._counts(self._UNITS, ids)

    def coordinators(self, ids: Sequence[int]) -> dict[int, int]:
        return self._counts(self._COORDINATORS, ids)

    def weekly(self, ids: Sequence[int], iso_year: int, iso_week: int) -> dict[int, tuple[int, int]]:
        """campaign id → (units still in it that sent the week's report, how many of them late)."""
        rows = self.session.execute(self._WEEKLY, {"ids": list(ids), "iso_year": iso_year, "iso_week": iso_week})
        return {campaign_id: (int(sent), int(late or 0)) for campaign_id, sent, late in rows}

    def _counts(self, statement: Select[int, int], ids: Sequence[int]) -> dict[int, int]:
        return {campaign_id: int(n) for campaign_id, n in self.session.execute(statement, {"ids": list(ids)})}


class Upward(Repo):
    """What a child campaign records in its parent: the deliverables the parent asks of the unit it is there."""

    def parent(self, campaign: Campaign) -> tuple[Campaign, Unit] | None:
        """The campaign this one reports up to and the unit it is there; None without one (or when either is gone:
        the parent archived, the unit retired)."""
        if campaign.parent_id is None or campaign.parent_unit_id is None:
            return None
        parent = self.session.get(Campaign, campaign.parent_id)
        unit = self.session.get(Unit, campaign.parent_unit_id)
        if parent is None or parent.archived or unit is None or unit.retired or unit.campaign_id != parent.id:
            return None
        return parent, unit

    def submit(self, deliverable: Deliverable, unit: Unit, *, at: datetime, late: bool) -> Submission:
        """The unit's submission of a deliverable of its campaign, made from the campaign below (no liaison of the
        unit sent it, so no contact)."""
        submission = Submission(deliverable_id=deliverable.id, unit_id=unit.id, submitted_at=at, late=late)
        self.session.add(submission)
        self.session.flush()
        return submission
