"""Campaign status numbers and traffic lights against the hand-built ledger (tests/factories.py)."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.summary import IssueCounts, Light, campaign_status, expected_rate, traffic_light
from storage.db import transaction
from tests.conftest import Database
from tests.factories import TODAY, build_ledger, campaign_of


@pytest.fixture
def ledger(plan_loaded: Database) -> Database:
    build_ledger(plan_loaded)
    return plan_loaded


def test_campaign_numbers_equal_the_hand_counted_ledger(ledger: Database) -> None:
    with transaction(ledger.sessions) as session:
        status = campaign_status(session, campaign_of(session), TODAY)
    totals = status.totals
    assert (totals.logged, totals.in_progress, totals.rectified, totals.overdue, totals.due_soon) == (7, 1, 4, 1, 1)
    assert totals.rate == pytest.approx(4 / 7)
    assert status.phase is not None and status.phase.name == "自查整改阶段"
    assert status.registered == 2  # 办公室 and 执法监察支队 are bound by the plan; 法制科's liaison is only listed
    assert status.pending_registrations == 1
    assert status.week == (2020, 29)
    assert {u.name for u in status.weekly_missing} == {"执法监察支队", "耕地保护科"}
    owing = {d.deliverable.name: {u.name for u in d.owing} for d in status.deliverables}
    assert owing["专项整治联系人"] == {"耕地保护科"}
    assert owing["行政裁量基准"] == {"法制科", "执法监察支队"}


def test_each_unit_gets_the_light_its_ledger_deserves(ledger: Database) -> None:
    with transaction(ledger.sessions) as session:
        status = campaign_status(session, campaign_of(session), TODAY)
    lights = {u.unit.name: u.light for u in status.units}
    assert lights == {"法制科": Light.RED, "执法监察支队": Light.YELLOW, "办公室": Light.GREEN, "耕地保护科": Light.RED}
    by_name = {u.unit.name: u for u in status.units}
    assert by_name["耕地保护科"].missed_deliverables == ["专项整治联系人"]
    assert by_name["执法监察支队"].counts.due_soon == 1
    assert by_name["法制科"].counts.rate == pytest.approx(0.5)


def test_expected_rate_is_a_straight_line_to_the_target(ledger: Database) -> None:
    with transaction(ledger.sessions) as session:
        campaign = campaign_of(session)
        # 2020-06-04 → 2020-09-10 is 98 days; 7月15日 is day 41.
        assert expected_rate(campaign, TODAY) == pytest.approx(0.9 * 41 / 98)
        assert expected_rate(campaign, date(2020, 6, 1)) == 0
        assert expected_rate(campaign, date(2020, 10, 1)) == pytest.approx(0.9)
        campaign.target_rate = None
        assert expected_rate(campaign, TODAY) is None


@pytest.mark.parametrize(
    ("counts", "missed", "soon", "expected", "light"),
    [
        (IssueCounts(logged=5, rectified=5), 0, 0, 0.5, Light.GREEN),
        (IssueCounts(logged=5, rectified=1, overdue=1), 0, 0, None, Light.RED),
        (IssueCounts(), 1, 0, None, Light.RED),
        (IssueCounts(logged=4, rectified=4), 0, 1, None, Light.YELLOW),
        (IssueCounts(logged=4, rectified=2, due_soon=1), 0, 0, None, Light.YELLOW),
        (IssueCounts(logged=4, rectified=1), 0, 0, 0.3, Light.YELLOW),  # 25% is behind a 30% pace
        (IssueCounts(logged=4, rectified=2), 0, 0, 0.3, Light.GREEN),
        (IssueCounts(), 0, 0, 0.9, Light.GREEN),  # nothing logged: no pace to be behind
        (IssueCounts(logged=3, rectified=0, overdue=2, due_soon=1), 0, 1, 0.9, Light.RED),  # red wins over yellow
    ],
    ids=[
        "all-done",
        "overdue",
        "missed-deliverable",
        "deliverable-soon",
        "issue-soon",
        "behind-pace",
        "on-pace",
        "no-issues",
        "red-beats-yellow",
    ],
)
def test_traffic_light_rules(counts: IssueCounts, missed: int, soon: int, expected: float | None, light: Light) -> None:
    assert traffic_light(counts, missed_deliverables=missed, deliverables_due_soon=soon, expected=expected) is light


def test_one_units_status_equals_its_part_of_the_campaigns(ledger: Database) -> None:
    with transaction(ledger.sessions) as session:
        campaign = campaign_of(session)
        whole = campaign_status(session, campaign, TODAY)
        for unit in whole.units:
            alone = campaign_status(session, campaign, TODAY, unit_id=unit.unit.id)
            assert alone.units == [unit]
            assert alone.totals == unit.counts
            assert [(d.deliverable.name, d.owing, d.days_left) for d in alone.deliverables] == [
                (d.deliverable.name, [unit.unit], d.days_left) for d in whole.deliverables if unit.unit in d.owing
            ]
