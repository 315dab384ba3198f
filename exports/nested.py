"""A parent campaign's tables with its children in them (docs/plan-format.md「嵌套」).

附件2: each unit that runs a child campaign lists, after its own issues, every issue of the campaigns below it, as
rows of that unit; the 备注 names the child and the child's unit, and carries no 编号 (the number is the child's:
`duban import issues` skips such rows, they belong to the child's own ledger). 附件3: the children's counts are
added to the parent's columns where their 整治重点 is the same one (制度建设 counts under 行政执法制度建设); the
rest go to the 备注 line, as issues without a 整治重点 do.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.issues import IssueRecord
from storage.models import Campaign, Unit
from storage.repos import Issues, Rollup, Tables, name_key

CHILD_LABEL = "下级专项整治"  # how a child's issue is marked in the parent's 附件2 备注


def child_remark(child: Campaign, record: IssueRecord) -> str:
    """`下级专项整治「自然资源」法制科 #3`, then the child's own 备注."""
    origin = f"{CHILD_LABEL}「{child.alias or child.name}」{record.unit} #{record.number}"
    return f"{origin}；{record.remark}" if record.remark else origin


def ledger_with_children(session: Session, campaign: Campaign, unit: Unit | None = None) -> Iterator[IssueRecord]:
    """The ledger in table order (Issues.records), each unit's rows followed by those of the campaigns below it,
    relabelled as the unit's (number 0: the 备注 carries the child's). Streamed: the ledgers are merged, not
    loaded."""
    own = Issues(session).records(campaign, unit)
    below = Rollup(session).below(campaign, unit.id if unit is not None else None)
    if not below:
        yield from own
        return
    order = {
        id_: (position, id_)
        for id_, position in session.execute(select(Unit.id, Unit.position).where(Unit.campaign_id == campaign.id))
    }
    names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_({b.unit_id for b in below}))).all())

    def keyed_own() -> Iterator[tuple[tuple[int, int, int, int], int, IssueRecord]]:
        for index, record in enumerate(own):
            yield (*order[record.unit_id], 0, index), 0, record

    def keyed_children() -> Iterator[tuple[tuple[int, int, int, int], int, IssueRecord]]:
        index = 0
        for item in sorted(below, key=lambda b: (order[b.unit_id], b.depth, b.campaign.id)):
            for record in Issues(session).records(item.campaign):
                index += 1
                relabelled = replace(
                    record,
                    unit_id=item.unit_id,
                    unit=names[item.unit_id],
                    number=0,
                    remark=child_remark(item.campaign, record),
                )
                yield (*order[item.unit_id], 1, index), 1, relabelled

    for _key, _side, record in heapq.merge(keyed_own(), keyed_children(), key=lambda entry: entry[0]):
        yield record


@dataclass
class ChildAreas:
    """The campaigns below, counted in a parent's 附件3 columns."""

    found: dict[str, int]
    rectified: dict[str, int]
    handled: dict[str, int]
    disciplined: dict[str, int]
    unmatched: int = 0  # their issues whose 整治重点 is none of the parent's (or none at all)


def area_of(areas: Sequence[str], area: str | None) -> str | None:
    """The parent's 整治重点 a child's is: the same (方面 or not), or the one that contains it or that it contains."""
    if not area:
        return None
    key = name_key(area).removesuffix("方面")
    keys = {a: name_key(a).removesuffix("方面") for a in areas}
    same = [a for a, k in keys.items() if k == key]
    if same:
        return same[0]
    near = [a for a, k in keys.items() if key in k or k in key]
    return near[0] if len(near) == 1 else None


def child_areas(session: Session, campaign: Campaign, areas: Sequence[str], unit: Unit | None = None) -> ChildAreas:
    counts = ChildAreas({}, {}, {}, {})
    tables = Tables(session)

    def add(target: dict[str, int], area: str, value: Any) -> None:
        target[area] = target.get(area, 0) + int(value or 0)

    for item in Rollup(session).below(campaign, unit.id if unit is not None else None):
        for area, found, rectified in tables.issues_by_area(item.campaign):
            mapped = area_of(areas, area)
            if mapped is None:
                counts.unmatched += int(found)
                continue
            add(counts.found, mapped, found)
            add(counts.rectified, mapped, rectified)
        for area, handled, disciplined in tables.stats_by_area(item.campaign):
            mapped = area_of(areas, area)
            if mapped is not None:
                add(counts.handled, mapped, handled)
                add(counts.disciplined, mapped, disciplined)
    return counts
