"""Benchmark: 汇总 and `export issues` on a generated campaign of 5,000 units, 100,000 issues and 26 weeks
of weekly reports, each against a bare baseline measured in the same run.

    .venv/bin/python bench/summary.py [--database-url URL] [--repeat 5]

Prints, for 500 and for 5,000 units: the time of one 汇总 (the coordinator's message through the
dispatcher, as a channel calls it) against one raw SQL aggregate over the same tables (target ≤ 3×), the
number of SQL statements 汇总 issues (target: the same at both sizes), and the time and peak Python memory
of `export issues` against a bare openpyxl write-only loop over the same rows (target ≤ 2×; memory flat
from 10,000 to 100,000 issues). Not run by `make test`.
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
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

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

RAW_AGGREGATE = text("""
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


def best(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


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


def measure(url: str, units: int, repeat: int, workdir: Path) -> dict[str, float]:
    engine = reset(url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    generate(sessions, units)
    print(
        f"  generated {units} units, {units * ISSUES_PER_UNIT} issues, 26 weeks of reports "
        f"in {time.perf_counter() - started:.1f} s"
    )
    name = plan(units)["campaign"]["name"]
    dispatcher = Dispatcher(sessions, campaign_name=name)
    asked = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)

    def summary() -> None:
        reply = dispatcher.handle(IncomingMessage("wecom", "YuJianKui", "汇总", asked))
        assert "汇总" in reply.texts[0], reply.texts

    def raw() -> None:
        with transaction(sessions) as session:
            campaign = Campaigns(session).current(name)
            assert campaign is not None
            iso = TODAY.isocalendar()
            rows = session.execute(
                RAW_AGGREGATE, {"campaign": campaign.id, "today": TODAY, "year": iso.year, "week": iso.week}
            ).all()
            assert len(rows) == units + 1

    summary()  # warm caches (and matplotlib's font lookup) before timing
    with counting(engine) as statements:
        summary()
    result = {"summary": best(repeat, summary), "raw": best(repeat, raw), "statements": len(statements)}
    result["export"] = best(1, lambda: duban_export(sessions, name, workdir / f"duban-{units}.xlsx"))
    result["bare"] = best(1, lambda: bare_export(sessions, name, workdir / f"bare-{units}.xlsx"))
    result["export_mib"] = peak_memory(lambda: duban_export(sessions, name, workdir / "m1.xlsx"))
    result["bare_mib"] = peak_memory(lambda: bare_export(sessions, name, workdir / "m2.xlsx"))
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite files in a temp dir)")
    parser.add_argument("--repeat", type=int, default=5, help="timings are the best of this many runs")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        workdir = Path(tmp)
        for units in (500, 5000):
            url = args.database_url or f"sqlite:///{workdir / f'bench-{units}.db'}"
            print(f"{units} units ({url.split('://')[0]}):")
            results[units] = measure(url, units, args.repeat, workdir)
    print()
    print(f"{'':28}{'500 units':>14}{'5,000 units':>14}")
    rows = [
        ("汇总 (ms)", "summary", 1000, ".1f"),
        ("raw SQL aggregate (ms)", "raw", 1000, ".1f"),
        ("SQL statements per 汇总", "statements", 1, ".0f"),
        ("export issues (s)", "export", 1, ".2f"),
        ("bare openpyxl loop (s)", "bare", 1, ".2f"),
        ("export peak memory (MiB)", "export_mib", 1, ".1f"),
        ("bare loop peak memory (MiB)", "bare_mib", 1, ".1f"),
    ]
    for label, key, scale, fmt in rows:
        print(f"{label:28}" + "".join(f"{results[u][key] * scale:>14{fmt}}" for u in (500, 5000)))
    for units in (500, 5000):
        r = results[units]
        print(
            f"{units} units: 汇总/raw = {r['summary'] / r['raw']:.2f}× (target ≤ 3×), "
            f"export/bare = {r['export'] / r['bare']:.2f}× (target ≤ 2×)"
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
