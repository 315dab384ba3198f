"""A plan's `campaign.alias` and `campaign.parent`: checked when the plan loads, kept on the campaign."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from plan.schema import PlanError, parse_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.repos import Campaigns
from tests.conftest import FIXTURES, Database

PARENT = (FIXTURES / "plan.yaml").read_text(encoding="utf-8")
CHILD = """
campaign:
  name: 执法监察支队内部专项整治
  alias: 支队整治
  parent: {campaign: 行政执法不作为慢作为乱作为专项整治, unit: 支队}
  start: 2020-06-01
  end: 2020-11-30
units:
  - {name: 一大队}
  - {name: 二大队}
"""


def _load(db: Database, clock: ManualClock, text: str) -> None:
    with transaction(db.sessions) as session:
        load_plan(session, parse_plan(text, "child.yaml"), now=clock.now())


def test_a_child_names_its_parent_and_the_unit_it_is_there(plan_loaded: Database, clock: ManualClock) -> None:
    _load(plan_loaded, clock, CHILD)
    with transaction(plan_loaded.sessions) as session:
        campaigns = Campaigns(session)
        parent = campaigns.current("行政执法不作为慢作为乱作为专项整治")
        assert parent is not None
        (child,) = campaigns.children(parent)
        assert (child.name, child.alias) == ("执法监察支队内部专项整治", "支队整治")
        assert child.parent_unit_id == next(u.id for u in parent.units if u.name == "执法监察支队")
        assert [c.name for c in campaigns.serving()] == [parent.name, child.name]
        assert [c.name for c in campaigns.serving(parent.name)] == [parent.name]
        assert campaigns.by_alias("支队整治") == child


def test_a_parent_not_loaded_or_a_unit_it_lacks_is_refused_whole(db: Database, clock: ManualClock) -> None:
    with pytest.raises(PlanError, match="尚未加载"):
        _load(db, clock, CHILD)
    with transaction(db.sessions) as session:
        assert Campaigns(session).serving() == []
    _load(db, clock, PARENT)
    with pytest.raises(PlanError, match="没有单位「三大队」"):
        _load(db, clock, CHILD.replace("unit: 支队", "unit: 三大队"))


def test_an_alias_belongs_to_one_campaign(plan_loaded: Database, clock: ManualClock) -> None:
    _load(plan_loaded, clock, CHILD)
    other = (
        "campaign:\n  name: 另一个专项整治\n  alias: 支队整治\n  start: 2020-06-01\n  end: 2020-11-30\n"
        "units:\n  - {name: 甲}\n"
    )
    with pytest.raises(PlanError, match="已被专项整治「执法监察支队内部专项整治」使用"):
        _load(plan_loaded, clock, other)


@pytest.mark.parametrize("alias", ["三年 行动", "【三年】", "#1", "三"])
def test_an_alias_is_short_and_plain(alias: str) -> None:
    with pytest.raises(PlanError):
        parse_plan(CHILD.replace("alias: 支队整治", f"alias: '{alias}'"))
