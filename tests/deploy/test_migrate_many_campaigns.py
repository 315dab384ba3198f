"""A database from before many campaigns (migration 0012, one campaign with people and issues in it) keeps
working after the upgrade without a step: nothing lost, the campaign served, its liaisons answered as before."""

from __future__ import annotations

from alembic import command

from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from storage.db import alembic_config, transaction, upgrade_schema
from storage.repos import Campaigns
from tests.conftest import Database


def _at_revision(db: Database, revision: str) -> None:
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_a_single_campaign_database_upgrades_and_is_served_as_before(plan_loaded: Database, clock: ManualClock) -> None:
    dispatcher = Dispatcher(plan_loaded.sessions)
    logged = dispatcher.handle(
        IncomingMessage(
            "wecom", "MaQiang", "登记问题 执法记录仪未按规定使用 整改时限 9月30日", clock.now(), message_id="m1"
        )
    )
    assert "线索来源" in logged.texts[0]  # a dialog is under way when the server is upgraded
    _at_revision(plan_loaded, "0012_materials")
    upgrade_schema(plan_loaded.engine)

    with transaction(plan_loaded.sessions) as session:
        (campaign,) = Campaigns(session).serving()
        assert (campaign.alias, campaign.archived, campaign.parent_id) == (None, False, None)
    answered = Dispatcher(plan_loaded.sessions).handle(
        IncomingMessage("wecom", "MaQiang", "1", clock.now(), message_id="m2")
    )
    assert "还差 6 项" in answered.texts[0]  # the same dialog goes on: the first answer was taken
    assert "哪个专项" not in answered.texts[0]
