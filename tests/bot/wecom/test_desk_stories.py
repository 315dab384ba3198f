"""The coordinator's desk as real encrypted WeCom callbacks: every unit's weekly report in one reply cut into
WeCom's 2048-byte messages without cutting a unit's report, and a notice that reaches each liaison through the app
API, acknowledged with 收到 (in the middle of a dialog too) and tallied by 回执. tests/bot/test_desk_stories.py tells
the same through the simulator."""

from __future__ import annotations

import asyncio

import httpx

from bot.wecom.client import TEXT_LIMIT, build_senders
from core.clock import ManualClock
from handlers.parsing import normalize
from scheduler.delivery import DeliveryWorker
from tests.bot.test_sim_stories import REGISTER_LU
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import MESSAGE_SEND, FakeQyapi
from tests.bot.wecom.platform import WeComChat
from tests.conftest import Database, at

REPORT = (
    "一、组织召开专项整治推进会，传达市委全面依法治市委员会办公室有关要求，对照权力清单逐项梳理问题线索，"
    "明确责任科室和完成时限；\n"
    "二、开展执法案卷评查，抽查2019年以来行政处罚案卷42卷，发现文书不规范、程序不完整等问题6个，已督促整改；\n"
    "三、核查执法主体资格，组织执法人员证件年审，清理临时聘用人员执法，杜绝辅助人员单独执法；\n"
    "四、受理群众举报3件，均已按期回复，其中1件转立案调查；\n"
    "五、下周继续推进卫片图斑核查和案卷归档，按时报送问题清单和整改进展。"
)


def deliver(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> int:
    """Send what the outbox holds through the app's own WeCom senders, as the scheduler's delivery job does."""

    async def drain() -> int:
        async with httpx.AsyncClient(timeout=5) as http:
            senders = {
                channel: sender
                for sender in build_senders(wecom_settings(db, qyapi), db.sessions, clock, http)
                for channel in sender.channels
            }
            return await DeliveryWorker(db.sessions, senders, clock=clock).drain()

    return asyncio.run(drain())


def texts_to(qyapi: FakeQyapi, user: str) -> list[str]:
    return [
        r.json["text"]["content"]
        for r in qyapi.calls(MESSAGE_SEND)
        if r.json and r.json.get("touser") == user and r.json.get("msgtype") == "text"
    ]


def test_every_units_report_comes_in_whole_lines_of_wecom_messages(
    wecom: WeComChat, qyapi: FakeQyapi, clock: ManualClock
) -> None:
    assert "登记成功" in wecom.send("LuHeJian", REGISTER_LU)
    for user in ("MaQiang", "LuHeJian"):
        assert "第29周周报" in wecom.send(user, f"周报\n{REPORT}")
    clock.set(at("2020-07-17 12:30"))
    assert "记为迟报" in wecom.send("WangFang", f"周报\n{REPORT}")

    first = wecom.send("YuJianKui", "本周周报")
    [rest] = qyapi.wait_for(MESSAGE_SEND, 1)
    assert rest.json is not None and rest.json["touser"] == "YuJianKui"
    parts = [first, rest.json["text"]["content"]]
    assert all(len(part.encode()) <= TEXT_LIMIT for part in parts)
    whole = "".join(parts)
    assert whole.startswith("第29周（7月13日–7月17日）周报：3/4 个单位已报送，其中迟报 1 个")
    entries = [line for line in whole.splitlines() if line.startswith("【")]
    assert [entry.split("】")[0] for entry in entries] == ["【办公室", "【执法监察支队", "【法制科"]
    assert entries[0].startswith("【办公室】（迟报）王芳 7月17日 周五 12:30：一、组织召开专项整治推进会")
    assert all(any(entry in part for part in parts) for entry in entries), "a unit's report is never cut in two"
    assert "未报送（1 个）：耕地保护科" in whole

    full = wecom.send("YuJianKui", "周报 支队")
    assert full.endswith(normalize(REPORT)) and "状态：已报送（截止 7月17日 周五 12:00）" in full  # as it was stored


def test_a_notice_reaches_each_liaison_and_their_receipts_are_tallied(
    wecom: WeComChat, qyapi: FakeQyapi, clock: ManualClock, plan_loaded: Database
) -> None:
    reply = wecom.send("YuJianKui", "通知：请各单位于7月24日前报送典型案例1至2个。")
    assert "已发出通知〔1〕（全部单位）：送达 2 个单位的 2 位联络员" in reply
    assert "未送达 2 个单位（尚无联络员）：法制科、耕地保护科" in reply
    assert deliver(plan_loaded, clock, qyapi) == 2
    sent = (
        "【通知〔1〕】请各单位于7月24日前报送典型案例1至2个。\n——牵头部门 俞建奎，7月15日 10:00。收到请回复「收到」。"
    )
    assert texts_to(qyapi, "MaQiang") == [sent] and texts_to(qyapi, "WangFang") == [sent]

    clock.set(at("2020-07-15 10:30"))
    assert "已确认收到通知〔1〕" in wecom.send("MaQiang", "收到！")
    tally = wecom.send("YuJianKui", "回执")
    assert "回执：1/2 个单位已确认收到，另有 2 个单位没有联络员、未送达" in tally
    assert "未确认（1）：办公室（王芳）" in tally and "已确认（1）：执法监察支队（马强 7月15日 10:30）" in tally

    assert "请发送本周专项整治工作信息" in wecom.send("WangFang", "周报")
    reply = wecom.send("WangFang", "好的收到")  # acknowledged in the middle of the report's dialog
    assert "已确认收到通知〔1〕" in reply and "请发送本周专项整治工作信息" in reply
    assert "已收到「办公室」第29周周报" in wecom.send("WangFang", "本周召开专项整治推进会一次")
    assert "回执：2/2 个单位已确认收到" in wecom.send("YuJianKui", "谁没回执？")
    assert "好的。" in wecom.send("WangFang", "收到")  # nothing outstanding: small talk again
