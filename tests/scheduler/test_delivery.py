"""Exactly-once delivery through the outbox: restarts, crashes, downtime, failures and rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.statuses import OutboxStatus
from storage.db import transaction
from storage.repos import Campaigns, Outbox
from tests.fakes.platform import HANG
from tests.scheduler.conftest import ROBOT_KEY, Reminders

WEEKLY_0900 = "weekly.remind:c1/week:2020-W29:contact"


def weekly_rows(reminders: Reminders, moment: str) -> dict[str, OutboxStatus]:
    return {
        r.target: r.status
        for r in reminders.rows()
        if r.key and r.key.startswith("weekly.remind") and r.key.endswith(moment)
    }


# --- restarts and downtime ------------------------------------------------------------------------------


@pytest.mark.parametrize("restart_at", ["2020-07-17 08:59:59", "2020-07-17 09:00:01", "2020-07-17 09:00:02"])
def test_restart_around_a_due_moment_delivers_each_reminder_once(reminders: Reminders, restart_at: str) -> None:
    reminders.at("2020-07-17 08:59:30")
    reminders.clock.set(reminders.clock.now().replace(second=59))
    reminders.engine.tick()
    reminders.restart()
    reminders.at(restart_at)
    reminders.restart()
    reminders.at("2020-07-17 09:00:30")
    reminders.restart()
    reminders.at("2020-07-17 09:05")
    assert len(reminders.fake.to_user("WangFang")) == 1
    assert len(reminders.fake.to_user("MaQiang")) == 1
    assert len(reminders.fake.requests) == 2


def test_restart_between_enqueue_and_send_still_sends_once(reminders: Reminders) -> None:
    reminders.at("2020-07-17 08:59")
    reminders.clock.set(reminders.clock.now() + timedelta(minutes=1, seconds=30))
    assert reminders.engine.tick().queued == 2  # queued, then the process dies before delivering
    reminders.restart()
    reminders.at("2020-07-17 09:01")
    reminders.at("2020-07-17 09:02")
    assert [len(reminders.fake.to_user(u)) for u in ("WangFang", "MaQiang")] == [1, 1]


def test_crash_after_the_platform_accepted_is_resent_once_and_deduplicated(
    reminders: Reminders, monkeypatch: pytest.MonkeyPatch
) -> None:
    reminders.at("2020-07-17 08:59")
    reminders.clock.set(reminders.clock.now() + timedelta(minutes=1, seconds=30))
    reminders.engine.tick()

    def crash(*_args: object) -> None:
        raise SystemExit("killed between the API's success and the outbox update")

    monkeypatch.setattr(reminders.worker, "_record", crash)
    with pytest.raises(SystemExit):
        reminders.deliver()
    assert len(reminders.fake.requests) == 2 and reminders.pending() == 2  # sent, but not marked

    reminders.restart()
    reminders.at("2020-07-17 09:02")
    assert len(reminders.fake.requests) == 2  # claimed rows wait for their lease to end
    reminders.at("2020-07-17 09:06")
    assert len(reminders.fake.requests) == 4 and reminders.pending() == 0
    resent = reminders.fake.requests[2:]
    assert all(r.body["enable_duplicate_check"] == 1 for r in resent)
    assert [len(reminders.fake.to_user(u)) for u in ("WangFang", "MaQiang")] == [1, 1]  # WeCom dropped the copies


def test_after_three_hours_down_nothing_stale_is_sent(reminders: Reminders) -> None:
    reminders.at("2020-07-17 08:30")
    reminders.restart()  # down from 08:30 until 11:30
    reminders.at("2020-07-17 11:30")
    # 09:00 is 2½ hours old: recorded as missed. 11:00 is within the hour of grace: sent once.
    assert set(weekly_rows(reminders, "T09:00").values()) == {OutboxStatus.MISSED}
    assert set(weekly_rows(reminders, "T11:00").values()) == {OutboxStatus.SENT}
    assert len(reminders.fake.to_user("WangFang")) == 1 and "第29周" in reminders.fake.to_user("WangFang")[0]

    reminders.restart()  # down again until 15:10: the 12:00 summary is stale too
    reminders.at("2020-07-17 15:10")
    assert reminders.fake.to_user("YuJianKui") == []
    assert len(reminders.fake.requests) == 2


def test_first_start_does_not_replay_the_campaigns_past(reminders: Reminders) -> None:
    result = reminders.at("2020-09-18 11:30")  # installed mid-campaign, on a Friday: only the last hour counts
    assert result.missed == 0
    assert {r.key[-5:] for r in reminders.rows() if r.key} == {"11:00"}
    assert len(reminders.fake.to_user("WangFang")) == 1


# --- failures -------------------------------------------------------------------------------------------


def queue_robot_nudges(reminders: Reminders, count: int) -> None:
    with transaction(reminders.db.sessions) as session:
        campaign = Campaigns(session).current()
        for n in range(count):
            Outbox(session).enqueue(
                campaign=campaign,
                channel="wecom_robot",
                target="专项整治工作群",
                text=f"提醒 {n}",
                now=reminders.clock.now(),
                key=f"test:{n}",
            )


def test_retryable_failures_are_retried_with_backoff_until_sent(reminders: Reminders) -> None:
    reminders.timeout = 0.5  # the fake server will hang once
    reminders.restart()
    queue_robot_nudges(reminders, 1)
    reminders.fake.script(500, {"errcode": 45009, "errmsg": "api freq out of limit"}, HANG)
    reminders.deliver()
    [row] = reminders.rows()
    assert row.status is OutboxStatus.PENDING and row.last_error == "HTTP 500" and row.attempts == 1
    # Full jitter: the first retry waits somewhere in [0, 30 s], never more.
    assert timedelta(0) <= row.not_before - reminders.clock.now() <= timedelta(seconds=30)

    reminders.clock.advance(timedelta(seconds=30))
    reminders.deliver()
    assert reminders.rows()[0].last_error == "errcode 45009 api freq out of limit"
    reminders.clock.advance(timedelta(seconds=60))
    reminders.deliver()
    assert reminders.rows()[0].last_error == "timeout"
    reminders.clock.advance(timedelta(seconds=120))
    reminders.deliver()
    [row] = reminders.rows()
    assert row.status is OutboxStatus.SENT and row.attempts == 4
    assert len(reminders.fake.robot_messages()) == 4 and reminders.fake.robot_messages()[0].query["key"] == ROBOT_KEY


def test_permanent_failure_is_marked_failed_and_told_to_the_coordinators(reminders: Reminders) -> None:
    queue_robot_nudges(reminders, 1)
    reminders.fake.script({"errcode": 93000, "errmsg": "invalid webhook url"})
    reminders.deliver()
    robot = [r for r in reminders.rows() if r.channel == "wecom_robot"]
    assert [(r.status, r.last_error) for r in robot] == [(OutboxStatus.FAILED, "errcode 93000 invalid webhook url")]
    [notice] = reminders.fake.to_user("YuJianKui")
    assert "【发送失败】发往「专项整治工作群」" in notice and "93000" in notice
    reminders.clock.advance(timedelta(hours=2))
    reminders.deliver()
    assert len(reminders.fake.robot_messages()) == 1  # never tried again


def test_retries_give_up_after_the_last_attempt(reminders: Reminders) -> None:
    queue_robot_nudges(reminders, 1)
    reminders.fake.script(*[502] * 8)
    for _ in range(8):
        reminders.deliver()
        reminders.clock.advance(timedelta(hours=1))  # past any back-off (capped at an hour)
    [row] = [r for r in reminders.rows() if r.channel == "wecom_robot"]
    assert row.status is OutboxStatus.FAILED and row.attempts == 8 and "重试8次仍失败" in (row.last_error or "")
    assert len(reminders.fake.robot_messages()) == 8


# --- rate limits ----------------------------------------------------------------------------------------


@pytest.mark.slow  # make test-quick leaves it out
def test_a_thousand_nudges_to_one_robot_never_exceed_20_in_any_minute(reminders: Reminders) -> None:
    queue_robot_nudges(reminders, 1000)
    sent_at: list[float] = []
    for _ in range(2000):  # bounded: 5-second steps, ~50 minutes of campaign time are enough
        before = len(reminders.fake.requests)
        reminders.deliver()
        sent_at.extend([reminders.clock.now().timestamp()] * (len(reminders.fake.requests) - before))
        if len(sent_at) == 1000:
            break
        reminders.clock.advance(timedelta(seconds=5))
    assert len(sent_at) == 1000 and reminders.pending() == 0
    busiest = max(sum(1 for t in sent_at if start <= t < start + 60) for start in sent_at)
    assert busiest == 20
    assert sent_at[-1] - sent_at[0] <= 50 * 60  # and no slower than the limit allows


def test_a_new_leader_counts_what_the_old_one_sent_this_minute(reminders: Reminders) -> None:
    queue_robot_nudges(reminders, 30)
    reminders.deliver()
    assert len(reminders.fake.requests) == 20
    reminders.restart()  # the leader dies; a standby takes over 10 s later
    reminders.clock.advance(timedelta(seconds=10))
    reminders.deliver()
    assert len(reminders.fake.requests) == 20
    reminders.clock.advance(timedelta(seconds=50))
    reminders.deliver()
    assert len(reminders.fake.requests) == 30


def test_each_member_gets_at_most_30_app_messages_a_minute(reminders: Reminders) -> None:
    with transaction(reminders.db.sessions) as session:
        campaign = Campaigns(session).current()
        for n in range(40):
            for user in ("WangFang", "MaQiang"):
                Outbox(session).enqueue(
                    campaign=campaign,
                    channel="wecom_app",
                    target=user,
                    text=f"通知 {n}",
                    now=reminders.clock.now(),
                    key=f"test:{user}:{n}",
                )
    reminders.deliver()
    assert [len(reminders.fake.to_user(u)) for u in ("WangFang", "MaQiang")] == [30, 30]
    reminders.clock.advance(timedelta(seconds=60))
    reminders.deliver()
    assert [len(reminders.fake.to_user(u)) for u in ("WangFang", "MaQiang")] == [40, 40]
