"""The reliability harness: duban as real processes on loopback, as deploy/ runs it, against real PostgreSQL.

- web replicas: `python -m tests.fakes.web_proc` with DUBAN_SCHEDULER=off, WeCom configured against a fake
  WeCom server (tests/fakes/platform.py) through DUBAN_WECOM_API_BASE;
- schedulers: the same app with DUBAN_SCHEDULER=on (one leads, the other stands by);
- time: a file every process reads (FileClock) and the test writes atomically, so a Friday 09:00 can pass in
  the middle of a 30-second load;
- PostgreSQL: a database of its own on the suite's server, or a private cluster (initdb + pg_ctl on a free
  port) for the test that stops and starts the server, so the shared server is never disturbed.

Every process runs in its own process group and is killed group-wide when its test ends; every wait polls
with a deadline. Figures the tests measure go to the terminal summary through `report()`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import Row, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.statuses import OutboxStatus
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import OutboxMessage, SchedulerState
from tests.conftest import FIXTURES, at
from tests.fakes.platform import FakePlatform

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds: the bound on every wait for a process (imports and migrations on a busy 2-core machine)

CORP_ID = "wwreliability0001"
SECRET = "reliability-app-secret"
TOKEN = "ReliabilityToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeCom issues them
AGENT_ID = 1000002
COORDINATOR = "YuJianKui"

REPORT: list[str] = []


def report(line: str) -> None:
    """A figure for the terminal summary (and the live output)."""
    REPORT.append(line)
    print(line, flush=True)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT, every: float = 0.05) -> Any:
    """Poll until `condition()` is truthy (and return it); fail after `timeout` seconds. Never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


# --- time ------------------------------------------------------------------------------------------------


@dataclass
class ClockFile:
    """The one 'now' of every process; the test moves it (tests.fakes.scheduler_proc.FileClock reads it)."""

    path: Path

    def set(self, moment: str | datetime) -> None:
        value = at(moment) if isinstance(moment, str) else moment
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(value.isoformat())
        scratch.replace(self.path)  # atomic: a process never reads half a time

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())


# --- processes -------------------------------------------------------------------------------------------


class Proc:
    """One duban process in its own process group; stdout and stderr go to a log file the test reads."""

    def __init__(self, name: str, clock: ClockFile, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.web_proc", str(clock.path)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._url: str | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, once the process has bound its socket."""
        if self._url is None:
            self._url = f"http://127.0.0.1:{int(self.wait_for_line('listening ').split()[1])}"
        return self._url

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def line(self, prefix: str) -> str | None:
        return next((line for line in self.lines() if line.startswith(prefix)), None)

    def wait_for_line(self, prefix: str, timeout: float = WAIT) -> str:
        def seen() -> str | None:
            found = self.line(prefix)
            if found is None and self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before {prefix!r}:\n" + "\n".join(self.lines()[-40:])
                )
            return found

        return str(wait_until(seen, f"{self.name} to print {prefix!r}", timeout))

    def wait_ready(self) -> None:
        """Up when /healthz answers 200 (lifespan done: migrations checked, channels and scheduler started)."""

        def healthy() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}):\n" + "\n".join(self.lines()[-40:]))
            try:
                return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, f"{self.name} to answer /healthz", every=0.1)

    @property
    def leader_since(self) -> float | None:
        """time.monotonic() in the process when it last won the election (None while it has not)."""
        lines = [line for line in self.lines() if line.startswith("leader ")]
        return float(lines[-1].split()[1]) if lines else None

    def kill(self) -> None:
        """SIGKILL, the whole group: the process dies without a word, as on an OOM kill or a power cut."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM to the group: uvicorn's graceful shutdown, the scheduler releases its lock."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self, deadline: float | None = None) -> None:
        """Terminate, wait until `deadline` (time.monotonic(); default 5 s from now), then kill what is left."""
        self.terminate()
        deadline = deadline if deadline is not None else time.monotonic() + 5
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@dataclass
class Topology:
    """The processes of one test: start them with web()/scheduler(); all are stopped at the end."""

    database_url: str
    fake: FakePlatform
    clock: ClockFile
    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
        return (
            base
            | {
                "PYTHONUNBUFFERED": "1",
                "DUBAN_DATABASE_URL": self.database_url,
                "DUBAN_SECRET_KEY": "reliability-secret-key",
                "DUBAN_WECOM_CORP_ID": CORP_ID,
                "DUBAN_WECOM_AGENT_ID": str(AGENT_ID),
                "DUBAN_WECOM_SECRET": SECRET,
                "DUBAN_WECOM_TOKEN": TOKEN,
                "DUBAN_WECOM_AES_KEY": AES_KEY,
                "DUBAN_WECOM_API_BASE": self.fake.url,
                # The scheduler's jobs on the file clock: a tick and a delivery round twice a second.
                "DUBAN_TEST_TICK_SECONDS": "0.5",
                "DUBAN_TEST_DELIVERY_SECONDS": "0.5",
            }
            | extra
        )

    def start(self, name: str, **extra: str) -> Proc:
        proc = Proc(name, self.clock, self.env(**extra), self.log_dir)
        self.procs.append(proc)
        return proc

    def web(self, name: str, **extra: str) -> Proc:
        return self.start(name, DUBAN_SCHEDULER="off", **extra)

    def scheduler(self, name: str, **extra: str) -> Proc:
        return self.start(name, DUBAN_SCHEDULER="on", **extra)

    def ready(self) -> None:
        """Wait for every process started so far (they start in parallel, then this waits for each)."""
        for proc in self.procs:
            proc.wait_ready()

    def leader(self) -> Proc:
        """The scheduler process that leads now: the latest to win an election among those still running."""
        running = [p for p in self.procs if p.popen.poll() is None and p.leader_since is not None]
        assert running, "no scheduler process leads"
        return max(running, key=lambda p: p.leader_since or 0.0)

    def close(self) -> None:
        """Stop every process: all are told at once, then given 5 s together before SIGKILL."""
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.procs:
            proc.stop(deadline)


# --- databases -------------------------------------------------------------------------------------------


def write_plan(path: Path, units: int) -> Path:
    """The test campaign (seed 001's calendar in 2020) with `units` units of one WeCom liaison each."""
    plan = yaml.safe_load((FIXTURES / "plan.yaml").read_text())
    plan["units"] = [
        {
            "name": f"第{n:03d}执法单位",
            "contacts": [{"name": f"联络员{n:03d}", "phone": f"139{n:08d}", "wecom_userid": liaison(n)}],
        }
        for n in range(1, units + 1)
    ]
    plan["deliverables"] = [d for d in plan["deliverables"] if "units" not in d]  # those name fixture units
    plan["coordinators"] = [{"name": "俞建奎", "wecom_userid": COORDINATOR}]
    path.write_text(yaml.safe_dump(plan, allow_unicode=True))
    return path


def liaison(n: int) -> str:
    return f"liaison{n:03d}"


def prepare(url: str, plan: Path, now: str) -> None:
    """Migrate and load the plan before any process starts (four processes migrating at once would race)."""
    engine = make_engine(url)
    upgrade_schema(engine)
    with transaction(make_session_factory(engine)) as session:
        load_plan(session, read_plan(plan), now=at(now))
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin() -> Path:
    configured = os.environ.get("DUBAN_TEST_PG_BIN")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise AssertionError("initdb not found: install PostgreSQL's server package or set DUBAN_TEST_PG_BIN")


class PrivateCluster:
    """A PostgreSQL cluster of this test's own (initdb into a temporary folder, pg_ctl on a free port).

    initdb refuses to run as root, so as root it runs as the `postgres` OS user (runuser); the folder is made
    under /tmp (pytest's tmp_path is private to root) and given to that user.
    """

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="duban-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/duban"
        self.start()
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE duban"))
        admin.dispose()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(
            command, check=True, cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def weekly_reminders(sessions: sessionmaker[Session]) -> list[Row[Any]]:
    """The outbox rows of the weekly-report reminders: key, target, status, attempts."""
    with transaction(sessions) as session:
        return list(
            session.execute(
                select(OutboxMessage.key, OutboxMessage.target, OutboxMessage.status, OutboxMessage.attempts).where(
                    OutboxMessage.key.like("weekly.remind%")
                )
            ).all()
        )


def settled(sessions: sessionmaker[Session], moment: str) -> Callable[[], bool]:
    """The leader has ticked at or after `moment` and the outbox has nothing left to send."""

    def check() -> bool:
        with transaction(sessions) as session:
            watermark = session.scalar(select(func.min(SchedulerState.watermark)))
            pending = session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        return watermark is not None and watermark >= at(moment) and pending == 0

    return check
