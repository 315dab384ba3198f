"""Benchmark: 汇总 and `export issues` on a generated campaign of 5,000 units, 100,000 issues and 26 weeks
of weekly reports, each against a bare baseline measured in the same run.

    .venv/bin/python bench/summary.py [--database-url URL] [--repeat 9] [--export-repeat 3]

Prints, for 500 and for 5,000 units: the time of one 汇总 (the coordinator's message through the
dispatcher, as a channel calls it) against one raw SQL aggregate over the same tables that returns what 汇总
shows per unit (target ≤ 2×), the number of SQL statements 汇总 issues (target: the same at both sizes), and
the time and peak Python memory of `export issues` against a bare openpyxl write-only loop over the same rows
(target ≤ 1.5×; memory flat from 10,000 to 100,000 issues). Not run by `make test`.

Each timing is the best of several runs, a product run and its baseline taking turns, so that load from
other processes on a shared machine weighs on both alike. On SQLite, where all the work is in this process,
the ratios of process CPU time are printed too: they move much less with such load than wall-clock ones.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import Workbook
from sqlalchemy import Engine, TextClause, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from bot.app import freeze_startup_objects
from core.statuses import ContactStatus, IssueStatus
from exports.tables import export_issues
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from plan.schema import validate_plan
from plan.sync import load_plan
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import Base, Contact, Issue, Unit, WeeklyReport
from storage.repos import Campaigns, Issues

TODAY = date(2020, 11, 25)  # a Wednesday, 26 weeks into the campaign
START = TODAY - timedelta(weeks=26)
ISSUES_PER_UNIT = 20
AREAS = ["制度建设", "履行职责", "回应群众诉求", "队伍建设", "责任追究"]
SOURCES = ["信访举报", "媒体曝光", "行政复议", "行政诉讼", "上级机关督查督办", "巡视巡察", "专项检查"]

# The baseline: what 汇总 shows of each unit, in one hand-written statement. Besides the counts it returns what
# the reply cannot do without: the unit's name (and aliases, which decide who owes a deliverable named by
# unit), the issues due within 3 days (a unit's yellow light), whether this week's report came late (迟报),
# and the plan's order of the units. Written as fast as known on both databases: the aliases as text (not
# decoded as JSON per unit), whether a unit has a liaison as an EXISTS (a DISTINCT subquery joined to the
# ordered units makes SQLite scan it once per unit: 0.9 s instead of 40 ms at 5,000 units).
RAW_AGGREGATE = text("""
SELECT u.id, u.name, CAST(u.aliases AS TEXT),
       COALESCE(i.logged, 0), COALESCE(i.in_progress, 0), COALESCE(i.rectified, 0), COALESCE(i.overdue, 0),
       COALESCE(i.due_soon, 0),
       EXISTS (SELECT 1 FROM contacts c WHERE c.unit_id = u.id AND c.status = 'active'),
       w.id IS NOT NULL, COALESCE(w.late, false)
FROM units u
LEFT JOIN (SELECT unit_id, COUNT(*) AS logged,
                  SUM(CASE WHEN status = 'in_progress' THEN 1 ELSE 0 END) AS in_progress,
                  SUM(CASE WHEN status = 'rectified' THEN 1 ELSE 0 END) AS rectified,
                  SUM(CASE WHEN status <> 'rectified' AND due < :today THEN 1 ELSE 0 END) AS overdue,
                  SUM(CASE WHEN status <> 'rectified' AND due BETWEEN :today AND :soon THEN 1 ELSE 0 END) AS due_soon
           FROM issues WHERE campaign_id = :campaign GROUP BY unit_id) i ON i.unit_id = u.id
LEFT JOIN (SELECT id, unit_id, late FROM weekly_reports
           WHERE campaign_id = :campaign AND iso_year = :year AND iso_week = :week) w ON w.unit_id = u.id
WHERE u.campaign_id = :campaign AND u.retired = false
ORDER BY u.position
""")

# The baseline of earlier runs, for comparison: the counts alone, without names, order, due-soon or lateness.
COUNTS_ONLY = text("""
SELECT u.id, COALESCE(i.logged, 0), COALESCE(i.in_progress, 0), COALESCE(i.rectified, 0), COALESCE(i.overdue, 0),
       w.unit_id IS NOT NULL, c.unit_id IS NOT NULL
FROM units u
LEFT JOIN (SELECT unit_id, COUNT(*) AS logged,
                  SUM(CASE WHEN status = 'in_progress' THEN 1 ELSE 0 END) AS in_progress,
                  SUM(CASE WHEN status = 'rectified' THEN 1 ELSE 0 END) AS rectified,
                  SUM(CASE WHEN status <> 'rectified' AND due < :today THEN 1 ELSE 0 END) AS overdue
           FROM issues WHERE campaign_id = :campaign GROUP BY unit_id) i ON i.unit_id = u.id
LEFT JOIN (SELECT unit_id FROM weekly_reports
           WHERE campaign_id = :campaign AND iso_year = :year AND iso_week = :week) w ON w.unit_id = u.id
LEFT JOIN (SELECT DISTINCT unit_id FROM contacts WHERE campaign_id = :campaign AND status = 'active') c
       ON c.unit_id = u.id
WHERE u.campaign_id = :campaign AND u.retired = false
""")


def plan(units: int) -> dict[str, Any]:
    return {
        "campaign": {
            "name": f"基准测试专项整治（{units}个单位）",
            "start": START,
            "end": START + timedelta(days=200),
            "target": {"rate": 0.9, "by": START + timedelta(days=150)},
        },
        "focus_areas": AREAS,
        "sources": SOURCES,
        "phases": [
            {"name": "安排部署阶段", "end": START + timedelta(days=7)},
            {"name": "自查整改阶段", "end": START + timedelta(days=160)},
            {"name": "巩固提高阶段", "end": START + timedelta(days=200)},
        ],
        "deliverables": [
            {"name": "专项整治联系人", "due": START + timedelta(days=7)},
            {"name": "自查整改报告", "due": TODAY + timedelta(days=2)},
        ],
        "units": [{"name": "牵头科室"}],
        "coordinators": [{"name": "俞建奎", "wecom_userid": "YuJianKui"}],
    }


def generate(sessions: sessionmaker[Session], units: int) -> None:
    """A campaign with `units` units, 20 issues each in every status, 26 weeks of reports (90% sent)."""
    rng = random.Random(units)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        campaign = load_plan(session, validate_plan(plan(units), "bench"), now=now).campaign
        unit_rows = [
            {
                "campaign_id": campaign.id,
                "name": f"第{n:04d}执法单位",
                "aliases": [],
                "groups": [],
                "position": n,
                "retired": False,
            }
            for n in range(1, units + 1)
        ]
        session.execute(insert(Unit), unit_rows)
        unit_ids = [u.id for u in Campaigns(session).current(campaign.name).units if u.name != "牵头科室"]  # type: ignore[union-attr]
        session.execute(
            insert(Contact),
            [
                {
                    "campaign_id": campaign.id,
                    "unit_id": unit_id,
                    "name": "联络员",
                    "phone": f"139{unit_id:08d}",
                    "status": ContactStatus.ACTIVE if unit_id % 10 else ContactStatus.PENDING,
                    "created_at": now,
                    "updated_at": now,
                }
                for unit_id in unit_ids
            ],
        )
        number = 0
        batch: list[dict[str, Any]] = []
        for unit_id in unit_ids:
            for _ in range(ISSUES_PER_UNIT):
                number += 1
                status = rng.choice(list(IssueStatus))
                batch.append(
                    {
                        "campaign_id": campaign.id,
                        "unit_id": unit_id,
                        "number": number,
                        "year": 2020,
                        "title": f"执法问题线索{number}",
                        "source": rng.choice(SOURCES),
                        "focus_area": rng.choice(AREAS),
                        "content": "自查发现执法案卷归档不及时，部分文书要素不全，执法程序记录不完整。" * 2,
                        "measures": "明确责任人，制定整改方案，逐卷补正并建立归档台账。",
                        "goal": "整改到位，建立长效机制。",
                        "owner": "张三",
                        "due": START + timedelta(days=rng.randint(20, 190)),
                        "status": status,
                        "percent": {IssueStatus.OPEN: 0, IssueStatus.IN_PROGRESS: 50, IssueStatus.RECTIFIED: 100}[
                            status
                        ],
                        "created_at": now,
                        "updated_at": now,
                        "rectified_at": now if status is IssueStatus.RECTIFIED else None,
                    }
                )
                if len(batch) == 5000:
                    session.execute(insert(Issue), batch)
                    batch = []
        if batch:
            session.execute(insert(Issue), batch)
        for week in range(26):
            monday = START + timedelta(weeks=week)
            iso = monday.isocalendar()
            submitted = datetime.combine(monday + timedelta(days=4), datetime.min.time(), tzinfo=UTC)
            session.execute(
                insert(WeeklyReport),
                [
                    {
                        "campaign_id": campaign.id,
                        "unit_id": unit_id,
                        "iso_year": iso.year,
                        "iso_week": iso.week,
                        "text": "本周完成执法案卷评查。",
                        "submitted_at": submitted,
                        "late": rng.random() < 0.1,
                        "revisions": 1,
                    }
                    for unit_id in unit_ids
                    if rng.random() < 0.9
                ],
            )


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def best(repeat: int, *actions: Callable[[], object]) -> list[tuple[float, float]]:
    """(wall-clock, process CPU) seconds of each action, the best of `repeat` runs, the actions taking turns."""
    walls = [float("inf")] * len(actions)
    cpus = [float("inf")] * len(actions)
    for _ in range(repeat):
        for index, action in enumerate(actions):
            wall, cpu = time.perf_counter(), time.process_time()
            action()
            walls[index] = min(walls[index], time.perf_counter() - wall)
            cpus[index] = min(cpus[index], time.process_time() - cpu)
    return list(zip(walls, cpus, strict=True))


def peak_memory(action: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def bare_export(sessions: sessionmaker[Session], campaign_name: str, path: Path) -> None:
    """The baseline: the same rows, straight into a write-only workbook, no layout, no styles, no checks."""
    with transaction(sessions) as session:
        campaign = Campaigns(session).current(campaign_name)
        assert campaign is not None
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        for row in Issues(session).records(campaign):
            sheet.append(
                [
                    row.number,
                    row.year,
                    row.title,
                    row.source,
                    row.content,
                    row.measures,
                    row.goal,
                    row.owner,
                    row.due,
                    row.remark,
                ]
            )
        workbook.save(path)


def duban_export(sessions: sessionmaker[Session], campaign_name: str, path: Path) -> None:
    with transaction(sessions) as session:
        campaign = Campaigns(session).current(campaign_name)
        assert campaign is not None
        export_issues(session, campaign, path, today=TODAY)


def reset(url: str) -> Engine:
    """An engine on `url` with the current schema and no rows (PostgreSQL: tables dropped first)."""
    engine = make_engine(url)
    if engine.url.get_backend_name() != "sqlite":
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade_schema(engine)
    return engine


def measure(url: str, units: int, repeat: int, export_repeat: int, workdir: Path) -> dict[str, float]:
    engine = reset(url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    generate(sessions, units)
    if engine.url.get_backend_name() == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    print(
        f"  generated {units} units, {units * ISSUES_PER_UNIT} issues, 26 weeks of reports "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    name = plan(units)["campaign"]["name"]
    dispatcher = Dispatcher(sessions, campaign_name=name)
    asked = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)

    def summary() -> None:
        reply = dispatcher.handle(IncomingMessage("wecom", "YuJianKui", "汇总", asked))
        assert "汇总" in reply.texts[0], reply.texts

    def raw(statement: TextClause) -> Callable[[], None]:
        def action() -> None:
            with transaction(sessions) as session:
                campaign = Campaigns(session).current(name)
                assert campaign is not None
                iso = TODAY.isocalendar()
                parameters = {"campaign": campaign.id, "today": TODAY, "soon": TODAY + timedelta(days=3)}
                rows = session.execute(statement, {**parameters, "year": iso.year, "week": iso.week}).all()
                assert len(rows) == units + 1

        return action

    summary()  # warm caches (and matplotlib's font lookup) before timing
    with counting(engine) as statements:
        summary()
    freeze_startup_objects()  # as `duban serve` does before it serves
    timed = best(repeat, summary, raw(RAW_AGGREGATE), raw(COUNTS_ONLY))
    result: dict[str, float] = {"statements": len(statements)}
    for key, (wall, cpu) in zip(("summary", "raw", "counts_only"), timed, strict=True):
        result[key], result[f"{key}_cpu"] = wall, cpu
    exported = best(
        export_repeat,
        lambda: duban_export(sessions, name, workdir / f"duban-{units}.xlsx"),
        lambda: bare_export(sessions, name, workdir / f"bare-{units}.xlsx"),
    )
    for key, (wall, cpu) in zip(("export", "bare"), exported, strict=True):
        result[key], result[f"{key}_cpu"] = wall, cpu
    result["export_mib"] = peak_memory(lambda: duban_export(sessions, name, workdir / "m1.xlsx"))
    result["bare_mib"] = peak_memory(lambda: bare_export(sessions, name, workdir / "m2.xlsx"))
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite files in a temp dir)")
    parser.add_argument("--repeat", type=int, default=9, help="汇总 timings are the best of this many runs")
    parser.add_argument("--export-repeat", type=int, default=3, help="export timings: the best of this many")
    args = parser.parse_args()
    results = {}
    sqlite = args.database_url is None
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        workdir = Path(tmp)
        for units in (500, 5000):
            url = args.database_url or f"sqlite:///{workdir / f'bench-{units}.db'}"
            print(f"{units} units ({url.split('://')[0]}):", flush=True)
            results[units] = measure(url, units, args.repeat, args.export_repeat, workdir)
    print()
    print(f"{'':36}{'500 units':>14}{'5,000 units':>14}")
    rows = [
        ("汇总 (ms)", "summary", 1000, ".1f"),
        ("raw SQL aggregate (ms)", "raw", 1000, ".1f"),
        ("  counts only, as before (ms)", "counts_only", 1000, ".1f"),
        ("SQL statements per 汇总", "statements", 1, ".0f"),
        ("export issues (s)", "export", 1, ".2f"),
        ("bare openpyxl loop (s)", "bare", 1, ".2f"),
        ("export peak memory (MiB)", "export_mib", 1, ".1f"),
        ("bare loop peak memory (MiB)", "bare_mib", 1, ".1f"),
    ]
    if sqlite:
        rows[4:4] = [
            ("汇总 CPU (ms)", "summary_cpu", 1000, ".1f"),
            ("raw SQL aggregate CPU (ms)", "raw_cpu", 1000, ".1f"),
        ]
        rows += [
            ("export issues CPU (s)", "export_cpu", 1, ".2f"),
            ("bare openpyxl loop CPU (s)", "bare_cpu", 1, ".2f"),
        ]
    for label, key, scale, fmt in rows:
        print(f"{label:36}" + "".join(f"{results[u][key] * scale:>14{fmt}}" for u in (500, 5000)))
    for units in (500, 5000):
        r = results[units]
        cpu = (
            f" (CPU: {r['summary_cpu'] / r['raw_cpu']:.2f}×, {r['export_cpu'] / r['bare_cpu']:.2f}×)" if sqlite else ""
        )
        print(
            f"{units} units: 汇总/raw = {r['summary'] / r['raw']:.2f}× (target ≤ 2×; counts only: "
            f"{r['summary'] / r['counts_only']:.2f}×), export/bare = {r['export'] / r['bare']:.2f}× (target ≤ 1.5×)"
            + cpu
        )
    same = results[500]["statements"] == results[5000]["statements"]
    print(
        f"statements: {results[500]['statements']:.0f} at 500 units, {results[5000]['statements']:.0f} at 5,000 "
        f"({'the same' if same else 'DIFFERENT'}); export memory {results[500]['export_mib']:.1f} → "
        f"{results[5000]['export_mib']:.1f} MiB for 10× the rows"
    )
    print(
        f"median of the two 汇总/raw ratios: "
        f"{statistics.median(results[u]['summary'] / results[u]['raw'] for u in (500, 5000)):.2f}×"
    )


if __name__ == "__main__":
    main()
