"""deploy/backup.sh and the restore drill of deploy/README.md, against the real PostgreSQL.

PostgreSQL only by nature (it is pg_dump); it runs whenever PostgreSQL is among the test backends.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import make_engine, make_session_factory, schema_is_current, transaction, upgrade_schema
from tests.conftest import BACKENDS, FIXTURES, Database, at
from tests.deploy.databases import create_postgres_database, drop_postgres_database, rows_of
from tests.factories import build_ledger

BACKUP = Path(__file__).parents[2] / "deploy" / "backup.sh"
DAY = 24 * 3600


@pytest.fixture(params=[backend for backend in BACKENDS if backend == "postgresql"])
def campaign_database(request: pytest.FixtureRequest) -> Iterator[str]:
    url = create_postgres_database("duban_backup")
    engine = make_engine(url)
    upgrade_schema(engine)
    database = Database("postgresql", url, engine, make_session_factory(engine))
    with transaction(database.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan.yaml"), now=at("2020-07-15 10:00"))
    build_ledger(database)
    engine.dispose()
    yield url
    drop_postgres_database(url)


def libpq_env(url: str, **extra: str) -> dict[str, str]:
    parsed = make_url(url)
    return {
        **os.environ,
        "PGHOST": parsed.host or "127.0.0.1",
        "PGPORT": str(parsed.port or 5432),
        "PGUSER": parsed.username or "postgres",
        "PGDATABASE": parsed.database or "",
        **extra,
    }


def test_backup_writes_a_restorable_dump_and_prunes_old_ones(campaign_database: str, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    old, recent = backups / "duban-20200101T023000Z.dump", backups / "duban-20200701T023000Z.dump"
    for path, age_days in ((old, 30), (recent, 2)):
        path.write_bytes(b"an earlier dump")
        os.utime(path, (time.time() - age_days * DAY, time.time() - age_days * DAY))

    done = subprocess.run(
        ["sh", str(BACKUP)],
        env=libpq_env(campaign_database, BACKUP_DIR=str(backups), BACKUP_KEEP_DAYS="14"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    dumps = sorted(backups.glob("duban-*.dump"))
    assert not old.exists() and recent.exists() and len(dumps) == 2
    (dump,) = [path for path in dumps if path != recent]
    assert f"备份完成：{dump}" in done.stdout and f"已删除过期备份：{old}" in done.stdout
    assert oct(dump.stat().st_mode & 0o777) == oct(0o600)  # a dump holds personal data
    assert not list(backups.glob(".*partial"))

    # The restore drill, as deploy/README.md writes it: a new database, pg_restore, then compare.
    restored = create_postgres_database("duban_restore")
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", make_url(restored).database, str(dump)],
            env=libpq_env(restored),
            check=True,
            capture_output=True,
            timeout=120,
        )
        engine = make_engine(restored)
        assert schema_is_current(engine)
        engine.dispose()
        assert rows_of(restored) == rows_of(campaign_database)
    finally:
        drop_postgres_database(restored)


def test_a_failed_dump_leaves_no_file_that_looks_like_a_backup(campaign_database: str, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    done = subprocess.run(
        ["sh", str(BACKUP)],
        env=libpq_env(campaign_database, PGDATABASE="no_such_database", BACKUP_DIR=str(backups)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert list(backups.iterdir()) == []
