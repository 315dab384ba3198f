"""Fixtures of the reliability suite (the harness itself is tests/reliability/harness.py): a database of its
own on the suite's PostgreSQL server or a private cluster, the shared clock file, the fake WeCom server, and the
topology of processes, stopped group-wide when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, scratch_postgres
from tests.fakes.platform import FakePlatform, serve_fake_platform
from tests.reliability.harness import REPORT, ClockFile, PrivateCluster, Topology, report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT:
        terminalreporter.write_sep("-", "reliability figures")
        for line in REPORT:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """These tests exist for PostgreSQL: DUBAN_TEST_BACKENDS=sqlite (the quick loop) deselects them, loudly."""
    if "postgresql" in BACKENDS:
        return
    here = Path(__file__).parent
    dropped = [item for item in items if here in Path(str(item.fspath)).parents]
    if dropped:
        items[:] = [item for item in items if item not in dropped]
        config.hook.pytest_deselected(items=dropped)
        report(f"reliability: {len(dropped)} tests deselected (DUBAN_TEST_BACKENDS has no postgresql)")


@pytest.fixture
def shared_postgres() -> Iterator[str]:
    """A database of its own on the suite's PostgreSQL server, dropped afterwards."""
    with scratch_postgres("duban_rel") as url:
        yield url


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


# --- the fake platform and the topology --------------------------------------------------------------------


@pytest.fixture
def clock_file(tmp_path: Path) -> ClockFile:
    return ClockFile(tmp_path / "clock")


@pytest.fixture
def wecom_fake(clock_file: ClockFile) -> Iterator[FakePlatform]:
    """The fake WeCom server (gettoken, message/send) on loopback, in a thread of the test process."""
    with serve_fake_platform() as server:
        # WeCom's duplicate check counts on the campaign's clock, as the processes do.
        server.clock = lambda: clock_file.now().timestamp()
        yield server


@pytest.fixture
def topology_for(
    wecom_fake: FakePlatform, clock_file: ClockFile, tmp_path: Path
) -> Iterator[Callable[[str], Topology]]:
    """Build the topology for a database URL; every process it starts is stopped at the end."""
    made: list[Topology] = []

    def build(database_url: str) -> Topology:
        topology = Topology(database_url, wecom_fake, clock_file, tmp_path)
        made.append(topology)
        return topology

    try:
        yield build
    finally:
        for topology in made:
            topology.close()
