"""`duban db copy`: a bureau moves its campaign from SQLite to PostgreSQL and carries on where it stopped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Column, Integer, LargeBinary, MetaData, Table, Text, func, insert, select, text
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from storage.copy import copy_database
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import AuditEntry, Base, Campaign, OutboxMessage, Unit, UTCDateTime
from tests.bot.test_sim_stories import FULL_ISSUE, seed_campaign_activity
from tests.conftest import BACKENDS, FIXTURES, Database, SimChat, make_settings
from tests.deploy.databases import fresh_database, rows_of

runner = CliRunner()
DUBAN = str(Path(sys.executable).with_name("duban"))


def sqlite_database(template: Path, path: Path) -> Database:
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    return Database("sqlite", url, engine, make_session_factory(engine))


@pytest.fixture
def source(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """An embedded (SQLite) duban database, as `make run` leaves it."""
    database = sqlite_database(sqlite_template, tmp_path / "source.db")
    yield database
    database.engine.dispose()


@pytest.fixture(params=BACKENDS)
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path, "target")


@contextmanager
def chat_on(url: str, clock: ManualClock) -> Iterator[SimChat]:
    database = Database("", url, make_engine(url), None)  # type: ignore[arg-type]
    with TestClient(create_app(make_settings(database), clock=clock)) as client:
        yield SimChat(client)
    database.engine.dispose()


def run_campaign(source: Database, clock: ManualClock) -> str:
    """A campaign a few weeks in: registrations, issues, progress, weekly reports, audit rows, an outbox.

    Returns the coordinator's 汇总 as the source answers it.
    """
    with transaction(source.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan.yaml"), now=clock.now())
    with chat_on(source.url, clock) as chat:
        seed_campaign_activity(chat, clock)
        summary = chat.send("YuJianKui", "汇总")
    with transaction(source.sessions) as session:
        # A unit whose parent was inserted after it: the copy must not trip over the self-reference.
        first, *_, last = session.scalars(select(Unit).order_by(Unit.id)).all()
        first.parent_id = last.id
        campaign = session.scalars(select(Campaign)).one()
        session.add(
            OutboxMessage(
                campaign_id=campaign.id,
                key="k:1",
                channel="sim",
                target="LuHeJian",
                text="提醒",
                mentions=["13909550001"],
                not_before=clock.now(),
                created_at=clock.now(),
            )
        )
    return summary


def test_campaign_copied_to_a_new_database_answers_the_same_and_carries_on(
    source: Database, target_url: str, clock: ManualClock
) -> None:
    summary = run_campaign(source, clock)

    counts = copy_database(source.url, target_url, batch_size=3)  # tiny batches: many round trips

    assert all(count.matches for count in counts), counts
    copied = {count.table: count.target for count in counts}
    assert copied["issues"] == 4 and copied["weekly_reports"] == 2 and copied["audit_log"] >= 10
    assert rows_of(target_url) == rows_of(source.url)  # every value, datetimes and JSON included
    with chat_on(target_url, clock) as chat:
        assert chat.send("YuJianKui", "汇总") == summary
        # New rows get fresh ids: PostgreSQL's sequences were moved past the copied ones.
        assert "#5" in chat.send("LuHeJian", FULL_ISSUE.replace("执法证件未按期年检", "新问题"))


def test_binary_json_and_aware_datetimes_survive_the_trip(source: Database, target_url: str) -> None:
    metadata = MetaData()
    blobs = Table(
        "blobs",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("data", LargeBinary),
        Column("doc", JSON),
        Column("at", UTCDateTime()),
        Column("note", Text),
    )
    metadata.create_all(source.engine)
    target = make_engine(target_url)
    metadata.create_all(target)
    beijing = timezone(timedelta(hours=8))
    values = [
        {
            "id": 1,
            "data": bytes(range(256)) * 40,
            "doc": {"单位": ["法制科"], "n": 1.5, "ok": True, "none": None},
            "at": datetime(2020, 7, 17, 9, 0, 0, 123456, tzinfo=beijing),
            "note": "整改😀\n第二行",
        },
        {"id": 2, "data": b"", "doc": [], "at": datetime(2020, 12, 31, 23, 59, tzinfo=UTC), "note": ""},
        {"id": 3, "data": None, "doc": None, "at": None, "note": None},
    ]
    with source.engine.begin() as connection:
        connection.execute(insert(blobs), values)

    counts = copy_database(source.url, target_url, tables=[blobs], batch_size=2)

    assert [(c.table, c.source, c.target) for c in counts] == [("blobs", 3, 3)]
    with target.connect() as connection:
        copied = [dict(row._mapping) for row in connection.execute(select(blobs).order_by(blobs.c.id))]
    target.dispose()
    assert copied[0]["at"] == datetime(2020, 7, 17, 1, 0, 0, 123456, tzinfo=UTC)  # the same instant
    assert copied == values


class WritesDuringCopy:
    """The service was left running: a chat message lands in the source while the copy is under way."""

    def __init__(self, source: Database) -> None:
        self.source, self.done = source, False

    def start(self, totals: Mapping[str, int]) -> None:
        self.totals = dict(totals)

    def advance(self, table: str, rows: int) -> None:
        if table == "audit_log" and not self.done:
            with transaction(self.source.sessions) as session:
                session.add(AuditEntry(at=datetime.now(UTC), actor="wecom:LuHeJian", action="issue.create"))
            self.done = True


def test_rows_written_to_the_source_during_the_copy_show_as_a_mismatch(
    source: Database, target_url: str, clock: ManualClock
) -> None:
    run_campaign(source, clock)
    progress = WritesDuringCopy(source)

    counts = copy_database(source.url, target_url, progress=progress)

    assert progress.done
    wrong = [(c.table, c.source - c.target) for c in counts if not c.matches]
    assert wrong == [("audit_log", 1)]
    # The copy itself is one consistent snapshot: the bar's totals are exactly what was written.
    assert {c.table: c.target for c in counts} == progress.totals


def peak_memory_of_copy(source_url: str, target_url: str, *extra: str) -> int:
    """Run `duban db copy` in its own process and return that process's peak resident memory (bytes)."""
    measure = (
        "import resource, subprocess, sys; "
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", measure, DUBAN, "db", "copy", "--from", source_url, "--to", target_url, *extra],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    code, peak = done.stdout.split()
    assert code == "0", done.stderr
    return int(peak)


@pytest.mark.slow  # make test-quick leaves it out
def test_a_hundred_thousand_rows_copy_in_flat_memory(source: Database, target_url: str) -> None:
    with transaction(source.sessions) as session:
        session.add(
            Campaign(
                name="全省专项整治",
                start=date(2024, 1, 1),
                end=date(2024, 12, 31),
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )

    def add_audit_rows(first: int, count: int) -> None:
        at = datetime(2024, 3, 1, tzinfo=UTC)
        with source.engine.begin() as connection:
            connection.execute(
                insert(AuditEntry),
                [
                    {
                        "campaign_id": 1,
                        "at": at + timedelta(seconds=i),
                        "actor": f"wecom:user{i % 5000}",
                        "action": "issue.progress",
                        "entity": "issue",
                        "entity_id": i,
                        "message_id": f"m{i}",
                        "detail": {"percent": i % 100, "note": "已约谈责任人并完成整改"},
                    }
                    for i in range(first, first + count)
                ],
            )

    add_audit_rows(0, 10_000)
    small = peak_memory_of_copy(source.url, target_url)
    add_audit_rows(10_000, 100_000)
    large = peak_memory_of_copy(source.url, target_url, "--force")

    engine = make_engine(target_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AuditEntry)) == 110_000
        last = connection.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    engine.dispose()
    assert last.at == datetime(2024, 3, 1, tzinfo=UTC) + timedelta(seconds=109_999)
    # Holding the 100,000 extra rows would cost well over 100 MB; streaming them costs next to nothing.
    assert large - small < 25 * 1024 * 1024, (small, large)


def test_cli_copies_and_checks_every_table(source: Database, target_url: str, clock: ManualClock) -> None:
    run_campaign(source, clock)

    result = runner.invoke(cli, ["db", "copy", "--from", source.url, "--to", target_url])

    assert result.exit_code == 0, result.output
    assert "issues" in result.output and "源库         4 行  目标库         4 行  一致" in result.output
    assert f"复制完成：{len(Base.metadata.tables)} 张表" in result.output and "行数核对一致" in result.output


def test_cli_refuses_a_target_that_holds_data_unless_forced(
    source: Database, target_url: str, clock: ManualClock
) -> None:
    run_campaign(source, clock)
    assert runner.invoke(cli, ["db", "copy", "--from", source.url, "--to", target_url]).exit_code == 0
    with transaction(source.sessions) as session:
        session.add(AuditEntry(at=datetime.now(UTC), actor="cli", action="later"))

    refused = runner.invoke(cli, ["db", "copy", "--from", source.url, "--to", target_url])
    assert refused.exit_code == 1
    assert "目标库已有数据（campaigns、" in refused.output and "未做任何修改" in refused.output
    assert "--force" in refused.output

    forced = runner.invoke(cli, ["db", "copy", "--from", source.url, "--to", target_url, "--force"])
    assert forced.exit_code == 0, forced.output
    assert rows_of(target_url) == rows_of(source.url)


def test_cli_fails_when_the_target_loses_rows(
    source: Database, sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    run_campaign(source, clock)
    target = sqlite_database(sqlite_template, tmp_path / "target.db")
    with target.engine.begin() as connection:  # a target that silently drops what it is given
        connection.execute(
            text(
                "CREATE TRIGGER swallow AFTER INSERT ON weekly_reports "
                "BEGIN DELETE FROM weekly_reports WHERE id = NEW.id; END"
            )
        )
    target.engine.dispose()

    result = runner.invoke(cli, ["db", "copy", "--from", source.url, "--to", target.url])

    assert result.exit_code == 1
    assert "weekly_reports       源库         2 行  目标库         0 行  不一致" in result.output
    assert "行数核对不一致：weekly_reports。" in result.output


def test_cli_explains_a_source_it_cannot_use(tmp_path: Path, target_url: str) -> None:
    missing = runner.invoke(cli, ["db", "copy", "--from", f"sqlite:///{tmp_path}/nope.db", "--to", target_url])
    assert missing.exit_code == 1 and "源数据库文件不存在" in missing.output

    stale = tmp_path / "stale.db"
    make_engine(f"sqlite:///{stale}").connect().close()  # a file that was never migrated
    result = runner.invoke(cli, ["db", "copy", "--from", f"sqlite:///{stale}", "--to", target_url])
    assert result.exit_code == 1 and "duban db upgrade" in result.output

    same = runner.invoke(cli, ["db", "copy", "--from", target_url, "--to", target_url])
    assert same.exit_code == 1 and "同一个数据库" in same.output


def test_migrated_empty_target_is_accepted(source: Database, target_url: str) -> None:
    engine = make_engine(target_url)
    upgrade_schema(engine)  # an operator who ran `duban db upgrade` on the new server first
    engine.dispose()
    assert all(count.matches for count in copy_database(source.url, target_url))
