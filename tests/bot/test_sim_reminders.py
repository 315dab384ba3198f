"""With DUBAN_SCHEDULER=on the app elects itself, catches up on start, and the simulator shows reminders."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from core.clock import ManualClock
from tests.conftest import Database, SimChat, at, make_settings


def test_reminders_appear_in_the_simulator_outbox(plan_loaded: Database) -> None:
    clock = ManualClock(at("2020-07-17 09:00:30"))  # the service starts half a minute after a report reminder
    settings = Settings(_env_file=None, database_url=plan_loaded.url, scheduler="on")  # type: ignore[call-arg]
    with TestClient(create_app(settings, clock=clock)) as client:
        outbox = SimChat(client).outbox()
    reminders = [m for m in outbox if m["text"].startswith("【周报提醒】")]
    assert sorted(m["to"] for m in reminders) == ["MaQiang", "WangFang"]
    assert all(m["at"].startswith("2020-07-17T09:00:30") for m in reminders)


def test_web_replicas_with_the_scheduler_off_send_nothing(plan_loaded: Database) -> None:
    clock = ManualClock(at("2020-07-17 09:00:30"))
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as client:
        assert SimChat(client).outbox() == []


def test_after_downtime_the_simulator_shows_only_what_was_sent(plan_loaded: Database) -> None:
    clock = ManualClock(at("2020-07-17 08:30"))
    settings = Settings(_env_file=None, database_url=plan_loaded.url, scheduler="on")  # type: ignore[call-arg]
    with TestClient(create_app(settings, clock=clock)):
        pass  # up at 08:30, then down until 11:30
    clock.set(at("2020-07-17 11:30"))
    with TestClient(create_app(settings, clock=clock)) as client:
        outbox = SimChat(client).outbox()
    # 09:00 was missed (2½ hours late, past the hour of grace); 11:00 is sent once, at start.
    assert sorted((m["to"], m["at"][11:16]) for m in outbox) == [("MaQiang", "11:30"), ("WangFang", "11:30")]
