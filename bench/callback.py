"""Benchmark: the full WeCom text-message path against a bare decrypt-and-encrypt endpoint.

    .venv/bin/python bench/callback.py [--requests-1 300] [--requests-100 1000]

Both servers run the same way: uvicorn in a subprocess on 127.0.0.1, one worker. "full" is duban's app on a
SQLite file with the demo campaign (verify, decrypt, dedupe, handler, commit, encrypted reply); "bare" is a
FastAPI endpoint that only decrypts and encrypts with wechatpy. Each is sent the same kind of signed,
encrypted callbacks by 1 and by 100 concurrent senders; the script prints requests/second, p50 and p99
latency, the server's CPU time per message, and full/bare ratios. Targets: ratio >= 0.5 and p99 <= 500 ms at
100 senders. Loopback only, a bounded number of requests, and it stops by itself.

Where the full path's time goes is printed after that: "web" is duban's app with the Dispatcher replaced by a
stand-in that answers at once (verify, decrypt, hand-over to the handler thread, encrypted reply — no
database), and each message kind is run through the Dispatcher alone, in this process, without HTTP or crypto.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORP_ID = "wwbench000000001"
TOKEN = "BenchToken"
AES_KEY = base64.b64encode(hashlib.sha256(b"duban bench").digest()).decode().rstrip("=")
AGENT_ID = 1000002
LIAISONS = ("WangFang", "LuHeJian", "MaQiang", "LiNa", "ZhangWei")
TEXTS = ("我的问题", "周报 本周完成执法案卷评查{n}件", "帮助", "汇总")


# --- the two servers ---------------------------------------------------------------------------------


def full_app():  # type: ignore[no-untyped-def]
    from bot.app import create_app, freeze_startup_objects
    from bot.settings import Settings

    app = create_app(Settings(_env_file=None, scheduler="off"))  # type: ignore[call-arg]  # DUBAN_* from env
    freeze_startup_objects()  # as `duban serve` does
    return app


def web_app():  # type: ignore[no-untyped-def]
    """The full app with a Dispatcher that does no work: what the web path costs without the database."""
    from handlers.message import Reply

    class StandIn:
        def handle(self, _message: object) -> Reply:
            return Reply.of("已收到")

    app = full_app()
    app.state.services.dispatcher = StandIn()
    return app


def bare_app():  # type: ignore[no-untyped-def]
    from wechatpy.work import parse_message
    from wechatpy.work.crypto import WeChatCrypto
    from wechatpy.work.replies import TextReply

    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    app = FastAPI()

    @app.post("/wecom/callback")
    async def callback(request: Request, msg_signature: str, timestamp: str, nonce: str) -> Response:
        message = parse_message(crypto.decrypt_message(await request.body(), msg_signature, timestamp, nonce))
        reply = TextReply(message=message, content="已收到", time=int(timestamp)).render()
        return Response(crypto.encrypt_message(reply, nonce, timestamp), media_type="application/xml")

    return app


def qyapi_app():  # type: ignore[no-untyped-def]
    """WeCom's API as the full path meets it in production, answering at once: 汇总's markdown reply goes out
    as an app message (a passive reply carries text only) and its chart through media/upload, so the full
    path includes those sends."""
    app = FastAPI()

    @app.get("/cgi-bin/gettoken")
    async def gettoken() -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok", "access_token": "bench-token", "expires_in": 7200}

    @app.post("/cgi-bin/message/send")
    async def send() -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok"}

    @app.post("/cgi-bin/media/upload")
    async def upload(request: Request) -> dict[str, object]:
        await request.body()
        return {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "bench-media", "created_at": "0"}

    return app


def prepare_database(url: str) -> None:
    from bot.demo import load_demo
    from core.clock import SystemClock
    from storage.db import make_engine, make_session_factory, transaction, upgrade_schema

    engine = make_engine(url)
    upgrade_schema(engine)
    with transaction(make_session_factory(engine)) as session:
        load_demo(session, now=SystemClock().now())
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """`python -m uvicorn --factory bench.callback:<factory>` in a subprocess, until the block ends."""

    def __init__(self, factory: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        target = factory if ":" in factory else f"bench.callback:{factory}"  # another module's: "bench.files:…"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=os.environ | env)

    def __enter__(self) -> Served:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start within 60 s")

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux /proc; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    late: int  # answered empty because the reply budget ran out (the reply went out as an app message)
    markdown: int  # 汇总: answered empty by design, the markdown reply sent as an app message
    cpu_ms: float = float("nan")  # the server's CPU time per request


def callbacks(
    count: int, ids: itertools.count[int], users: Sequence[str] = LIAISONS, texts: Sequence[str] = TEXTS
) -> list[tuple[dict[str, str], bytes, bool]]:
    """Signed, encrypted text callbacks as WeCom sends them (from `users` in turn), built before the clock starts."""
    from wechatpy.work.crypto import PrpCrypto

    key = base64.b64decode(AES_KEY + "=")
    built = []
    for n in range(count):
        msg_id = next(ids)
        user = users[n % len(users)]
        text = texts[n % len(texts)].format(n=n)
        timestamp = str(int(datetime.now(UTC).timestamp()))
        plaintext = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]>"
            f"</FromUserName><CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID>"
            "</xml>"
        )
        encrypted = PrpCrypto(key).encrypt(plaintext, CORP_ID).decode()
        nonce = str(msg_id)
        signature = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce, encrypted))).encode()).hexdigest()
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
        ).encode()
        built.append(
            ({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}, body, text.startswith("汇总"))
        )
    return built


async def load(url: str, senders: int, work: list[tuple[dict[str, str], bytes, bool]]) -> Figures:
    queue = iter(work)
    latencies: list[float] = []
    late = markdown = 0
    # aiohttp rather than httpx: at 100 connections httpx's pool used more CPU than the servers under test,
    # and both servers measured the same ~90 requests/second, the client's ceiling.
    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(30)) as client:

        async def sender() -> None:
            nonlocal late, markdown
            for params, body, rich in queue:
                started = time.perf_counter()
                async with client.post("/wecom/callback", params=params, data=body) as response:
                    content = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {content[:200]!r}")
                if not content:
                    markdown += rich
                    late += not rich

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Figures(len(latencies), len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, late, markdown)


def measure(server: Served, plan: dict[int, int], ids: itertools.count[int]) -> dict[int, Figures]:
    asyncio.run(load(server.url, 10, callbacks(50, ids)))  # warm-up: imports, connections, caches
    measured = {}
    for senders, count in plan.items():
        work = callbacks(count, ids)
        before = server.cpu_seconds()
        figures = asyncio.run(load(server.url, senders, work))
        measured[senders] = replace(figures, cpu_ms=(server.cpu_seconds() - before) * 1000 / figures.requests)
    return measured


@dataclass(frozen=True)
class Handling:
    text: str
    ms: float  # median time the Dispatcher takes for one message
    statements: int  # SQL statements it runs for one message, BEGIN and COMMIT included


def dispatcher_alone(url: str, ids: itertools.count[int], repeat: int = 300) -> list[Handling]:
    """Each message kind through the Dispatcher alone (dedupe, handler, commit), in this process."""
    from bench.summary import counting
    from core.clock import SystemClock
    from handlers.dispatch import Dispatcher
    from handlers.message import IncomingMessage
    from storage.db import make_engine, make_session_factory

    engine = make_engine(url)
    dispatcher = Dispatcher(make_session_factory(engine))
    handled = []
    for n, text in enumerate(TEXTS):
        user = LIAISONS[n % len(LIAISONS)]

        def one(text: str = text, user: str = user) -> None:
            number = next(ids)
            dispatcher.handle(
                IncomingMessage(
                    platform="wecom",
                    user_id=user,
                    text=text.format(n=number),
                    received_at=SystemClock().now(),
                    message_id=str(number),
                )
            )

        one()  # warm-up
        with counting(engine) as statements:
            one()
        once = len(statements) + 1  # COMMIT goes through the DBAPI connection, not a cursor
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            one()
            times.append(time.perf_counter() - started)
        handled.append(Handling(text.split(" ")[0], statistics.median(times) * 1000, once))
    engine.dispose()
    return handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-1", type=int, default=300, help="requests sent by 1 sender")
    parser.add_argument("--requests-100", type=int, default=1000, help="requests sent by 100 senders")
    args = parser.parse_args()
    plan = {1: args.requests_1, 100: args.requests_100}
    ids = itertools.count(8_000_000_000_000_000_001)

    with tempfile.TemporaryDirectory() as scratch:
        database = f"sqlite:///{scratch}/bench.db"
        prepare_database(database)
        env = {
            "DUBAN_DATABASE_URL": database,
            "DUBAN_WECOM_CORP_ID": CORP_ID,
            "DUBAN_WECOM_AGENT_ID": str(AGENT_ID),
            "DUBAN_WECOM_SECRET": "unused",
            "DUBAN_WECOM_TOKEN": TOKEN,
            "DUBAN_WECOM_AES_KEY": AES_KEY,
            "DUBAN_LOG_LEVEL": "WARNING",
        }
        with Served("bare_app", env) as bare:
            baseline = measure(bare, plan, ids)
        with Served("qyapi_app", env) as qyapi:
            api = {"DUBAN_WECOM_API_BASE": qyapi.url}
            with Served("web_app", env | api) as web:
                web_only = measure(web, plan, ids)
            with Served("full_app", env | api) as full:
                measured = measure(full, plan, ids)
        handled = dispatcher_alone(database, ids)

    print(f"WeCom callback benchmark ({os.cpu_count()} cores, SQLite, uvicorn, one worker each)")
    print(
        f"{'server':<6} {'senders':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>7}"
        f" {'late':>5} {'markdown':>8}"
    )
    for name, figures in (("bare", baseline), ("web", web_only), ("full", measured)):
        for senders, f in figures.items():
            print(
                f"{name:<6} {senders:>7} {f.requests:>8} {f.per_second:>8.1f} {f.p50_ms:>8.1f} {f.p99_ms:>8.1f}"
                f" {f.cpu_ms:>7.2f} {f.late:>5} {f.markdown:>8}"
            )
    for senders in plan:
        ratio = measured[senders].per_second / baseline[senders].per_second
        print(f"ratio full/bare at {senders:>3} senders: {ratio:.2f}  (target >= 0.5)")
    print(f"p99 at 100 senders: {measured[100].p99_ms:.0f} ms  (target <= 500 ms)")
    print("the Dispatcher alone (dedupe, handler, commit; no HTTP, no crypto), per message:")
    for h in handled:
        print(f"  {h.text:<6} {h.ms:6.2f} ms  {h.statements:>3} statements")
    bare_cpu = baseline[100].cpu_ms
    print(
        f"a ratio of 0.5 at 100 senders leaves {bare_cpu:.2f} ms of CPU per message beyond the bare endpoint's "
        f"{bare_cpu:.2f} ms; the web path without the database already takes {web_only[100].cpu_ms - bare_cpu:.2f} "
        f"ms of it, the Dispatcher {min(h.ms for h in handled):.2f}–{max(h.ms for h in handled):.2f} ms"
    )


if __name__ == "__main__":
    main()
