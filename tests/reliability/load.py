"""WeCom's side of a load: signed, encrypted text callbacks from many users at once, some of them re-sent with the
same MsgId as WeCom does when an answer is late, spread over several web processes.

aiohttp rather than httpx: the load generator shares two cores with the servers it loads, and aiohttp's client
costs less per request (bench/callback.py measured the same).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.wecom.texts import LATE_FAILURE
from storage.db import transaction
from storage.models import AuditEntry, Issue, ProcessedMessage
from tests.bot.wecom.platform import WeComSide
from tests.fakes.platform import FakePlatform
from tests.reliability.harness import AES_KEY, AGENT_ID, CORP_ID, TOKEN, ClockFile, liaison, wait_until

RETRY_PAUSE = 0.25  # seconds between WeCom's re-sends of a callback that failed (WeCom waits 5 s; a test cannot)


@dataclass(frozen=True)
class Message:
    msg_id: str
    user: str
    text: str
    kind: str  # what the test checks it by: "issue", "weekly", "read"


@dataclass(frozen=True)
class Attempt:
    message: Message
    status: int  # the HTTP status; 0 when the connection failed
    latency: float  # seconds
    started: float  # seconds since the load began
    retry: bool  # a re-send of a MsgId already sent
    reply: str | None  # the decrypted passive reply; "" for an empty 200 (the reply goes as an app message)
    server: int  # which web process (index into the URLs)
    error: str = ""  # the client-side error when the connection failed (status 0)


@dataclass
class LoadResult:
    attempts: list[Attempt] = field(default_factory=list)
    duration: float = 0.0

    @property
    def messages(self) -> dict[str, Message]:
        return {a.message.msg_id: a.message for a in self.attempts}

    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.attempts)

    def percentile(self, share: float) -> float:
        latencies = sorted(a.latency for a in self.attempts if a.status == 200)
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] if latencies else float("nan")

    def by_server(self) -> str:
        """p50/p99 and empty 200s per web process."""
        parts = []
        for server in sorted({a.server for a in self.attempts}):
            mine = LoadResult([a for a in self.attempts if a.server == server], self.duration)
            late = sum(a.reply == "" for a in mine.attempts)
            parts.append(
                f"web{server + 1} p50 {mine.percentile(0.5) * 1000:.0f} ms "
                f"p99 {mine.percentile(0.99) * 1000:.0f} ms, {late} late"
            )
        return "; ".join(parts)

    def summary(self, name: str) -> str:
        ok = [a.latency for a in self.attempts if a.status == 200]
        retries = sum(a.retry for a in self.attempts)
        late = sum(a.reply == "" for a in self.attempts)
        return (
            f"{name}: {len(self.attempts)} callbacks in {self.duration:.1f} s = "
            f"{len(self.attempts) / self.duration:.0f}/s ({len(self.messages)} messages, "
            f"{retries} WeCom re-sends), "
            f"statuses {dict(sorted(self.statuses().items()))}, latency p50 {statistics.median(ok) * 1000:.0f} ms "
            f"p99 {self.percentile(0.99) * 1000:.0f} ms max {max(ok) * 1000:.0f} ms, {late} answered after the "
            f"reply budget (empty 200, reply as app message); {self.by_server()}"
        )


class WeCom:
    """Posts callbacks as WeCom does, round-robin over the web processes, and records every attempt."""

    def __init__(self, urls: Sequence[str], clock: ClockFile, *, retry_failed_until: float | None = None) -> None:
        self.urls = [f"{url}/wecom/callback" for url in urls]
        self.side = WeComSide(corp_id=CORP_ID, token=TOKEN, aes_key=AES_KEY, agent_id=AGENT_ID, clock=clock)  # type: ignore[arg-type]  # reads .now() only
        self.next_url = itertools.cycle(range(len(self.urls)))
        self.result = LoadResult()
        self.started = time.monotonic()
        # WeCom re-sends a callback that got no 200; with this set (seconds from the start), so does this client.
        self.retry_failed_until = retry_failed_until
        self.session: aiohttp.ClientSession | None = None

    def message(self, user: str, text: str, kind: str) -> Message:
        return Message(self.side.next_msg_id(), user, text, kind)

    async def __aenter__(self) -> WeCom:
        # Idle connections are dropped after 1 s, long before the servers close them (DUBAN_HTTP_KEEP_ALIVE, 75 s), as
        # nginx does in production: the client is the side that closes an idle connection, so a request never goes
        # out on one the server is closing at that moment (it would get no answer at all). With uvicorn's default 5 s
        # that happened here whenever this client, starved of CPU, took seconds to reuse a connection.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=1.0), timeout=aiohttp.ClientTimeout(total=60)
        )
        self.started = time.monotonic()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.session is not None
        await self.session.close()
        self.result.duration = time.monotonic() - self.started

    async def post(self, message: Message, *, retry: bool = False) -> Attempt:
        """One delivery of a message (and WeCom's re-sends while it fails, when asked to): the last attempt."""
        assert self.session is not None
        while True:
            # Each (re-)send is signed and encrypted anew, with the current time, as WeCom does.
            callback = self.side.callback(self.side.text_xml(message.user, message.text, message.msg_id))
            server = next(self.next_url)
            url = self.urls[server]
            began = time.monotonic()
            status, reply, error = 0, None, ""
            try:
                async with self.session.post(url, params=callback.params, data=callback.body) as response:
                    status = response.status
                    body = await response.read()
                    if status == 200:
                        reply = self._read_reply(body)
            except (aiohttp.ClientError, TimeoutError) as failure:
                status, error = 0, f"{type(failure).__name__}: {failure}"
            attempt = Attempt(
                message, status, time.monotonic() - began, began - self.started, retry, reply, server, error
            )
            self.result.attempts.append(attempt)
            failed = status == 0 or status >= 500
            if (
                not failed
                or self.retry_failed_until is None
                or time.monotonic() - self.started > self.retry_failed_until
            ):
                return attempt
            retry = True
            await asyncio.sleep(RETRY_PAUSE)  # pacing WeCom's re-sends, not waiting for an outcome

    def _read_reply(self, body: bytes) -> str:
        if not body:
            return ""
        outer = ET.fromstring(body)
        encrypted = outer.findtext("Encrypt") or ""
        signature = outer.findtext("MsgSignature")
        assert signature == self.side.sign(outer.findtext("TimeStamp") or "", outer.findtext("Nonce") or "", encrypted)
        return ET.fromstring(self.side.decrypt(encrypted)).findtext("Content") or ""

    async def send(self, message: Message, rng: random.Random, retry_share: float) -> None:
        """A message, and for `retry_share` of them WeCom's re-send of the same MsgId: half while the first is
        still in flight (WeCom gave up waiting), half after it was answered (the answer was lost on the way)."""
        if rng.random() >= retry_share:
            await self.post(message)
        elif rng.random() < 0.5:
            await asyncio.gather(self.post(message), self.post(message, retry=True))
        else:
            await self.post(message)
            await self.post(message, retry=True)

    async def run(
        self,
        choose: Callable[[random.Random], Message],
        *,
        concurrency: int,
        duration: float,
        retry_share: float,
        seed: int = 8,
    ) -> None:
        """`concurrency` senders, each sending one message after another, for `duration` seconds."""
        end = time.monotonic() + duration

        async def sender(number: int) -> None:
            rng = random.Random(seed * 1000 + number)
            while time.monotonic() < end:
                await self.send(choose(rng), rng, retry_share)

        await asyncio.gather(*(sender(n) for n in range(concurrency)))


ISSUE = (
    "问题\n线索名称：{title}\n线索来源：专项检查\n整治重点：队伍建设\n线索内容：执法证件未按期年检\n"
    "整改措施：组织补办年检\n整改目标：全部持证上岗\n责任人：张三\n完成时限：9月10日前"
)


def issue_title(msg_id: str) -> str:
    """The title a load's new issue carries: its message's MsgId, so the issue table can be checked per message."""
    return f"案卷{msg_id}"


def liaison_mix(wecom: WeCom, units: int, reporting: Container[int]) -> Callable[[random.Random], Message]:
    """What the liaisons of `units` units send: mostly reads, a quarter new issues, and weekly reports only from
    the `reporting` units (another unit's report would race its reminder and make the count a coin toss)."""

    def pick(rng: random.Random) -> Message:
        n = rng.randint(1, units)
        roll = rng.random()
        if roll < 0.25:
            message = wecom.message(liaison(n), "", "issue")
            return replace(message, text=ISSUE.format(title=issue_title(message.msg_id)))
        if roll < 0.30 and n in reporting:
            return wecom.message(liaison(n), f"周报 本周评查执法案卷{rng.randint(1, 99)}件", "weekly")
        return wecom.message(liaison(n), rng.choice(("帮助", "我的问题", "我的问题", "汇总")), "read")

    return pick


def assert_stored_once(
    result: LoadResult, sessions: sessionmaker[Session], fake: FakePlatform, *, outage: bool = False
) -> int:
    """Every message of the load was handled exactly once: one dedupe record each, one issue and one audit entry
    per new issue, and every new issue's reply reached its liaison (passively, or as an app message when it
    was ready after the reply budget). A re-send of a MsgId got the first delivery's reply.

    With `outage`, a message that WeCom had its 200 for (after the reply budget) and whose handling then met the
    database outage is not stored, and its user was told to send it again (texts.LATE_FAILURE): never stored
    half, never silently dropped. Returns how many messages went that way."""
    messages = result.messages
    first_reply = {a.message.msg_id: a.reply for a in result.attempts if not a.retry}
    for attempt in result.attempts:
        assert attempt.status != 200 or attempt.reply is not None, "every 200 is a readable passive reply or empty"
        if attempt.retry and attempt.reply and first_reply.get(attempt.message.msg_id):
            assert attempt.reply == first_reply[attempt.message.msg_id]

    def processed() -> Counter[str]:
        with transaction(sessions) as session:
            return Counter(session.scalars(select(ProcessedMessage.message_id)))

    def unaccounted() -> Counter[str]:  # users with more messages missing than notices to send them again
        stored = processed()
        told = Counter(r.body.get("touser") for r in fake.sends(contains=LATE_FAILURE))
        missing = Counter(message.user for msg_id, message in messages.items() if msg_id not in stored)
        return missing - told

    # Messages answered after the reply budget are still being worked on when the load ends.
    wait_until(lambda: not unaccounted(), "every message to be stored, or its user told to send it again")
    stored = processed()
    lost = {msg_id for msg_id in messages if msg_id not in stored}
    assert outage or not lost, f"{len(lost)} messages were not stored"
    assert set(stored) <= set(messages) and set(stored.values()) == {1}
    issues = {msg_id for msg_id, message in messages.items() if message.kind == "issue" and msg_id in stored}
    passive = {msg_id for msg_id in issues if any(issue_title(msg_id) in (a.reply or "") for a in result.attempts)}

    def unanswered() -> set[str]:
        sent = "\n".join(r.content for r in fake.sends())
        return {msg_id for msg_id in issues - passive if issue_title(msg_id) not in sent}

    wait_until(lambda: not unanswered(), "every new issue's reply, passive or as an app message")
    with transaction(sessions) as session:
        titles = Counter(session.scalars(select(Issue.title)))
        created = Counter(session.scalars(select(AuditEntry.message_id).where(AuditEntry.action == "issue.create")))
    assert titles == Counter(issue_title(msg_id) for msg_id in issues)
    assert created == Counter(issues)
    return len(lost)
