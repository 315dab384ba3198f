"""Guessing dashboard passwords against `duban serve` itself. The per-login limit (5 failures in 15 minutes) holds
however many guesses arrive at once, on PostgreSQL too; the per-address limit (20) counts the address nginx saw,
never one a client wrote into X-Forwarded-For; and the per-login limit does not depend on the address at all."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.settings import Settings
from storage.db import transaction
from storage.models import AuditEntry
from tests.bot.test_dashboard_access import csrf_of
from tests.conftest import Database
from tests.factories import set_password
from tests.security.server import Served

DEPLOY = Path(__file__).parents[2] / "deploy"
PROXY = "127.0.0.2"  # nginx, as far as these servers know
STRANGER = "127.0.0.3"  # a client that reaches the web process without going through nginx
ATTACKER, VICTIM = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def coordinator(plan_loaded: Database) -> Database:
    set_password(plan_loaded)  # 俞建奎: login yu, password "correct horse"
    return plan_loaded


def image_environment() -> dict[str, str]:
    """What deploy/Dockerfile sets for the process (ENV), as far as uvicorn and duban read it."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    pairs = [
        pair.split("=", 1)
        for line in text.splitlines()
        if line.startswith("ENV ")
        for pair in line.split()[1:]
        if "=" in pair
    ]
    return {name: value for name, value in pairs if name.startswith(("DUBAN_", "FORWARDED_ALLOW_IPS"))}


@contextmanager
def browser(server: Served, address: str = "127.0.0.1") -> Iterator[Callable[..., int]]:
    """A login form opened from `address`; the function posts it and returns the HTTP status."""
    with httpx.Client(base_url=server.url, timeout=120, transport=httpx.HTTPTransport(local_address=address)) as client:
        token = csrf_of(client.get("/dashboard/login").text)

        def attempt(login: str = "yu", password: str = "a wrong guess", forwarded: str | None = None) -> int:
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            return client.post(
                "/dashboard/login", headers=headers, data={"login": login, "password": password, "csrf": token}
            ).status_code

        yield attempt


def failures(db: Database, **detail: Any) -> int:
    with transaction(db.sessions) as session:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "login.failed")
        for key, value in detail.items():
            stmt = stmt.where(
                AuditEntry.actor == value if key == "actor" else AuditEntry.detail[key].as_string() == value
            )
        return int(session.scalar(stmt) or 0)


def test_sixty_parallel_guesses_are_five_checked_and_fifty_five_refused(
    coordinator: Database, serve: Callable[..., Served]
) -> None:
    server = serve(DUBAN_DATABASE_URL=coordinator.url, DUBAN_SECRET_KEY="login-limits")
    with browser(server) as attempt, ThreadPoolExecutor(60) as pool:
        statuses = sorted(pool.map(lambda _: attempt(), range(60)))
    assert statuses == [401] * 5 + [429] * 55
    assert failures(coordinator, actor="dashboard:yu") == 5


def test_a_forwarded_address_written_by_the_client_counts_for_nothing(
    coordinator: Database, serve: Callable[..., Served]
) -> None:
    server = serve(
        DUBAN_DATABASE_URL=coordinator.url,
        DUBAN_SECRET_KEY="login-limits",
        DUBAN_FORWARDED_ALLOW_IPS=PROXY,
        **image_environment(),
    )
    with browser(server, PROXY) as through_nginx, browser(server, STRANGER) as direct:
        # Through nginx the header ends with the address nginx saw; what the client wrote before it is ignored, so
        # rotating it does not get past the per-address limit.
        for index in range(20):
            assert through_nginx(f"guess{index}", forwarded=f"10.0.{index}.1, {ATTACKER}") == 401
        assert through_nginx("guess20", forwarded=f"10.0.20.1, {ATTACKER}") == 429
        assert failures(coordinator, address=ATTACKER) == 20

        # Straight to the web process, the header is not believed at all: the guesses count against the
        # connection's own address, not against the victim's it names.
        for index in range(20):
            assert direct(f"probe{index}", forwarded=VICTIM) == 401
        assert failures(coordinator, address=STRANGER) == 20 and failures(coordinator, address=VICTIM) == 0
        assert through_nginx("yu", "correct horse", forwarded=VICTIM) == 303  # the victim is not locked out


def test_the_per_login_limit_does_not_depend_on_the_address(
    coordinator: Database, serve: Callable[..., Served]
) -> None:
    server = serve(DUBAN_DATABASE_URL=coordinator.url, DUBAN_SECRET_KEY="login-limits", DUBAN_FORWARDED_ALLOW_IPS=PROXY)
    with browser(server, PROXY) as through_nginx:
        for index in range(5):
            assert through_nginx(forwarded=f"192.0.2.{index + 1}") == 401
        assert through_nginx("yu", "correct horse", forwarded="192.0.2.99") == 429


@pytest.mark.parametrize("value", ["*", "nginx", "172.30.0.10, *"])
def test_trusting_any_forwarder_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="只能写反向代理"):
        Settings(_env_file=None, forwarded_allow_ips=value)  # type: ignore[call-arg]


def test_the_deployments_trust_only_their_nginx() -> None:
    assert "FORWARDED_ALLOW_IPS" not in (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    nginx = compose["services"]["nginx"]["networks"]["backend"]["ipv4_address"]
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(nginx) in ipaddress.ip_network(subnet)
    webs = [s for s in compose["services"].values() if s.get("command") == ["web"]]
    assert webs and all(s["environment"]["DUBAN_FORWARDED_ALLOW_IPS"] == nginx for s in webs)
    unit = (DEPLOY / "systemd" / "duban-web@.service").read_text(encoding="utf-8")
    assert "Environment=DUBAN_FORWARDED_ALLOW_IPS=127.0.0.1" in unit and "--host 127.0.0.1" in unit
