"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, the app with a controllable clock.

Backends come from DUBAN_TEST_BACKENDS (default "sqlite,postgresql"); PostgreSQL is reached through
DUBAN_TEST_POSTGRES_URL (an admin URL; the suite creates and drops its own database). A backend that
is asked for and unreachable fails the run: it is never skipped silently.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.settings import Settings
from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import Base

FIXTURES = Path(__file__).with_name("fixtures")
SHANGHAI = ZoneInfo("Asia/Shanghai")
BACKENDS = [b.strip() for b in os.environ.get("DUBAN_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
POSTGRES_ADMIN_URL = os.environ.get("DUBAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Database:
    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test would dominate the run time)."""
    path = tmp_path_factory.mktemp("template") / "duban.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    engine.dispose()
    return path


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database of its own on the suite's PostgreSQL server, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with scratch_postgres("duban_test") as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "duban.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    elif backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
    else:
        raise pytest.UsageError(f"unknown backend {backend}")
    engine = make_engine(url)
    yield Database(backend, url, engine, make_session_factory(engine))
    engine.dispose()


def at(text_: str) -> datetime:
    """'2020-07-15 10:00' in the campaign's timezone."""
    return datetime.fromisoformat(text_).replace(tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("2020-07-15 10:00"))  # a Wednesday inside seed 001's 自查整改阶段


@pytest.fixture
def plan_loaded(db: Database, clock: ManualClock) -> Database:
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan.yaml"), now=clock.now())
    return db


class SimChat:
    """Talks to the app through the simulator API exactly as the /sim page does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def send(self, user: str, text_: str, **extra: str) -> str:
        response = self.client.post("/sim/api/messages", json={"user": user, "text": text_, **extra})
        assert response.status_code == 200, response.text
        replies = response.json()["replies"]
        assert replies, "every message gets a reply"
        return "\n".join(replies)

    def outbox(self) -> list[dict[str, str]]:
        response = self.client.get("/sim/api/outbox")
        assert response.status_code == 200
        return response.json()


def make_settings(db: Database, **overrides: object) -> Settings:
    # Files sent in tests go to the database unless a test gives a directory (never the repository's var/).
    overrides = {"file_store": "database", **overrides}
    return Settings(_env_file=None, database_url=db.url, scheduler="off", **overrides)  # type: ignore[call-arg]


@pytest.fixture
def client(plan_loaded: Database, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def chat(client: TestClient) -> SimChat:
    return SimChat(client)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives Chromium, so that `make test-quick` can leave them out (-m 'not browser')."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
