"""Benchmark: duban at province size, and how each figure grows from 500 to 5,000 units.

    .venv/bin/python -m bench.scale [--backend sqlite|postgresql|both] [--units 500,5000] [--quick]
                                    [--postgres-url URL] [--out bench/scale-results.txt]
    .venv/bin/python -m bench.scale --national [--provinces 31] [--units 3000-5000] [--quick]

--national: one parent campaign over provincial child campaigns, on PostgreSQL (bench/national.py says what it
measures); its report goes to bench/national-results.txt.

For each backend and unit count it generates a campaign (bench/scale_data.py: 2 liaisons and 20 issues per
unit, 26 weeks of weekly reports, deliverables and submissions) and measures:

- 汇总 and 逾期 as the coordinator sends them (through the dispatcher; median of N runs and the number of
  SQL statements), and a liaison's own 汇总;
- `duban export issues` in a subprocess (time; peak RSS from getrusage(RUSAGE_CHILDREN) in a small launcher)
  against a bare openpyxl write-only loop over the same rows in another subprocess (the ratio is printed);
- the Friday fan-out: the reminder engine's tick at 09:00 on report day (an injected clock; every unit's
  liaisons are due a reminder) and the delivery worker draining the outbox to the simulator sender;
- WeCom callback throughput: bench/callback.py's server and load (uvicorn, one worker, encrypted callbacks
  from the generated liaisons, 100 concurrent senders): messages/s, p50 and p99;
- the database size.

Then prints one table per backend with the 500 → 5,000 growth factor of each figure (linear = 10×) and the
load average, and writes it all to --out. PostgreSQL databases duban_scale_<units> are created on the
server of --postgres-url and dropped afterwards. --quick: fewer repeats and callbacks (a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.callback import AES_KEY, AGENT_ID, CORP_ID, TOKEN, Served, callbacks, load
from bench.national import (
    SUMMARY_TARGET_S,
    explain_rollup,
    generate_nation,
    limits_table,
    measure_national_fanout,
    measure_summaries,
    province_sizes,
)
from bench.scale_data import COORDINATOR, TODAY, Campaign, database_size, friday_moment, generate
from bench.summary import counting, reset
from bot.app import freeze_startup_objects
from core.clock import ManualClock
from core.statuses import OutboxStatus
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from scheduler.delivery import DeliveryWorker
from scheduler.engine import ReminderEngine
from scheduler.outbound import SimulatorSender
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CALLBACK_TEXTS = ("我的问题", "汇总", "帮助", "周报 本周完成执法案卷评查{n}件")


@dataclass
class Settings:
    repeat: int = 5
    callbacks: int = 1000
    senders: int = 100
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))


@dataclass(frozen=True)
class Row:
    label: str
    key: str
    fmt: str
    scale: float = 1.0


ROWS = (
    Row("generate (s)", "generate", ".1f"),
    Row("DB size (MiB)", "db_mib", ".1f"),
    Row("汇总 coordinator (ms)", "summary_ms", ".0f"),
    Row("汇总 SQL statements", "summary_sql", ".0f"),
    Row("汇总 liaison (ms)", "unit_summary_ms", ".1f"),
    Row("逾期 (ms)", "overdue_ms", ".1f"),
    Row("逾期 SQL statements", "overdue_sql", ".0f"),
    Row("export issues (s)", "export_s", ".2f"),
    Row("bare openpyxl (s)", "bare_s", ".2f"),
    Row("export / bare", "export_ratio", ".2f"),
    Row("export peak RSS (MiB)", "export_rss", ".0f"),
    Row("bare peak RSS (MiB)", "bare_rss", ".0f"),
    Row("fan-out reminders", "reminders", ".0f"),
    Row("fan-out tick (s)", "tick_s", ".2f"),
    Row("fan-out total (s)", "fanout_s", ".2f"),
    Row("callbacks (msg/s)", "callback_rps", ".1f"),
    Row("callback p50 (ms)", "callback_p50", ".0f"),
    Row("callback p99 (ms)", "callback_p99", ".0f"),
)


def median_time(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# A small process that runs the command and reports its peak RSS: a child forked straight from this one would
# start with our own RSS as its ru_maxrss (Linux carries the high-water mark across fork and exec).
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def run_child(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command to completion; (wall seconds, its peak RSS in MiB, from getrusage(RUSAGE_CHILDREN))."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        cwd=ROOT,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{command} exited with {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, int(done.stdout.split()[-1]) / 1024  # Linux reports KiB


def measure_chat(url: str, campaign: Campaign, settings: Settings) -> dict[str, float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    dispatcher = Dispatcher(sessions, campaign_name=campaign.name)
    asked = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
    liaison = campaign.liaison_users[len(campaign.liaison_users) // 2]

    def ask(user: str, command: str, expect: str) -> Callable[[], None]:
        def action() -> None:
            reply = dispatcher.handle(IncomingMessage("wecom", user, command, asked))
            assert expect in reply.texts[0], reply.texts

        return action

    figures: dict[str, float] = {}
    freeze_startup_objects()  # as `duban serve` does before it serves
    for key, action in (
        ("summary", ask(COORDINATOR, "汇总", "汇总")),
        ("overdue", ask(COORDINATOR, "逾期", "逾期")),
        ("unit_summary", ask(liaison, "汇总", "专项整治情况")),
    ):
        action()  # warm caches (and matplotlib's font lookup) before timing
        with counting(engine) as statements:
            action()
        figures[f"{key}_sql"] = len(statements)
        figures[f"{key}_ms"] = median_time(settings.repeat, action) * 1000
    gc.unfreeze()
    engine.dispose()
    return figures


def measure_export(url: str, campaign: Campaign, settings: Settings) -> dict[str, float]:
    duban = str(Path(sys.executable).with_name("duban"))
    out = settings.workdir / f"export-{campaign.units}.xlsx"
    env = {"DUBAN_DATABASE_URL": url, "DUBAN_CAMPAIGN": campaign.name, "DUBAN_LOG_LEVEL": "WARNING"}
    export_s, export_rss = run_child([duban, "export", "issues", "--out", str(out)], env)
    bare = [
        sys.executable,
        "-m",
        "bench.scale",
        "--bare-export",
        str(out.with_suffix(".bare.xlsx")),
        "--database-url",
        url,
        "--campaign",
        campaign.name,
    ]
    bare_s, bare_rss = run_child(bare)
    return {
        "export_s": export_s,
        "export_rss": export_rss,
        "bare_s": bare_s,
        "bare_rss": bare_rss,
        "export_ratio": export_s / bare_s,
    }


def measure_fanout(url: str, campaign: Campaign) -> dict[str, float]:
    """The 09:00 report-day tick (nobody has reported this week yet) and the worker draining what it queued."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    clock = ManualClock(friday_moment(9, 0) + timedelta(seconds=30))
    engine_ = ReminderEngine(sessions, clock=clock, route=lambda _platform: "sim", campaign_name=campaign.name)
    started = time.perf_counter()
    result = engine_.tick()
    tick = time.perf_counter() - started
    worker = DeliveryWorker(sessions, {"sim": SimulatorSender()}, clock=clock, limits={})
    asyncio.run(worker.drain(max_rounds=100_000))
    total = time.perf_counter() - started
    with transaction(sessions) as session:
        pending = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
    assert not pending, f"{pending} reminders left pending"
    engine.dispose()
    return {"reminders": result.queued, "tick_s": tick, "fanout_s": total}


def measure_callbacks(url: str, campaign: Campaign, settings: Settings) -> dict[str, float]:
    env = {
        "DUBAN_DATABASE_URL": url,
        "DUBAN_CAMPAIGN": campaign.name,
        "DUBAN_WECOM_CORP_ID": CORP_ID,
        "DUBAN_WECOM_AGENT_ID": str(AGENT_ID),
        "DUBAN_WECOM_SECRET": "unused",
        "DUBAN_WECOM_TOKEN": TOKEN,
        "DUBAN_WECOM_AES_KEY": AES_KEY,
        "DUBAN_LOG_LEVEL": "WARNING",
    }
    ids = itertools.count(9_000_000_000_000_000_001)
    users = campaign.liaison_users
    with Served("qyapi_app", env) as qyapi, Served("full_app", env | {"DUBAN_WECOM_API_BASE": qyapi.url}) as server:
        asyncio.run(load(server.url, 10, callbacks(50, ids, users, CALLBACK_TEXTS)))  # warm-up
        figures = asyncio.run(
            load(server.url, settings.senders, callbacks(settings.callbacks, ids, users, CALLBACK_TEXTS))
        )
    return {
        "callback_rps": figures.per_second,
        "callback_p50": figures.p50_ms,
        "callback_p99": figures.p99_ms,
        "callback_late": figures.late,
    }


@contextmanager
def database(backend: str, units: int, settings: Settings, postgres_url: str, name: str | None = None) -> Iterator[str]:
    """A fresh database for one run: a SQLite file, or a PostgreSQL database created here and dropped after."""
    if backend == "sqlite":
        path = settings.workdir / f"scale-{units}.db"
        path.unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        path.unlink(missing_ok=True)
        return
    name = name or f"duban_scale_{units}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(
    backend: str, units: int, settings: Settings, postgres_url: str, skip: frozenset[str] = frozenset()
) -> dict[str, float]:
    with database(backend, units, settings, postgres_url) as url:
        engine = reset(url)
        started = time.perf_counter()
        campaign = generate(make_session_factory(engine), units)
        figures: dict[str, float] = {"generate": time.perf_counter() - started}
        if backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        figures["db_mib"] = database_size(engine) / 2**20
        engine.dispose()
        print(
            f"  {backend} {units} units: generated {campaign.issues} issues, {len(campaign.liaison_users)} liaisons "
            f"in {figures['generate']:.1f} s",
            flush=True,
        )
        steps: list[tuple[str, Callable[[], dict[str, float]]]] = [
            ("chat", lambda: measure_chat(url, campaign, settings)),
            ("export", lambda: measure_export(url, campaign, settings)),
            ("fanout", lambda: measure_fanout(url, campaign)),
            ("callbacks", lambda: measure_callbacks(url, campaign, settings)),  # last: it writes weekly reports
        ]
        for name, step in steps:
            if name in skip:
                continue
            found = step()
            figures.update(found)
            print(f"    {name}: " + ", ".join(f"{k}={v:.3g}" for k, v in found.items()), flush=True)
        figures["load1"] = os.getloadavg()[0]
    return figures


def table(backend: str, sizes: list[int], results: dict[int, dict[str, float]]) -> str:
    head = f"{backend:<24}" + "".join(f"{f'{u:,} units':>14}" for u in sizes)
    growth = len(sizes) > 1
    if growth:
        head += f"{'growth':>10}"
    lines = [head]
    for row in ROWS:
        if any(row.key not in results[u] for u in sizes):
            continue
        line = f"{row.label:<24}" + "".join(f"{results[u][row.key] * row.scale:>14{row.fmt}}" for u in sizes)
        if growth:
            first, last = results[sizes[0]][row.key], results[sizes[-1]][row.key]
            line += f"{last / first:>9.1f}×" if first else f"{'-':>10}"
        lines.append(line)
    lines.append(f"{'load average (1 min)':<24}" + "".join(f"{results[u]['load1']:>14.2f}" for u in sizes))
    if growth:
        lines.append(
            f"(growth = {sizes[-1]:,}-unit figure / {sizes[0]:,}-unit figure; linear = {sizes[-1] / sizes[0]:.0f}×)"
        )
    return "\n".join(lines)


def national_run(provinces: int, units: str, settings: Settings, postgres_url: str, backend: str = "postgresql") -> str:
    """The national figures (bench/national.py) as printed lines."""
    low, _, high = units.partition("-")
    sizes = province_sizes(provinces, int(low), int(high or low))
    lines = [f"national: {provinces} provinces of {sizes[0]:,}–{sizes[-1]:,} units ({sum(sizes):,} in all)"]
    with database(backend, 0, settings, postgres_url, name="bench_national") as url:
        engine = reset(url)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        nation = generate_nation(sessions, sizes, progress=lambda line: print(line, flush=True))
        lines.append(
            f"generated {sum(c.issues for c in nation.children) + nation.single.issues:,} issues in "
            f"{time.perf_counter() - started:.0f} s"
        )
        if backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        lines.append(f"database {database_size(engine) / 2**30:.2f} GiB")
        print("\n".join(lines), flush=True)
        printed = len(lines)
        found = measure_summaries(engine, sessions, nation, settings.repeat)
        verdict = "met" if found["parent_ms"] <= SUMMARY_TARGET_S * 1000 else "NOT met"
        lines.append(
            f"parent 汇总: {found['parent_ms']:.0f} ms median, {found['parent_sql']} statements "
            f"(target ≤ {SUMMARY_TARGET_S * 1000:.0f} ms: {verdict}); slowest statements:"
        )
        lines.extend(
            f"  {seconds * 1000:8.1f} ms  {' '.join(sql.split())[:110]}" for seconds, sql in found["parent_slowest"]
        )
        children = found["children_ms"]
        per_thousand = [ms / units * 1000 for units, ms in children]
        lines.append(
            f"children's 汇总: {min(ms for _, ms in children):.0f}–{max(ms for _, ms in children):.0f} ms "
            f"({statistics.median(per_thousand):.1f} ms per 1,000 units, median), {found['child_sql']} statements"
        )
        lines.append(
            f"the {sizes[-1]:,}-unit child {found['largest_child_ms']:.0f} ms against a single {sizes[-1]:,}-unit "
            f"campaign {found['single_ms']:.0f} ms ({found['single_sql']} statements) in the same database: "
            f"{found['largest_child_ms'] / found['single_ms']:.2f}×"
        )
        print("\n".join(lines[printed:]), flush=True)
        printed = len(lines)
        lines.append("the parent's aggregates over its children (EXPLAIN ANALYZE on PostgreSQL):")
        lines.extend(f"  {line}" for line in explain_rollup(engine, sessions))
        print("\n".join(lines[printed:]), flush=True)
        lines.extend(limits_table(measure_national_fanout(sessions, nation)))
        lines.append(f"load average (1 min) {os.getloadavg()[0]:.2f}")
        engine.dispose()
    return "\n".join(lines)


def bare_child(args: argparse.Namespace) -> None:
    from bench.summary import bare_export as write

    engine = make_engine(args.database_url)
    write(make_session_factory(engine), args.campaign, Path(args.bare_export))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--units", default=None, help="comma-separated unit counts (default 500,5000); --national: LOW-HIGH a province"
    )
    parser.add_argument("--national", action="store_true", help="a parent campaign over provincial children")
    parser.add_argument("--provinces", type=int, default=31, help="--national: how many child campaigns")
    parser.add_argument("--quick", action="store_true", help="2 repeats, 200 callbacks from 20 senders")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("DUBAN_BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="a PostgreSQL server where this user may create databases",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "scale-results.txt")
    parser.add_argument("--skip", default="", help="comma-separated steps to leave out: chat,export,fanout,callbacks")
    parser.add_argument("--bare-export", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_export:
        bare_child(args)
        return
    if args.national:
        settings = Settings(repeat=2 if args.quick else 5)
        report = national_run(args.provinces, args.units or "3000-5000", settings, args.postgres_url)
        header = f"bench/scale.py --national on {os.cpu_count()} cores, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
        out = args.out if args.out != ROOT / "bench" / "scale-results.txt" else ROOT / "bench" / "national-results.txt"
        out.write_text(header + "\n\n" + report + "\n", encoding="utf-8")
        print(f"\n{report}\nwritten to {out}")
        return
    sizes = [int(u) for u in (args.units or "500,5000").split(",")]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    skip = frozenset(s for s in args.skip.split(",") if s)
    tables = []
    with tempfile.TemporaryDirectory(prefix="duban-scale-") as tmp:
        settings = Settings(workdir=Path(tmp))
        if args.quick:
            settings = Settings(repeat=2, callbacks=200, senders=20, workdir=Path(tmp))
        for backend in backends:
            results = {units: measure(backend, units, settings, args.postgres_url, skip) for units in sizes}
            tables.append(table(backend, sizes, results))
            print("\n" + tables[-1] + "\n", flush=True)
    header = (
        f"bench/scale.py on {os.cpu_count()} cores, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{settings.repeat} repeats (median), {settings.callbacks} callbacks from {settings.senders} senders"
    )
    args.out.write_text(header + "\n\n" + "\n\n".join(tables) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
