"""Two overlapping campaigns served by one WeCom app, told as signed and encrypted callbacks (the simulator's side of
the same stories is tests/bot/test_sim_several_campaigns.py): 马强 (MaQiang) is a liaison in both."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from bot.app import create_app
from core.clock import ManualClock
from tests.bot.test_sim_several_campaigns import ASKED, FIRST, load_three_year, reports
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import MESSAGE_SEND, FakeQyapi
from tests.bot.wecom.platform import WeComChat
from tests.conftest import Database, at


def test_the_shared_liaison_names_the_campaign_or_is_asked_once_a_day(
    wecom: WeComChat, plan_loaded: Database, clock: ManualClock
) -> None:
    load_three_year(plan_loaded, clock)
    assert wecom.send("WangFang", "周报 本周公布监督电话").startswith("已收到「办公室」第29周周报")
    assert wecom.send("ZhangWei", "[三年行动] 周报 本周组织执法培训").startswith("已收到「红寺堡镇」")  # his only one
    assert wecom.send("MaQiang", "三年行动 周报 本周完成全员轮训").startswith("【三年行动】已收到「自然资源局」")

    asked = wecom.send("MaQiang", "周报 本周核查图斑")
    assert ASKED in asked and "2. 红寺堡区提升行政执法质量三年行动（简称：三年行动）" in asked
    assert wecom.send("MaQiang", "第1个").startswith(f"【{FIRST}】已收到「执法监察支队」第29周周报")
    clock.advance(timedelta(hours=2))
    assert wecom.send("MaQiang", "我的问题").startswith(f"【{FIRST}】")  # remembered for the day
    assert "已切换到「红寺堡区提升行政执法质量三年行动」" in wecom.send("MaQiang", "切换 三年行动")
    assert wecom.send("MaQiang", "我的问题").startswith("【三年行动】")
    clock.advance(timedelta(days=1))
    assert ASKED in wecom.send("MaQiang", "我的问题")
    assert reports(plan_loaded) == [
        ("办公室", "本周公布监督电话"),
        ("执法监察支队", "本周核查图斑"),
        ("红寺堡镇", "本周组织执法培训"),
        ("自然资源局", "本周完成全员轮训"),
    ]


def test_a_retried_callback_gets_the_same_question_and_nothing_twice(
    wecom: WeComChat, plan_loaded: Database, clock: ManualClock
) -> None:
    load_three_year(plan_loaded, clock)
    asked = wecom.send("MaQiang", "周报 本周核查图斑", msg_id="7100000000000000001")
    assert wecom.send("MaQiang", "周报 本周核查图斑", msg_id="7100000000000000001") == asked
    answered = wecom.send("MaQiang", "2", msg_id="7100000000000000002")
    assert wecom.send("MaQiang", "2", msg_id="7100000000000000002") == answered
    assert reports(plan_loaded) == [("自然资源局", "本周核查图斑")]


def test_the_friday_reminder_reaches_the_shared_liaison_named_in_wecom(plan_loaded: Database, qyapi: FakeQyapi) -> None:
    clock = ManualClock(at("2020-07-17 09:00:30"))  # the scheduler starts half a minute after the reminders
    load_three_year(plan_loaded, clock)
    settings = wecom_settings(plan_loaded, qyapi).model_copy(update={"scheduler": "on"})
    with TestClient(create_app(settings, clock=clock)):
        sent = qyapi.wait_for(MESSAGE_SEND, 4)
    texts = sorted(
        (r.json["touser"], r.json["text"]["content"].partition("第29周")[0])
        for r in sent
        if r.json and r.json.get("msgtype") == "text" and "周报提醒" in r.json["text"]["content"]
    )
    assert texts == sorted(
        [
            ("MaQiang", f"【{FIRST}】【周报提醒】执法监察支队"),
            ("MaQiang", "【三年行动】【周报提醒】自然资源局"),
            ("WangFang", "【周报提醒】办公室"),
            ("ZhangWei", "【周报提醒】红寺堡镇"),
        ]
    )
