"""Benchmark: text callbacks while five 20 MB files arrive, against the same text load without files.

    .venv/bin/python bench/files.py [--requests 1500] [--senders 20] [--store database|local]

duban's app runs as `bench/callback.py` runs it (uvicorn in a subprocess, SQLite, the demo campaign, WeCom
configured against a stand-in of WeCom's API on loopback). The same signed, encrypted text callbacks are sent
twice by `--senders` concurrent senders: once alone (the baseline), once while five picture callbacks arrive
from a liaison, each of which makes the server fetch a 20 MB file from media/get (served at about 4 MB/s, so
the downloads last as long as the text load) and keep it in the file store. Printed: p50/p99 of the text
callbacks in both runs and their ratio (target: p99 <= 500 ms with files), the time until all five files were
kept, and the server's resident memory — its peak in each run and the growth the files caused (target: flat,
far below the 100 MB the files weigh, since they are streamed to disk and stored a chunk at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.callback import (  # noqa: E402
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    TOKEN,
    Figures,
    Served,
    callbacks,
    load,
    prepare_database,
)

FILE_BYTES = 20 * 1024 * 1024 - 1024  # just under the limit, so each one is kept
FILES = 5
SERVE_CHUNK = 256 * 1024
SERVE_PAUSE = 0.06  # seconds between chunks: about 4 MB/s per download
SENDER = "LuHeJian"  # a liaison of the demo campaign


def media_app():  # type: ignore[no-untyped-def]
    """WeCom's API for this benchmark: tokens, app messages, and media/get serving a 20 MB PDF per media_id."""
    app = FastAPI()

    @app.get("/cgi-bin/gettoken")
    async def gettoken() -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok", "access_token": "bench-token", "expires_in": 7200}

    @app.post("/cgi-bin/message/send")
    async def send() -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok"}

    @app.post("/cgi-bin/media/upload")
    async def upload() -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "bench-media"}

    @app.get("/cgi-bin/media/get")
    async def media_get(media_id: str) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            head = f"%PDF-1.4\n% {media_id}\n".encode()
            yield head
            left = FILE_BYTES - len(head)
            while left > 0:
                await asyncio.sleep(SERVE_PAUSE)
                part = min(SERVE_CHUNK, left)
                yield bytes(part)
                left -= part

        return StreamingResponse(
            body(),
            media_type="application/octet-stream",
            headers={"content-disposition": f'attachment; filename="{media_id}.pdf"'},
        )

    return app


def picture_callbacks(ids: itertools.count[int]) -> list[tuple[dict[str, str], bytes, bool]]:
    """Signed, encrypted image callbacks from SENDER, one per file."""
    from wechatpy.work.crypto import PrpCrypto

    key = base64.b64decode(AES_KEY + "=")
    built = []
    for n in range(FILES):
        msg_id = next(ids)
        timestamp = str(int(datetime.now(UTC).timestamp()))
        plaintext = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{SENDER}]]>"
            f"</FromUserName><CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<MediaId><![CDATA[bench-file-{n}]]></MediaId><MsgId>{msg_id}</MsgId>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>"
        )
        encrypted = PrpCrypto(key).encrypt(plaintext, CORP_ID).decode()
        nonce = str(msg_id)
        signature = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce, encrypted))).encode()).hexdigest()
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
        ).encode()
        built.append(({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}, body, False))
    return built


class Memory:
    """The server's resident memory, sampled every 20 ms in a thread while a block runs (Linux /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.samples.append(self.rss())

    def __enter__(self) -> Memory:
        self.samples.append(self.rss())
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def start(self) -> int:
        return self.samples[0]

    @property
    def peak(self) -> int:
        return max(self.samples)


def kept_files(database: str) -> int:
    from sqlalchemy import create_engine, func, select

    from storage.models import Material

    engine = create_engine(database)
    with engine.connect() as connection:
        count = int(connection.scalar(select(func.count()).select_from(Material)) or 0)
    engine.dispose()
    return count


async def with_files(
    url: str,
    senders: int,
    work: list[tuple[dict[str, str], bytes, bool]],
    pictures: list[tuple[dict[str, str], bytes, bool]],
    database: str,
) -> tuple[Figures, float]:
    """The text load, with the picture callbacks sent as it starts; also the seconds until all files were kept."""
    started = time.perf_counter()
    files = asyncio.create_task(load(url, FILES, pictures))
    figures = await load(url, senders, work)
    await files
    while await asyncio.to_thread(kept_files, database) < FILES:
        if time.perf_counter() - started > 300:
            raise RuntimeError("the files were not all kept within 300 s")
        await asyncio.sleep(0.2)
    return figures, time.perf_counter() - started


def mib(value: float) -> str:
    return f"{value / 1024 / 1024:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="text callbacks per run")
    parser.add_argument("--senders", type=int, default=20, help="concurrent text senders")
    parser.add_argument("--store", choices=("database", "local"), default="database", help="DUBAN_FILE_STORE")
    args = parser.parse_args()
    ids = itertools.count(9_000_000_000_000_000_001)

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
            "DUBAN_FILE_STORE": args.store,
            "DUBAN_FILES_DIR": f"{scratch}/files",
        }
        with (
            Served("bench.files:media_app", env) as api,
            Served("full_app", env | {"DUBAN_WECOM_API_BASE": api.url}) as full,
        ):
            asyncio.run(load(full.url, 10, callbacks(50, ids)))  # warm-up: imports, connections, caches
            with Memory(full.process.pid) as quiet:
                baseline = asyncio.run(load(full.url, args.senders, callbacks(args.requests, ids)))
            with Memory(full.process.pid) as busy:
                loaded, kept_after = asyncio.run(
                    with_files(full.url, args.senders, callbacks(args.requests, ids), picture_callbacks(ids), database)
                )

    print(
        f"Text callbacks while {FILES} files of {mib(FILE_BYTES)} arrive ({os.cpu_count()} cores, SQLite, "
        f"file store: {args.store}, {args.senders} text senders, {args.requests} callbacks per run)"
    )
    print(f"{'run':<12} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'late':>5}")
    for name, f in (("baseline", baseline), ("with files", loaded)):
        print(f"{name:<12} {f.per_second:>7.1f} {f.p50_ms:>8.1f} {f.p99_ms:>8.1f} {f.late:>5}")
    print(
        f"p99 with files / baseline: {loaded.p99_ms / baseline.p99_ms:.2f}; p99 with files {loaded.p99_ms:.0f} ms "
        "(target <= 500 ms)"
    )
    print(f"all {FILES} files kept {kept_after:.1f} s after the first picture callback")
    print(
        f"server memory: baseline run peak {mib(quiet.peak)}; with files start {mib(busy.start)}, peak "
        f"{mib(busy.peak)}, growth {mib(busy.peak - busy.start)} for {mib(FILES * FILE_BYTES)} of files"
    )


if __name__ == "__main__":
    main()
