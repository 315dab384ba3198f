"""The spine's liaison and coordinator stories, told as real encrypted WeCom callbacks (tests/bot/test_sim_stories
has the same stories through the simulator)."""

from __future__ import annotations

import time
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.clock import ManualClock
from core.statuses import ContactStatus, IssueStatus
from storage.db import transaction
from storage.models import Contact, Issue, OutboxMessage, WeeklyReport
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, seed_campaign_activity
from tests.bot.wecom.fake_qyapi import MEDIA_UPLOAD, MESSAGE_SEND, FakeQyapi
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database


def notifications(db: Database) -> list[tuple[str, str, str]]:
    with transaction(db.sessions) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.channel, m.target, m.text) for m in rows]


def test_a_stranger_registers_and_the_coordinator_approves_in_wecom(wecom: WeComChat, plan_loaded: Database) -> None:
    reply = wecom.send(
        "LiNa", "登记\n单位：耕地保护科\n姓名：李娜\n职务：科员\n电话：139 0955 0004\n邮箱：li@example.cn"
    )
    assert "已提交登记（登记号" in reply and "等待牵头部门审核" in reply
    with transaction(plan_loaded.sessions) as session:
        number = session.scalars(select(Contact.id).where(Contact.name == "李娜")).one()
    # The coordinator is a WeCom user now, so the notice is queued for the app-message channel.
    assert any(
        channel == "wecom_app" and target == "YuJianKui" and f"批准 {number}" in text
        for channel, target, text in notifications(plan_loaded)
    )

    assert f"已批准登记号 {number}" in wecom.send("YuJianKui", f"批准 {number}")
    assert any(
        channel == "wecom_app" and target == "LiNa" and "已通过审核" in text
        for channel, target, text in notifications(plan_loaded)
    )
    with transaction(plan_loaded.sessions) as session:
        assert session.get(Contact, number).status is ContactStatus.ACTIVE  # type: ignore[union-attr]
    assert "周报 <内容>" in wecom.send("LiNa", "帮助")


def test_a_liaison_logs_an_issue_and_works_it_down(wecom: WeComChat, plan_loaded: Database) -> None:
    assert "登记成功" in wecom.send("LuHeJian", REGISTER_LU)
    assert "已登记问题 #1「执法证件未按期年检」" in wecom.send("LuHeJian", FULL_ISSUE)
    assert "整改中 60%" in wecom.send("LuHeJian", "进展 #1 60% 已完成证件审验")
    assert "#1 执法证件未按期年检" in wecom.send("LuHeJian", "我的问题")
    reply = wecom.send("LuHeJian", "进展 1 已整改 已销号")
    assert "已销号" in reply and "整改率 100%" in reply
    with transaction(plan_loaded.sessions) as session:
        issue = session.scalars(select(Issue)).one()
    assert (issue.status, issue.percent, issue.due) == (IssueStatus.RECTIFIED, 100, date(2020, 9, 10))


def test_the_guided_issue_dialog_survives_between_callbacks_and_cancel_leaves(
    wecom: WeComChat, plan_loaded: Database
) -> None:
    assert "线索名称" in wecom.send("MaQiang", "问题")
    assert "线索来源" in wecom.send("MaQiang", "辅助人员单独执法")
    assert "您正在" in wecom.send("MaQiang", "帮助")
    assert "已取消" in wecom.send("MaQiang", "取消")
    assert "没有需要取消" in wecom.send("MaQiang", "取消")
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Issue)).first() is None


def test_a_weekly_report_is_replaced_and_says_so(wecom: WeComChat, plan_loaded: Database) -> None:
    assert "已收到「执法监察支队」第29周周报" in wecom.send("MaQiang", "周报 本周完成执法案卷评查3件")
    assert "替换了" in wecom.send("MaQiang", "周报：本周完成执法案卷评查5件")
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(WeeklyReport.text)).one() == "本周完成执法案卷评查5件"


def test_the_coordinator_asks_for_the_summary_overdue_and_missing(
    wecom: WeComChat, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    seed_campaign_activity(wecom, clock)  # type: ignore[arg-type]  # WeComChat speaks SimChat's send()
    summary = wecom.send("YuJianKui", "汇总")
    assert "问题：共 4 个，未整改 2，整改中 1，已整改 1，逾期 1" in summary
    assert "整改率：25.0%（1/4）" in summary
    assert "【法制科】1 个" in wecom.send("YuJianKui", "逾期")
    assert "本周周报（第29周）未报送 2 个单位：办公室、耕地保护科" in wecom.send("YuJianKui", "未报送")
    assert "仅限牵头部门" in wecom.send("MaQiang", "逾期")


def test_the_summary_comes_as_markdown_with_the_rate_chart(
    wecom: WeComChat, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    seed_campaign_activity(wecom, clock)  # type: ignore[arg-type]
    assert "整改率" in wecom.send("YuJianKui", "汇总")
    markdown = [m for m in wecom.app_messages("YuJianKui") if m["msgtype"] == "markdown"]
    assert len(markdown) == 1 and "整改率" in markdown[0]["markdown"]["content"]
    upload = qyapi.wait_for(MEDIA_UPLOAD, 1)[0]
    assert upload.query["type"] == "image" and upload.json and upload.json["png"] and upload.json["bytes"] > 1000
    images = [
        r.json
        for r in qyapi.wait_for(MESSAGE_SEND, len(qyapi.calls(MESSAGE_SEND)) + 1)
        if r.json and r.json["msgtype"] == "image"
    ]
    assert images and images[0]["touser"] == "YuJianKui" and images[0]["image"]["media_id"].startswith("MEDIA-")
    # A plain reply has neither: it goes back passively, with nothing through the API.
    before = len(qyapi.requests)
    assert "#4 辅助人员单独执法" in wecom.send("MaQiang", "我的问题")
    assert len(qyapi.requests) == before


def test_a_summary_the_api_refuses_for_now_waits_in_the_outbox(
    wecom_client: TestClient, side: WeComSide, plan_loaded: Database, qyapi: FakeQyapi
) -> None:
    qyapi.fail_next(MESSAGE_SEND, {"errcode": 45009, "errmsg": "api freq out of limit"})
    response = WeComChat(wecom_client, side).post(side.text_xml("YuJianKui", "汇总", side.next_msg_id()))
    assert response.status_code == 200 and not response.content
    deadline = time.monotonic() + 10
    while not notifications(plan_loaded) and time.monotonic() < deadline:
        qyapi.wait_for(MEDIA_UPLOAD, 1, timeout=0.2)
    with transaction(plan_loaded.sessions) as session:
        queued = session.scalars(select(OutboxMessage)).one()
    assert (queued.channel, queued.target) == ("wecom_app", "YuJianKui")
    assert queued.markdown and "整改率" in queued.markdown and queued.key and queued.key.startswith("wecom-reply:")
