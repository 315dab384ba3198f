"""A fake WeCom/DingTalk API server on loopback: records every request, answers as it is told.

A small ASGI app served by uvicorn in a thread on 127.0.0.1 (port chosen by the OS). By default every
request gets `{"errcode": 0, "errmsg": "ok"}` (WeCom's gettoken an access token); `script()` queues answers
for the next requests (or the next ones to one path): an HTTP status (500), a platform errcode (45009,
130101, 93000 …) or a hang (the client times out). `hold()` keeps requests to a path waiting until `let_go()`.

WeCom's `enable_duplicate_check` is honoured for app messages: a repeat of the same content to the same
user within `duplicate_check_interval` is acknowledged but not delivered again, as WeCom does. A request the
fake refuses (an HTTP error or a non-zero errcode) delivers nothing, so a retry of it is not a duplicate.
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
GETTOKEN = "/cgi-bin/gettoken"
MESSAGE_SEND = "/cgi-bin/message/send"
HOLD_LIMIT = 60.0  # seconds a held request waits at most for let_go() (bounded, like HANG)


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    delivered: bool  # False when WeCom's duplicate check swallowed it, or the fake refused it
    at: float  # the fake's clock when it arrived
    answer: str = "ok"  # what the fake answered: ok, an HTTP status, "errcode N", hang

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
    _path_answers: dict[str, list[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen_app: dict[tuple[str, str], float] = field(default_factory=dict)
    _release: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _held_paths: set[str] = field(default_factory=set)
    _waiting: list[asyncio.Future[None]] = field(default_factory=list)  # held requests
    url: str = ""
    clock: Callable[[], float] = time.monotonic  # seconds; tests that walk a ManualClock pass its time

    def script(self, *answers: Any, path: str | None = None) -> None:
        """Answer the next requests with these, in order: an int HTTP status, a dict body, or HANG.
        With `path`, only requests to that path take them (they come before answers for any path)."""
        with self._lock:
            if path is None:
                self._answers.extend(answers)
            else:
                self._path_answers.setdefault(path, []).extend(answers)

    def hold(self, path: str) -> None:
        """Keep every request to `path` waiting (after it is recorded) until let_go(): a slow platform."""
        with self._lock:
            self._held_paths.add(path)

    def let_go(self) -> None:
        """Answer the held requests and stop holding."""
        with self._lock:
            self._held_paths.clear()
            waiting, self._waiting = self._waiting, []
            for future in waiting:
                assert self._loop is not None
                self._loop.call_soon_threadsafe(_resolve, future)

    def snapshot(self) -> list[Recorded]:
        """The requests so far (a copy: the server thread keeps appending)."""
        with self._lock:
            return list(self.requests)

    def sends(self, user: str | None = None, contains: str = "") -> list[Recorded]:
        """Every message/send request (delivered or not), optionally to one user and containing a text."""
        return [
            r
            for r in self.snapshot()
            if r.path == MESSAGE_SEND and contains in r.content and (user is None or r.body.get("touser") == user)
        ]

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
                    self._loop = asyncio.get_running_loop()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if self._release is not None:
                        self._release.set()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/_recorded":  # for a fake running in another process (the benchmark)
            await self._respond(
                send, 200, [{"path": r.path, "query": r.query, "body": r.body, "at": r.at} for r in self.requests]
            )
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
        path = scope["path"]
        with self._lock:
            queue = self._path_answers.get(path) or self._answers
            answer = queue.pop(0) if queue else self._default(path)
            now = self.clock()
            refused = isinstance(answer, int) or (isinstance(answer, dict) and answer.get("errcode", 0) != 0)
            delivered = not refused and self._deliver(path, body, now)
            self.requests.append(Recorded(path, query, body, delivered, now, _label(answer)))
            held: asyncio.Future[None] | None = None
            if path in self._held_paths:  # registered under the lock: let_go() cannot miss it
                held = asyncio.get_running_loop().create_future()
                self._waiting.append(held)
        if held is not None:
            await asyncio.wait_for(held, timeout=HOLD_LIMIT)
        if answer == HANG:
            assert self._release is not None
            # Until the server stops (bounded): the client's own timeout is what the test exercises.
            await asyncio.wait_for(self._release.wait(), timeout=30)
            return
        status, payload = (answer, {"errcode": -1, "errmsg": "error"}) if isinstance(answer, int) else (200, answer)
        await self._respond(send, status, payload)

    @staticmethod
    def _default(path: str) -> Any:
        if path == GETTOKEN:  # the real WeCom client fetches a token first; one that lasts two hours
            return {**OK, "access_token": "fake-access-token", "expires_in": 7200}
        return OK

    @staticmethod
    async def _respond(send: Any, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _label(answer: Any) -> str:
    if isinstance(answer, int):
        return str(answer)
    if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
        return f"errcode {answer['errcode']}"
    return "hang" if answer == HANG else "ok"


@contextmanager
def serve_fake_platform() -> Iterator[FakePlatform]:
    """Run a FakePlatform on 127.0.0.1 for the duration of the block."""
    fake = FakePlatform()
    server = uvicorn.Server(
        uvicorn.Config(fake, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    )
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
