"""Benchmark: a national campaign as provincial child campaigns under one parent (`bench/scale.py --national`).

    .venv/bin/python -m bench.scale --national [--provinces 31] [--units 3000-5000] [--postgres-url URL]

Generates, in one PostgreSQL database (bench_national, dropped afterwards), a parent campaign with one unit per
province, `--provinces` child campaigns (plan `campaign.parent`) whose sizes run evenly from the low to the high
end of `--units` (the last one exactly the high end), each as bench/scale_data.py makes a campaign (2 liaisons and
20 issues per unit, 26 weeks of reports), and beside them a single campaign of the high size with no parent. Then:

- the parent's 汇总 through the dispatcher (target ≤ 1 s): median, SQL statements, the slowest statements, and
  EXPLAIN ANALYZE of the children's issue aggregate;
- each child's 汇总 and the single campaign's (target: the child of the same size no slower);
- the Friday 09:00 fan-out of every child (one reminder-engine tick per child, then the delivery worker draining
  the outbox to the simulator) against the platforms' published limits: WeCom app messages
  (developer.work.weixin.qq.com/document/path/90312: 30 a minute and 1,000 an hour per member, 200 × the
  account limit per app per day, not counted in the per-minute API quota) and DingTalk work notices
  (asyncsend_v2: 500 a day per person, identical content once a day per person; the organisation's API rate
  20/40/60 calls a second by edition — figures from DingTalk's developer community, no limit page states them).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from bench.scale_data import TODAY, Campaign, friday_moment, generate
from bot.app import freeze_startup_objects
from core.clock import ManualClock
from core.statuses import OutboxStatus
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from plan.schema import validate_plan
from plan.sync import load_plan
from scheduler.delivery import DeliveryWorker
from scheduler.engine import ReminderEngine
from scheduler.outbound import SimulatorSender
from storage.db import transaction
from storage.models import OutboxMessage
from storage.repos import Campaigns, Rollup

PARENT = "全国规模基准专项整治"
NATIONAL_COORDINATOR = "GuoBan"  # the parent's coordinator; each province has its own
SUMMARY_TARGET_S = 1.0
DINGTALK_QPS = {"标准版": 20, "专业版": 40, "专属版": 60}
WECOM_PER_MEMBER_MINUTE = 30
WECOM_PER_MEMBER_HOUR = 1000
WECOM_DAILY_PER_ACCOUNT = 200
WINDOWS_MIN = (30, 120)  # the 09:00 reminders out by 09:30, or at least before the 11:00 one


def province_sizes(provinces: int, low: int, high: int) -> list[int]:
    """Evenly from `low` to `high`, the last one exactly `high` (compared with the single campaign)."""
    if provinces == 1:
        return [high]
    return [low + (high - low) * i // (provinces - 1) for i in range(provinces)]


def province(index: int) -> str:
    return f"第{index:02d}省"


def parent_plan(provinces: int) -> dict[str, Any]:
    return {
        "campaign": {"name": PARENT, "start": TODAY - timedelta(weeks=26), "end": TODAY + timedelta(weeks=8)},
        "weekly_report": {"weekday": "周五"},
        "units": [{"name": province(i)} for i in range(1, provinces + 1)],
        "coordinators": [{"name": "国办协调人", "wecom_userid": NATIONAL_COORDINATOR}],
    }


@dataclass
class Nation:
    children: list[Campaign]
    single: Campaign


def generate_nation(sessions: sessionmaker[Session], sizes: list[int], *, progress: Callable[[str], None]) -> Nation:
    now = datetime.combine(TODAY - timedelta(weeks=26), datetime.min.time(), tzinfo=UTC)
    with transaction(sessions) as session:
        load_plan(session, validate_plan(parent_plan(len(sizes)), "bench"), now=now)
    children = []
    for index, units in enumerate(sizes, start=1):
        started = time.perf_counter()
        children.append(
            generate(
                sessions,
                units,
                name=f"规模基准专项整治·{province(index)}（{units}个单位）",
                parent={"campaign": PARENT, "unit": province(index)},
                seed=index,
                coordinator=f"Coordinator{index:02d}",  # each province has its own
            )
        )
        progress(f"    {province(index)}: {units} units in {time.perf_counter() - started:.1f} s")
    single = generate(sessions, sizes[-1], name=f"单独的规模基准专项整治（{sizes[-1]}个单位）", seed=0)
    return Nation(children, single)


@contextmanager
def timed_statements(engine: Engine) -> Iterator[list[tuple[float, str]]]:
    """(seconds, SQL) of every statement run inside the block."""
    found: list[tuple[float, str]] = []
    started: dict[int, float] = {}

    def before(_conn: Any, cursor: Any, _statement: str, *_args: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        found.append((time.perf_counter() - started.pop(id(cursor), time.perf_counter()), statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _ask(dispatcher: Dispatcher, user: str, command: str, expect: str) -> Callable[[], None]:
    asked = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)

    def action() -> None:
        reply = dispatcher.handle(IncomingMessage("wecom", user, command, asked))
        assert expect in reply.texts[0], reply.texts

    return action


def _median(repeat: int, action: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_summaries(engine: Engine, sessions: sessionmaker[Session], nation: Nation, repeat: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    freeze_startup_objects()
    parent = _ask(Dispatcher(sessions, campaign_name=PARENT), NATIONAL_COORDINATOR, "汇总", "下级专项整治")
    parent()  # warm up
    with timed_statements(engine) as statements:
        parent()
    figures["parent_sql"] = len(statements)
    figures["parent_slowest"] = sorted(statements, reverse=True)[:4]
    figures["parent_ms"] = _median(repeat, parent) * 1000
    children = []
    for child in nation.children:
        ask = _ask(Dispatcher(sessions, campaign_name=child.name), child.coordinator, "汇总", "汇总")
        ask()
        children.append((child.units, _median(max(repeat // 2, 1), ask) * 1000))
    figures["children_ms"] = children
    single = _ask(Dispatcher(sessions, campaign_name=nation.single.name), nation.single.coordinator, "汇总", "汇总")
    single()
    with timed_statements(engine) as statements:
        single()
    figures["single_sql"] = len(statements)
    figures["single_ms"] = _median(repeat, single) * 1000
    biggest = nation.children[-1]
    largest = _ask(Dispatcher(sessions, campaign_name=biggest.name), biggest.coordinator, "汇总", "汇总")
    figures["largest_child_ms"] = _median(repeat, largest) * 1000  # the same size as the single one, timed alike
    with timed_statements(engine) as statements:
        largest()
    figures["child_sql"] = len(statements)
    return figures


def explain_rollup(engine: Engine, sessions: sessionmaker[Session]) -> list[str]:
    """How the parent's three aggregates over its children run: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL (each
    plan's first line, its scans and its time), EXPLAIN QUERY PLAN on SQLite."""
    with transaction(sessions) as session:
        parent = Campaigns(session).current(PARENT)
        assert parent is not None
        ids = [b.campaign.id for b in Rollup(session).below(parent)]
    iso, last = TODAY.isocalendar(), (TODAY - timedelta(weeks=1)).isocalendar()
    statements = {
        "issues by status": Rollup._STATUSES.params(ids=ids),
        "open issues due by soon": Rollup._DUE.params(ids=ids, today=TODAY, soon=TODAY + timedelta(days=3)),
        "this week's reports": Rollup._WEEKLY.params(ids=ids, iso_year=iso.year, iso_week=iso.week),
        # Nobody has reported yet on the bench's Wednesday: last week's (90 % sent) is what a Friday afternoon reads.
        "last week's reports": Rollup._WEEKLY.params(ids=ids, iso_year=last.year, iso_week=last.week),
    }
    sqlite = engine.url.get_backend_name() == "sqlite"
    dialect = engine.dialect if sqlite else postgresql.dialect()
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    lines = []
    with engine.connect() as connection:
        for label, statement in statements.items():
            sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            plan = [str(row[-1]) for row in connection.execute(text(explain + sql))]
            keep = [line for line in plan if sqlite or "Scan" in line or "Execution Time" in line or line is plan[0]]
            lines.append(f"{label}:")
            lines.extend(f"  {' '.join(line.split())[:150]}" for line in keep)
    return lines


@dataclass
class FanOut:
    reminders: int = 0
    liaisons: int = 0
    tick_s: float = 0.0
    drain_s: float = 0.0
    per_member_max: int = 0
    per_child: list[int] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)


def measure_national_fanout(sessions: sessionmaker[Session], nation: Nation) -> FanOut:
    """Every child's 09:00 report-day tick (nobody has reported this week), then the worker draining all of it."""
    clock = ManualClock(friday_moment(9, 0) + timedelta(seconds=30))
    result = FanOut(liaisons=sum(len(c.liaison_users) for c in nation.children))
    started = time.perf_counter()
    for child in nation.children:
        engine = ReminderEngine(sessions, clock=clock, route=lambda _platform: "sim", campaign_name=child.name)
        result.per_child.append(engine.tick().queued)
    result.tick_s = time.perf_counter() - started
    result.reminders = sum(result.per_child)
    with transaction(sessions) as session:
        result.per_member_max = int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .group_by(OutboxMessage.target)
                .order_by(func.count().desc())
                .limit(1)
            )
            or 0
        )
        keys = session.scalars(select(OutboxMessage.key).where(OutboxMessage.status == OutboxStatus.PENDING))
        for key in keys:
            rule = (key or "").split(":", 1)[0]
            result.by_rule[rule] = result.by_rule.get(rule, 0) + 1
    started = time.perf_counter()
    worker = DeliveryWorker(sessions, {"sim": SimulatorSender()}, clock=clock, limits={})
    asyncio.run(worker.drain(max_rounds=1_000_000))
    result.drain_s = time.perf_counter() - started
    with transaction(sessions) as session:
        pending = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
    assert not pending, f"{pending} reminders left pending"
    return result


def limits_table(fan: FanOut) -> list[str]:
    """Messages a minute the Friday 09:00 fan-out needs against what each platform allows."""
    lines = [
        f"Friday 09:00: {fan.reminders:,} reminders to {fan.liaisons:,} liaisons "
        f"(at most {fan.per_member_max} to one person; "
        + ", ".join(f"{rule} {count:,}" for rule, count in sorted(fan.by_rule.items()))
        + "); the 11:00 round repeats the weekly ones for everyone not reported",
        f"  duban: ticks {fan.tick_s:.1f} s, delivery to the simulator {fan.drain_s:.1f} s "
        f"= {fan.reminders / max(fan.drain_s, 1e-9) * 60:,.0f} a minute",
    ]
    for window in WINDOWS_MIN:
        lines.append(f"  needed to be out within {window} min: {fan.reminders / window:,.0f} a minute")
    daily = fan.reminders + fan.by_rule.get("weekly.remind", 0)
    lines.append(
        f"  WeCom app messages: per member {fan.per_member_max}/min (allowed {WECOM_PER_MEMBER_MINUTE}/min, "
        f"{WECOM_PER_MEMBER_HOUR}/h); per day ≈{daily:,} (09:00 and 11:00) against ≥"
        f"{WECOM_DAILY_PER_ACCOUNT * fan.liaisons:,} (200 × accounts); no per-minute cap on the app as a whole"
    )
    for edition, qps in DINGTALK_QPS.items():
        minutes = fan.reminders / (qps * 60)
        lines.append(
            f"  DingTalk work notices, one call each, {edition} {qps} calls/s = {qps * 60:,}/min: "
            f"the 09:00 round takes {minutes:,.1f} min"
        )
    return lines
