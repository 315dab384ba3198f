"""bench/scale.py at 20 and 40 units on SQLite, every step, so that the benchmark cannot rot between runs."""

from __future__ import annotations

import re
from pathlib import Path

from bench.scale import ROWS, Settings, measure, national_run, table


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


def test_the_national_run_measures_the_parent_the_children_and_the_fan_out(tmp_path: Path) -> None:
    report = national_run(3, "20-40", Settings(repeat=1, workdir=tmp_path), postgres_url="", backend="sqlite")
    assert "national: 3 provinces of 20–40 units (90 in all)" in report
    assert re.search(r"parent 汇总: \d+ ms median, \d+ statements \(target ≤ 1000 ms: met\)", report)
    assert "the 40-unit child" in report and "against a single 40-unit campaign" in report
    assert re.search(r"Friday 09:00: [\d,]+ reminders to 180 liaisons .*weekly.remind 180", report)
    assert "DingTalk work notices" in report and "WeCom app messages" in report
