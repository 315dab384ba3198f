"""`make system-packages` installs what the project needs from Debian (the CJK font, Chromium, LibreOffice) when it
runs as root with apt-get, and otherwise says what is missing and how to get it; `make run`, `make test` and CI use it.

This machine has these packages, and other suites need them: the target runs here against stand-ins for fc-list,
chromium, soffice, id and apt-get on a PATH of their own, which record what the target asked of them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MAKE = shutil.which("make") or "/usr/bin/make"


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def machine(tmp_path: Path, *, root: bool, apt: bool, font: bool, browser: bool, office: bool = True) -> Path:
    """A PATH holding only grep (the real one) and stand-ins describing the machine."""
    folder = tmp_path / "bin"
    folder.mkdir()
    os.symlink(shutil.which("grep") or "/usr/bin/grep", folder / "grep")
    stub(folder, "id", f"echo {0 if root else 1000}")
    stub(folder, "fc-list", "echo '/usr/share/fonts/NotoSansCJK-Regular.ttc: Noto Sans CJK SC'" if font else "true")
    if browser:
        stub(folder, "chromium", "true")
    if office:
        stub(folder, "soffice", "true")
    if apt:
        stub(folder, "apt-get", f'echo "$DEBIAN_FRONTEND apt-get $*" >> {tmp_path / "apt.log"}')
    return folder


def make(tmp_path: Path, folder: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAKE, "-s", "-C", str(ROOT), *targets],
        env={"PATH": str(folder), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def apt_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_as_root_with_apt_it_installs_what_is_missing(tmp_path: Path) -> None:
    done = make(
        tmp_path, machine(tmp_path, root=True, apt=True, font=False, browser=False, office=False), "system-packages"
    )
    assert done.returncode == 0, done.stderr
    install = "noninteractive apt-get install -y -q fonts-noto-cjk chromium libreoffice-writer-nogui"
    assert apt_calls(tmp_path) == [" apt-get update -q", install]


def test_only_what_is_missing_is_installed(tmp_path: Path) -> None:
    make(tmp_path, machine(tmp_path, root=True, apt=True, font=True, browser=False), "system-packages")
    assert apt_calls(tmp_path)[-1] == "noninteractive apt-get install -y -q chromium"


@pytest.mark.parametrize(("root", "apt"), [(False, True), (True, False)], ids=["not-root", "no-apt-get"])
def test_otherwise_it_says_what_is_missing_and_how_to_install_it(tmp_path: Path, root: bool, apt: bool) -> None:
    done = make(tmp_path, machine(tmp_path, root=root, apt=apt, font=False, browser=False), "system-packages")
    assert done.returncode == 0 and apt_calls(tmp_path) == []
    assert "缺少系统软件包 fonts-noto-cjk chromium" in done.stdout
    assert "sudo apt-get install fonts-noto-cjk chromium" in done.stdout


def test_a_machine_that_has_both_is_left_alone_quietly(tmp_path: Path) -> None:
    done = make(tmp_path, machine(tmp_path, root=True, apt=True, font=True, browser=True), "system-packages")
    assert done.returncode == 0 and done.stdout == "" and apt_calls(tmp_path) == []


def test_make_run_make_test_and_ci_use_it(tmp_path: Path) -> None:
    folder = machine(tmp_path, root=False, apt=False, font=False, browser=False)
    # -n: the recipes are printed, not run; what system-packages checks is in them.
    run, test = make(tmp_path, folder, "-n", "run").stdout, make(tmp_path, folder, "-n", "test").stdout
    # The demo needs no browser.
    assert "for package in fonts-noto-cjk" in run and "chromium" not in run.split("; do")[0]
    assert "for package in fonts-noto-cjk chromium" in test
    assert run.index("for package in") < run.index("duban serve")
    assert test.index("for package in") < test.index("pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci and "apt-get" not in ci
