"""deploy/systemd: the same topology as compose for servers without containers."""

from __future__ import annotations

import re
from pathlib import Path

UNITS = Path(__file__).parents[2] / "deploy" / "systemd"
DEPLOY_DIR_ON_SERVER = "/opt/duban/src/deploy/"


def unit(name: str) -> dict[str, list[str]]:
    """`Section.Key` → values (systemd allows a key more than once)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := re.fullmatch(r"\[(\w+)\]", line):
            section = match.group(1)
            continue
        key, value = line.split("=", 1)
        values.setdefault(f"{section}.{key}", []).append(value)
    return values


def script_of(exec_start: str) -> Path:
    command = exec_start.split()[0]
    assert command.startswith(DEPLOY_DIR_ON_SERVER), command
    return UNITS.parent / command.removeprefix(DEPLOY_DIR_ON_SERVER)


def test_web_instances_listen_on_their_instance_port_without_the_scheduler() -> None:
    web = unit("duban-web@.service")
    (exec_start,) = web["Service.ExecStart"]
    assert script_of(exec_start).name == "entrypoint.sh" and script_of(exec_start).is_file()
    assert exec_start.split()[1:] == ["web", "--host", "127.0.0.1", "--port", "%i"]
    assert web["Service.User"] == ["duban"] and web["Service.Restart"] == ["on-failure"]


def test_scheduler_unit_runs_the_scheduler_role() -> None:
    scheduler = unit("duban-scheduler.service")
    (exec_start,) = scheduler["Service.ExecStart"]
    assert exec_start.split()[1] == "scheduler" and "--port" in exec_start
    assert "standby" in (UNITS / "duban-scheduler.service").read_text(encoding="utf-8")


def test_backup_timer_starts_the_backup_script_daily() -> None:
    timer, service = unit("duban-backup.timer"), unit("duban-backup.service")
    assert timer["Timer.Unit"] == ["duban-backup.service"] and timer["Timer.Persistent"] == ["true"]
    assert timer["Timer.OnCalendar"] and timer["Install.WantedBy"] == ["timers.target"]
    assert service["Service.Type"] == ["oneshot"]
    assert script_of(service["Service.ExecStart"][0]).name == "backup.sh"
    assert service["Service.EnvironmentFile"] == ["/etc/duban/backup.env"]
    assert (UNITS.parent / "backup.env.example").is_file()


def test_services_read_secrets_from_a_file_and_run_unprivileged() -> None:
    for name in ("duban-web@.service", "duban-scheduler.service", "duban-backup.service"):
        service = unit(name)
        assert service["Service.EnvironmentFile"][0].startswith("/etc/duban/")
        assert service["Service.User"] == ["duban"] and service["Service.NoNewPrivileges"] == ["yes"]
        inline = " ".join(service.get("Service.Environment", []))
        assert not re.search(r"SECRET|TOKEN|PASSWORD|AES_KEY|DATABASE_URL", inline), name
        assert service["Service.ProtectSystem"] == ["strict"]
