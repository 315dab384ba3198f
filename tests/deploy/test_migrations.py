"""Replicas that start together all run the migrations; they must queue up, not trip over each other."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier

from sqlalchemy import inspect

from storage.db import make_engine, schema_is_current, upgrade_schema
from storage.models import Base

REPLICAS = 3


def _start_replica(url: str, barrier: Barrier, results: multiprocessing.Queue) -> None:
    engine = make_engine(url)
    barrier.wait(timeout=60)  # everyone is imported and connected: now all upgrade at the same moment
    try:
        upgrade_schema(engine)
        results.put("ok")
    except Exception as error:  # reported to the test, which shows it
        results.put(f"{type(error).__name__}: {error}")
    finally:
        engine.dispose()


def test_replicas_upgrading_a_fresh_database_at_once_all_succeed(empty_database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(REPLICAS)
    results = context.Queue()
    replicas = [
        context.Process(target=_start_replica, args=(empty_database_url, barrier, results)) for _ in range(REPLICAS)
    ]
    for replica in replicas:
        replica.start()
    outcomes = [results.get(timeout=120) for _ in replicas]
    for replica in replicas:
        replica.join(timeout=60)

    assert outcomes == ["ok"] * REPLICAS
    assert [replica.exitcode for replica in replicas] == [0] * REPLICAS
    engine = make_engine(empty_database_url)
    try:
        assert schema_is_current(engine)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
