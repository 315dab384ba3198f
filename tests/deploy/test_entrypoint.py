"""deploy/entrypoint.sh as the container (and systemd) runs it, with a stub `duban` that records each call.

The stub answers `duban db upgrade` with a failure while the "database" is down (the first STUB_DOWN_FOR
calls), as the real command does while PostgreSQL is still starting, then with success.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).parents[2] / "deploy" / "entrypoint.sh"

STUB = """#!/bin/sh
printf '%s|%s\\n' "${DUBAN_SCHEDULER:-unset}" "$*" >> "$STUB_LOG"
if [ "$1 $2" = "db upgrade" ]; then
    failed=$(cat "$STUB_STATE" 2>/dev/null || echo 0)
    if [ "$failed" -lt "$STUB_DOWN_FOR" ]; then
        echo $((failed + 1)) > "$STUB_STATE"
        echo "psycopg.OperationalError: connection refused" >&2
        exit 1
    fi
fi
"""


@dataclass
class Run:
    code: int
    stderr: str
    calls: list[tuple[str, str]]  # (DUBAN_SCHEDULER as the stub saw it, argv)


RunEntrypoint = Callable[..., Run]


@pytest.fixture
def run_entrypoint(tmp_path: Path) -> RunEntrypoint:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "duban"
    stub.write_text(STUB)
    stub.chmod(0o755)

    def run(*args: str, down_for: int = 0, attempts: int = 5, **env: str) -> Run:
        log = tmp_path / "calls.log"
        log.unlink(missing_ok=True)
        (tmp_path / "state").unlink(missing_ok=True)
        environment = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "STUB_LOG": str(log),
            "STUB_STATE": str(tmp_path / "state"),
            "STUB_DOWN_FOR": str(down_for),
            "DB_WAIT_ATTEMPTS": str(attempts),
            "DB_WAIT_INTERVAL": "0",
            **env,
        }
        done = subprocess.run([str(ENTRYPOINT), *args], env=environment, capture_output=True, text=True, timeout=60)
        lines = log.read_text().splitlines() if log.exists() else []
        calls = [(scheduler, argv) for scheduler, argv in (line.split("|", 1) for line in lines)]
        return Run(done.returncode, done.stderr, calls)

    return run


def test_web_role_migrates_then_serves_on_all_interfaces_without_the_scheduler(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint("web", DUBAN_SCHEDULER="on")  # the role wins over a stray setting
    assert run.code == 0, run.stderr
    assert run.calls == [("off", "db upgrade"), ("off", "serve --host 0.0.0.0")]


def test_no_arguments_means_web(run_entrypoint: RunEntrypoint) -> None:
    assert run_entrypoint().calls == [("off", "db upgrade"), ("off", "serve --host 0.0.0.0")]


def test_scheduler_role_serves_with_the_scheduler_on(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint("scheduler", DUBAN_SCHEDULER="off")
    assert run.code == 0, run.stderr
    assert run.calls == [("on", "db upgrade"), ("on", "serve --host 0.0.0.0")]


def test_serve_options_are_passed_on_as_systemd_gives_them(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint("web", "--host", "127.0.0.1", "--port", "8001")
    assert run.calls[-1] == ("off", "serve --host 127.0.0.1 --port 8001")
    run = run_entrypoint("scheduler", "--port", "8010")
    assert run.calls[-1] == ("on", "serve --host 0.0.0.0 --port 8010")


def test_a_database_that_comes_up_late_is_waited_for(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint("web", down_for=3, attempts=5)
    assert run.code == 0, run.stderr
    assert run.calls == [("off", "db upgrade")] * 4 + [("off", "serve --host 0.0.0.0")]
    assert run.stderr.count("数据库暂不可用") == 3 and "第 3/5 次" in run.stderr


def test_a_database_that_never_comes_up_stops_the_container(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint("scheduler", down_for=100, attempts=4)
    assert run.code == 1
    assert run.calls == [("on", "db upgrade")] * 4  # bounded, and the server never starts
    assert "已尝试 4 次" in run.stderr


def test_migrate_role_only_migrates(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint("migrate", down_for=1)
    assert run.code == 0, run.stderr
    assert [argv for _, argv in run.calls] == ["db upgrade", "db upgrade"]
    assert "数据库已是最新版本" in run.stderr


def test_other_commands_run_as_given_without_waiting(run_entrypoint: RunEntrypoint) -> None:
    run = run_entrypoint(
        "duban", "db", "copy", "--from", "sqlite:///var/duban.db", "--to", "postgresql://db/duban", down_for=100
    )
    assert run.code == 0, run.stderr
    assert run.calls == [("unset", "db copy --from sqlite:///var/duban.db --to postgresql://db/duban")]
    failing = run_entrypoint("sh", "-c", "exit 7")
    assert failing.code == 7 and failing.calls == []
