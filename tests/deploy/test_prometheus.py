"""deploy/prometheus/: the scrape configurations reach every duban process where the deployments make them listen,
and every alert rule parses as PromQL and names only metrics the app really exports (promtool is not at hand; the
expressions go through promql-parser, a port of Prometheus's own parser)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from fastapi.testclient import TestClient

import scheduler.service  # noqa: F401  (its leader and tick gauges, as in every duban process)
from bot.app import create_app
from core.clock import ManualClock
from tests.conftest import Database, make_settings

DEPLOY = Path(__file__).parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
BUILTIN = {"up"}  # series Prometheus itself makes for every target


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((PROMETHEUS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("alerts.yml")["groups"] for rule in group["rules"]]


def selectors(expression: str) -> set[str]:
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


def targets(config: dict[str, Any]) -> dict[str, set[str]]:
    return {
        job["job_name"]: {t for static in job["static_configs"] for t in static["targets"]}
        for job in config["scrape_configs"]
    }


@pytest.fixture
def exported(plan_loaded: Database, clock: ManualClock, tmp_path: Path) -> Iterator[set[str]]:
    """Every series name /metrics offers (a histogram's _bucket, _sum and _count; a counter's _total)."""
    with TestClient(create_app(make_settings(plan_loaded, backup_dir=tmp_path), clock=clock)) as client:
        text = client.get("/metrics").text
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
    yield names


def test_every_alert_names_only_exported_metrics(exported: set[str]) -> None:
    used = set()
    for rule in rules():
        names = selectors(rule["expr"])
        assert names, rule["alert"]
        used |= names
    assert used - BUILTIN <= exported, (used - BUILTIN) - exported
    assert {
        "duban_ready",
        "duban_backup_last_success_timestamp_seconds",
        "duban_scheduler_leader",
        "duban_callbacks_total",
        "duban_outbox_oldest_due_age_seconds",
    } <= used


def test_every_alert_waits_and_says_what_to_look_at() -> None:
    for rule in rules():
        assert promql_parser.parse_duration(rule["for"]).total_seconds() >= 60, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert re.search(r"[\u4e00-\u9fff]", rule["annotations"]["summary"]), "the summary is for the operators"


def test_the_readme_describes_exactly_these_alerts() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    described = set(re.findall(r"^\| `(Duban\w+)` \|", readme, re.M))
    assert described == {rule["alert"] for rule in rules()}


def test_compose_prometheus_scrapes_every_duban_process_inside_the_network() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    by_role = {
        role: {f"{name}:8000" for name, s in compose["services"].items() if s.get("command") == [role]}
        for role in ("web", "scheduler")
    }
    assert targets(load("prometheus.yml")) == {"duban-web": by_role["web"], "duban-scheduler": by_role["scheduler"]}
    prometheus = compose["services"]["prometheus"]
    assert prometheus["networks"] == ["backend"] and "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert all((PROMETHEUS / rule_file).is_file() for rule_file in load("prometheus.yml")["rule_files"])


def test_systemd_prometheus_scrapes_the_addresses_the_units_listen_on() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    web_ports = re.search(r"systemctl enable --now (duban-web@\d+ duban-web@\d+)", readme).group(1)  # type: ignore
    scheduler = (DEPLOY / "systemd" / "duban-scheduler.service").read_text(encoding="utf-8")
    web = (DEPLOY / "systemd" / "duban-web@.service").read_text(encoding="utf-8")
    host = "127.0.0.1"
    assert f"--host {host} --port %i" in web
    scheduler_port = re.search(rf"scheduler --host {host} --port (\d+)", scheduler).group(1)  # type: ignore
    assert targets(load("prometheus-systemd.yml")) == {
        "duban-web": {f"{host}:{port}" for port in re.findall(r"@(\d+)", web_ports)},
        "duban-scheduler": {f"{host}:{scheduler_port}"},
    }
    assert load("prometheus-systemd.yml")["rule_files"] == load("prometheus.yml")["rule_files"]


def test_the_backup_age_is_the_newest_complete_dump(plan_loaded: Database, clock: ManualClock, tmp_path: Path) -> None:
    def reading() -> float:
        with TestClient(create_app(make_settings(plan_loaded, backup_dir=tmp_path), clock=clock)) as client:
            text = client.get("/metrics").text
        return float(re.search(r"^duban_backup_last_success_timestamp_seconds (\S+)$", text, re.M).group(1))  # type: ignore

    assert reading() == 0  # none yet: the alert fires
    for name, mtime in (
        ("duban-20240704T023000Z.dump", 1_720_060_200),
        ("duban-20240705T023000Z.dump", 1_720_146_600),
        (".duban-20240706T023000Z.dump.partial", 1_720_233_000),
        ("notes.txt", 1_720_300_000),
    ):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (mtime, mtime))
    assert reading() == 1_720_146_600  # a dump still being written, or another file, is not a backup
