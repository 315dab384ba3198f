"""The coordinator's desk through the simulator API: reading the week's reports as they come in (late ones marked,
missing ones named, last week's on Monday), and notices with receipts — to every liaison, or only to the units still
missing the week's report. tests/bot/wecom/test_desk_stories.py tells the same as real WeCom callbacks."""

from __future__ import annotations

from core.clock import ManualClock
from tests.conftest import SimChat, at


def test_the_coordinator_reads_the_weeks_reports_as_they_come_in(chat: SimChat, clock: ManualClock) -> None:
    assert "请发送本周专项整治工作信息" in chat.send("MaQiang", "周报")
    assert "已收到「执法监察支队」第29周周报" in chat.send("MaQiang", "本周完成卫片图斑核查12个，约谈协管员2人。")
    week = chat.send("YuJianKui", "本周周报")
    assert "1/4 个单位已报送（截止 7月17日 周五 12:00）" in week
    assert "【执法监察支队】马强 7月15日 周三 10:00：本周完成卫片图斑核查12个,约谈协管员2人。" in week
    assert "未报送（3 个，还没到截止时间）：办公室、法制科、耕地保护科" in week

    clock.set(at("2020-07-17 12:40"))
    chat.send("WangFang", "周报 本周召开专项整治推进会一次。")
    week = chat.send("YuJianKui", "这周周报")
    assert "2/4 个单位已报送，其中迟报 1 个" in week and "【办公室】（迟报）王芳 7月17日 周五 12:40" in week
    assert "未报送（2 个）：法制科、耕地保护科" in week
    assert "状态：迟报（截止 7月17日 周五 12:00）" in chat.send("YuJianKui", "看看办公室的周报")

    clock.set(at("2020-07-20 09:00"))  # Monday: a new week
    assert "0/4 个单位已报送" in chat.send("YuJianKui", "本周周报")
    last = chat.send("YuJianKui", "上周周报")
    assert last.startswith("第29周（7月13日–7月17日）周报：2/4 个单位已报送，其中迟报 1 个")
    unit = chat.send("YuJianKui", "周报 支队 上周")
    assert unit.endswith("本周完成卫片图斑核查12个,约谈协管员2人。") and "报送：马强 7月15日 周三 10:00" in unit
    assert "最近一次报送的是第29周，发送「周报 执法监察支队 第29周」查看" in chat.send("YuJianKui", "周报 支队")
    assert "已收到「执法监察支队」第30周周报" in chat.send("MaQiang", "周报 法制科 上周")  # a liaison sends, as ever


def test_a_notice_goes_out_and_the_receipts_come_back(chat: SimChat, clock: ManualClock) -> None:
    reply = chat.send("YuJianKui", "通知 请各单位于7月24日前报送典型案例1至2个。")
    assert "已发出通知〔1〕（全部单位）：送达 2 个单位的 2 位联络员" in reply
    sent = {(m["to"], m["text"]) for m in chat.outbox()}
    text = (
        "【通知〔1〕】请各单位于7月24日前报送典型案例1至2个。\n——牵头部门 俞建奎，7月15日 10:00。收到请回复「收到」。"
    )
    assert sent == {("MaQiang", text), ("WangFang", text)}

    clock.set(at("2020-07-15 10:05"))
    assert "已确认收到通知〔1〕「请各单位于7月24日前报送典型案例1至…」" in chat.send("MaQiang", "收到，马上落实")
    assert "周报" in chat.send("MaQiang", "周报 本周完成卫片图斑核查12个")
    clock.set(at("2020-07-16 09:00"))
    reply = chat.send("YuJianKui", "通知 未报送 周报 请于7月17日12:00前报送本周工作信息。")
    assert "已发出通知〔2〕（未报送第29周周报的单位）：送达 1 个单位的 1 位联络员" in reply
    assert [m["to"] for m in chat.outbox()].count("MaQiang") == 1  # 支队 has reported: not told again
    assert "【通知〔2〕】（发给未报送第29周周报的单位）请于7月17日12:00前报送" in chat.outbox()[-1]["text"]

    tally = chat.send("YuJianKui", "回执 1")
    assert "未确认（1）：办公室（王芳）" in tally and "已确认（1）：执法监察支队（马强 7月15日 10:05）" in tally
    assert "已确认收到通知〔1〕〔2〕" in chat.send("WangFang", "已阅")
    assert "回执：1/1 个单位已确认收到" in chat.send("YuJianKui", "回执")
    assert "回执：2/2 个单位已确认收到" in chat.send("YuJianKui", "回执 1")
