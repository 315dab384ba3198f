"""Fixtures for the deployment tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.deploy.databases import fresh_database


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that exists but holds no schema at all (what a first start finds)."""
    yield from fresh_database(request.param, tmp_path)
