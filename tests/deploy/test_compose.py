"""deploy/compose.yaml, the nginx site and the env example describe one consistent, safe topology.

No Docker engine runs here, so these read the files as Compose and nginx would and check what an operator
relies on: who runs the scheduler, what waits for what, where data and secrets live, what nginx lets through.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
SETTINGS = {f"DUBAN_{name.upper()}" for name in Settings.model_fields}
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|AES_KEY|APP_KEY|DATABASE_URL")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def duban_services(compose: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if service.get("command") == [role]}


def nginx_conf() -> str:
    return (DEPLOY / "nginx" / "duban.conf").read_text(encoding="utf-8")


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[unit]


def test_two_web_replicas_and_two_scheduler_processes(compose: dict[str, Any]) -> None:
    web, scheduler = duban_services(compose, "web"), duban_services(compose, "scheduler")
    assert len(web) == 2 and len(scheduler) == 2
    assert all(service["environment"]["DUBAN_SCHEDULER"] == "off" for service in web.values())
    assert all(service["environment"]["DUBAN_SCHEDULER"] == "on" for service in scheduler.values())
    for service in [*web.values(), *scheduler.values()]:
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY.parent / service["build"]["dockerfile"]).is_file()
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["restart"] == "unless-stopped"


def test_postgres_keeps_its_data_in_a_volume_and_reports_health(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume, mount = postgres["volumes"][0].split(":")
    assert mount == "/var/lib/postgresql/data" and volume in compose["volumes"]


def test_backups_run_the_backup_script_into_their_own_volume(compose: dict[str, Any]) -> None:
    backup = compose["services"]["backup"]
    mounts = dict(volume.split(":")[:2] for volume in backup["volumes"])
    assert mounts["backups"] == backup["environment"]["BACKUP_DIR"] and "backups" in compose["volumes"]
    script = next(source for source, target in mounts.items() if target == "/usr/local/bin/duban-backup")
    assert (DEPLOY / script).is_file()
    assert "duban-backup" in backup["command"][0] and "while true" in backup["command"][0]
    assert int(backup["environment"]["BACKUP_KEEP_DAYS"]) > 0
    assert compose["services"]["postgres"]["image"] == backup["image"]  # pg_dump of the server's version


def test_nginx_fronts_exactly_the_web_replicas(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    assert "443:443" in nginx["ports"]
    mounts = dict(volume.split(":")[:2] for volume in nginx["volumes"])
    assert mounts["./nginx/duban.conf"] == "/etc/nginx/conf.d/default.conf"
    upstream = re.search(r"upstream duban_web \{(.*?)\}", nginx_conf(), re.S).group(1)  # type: ignore[union-attr]
    servers = set(re.findall(r"server ([\w.-]+):(\d+)", upstream))
    assert servers == {(name, "8000") for name in duban_services(compose, "web")}
    assert set(nginx["depends_on"]) == set(duban_services(compose, "web"))
    assert "/etc/nginx/certs" in mounts.values()
    assert re.findall(r"ssl_certificate(?:_key)? +(\S+);", nginx_conf()) == [
        "/etc/nginx/certs/fullchain.pem",
        "/etc/nginx/certs/privkey.pem",
    ]


def test_nginx_limits_bodies_and_answers_callbacks_inside_wecoms_five_seconds() -> None:
    conf = nginx_conf()
    assert re.search(r"client_max_body_size 1m;", conf)
    assert seconds(re.search(r"proxy_connect_timeout (\S+);", conf).group(1)) <= 1  # type: ignore[union-attr]
    for platform in ("wecom", "dingtalk"):
        block = re.search(rf"location \^~ /{platform}/ \{{(.*?)\}}", conf, re.S).group(1)  # type: ignore[union-attr]
        timeouts = [seconds(value) for value in re.findall(r"proxy_(?:read|send)_timeout (\S+);", block)]
        assert len(timeouts) == 2 and max(timeouts) < 5
        assert "proxy_pass http://duban_web;" in block
    assert seconds(re.search(r"proxy_next_upstream_timeout (\S+);", conf).group(1)) < 5  # type: ignore[union-attr]


def test_nginx_closes_idle_replica_connections_before_the_replicas_do() -> None:
    """A replica closing an idle connection while nginx sends a request on it answers that request with nothing:
    nginx does not resend a POST, so a callback would get a 502. nginx must be the side that closes first."""
    upstream = re.search(r"upstream duban_web \{(.*?)\}", nginx_conf(), re.S).group(1)  # type: ignore[union-attr]
    assert re.search(r"^\s*keepalive \d+;", upstream, re.M)
    idle = seconds(re.search(r"keepalive_timeout (\S+);", upstream).group(1))  # type: ignore[union-attr]
    assert idle < Settings(_env_file=None).http_keep_alive  # type: ignore[call-arg]


def test_nginx_passes_the_request_id_and_forwarded_headers_and_hides_internal_pages() -> None:
    conf = nginx_conf()
    for header in ("X-Request-ID", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP"):
        assert re.search(rf"proxy_set_header {header} \$\w+;", conf), header
    assert "add_header X-Request-ID $duban_request_id always;" in conf
    for hidden in ("location = /metrics", "location ^~ /sim"):
        assert re.search(rf"{re.escape(hidden)} \{{\s*return 404;\s*\}}", conf), hidden
    assert "listen 443 ssl http2;" in conf and "return 301 https://" in conf


def test_secrets_come_from_env_files_never_from_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not SECRET_NAME.search(key), f"{name}: {key} belongs in an env_file"
            assert not re.search(r"://[^/\s]*:[^/\s]*@", str(value)), f"{name}: credentials in a URL"
        for env_file in service.get("env_file", []):
            assert (DEPLOY / f"{env_file}.example").is_file(), env_file
    for service in [*duban_services(compose, "web").values(), *duban_services(compose, "scheduler").values()]:
        assert service["env_file"] == ["duban.env"]
    ignored = (DEPLOY / ".gitignore").read_text()
    assert "*.env" in ignored and "certs/" in ignored


def test_every_duban_name_in_the_deploy_files_is_a_real_setting() -> None:
    used: set[str] = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix != ".md":
            used |= set(re.findall(r"DUBAN_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    assert used, "the deploy files name settings"
    assert used <= SETTINGS, used - SETTINGS


def test_env_example_lists_every_setting_and_no_real_secret() -> None:
    text = (DEPLOY / "duban.env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?(DUBAN_[A-Z0-9_]+)=", text, re.M))
    assert listed == SETTINGS, SETTINGS ^ listed
    active = dict(re.findall(r"^(DUBAN_[A-Z0-9_]+)=(.*)$", text, re.M))
    assert active["DUBAN_SIMULATOR"] == "false"  # /sim would let anyone speak as anyone
    assert "DUBAN_SCHEDULER" not in active  # the role decides
    for name, value in active.items():
        if SECRET_NAME.search(name):
            assert "请替换" in value, f"{name} must be a placeholder"
    settings = Settings(_env_file=DEPLOY / "duban.env.example")  # type: ignore[call-arg]
    assert settings.database_url.startswith("postgresql+psycopg://") and not settings.simulator_on
    assert not settings.wecom_enabled and not settings.dingtalk_enabled  # placeholders stay commented out


def test_readme_links_the_platform_guides_and_keeps_the_sizing_section() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for guide in re.findall(r"\]\(([\w.-]+\.md)\)", readme):
        assert (DEPLOY / guide).is_file(), guide
    assert {"wecom.md", "dingtalk.md"} <= set(re.findall(r"\]\(([\w.-]+\.md)\)", readme))
    assert "## 容量规划（Sizing）" in readme
    assert "duban db copy --from sqlite:///" in readme


def test_every_container_keeps_bounded_logs(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        logging = service.get("logging")
        assert logging and logging["driver"] == "json-file", name
        assert re.fullmatch(r"\d+m", logging["options"]["max-size"]) and int(logging["options"]["max-file"]) >= 2, name


def test_nginx_follows_replicas_to_their_new_addresses(compose: dict[str, Any]) -> None:
    """A rolling upgrade recreates web-1 and web-2, possibly on new addresses: nginx asks Docker's DNS again
    (`resolve`, open-source nginx 1.27.3 and later) instead of sending to the old ones until it is reloaded."""
    conf = nginx_conf()
    assert re.search(r"^resolver 127\.0\.0\.11 valid=\d+s", conf, re.M)
    upstream = re.search(r"upstream duban_web \{(.*?)\}", conf, re.S).group(1)  # type: ignore[union-attr]
    assert re.search(r"^\s*zone duban_web \d+k;", upstream, re.M)
    servers = re.findall(r"^\s*server (\S+) (.*);", upstream, re.M)
    assert servers and all(options.split()[0] == "resolve" for _, options in servers)
    version = compose["services"]["nginx"]["image"].split(":")[1]
    assert tuple(int(part) for part in version.split(".")) >= (1, 27, 3) or version in ("1.28", "1.29", "stable")
