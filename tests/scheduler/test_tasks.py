"""Seed 004's task division through the reminder engine: dated-task nudges and the quarterly 长期坚持 digest."""

from __future__ import annotations

from datetime import date

import yaml

from plan.schema import validate_plan
from plan.sync import load_plan
from storage.db import transaction
from tests.conftest import FIXTURES, SimChat
from tests.scheduler.conftest import ROBOT_KEY, Reminders


def load_plan_with_tasks(reminders: Reminders) -> None:
    data = yaml.safe_load((FIXTURES / "plan.yaml").read_text(encoding="utf-8"))
    data["campaign"]["start"] = date(2020, 6, 4)
    data["deliverables"] = []
    data["groups"] = [
        {
            "name": "专项整治工作群",
            "channel": "wecom_robot",
            "webhook": f"{reminders.fake.url}/cgi-bin/webhook/send?key={ROBOT_KEY}",
        }
    ]
    data["tasks"] = [
        {
            "number": 11,
            "text": "全面落实行政裁量权基准制度，制定完善本部门行政裁量权基准",
            "responsible": ["法制科", "支队"],
            "deadline": "2020年8月20日前",
        },
        {
            "number": 6,
            "text": "严格落实行政执法人员资格管理和持证上岗制度",
            "lead": ["办公室"],
            "partners": ["支队"],
            "deadline": "长期坚持",
        },
    ]
    with transaction(reminders.db.sessions) as session:
        load_plan(session, validate_plan(data, "plan-tasks"), now=reminders.clock.now())


def test_a_dated_task_is_nudged_until_each_responsible_unit_completes_it(reminders: Reminders, chat: SimChat) -> None:
    load_plan_with_tasks(reminders)
    reminders.walk("2020-08-13", 1)  # 7 days before Thu 08-20
    [first] = [m for m in reminders.fake.robot_messages() if "任务11" in m.content]
    assert "还有7天截止" in first.content and "未完成的单位（2个）：执法监察支队、法制科" in first.content
    assert first.mentions == ["13909550003"]

    assert "完成任务11" in chat.send("MaQiang", "任务 11 完成")
    reminders.walk("2020-08-14", 7)  # … through the day itself
    later = [m for m in reminders.fake.robot_messages() if "任务11" in m.content][1:]
    assert [m.content.split("」")[1][:6] for m in later] == ["还有3天截止", "还有1天截止", "今天（8月2"]
    assert all("未完成的单位（1个）：法制科" in m.content for m in later)


def test_the_quarterly_digest_of_ongoing_tasks_goes_to_the_lead_units_liaisons(
    reminders: Reminders, chat: SimChat
) -> None:
    load_plan_with_tasks(reminders)
    reminders.walk("2020-09-30", 10)  # 国庆 and 中秋 2020: 10-01 … 10-08; the first working day of Q4 is 10-09
    [digest] = [text for text in reminders.fake.to_user("WangFang") if "长期坚持事项" in text]
    assert digest.startswith("【长期坚持事项】2020年第4季度") and "任务6" in digest and "本季度尚未报告" in digest
    assert not any("长期坚持事项" in text for text in reminders.fake.to_user("MaQiang"))  # a partner: not accountable
    rows = [r for r in reminders.rows() if r.key and r.key.startswith("task.ongoing:")]
    assert [r.key[-16:-6] for r in rows] == ["2020-10-09"]
