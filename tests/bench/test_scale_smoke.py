"""bench/scale.py at 20 and 40 units on SQLite, every step, so that the benchmark cannot rot between runs."""

from __future__ import annotations

from pathlib import Path

from bench.scale import ROWS, Settings, measure, table


def test_every_step_runs_and_the_table_shows_the_growth(tmp_path: Path) -> None:
    settings = Settings(repeat=1, callbacks=20, senders=2, workdir=tmp_path)
    small = measure("sqlite", 20, settings, postgres_url="")
    larger = measure("sqlite", 40, settings, postgres_url="", skip=frozenset({"export", "callbacks"}))
    assert {row.key for row in ROWS} <= set(small)
    assert small["reminders"] >= 40  # both liaisons of every unit: nobody has reported this week yet
    assert larger["reminders"] > small["reminders"]
    assert small["summary_sql"] == larger["summary_sql"]  # 汇总 issues as many statements at any size
    assert small["callback_rps"] > 0 and small["export_ratio"] > 0
    printed = table("sqlite", [20, 40], {20: small, 40: larger})
    assert "逾期 (ms)" in printed and "export issues (s)" not in printed  # a step left out at one size: no row
    assert "linear = 2×" in printed
