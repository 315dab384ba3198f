"""A fake WeCom/DingTalk API server on loopback: records every request, answers as it is told.

A small ASGI app served by uvicorn in a thread on 127.0.0.1 (port chosen by the OS). By default every
request gets `{"errcode": 0, "errmsg": "ok"}`; `script()` queues answers for the next requests:
an HTTP status (500), a platform errcode (45009, 130101, 93000 …) or a hang (the client times out).

WeCom's `enable_duplicate_check` is honoured for app messages: a repeat of the same content to the same
user within `duplicate_check_interval` is acknowledged but not delivered again, as WeCom does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

OK = {"errcode": 0, "errmsg": "ok"}
HANG = "hang"


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    delivered: bool  # False when WeCom's duplicate check swallowed it
    at: float  # the fake's clock when it arrived

    @property
    def content(self) -> str:
        text = self.body.get("text") or self.body.get("markdown") or {}
        return str(text.get("content") or text.get("text") or "")

    @property
    def mentions(self) -> list[str]:
        if "at" in self.body:  # DingTalk robot
            return list(self.body["at"].get("atMobiles", []))
        return list((self.body.get("text") or {}).get("mentioned_mobile_list", []))


@dataclass
class FakePlatform:
    requests: list[Recorded] = field(default_factory=list)
    _answers: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen_app: dict[tuple[str, str], float] = field(default_factory=dict)
    _release: asyncio.Event | None = None
    url: str = ""
    clock: Callable[[], float] = time.monotonic  # seconds; tests that walk a ManualClock pass its time

    def script(self, *answers: Any) -> None:
        """Answer the next requests with these, in order: an int HTTP status, a dict body, or HANG."""
        with self._lock:
            self._answers.extend(answers)

    def app_messages(self) -> list[Recorded]:
        """Delivered WeCom app messages (message/send)."""
        return [r for r in self.requests if r.path == "/cgi-bin/message/send" and r.delivered]

    def robot_messages(self) -> list[Recorded]:
        return [r for r in self.requests if r.path in ("/cgi-bin/webhook/send", "/robot/send")]

    def to_user(self, user: str) -> list[str]:
        return [r.content for r in self.app_messages() if r.body.get("touser") == user]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    self._release = asyncio.Event()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if self._release is not None:
                        self._release.set()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/_recorded":  # for a fake running in another process (the benchmark)
            await self._respond(send, 200, [{"path": r.path, "query": r.query, "body": r.body, "at": r.at}
                                            for r in self.requests])
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        body = json.loads(raw) if raw else {}
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        with self._lock:
            answer = self._answers.pop(0) if self._answers else OK
            now = self.clock()
            delivered = self._deliver(scope["path"], body, now)
            self.requests.append(Recorded(scope["path"], query, body, delivered, now))
        if answer == HANG:
            assert self._release is not None
            # Until the server stops (bounded): the client's own timeout is what the test exercises.
            await asyncio.wait_for(self._release.wait(), timeout=30)
            return
        status, payload = (answer, {"errcode": -1, "errmsg": "error"}) if isinstance(answer, int) else (200, answer)
        await self._respond(send, status, payload)

    @staticmethod
    async def _respond(send: Any, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    def _deliver(self, path: str, body: dict[str, Any], now: float) -> bool:
        if path != "/cgi-bin/message/send" or not body.get("enable_duplicate_check"):
            return True
        key = (str(body.get("touser")), json.dumps(body.get("text") or body.get("markdown"), sort_keys=True))
        previous = self._seen_app.get(key)
        if previous is not None and now - previous < float(body.get("duplicate_check_interval", 1800)):
            return False
        self._seen_app[key] = now
        return True


@contextmanager
def serve_fake_platform() -> Iterator[FakePlatform]:
    """Run a FakePlatform on 127.0.0.1 for the duration of the block."""
    fake = FakePlatform()
    server = uvicorn.Server(uvicorn.Config(fake, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="fake-platform", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # bounded wait for the socket to listen
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake platform server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":  # a fake in its own process, so that it does not share a core with the client
    with serve_fake_platform() as served:
        print(served.url, flush=True)
        threading.Event().wait()
