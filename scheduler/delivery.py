"""The outbox delivery worker: claims due rows, sends them outside any transaction, records the outcome.

Each round:
1. claim (one short transaction): pending rows whose `not_before` has come, skipping targets that are at
   their rate limit; a claimed row's `not_before` moves one lease ahead and its `attempts` goes up, so a
   worker that dies mid-send leaves it to be retried after the lease, never lost;
2. send (no transaction open): concurrently across targets, in order within a target, each with a timeout;
3. record (one short transaction): sent; retry later with full-jitter exponential back-off; or failed —
   and a failure is told to the coordinators, who would otherwise never know a nudge did not arrive.

A crash between a platform's success and step 3 re-sends after the lease: WeCom app messages carry
`enable_duplicate_check` keyed on the outbox key for that case (see the platform senders).

Senders are looked up by channel name (`senders: Mapping[str, Sender]`; the names: docs/architecture.md, 出站);
the platform clients register there.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import CursorResult, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from core.channels import Channel, Route
from core.clock import Clock
from core.statuses import OutboxStatus
from scheduler.outbound import OutboundMessage, Sender, SendResult, SendStatus
from scheduler.snapshot import first_identity
from storage.db import transaction
from storage.models import Campaign, Group, OutboxMessage
from storage.repos import Outbox, People

log = logging.getLogger("duban.delivery")

# Served on /metrics (bot/observability.py) from prometheus-client's process-wide registry.
DELIVERIES = Counter(
    "duban_deliveries", "Outbox sends by channel and outcome (sent, retry, failed)", ["channel", "outcome"]
)

ROBOT_CHANNELS = frozenset({Channel.WECOM_ROBOT, Channel.WECOM_AIBOT, Channel.DINGTALK_ROBOT})
FAILURE_RULE = "delivery.failed"


@dataclass(frozen=True)
class RateLimit:
    count: int
    period: float  # seconds


# WeCom and DingTalk group robots accept 20 messages a minute each; WeCom app messages 30 a minute per member.
DEFAULT_LIMITS: Mapping[str, RateLimit] = {
    Channel.WECOM_ROBOT: RateLimit(20, 60.0),
    Channel.WECOM_AIBOT: RateLimit(20, 60.0),  # no published figure for proactive messages; the group robots' limit
    Channel.WECOM_AIBOT_CHAT: RateLimit(30, 60.0),  # and the app messages' limit per member
    Channel.DINGTALK_ROBOT: RateLimit(20, 60.0),
    Channel.WECOM_APP: RateLimit(30, 60.0),
}


class RateLimiter:
    """At most `count` sends per target in any `period`-second window, on the injected clock's time.

    Hand-written rather than taken from `limits`/`aiolimiter`: those read the wall clock (tests walk an
    injected one) and aiolimiter's leaky bucket lets a burst plus its refill exceed the platforms' hard
    per-minute window, which is what makes them answer 45009/130101.
    """

    def __init__(self, limits: Mapping[str, RateLimit]) -> None:
        self.limits = dict(limits)
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def _window(self, channel: str, target: str, now: float) -> tuple[RateLimit | None, deque[float]]:
        limit = self.limits.get(channel)
        sent = self._sent[f"{channel}:{target}"]
        if limit is not None:
            while sent and sent[0] <= now - limit.period:
                sent.popleft()
        return limit, sent

    def reserve(self, channel: str, target: str, now: float) -> float:
        """Take a slot for one send now: 0 if taken, else the seconds until the target has one free."""
        limit, sent = self._window(channel, target, now)
        if limit is None:
            return 0.0
        if len(sent) >= limit.count:
            return sent[0] + limit.period - now
        sent.append(now)
        return 0.0

    def settle(self, channel: str, target: str, reserved: float, done: float) -> None:
        """Move a slot from when it was reserved to when the send finished: the platform counts arrivals,
        and a slow request that arrives late must still be a full period before the next window's sends."""
        sent = self._sent.get(f"{channel}:{target}")
        if sent is not None and reserved in sent:
            sent.remove(reserved)
            sent.append(done)

    def record(self, channel: str, target: str, at: float) -> None:
        """Count a send made earlier (by a previous leader), so a takeover does not overshoot the window."""
        limit, sent = self._window(channel, target, at)
        if limit is not None:
            sent.append(at)

    @property
    def longest_period(self) -> float:
        return max((limit.period for limit in self.limits.values()), default=0.0)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential back-off: a uniform wait in [0, min(cap, base·2^(attempt-1))].

    Computed here rather than with tenacity/backoff because the wait is not slept: it becomes the row's
    `not_before`, so it survives restarts and another process may do the retry.
    """

    base: float = 30.0
    cap: float = 3600.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class Claim:
    id: int
    limit_target: str
    message: OutboundMessage
    attempts: int
    reserved_at: float  # the rate-limit slot's timestamp


class DeliveryWorker:
    """Sends the outbox; only the elected leader runs one (the unique keys guard even if two did)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Mapping[str, Sender],
        *,
        clock: Clock,
        route: Route | None = None,
        limits: Mapping[str, RateLimit] = DEFAULT_LIMITS,
        backoff: Backoff | None = None,
        batch: int = 200,
        concurrency: int = 16,
        send_timeout: float = 15.0,
        lease: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
    ) -> None:
        self.sessions, self.senders, self.clock, self.route = sessions, dict(senders), clock, route
        self.limiter = RateLimiter(limits)
        self.backoff = backoff or Backoff()
        self.batch, self.concurrency, self.send_timeout, self.lease = batch, concurrency, send_timeout, lease
        self.rng = rng or random.Random()
        self._warm = False

    async def run_once(self) -> int:
        """One claim-send-record round; returns how many rows it sent or settled."""
        claims = await asyncio.to_thread(self._claim)
        if not claims:
            return 0
        results = await self._send_all(claims)
        await asyncio.to_thread(self._record, claims, results)
        return len(claims)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Rounds until nothing more can go out now (rate limits or an empty queue); returns rows handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    # --- claim ----------------------------------------------------------------------------------------

    def _warm_limiter(self, session: Session, now: datetime) -> None:
        """Count what was sent in the last window (perhaps by a leader that just died) against the limits."""
        since = now - timedelta(seconds=self.limiter.longest_period)
        rows = session.execute(
            select(OutboxMessage.channel, OutboxMessage.target, OutboxMessage.sent_at, OutboxMessage.campaign_id).where(
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.sent_at > since,
                OutboxMessage.channel.in_(list(self.limiter.limits)),
            )
        ).all()
        groups = self._groups(session, {(r.campaign_id, r.target) for r in rows if r.channel in ROBOT_CHANNELS})
        for channel, target, sent_at, campaign_id in rows:
            assert sent_at is not None  # the query asked for sent_at > since
            group = groups.get((campaign_id, target))
            self.limiter.record(channel, (group.webhook or target) if group else target, sent_at.timestamp())
        self._warm = True

    @staticmethod
    def _groups(session: Session, keys: Iterable[tuple[int | None, str]]) -> dict[tuple[int | None, str], Group]:
        wanted = set(keys)
        if not wanted:
            return {}
        rows = session.scalars(select(Group).where(Group.name.in_({name for _, name in wanted}))).all()
        return {(g.campaign_id, g.name): g for g in rows if (g.campaign_id, g.name) in wanted}

    def _claim(self) -> list[Claim]:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            if not self._warm:
                self._warm_limiter(session, now)
            chosen: dict[int, str] = {}  # row id → its rate-limit target
            parked: dict[datetime, list[int]] = defaultdict(list)
            position: tuple[str, str, int] = ("", "", 0)
            scanned = 0
            # Page through due rows (ids and routing only) so that one saturated target — 1,000 nudges to
            # one robot — neither hides every other target's rows nor costs a full row load per round.
            # Grouped by target, a target's free slots go out as one burst: the window then opens again a
            # full period later for all of them, instead of trickling one per round.
            while len(chosen) < self.batch and scanned < self.batch * 20:
                page = session.execute(
                    select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.target, OutboxMessage.campaign_id)
                    .where(
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.not_before <= now,
                        tuple_(OutboxMessage.channel, OutboxMessage.target, OutboxMessage.id) > position,
                    )
                    .order_by(OutboxMessage.channel, OutboxMessage.target, OutboxMessage.id)
                    .limit(self.batch * 2)
                    .with_for_update(skip_locked=True)
                ).all()
                if not page:
                    break
                scanned += len(page)
                position = (page[-1].channel, page[-1].target, page[-1].id)
                groups = self._groups(session, {(r.campaign_id, r.target) for r in page if r.channel in ROBOT_CHANNELS})
                for row_id, channel, target, campaign_id in page:
                    problem = self._undeliverable(channel, groups.get((campaign_id, target)))
                    if problem:
                        row = session.get(OutboxMessage, row_id)
                        assert row is not None
                        self._fail(session, row, problem.format(target=target, channel=channel), now)
                        continue
                    group = groups.get((campaign_id, target))
                    limit_target = group.webhook if group is not None and group.webhook else target
                    wait = self.limiter.reserve(channel, limit_target, now.timestamp())
                    if wait > 0:
                        parked[now + timedelta(seconds=wait)].append(row_id)
                        continue
                    chosen[row_id] = limit_target
                    if len(chosen) >= self.batch:
                        break
            for until, ids in parked.items():
                # Park rows until their target's window has room, so the next rounds do not scan them again.
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(not_before=until))
            return self._lease(session, chosen, now)

    def _undeliverable(self, channel: str, group: Group | None) -> str | None:
        if channel not in self.senders:
            return "没有可用的发送通道：{channel}"
        if channel in ROBOT_CHANNELS and (group is None or not group.webhook):
            return "群「{target}」已不在方案中或没有 webhook 地址"
        return None

    def _lease(self, session: Session, chosen: Mapping[int, str], now: datetime) -> list[Claim]:
        """Take the chosen rows for one lease (attempts + 1) and build their messages."""
        if not chosen:
            return []
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(chosen)))
            .values(attempts=OutboxMessage.attempts + 1, not_before=now + self.lease)
            .execution_options(synchronize_session=False)
        )
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(list(chosen))).order_by(OutboxMessage.id)
        ).all()
        groups = self._groups(session, {(r.campaign_id, r.target) for r in rows if r.channel in ROBOT_CHANNELS})
        claims = []
        for row in rows:
            group = groups.get((row.campaign_id, row.target)) if row.channel in ROBOT_CHANNELS else None
            message = OutboundMessage(
                channel=row.channel,
                target=row.target,
                text=row.text,
                markdown=row.markdown,
                mentions=tuple(row.mentions),
                address=group.webhook if group else None,
                secret=group.secret if group else None,
                key=row.key or f"outbox:{row.id}",
            )
            claims.append(Claim(row.id, chosen[row.id], message, row.attempts, now.timestamp()))
        return claims

    # --- send -----------------------------------------------------------------------------------------

    async def _send_all(self, claims: list[Claim]) -> dict[int, SendResult]:
        by_target: dict[tuple[str, str], list[Claim]] = defaultdict(list)
        for claim in claims:
            by_target[(claim.message.channel, claim.limit_target)].append(claim)
        gate = asyncio.Semaphore(self.concurrency)
        results: dict[int, SendResult] = {}

        async def send_in_order(items: list[Claim]) -> None:
            for claim in items:
                async with gate:
                    results[claim.id] = await self._send_one(claim.message)

        await asyncio.gather(*(send_in_order(items) for items in by_target.values()))
        return results

    async def _send_one(self, message: OutboundMessage) -> SendResult:
        sender = self.senders[message.channel]
        try:
            return await asyncio.wait_for(sender.send(message), self.send_timeout)
        except TimeoutError:
            return SendResult.retryable(f"timeout after {self.send_timeout:g}s")
        except Exception as error:  # a sender bug must not stop the queue; the row is retried and logged
            log.exception("sender raised", extra={"channel": message.channel, "key": message.key})
            return SendResult.retryable(type(error).__name__)

    # --- record ---------------------------------------------------------------------------------------

    def _record(self, claims: list[Claim], results: Mapping[int, SendResult]) -> None:
        now = self.clock.now()
        for claim in claims:
            self.limiter.settle(claim.message.channel, claim.limit_target, claim.reserved_at, now.timestamp())
        outcomes: dict[str, int] = defaultdict(int)
        sent = [c.id for c in claims if results[c.id].status is SendStatus.OK]
        others = [c.id for c in claims if results[c.id].status is not SendStatus.OK]
        with transaction(self.sessions) as session:
            if sent:  # the common case, in one statement
                marked = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(sent), OutboxMessage.status == OutboxStatus.PENDING)
                    .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
                    .execution_options(synchronize_session=False)
                )
                outcomes[SendStatus.OK.value] = cast(CursorResult[Any], marked).rowcount
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(others))).all() if others else []
            for row in rows:
                result = results[row.id]
                if row.status is not OutboxStatus.PENDING:
                    continue
                outcomes[result.status.value] += 1
                if result.status is SendStatus.RETRYABLE and row.attempts < self.backoff.max_attempts:
                    wait = max(self.backoff.delay(row.attempts, self.rng), result.retry_after or 0.0)
                    row.not_before, row.last_error = now + timedelta(seconds=wait), result.detail
                    log.warning(
                        "send failed, will retry",
                        extra={
                            "outbox_id": row.id,
                            "channel": row.channel,
                            "attempts": row.attempts,
                            "detail": result.detail,
                            "retry_in": round(wait, 1),
                        },
                    )
                    DELIVERIES.labels(row.channel, "retry").inc()
                else:
                    reason = (
                        result.detail
                        if result.status is SendStatus.PERMANENT
                        else f"重试{row.attempts}次仍失败：{result.detail}"
                    )
                    self._fail(session, row, reason, now)
        log.info("outbox round", extra={"claimed": len(claims), **outcomes})
        for claim in claims:  # what the platform accepted from this process (even if another recorded it first)
            if results[claim.id].status is SendStatus.OK:
                DELIVERIES.labels(claim.message.channel, "sent").inc()

    def _fail(self, session: Session, row: OutboxMessage, reason: str, now: datetime) -> None:
        """Mark a row failed and tell the campaign's coordinators (not for failure notices themselves)."""
        row.status, row.last_error = OutboxStatus.FAILED, reason
        DELIVERIES.labels(row.channel, "failed").inc()
        log.error("send failed permanently", extra={"outbox_id": row.id, "channel": row.channel, "detail": reason})
        if self.route is None or row.campaign_id is None or (row.key or "").startswith(FAILURE_RULE):
            return
        campaign = session.get(Campaign, row.campaign_id)
        if campaign is None:
            return
        outbox = Outbox(session)
        text = (
            f"【发送失败】发往「{row.target}」的消息未能送达（{reason}）。"
            f"请检查群机器人地址、密钥或该用户是否在应用可见范围内。原消息开头：{row.text[:40]}"
        )
        for coordinator in People(session).coordinators(campaign):
            identity = first_identity(coordinator.identities)
            if identity is not None:
                outbox.enqueue(
                    campaign=campaign,
                    channel=self.route(identity.platform),
                    target=identity.external_id,
                    text=text,
                    now=now,
                    key=f"{FAILURE_RULE}:{row.id}:coordinator:{coordinator.id}",
                )
