"""deploy/Dockerfile and .dockerignore: what the image will be, read without a Docker engine.

The image installs duban from a wheel (`pip install .`), so the last test builds that wheel and checks it
carries every file the service reads at run time (templates, static files, migrations).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("bot", "handlers", "scheduler", "storage")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def docker_ignores(path: str) -> bool:
    """.dockerignore semantics (last matching pattern wins; a pattern naming a folder covers its contents)."""
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_image_is_python_311_slim_in_both_stages() -> None:
    bases = [arguments.split()[0] for name, arguments in instructions() if name == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases)


def test_service_runs_as_an_unprivileged_user() -> None:
    stage = final_stage()
    users = [arguments for name, arguments in stage if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    user_at = max(i for i, (name, _) in enumerate(stage) if name == "USER")
    assert user_at < min(i for i, (name, _) in enumerate(stage) if name in ("ENTRYPOINT", "CMD"))
    assert any(name == "RUN" and "useradd" in args and users[-1] in args for name, args in stage)


def test_cjk_font_is_installed_and_checked_at_build_time() -> None:
    runs = [arguments for name, arguments in final_stage() if name == "RUN"]
    assert any("apt-get install" in run and "fonts-noto-cjk" in run.split() for run in runs)
    assert any("font_family()" in run for run in runs)  # the build fails if charts would have no font


def test_health_check_probes_healthz_and_the_port_is_exposed() -> None:
    stage = dict((name, arguments) for name, arguments in final_stage() if name in ("HEALTHCHECK", "EXPOSE"))
    assert "/healthz" in stage["HEALTHCHECK"] and "--timeout=" in stage["HEALTHCHECK"]
    assert stage["EXPOSE"].split() == ["8000"]


def test_entrypoint_script_is_copied_executable_and_used() -> None:
    stage = final_stage()
    copy = next(arguments for name, arguments in stage if name == "COPY" and "deploy/entrypoint.sh" in arguments)
    *flags_and_source, destination = shlex.split(copy)
    assert "--chmod=0755" in flags_and_source
    entrypoint = next(arguments for name, arguments in stage if name == "ENTRYPOINT")
    assert entrypoint == f'["{Path(destination).name}"]' or destination in entrypoint
    assert next(arguments for name, arguments in stage if name == "CMD") == '["web"]'


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    sources = []
    for name, arguments in instructions():
        if name == "COPY" and "--from=" not in arguments:
            sources += [s for s in shlex.split(arguments)[:-1] if not s.startswith("--")]
    assert "deploy/entrypoint.sh" in sources and "storage" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not docker_ignores(source), f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "var/duban.db",
        "deploy/duban.env",
        "deploy/certs/privkey.pem",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/conftest.py",
        "storage/x.db",
        "bot/__pycache__/app.cpython-311.pyc",
    ],
)
def test_secrets_and_local_data_stay_out_of_the_build_context(path: str) -> None:
    assert docker_ignores(path)


def test_the_installed_package_carries_every_runtime_file(tmp_path: Path) -> None:
    source = tmp_path / "src"  # what the build stage copies (and a build leaves no debris in the work tree)
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = zipfile.ZipFile(next(tmp_path.glob("duban-*.whl")))
    needed = {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and path.suffix not in (".pyc", ".md") and "__pycache__" not in path.parts
    }
    assert needed - set(wheel.namelist()) == set()
    assert "bot/dashboard/templates/base.html" in needed
