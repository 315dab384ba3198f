"""`duban serve` as production starts it: the real CLI and uvicorn (proxy headers included) in a process of its own,
in its own process group, on a loopback port it picks itself; stopped group-wide when the test ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.reliability.harness import wait_until

LISTENING = "Uvicorn running on http://127.0.0.1:"


class Served:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.log = workdir / "duban-serve.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "FORWARDED_ALLOW_IPS"))}
        with self.log.open("wb") as out:
            # cwd: a folder without a .env, so only `env` configures it.
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                cwd=workdir,
                env=base | {"PYTHONUNBUFFERED": "1", "DUBAN_SCHEDULER": "off", "DUBAN_LOG_FORMAT": "json"} | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{wait_until(self._port, 'duban serve to listen', every=0.1)}"

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def events(self) -> list[dict[str, object]]:
        found = []
        for line in self.lines():
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
        return found

    def _port(self) -> str | None:
        if self.popen.poll() is not None:
            raise AssertionError(f"duban serve exited ({self.popen.returncode}):\n" + "\n".join(self.lines()[-30:]))
        for event in self.events():
            text = str(event.get("event", ""))
            if text.startswith(LISTENING):
                return text.removeprefix(LISTENING).split()[0]
        return None

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
