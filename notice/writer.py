"""The imported plan as YAML (docs/plan-format.md), a comment beside every value naming the notice line it came from.

Written by hand rather than with a YAML library's dumper because comments are the point: PyYAML drops
them, and ruamel.yaml would need the whole document built as commented objects for what is a fixed
layout. Scalars and flow lists still go through PyYAML so that quoting is always right.
"""

from __future__ import annotations

from datetime import date

import yaml

from core.statuses import TaskDeadlineKind
from notice.model import ContactRow, NoticePlan, Task, Text, When
from plan.schema import DEFAULT_FOCUS_AREAS, DEFAULT_SOURCES

TODO = "TODO"  # must be done before the plan loads
LATER = "请补充："  # can wait: the plan loads, but a feature stays idle until it is done
KIND_TEXT = {
    TaskDeadlineKind.DATE: "限期完成",
    TaskDeadlineKind.YEARLY: "每年",
    TaskDeadlineKind.DATE_THEN_ONGOING: "限期完成并长期坚持",
    TaskDeadlineKind.ONGOING: "长期坚持",
    TaskDeadlineKind.UNKNOWN: "无法识别",
}


def _dump(value: object) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1_000_000, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _scalar(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else _dump(value)


class _Lines:
    """YAML lines with their comments."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.todos = 0

    def add(self, text: str, comment: str = "") -> None:
        if TODO in comment:
            self.todos += 1
        self.lines.append(f"{text}  # {comment}" if comment else text)

    def note(self, indent: str, comment: str) -> None:
        if TODO in comment:
            self.todos += 1
        self.lines.append(f"{indent}# {comment}")


def _when(out: _Lines, plan: NoticePlan, indent: str, key: str, when: When | None, missing: str) -> None:
    """A date: resolved with the notice's words beside it, else the words the loader resolves, else a TODO."""
    if when is None:
        out.add(f"{indent}{key}:", f"{TODO} {missing}")
    elif when.day is not None:
        out.add(f"{indent}{key}: {when.day.isoformat()}", f"{plan.at(when.origin.line)}「{when.quoted}」")
    elif when.readable:
        out.add(
            f"{indent}{key}: {_scalar(when.words)}",
            f"{plan.at(when.origin.line)}「{when.quoted}」；通知未写年份，加载时按专项整治的起止日期确定",
        )
    else:
        out.add(
            f"{indent}{key}: {_scalar(when.words)}",
            f"{TODO} {plan.cite(when.origin)}：无法确定日期，请改写为 2020-06-10 这样的日期",
        )


def _campaign(out: _Lines, plan: NoticePlan) -> None:
    out.add("campaign:")
    if plan.name:
        out.add(f"  name: {_scalar(plan.name.value)}", plan.cite(plan.name.origin))
    else:
        out.add("  name:", f"{TODO} 未找到通知标题，请填写专项整治名称")
    if plan.issuer:
        out.add(f"  issuer: {_scalar(plan.issuer.value)}", plan.cite(plan.issuer.origin))
    out.add("  timezone: Asia/Shanghai", "默认时区")
    hints = _span_hints(plan)
    _when(out, plan, "  ", "start", plan.start, "通知未写明开始日期，请填写，如 2020-06-04" + hints)
    _when(out, plan, "  ", "end", plan.end, "通知未写明结束日期，请填写，如 2020-11-30" + hints)
    if plan.year is not None:
        source = plan.cite(plan.year_origin) if plan.year_origin else "导入时指定（--year）"
        checked = f"（{plan.year_note}，请核对）" if plan.year_note else ""
        out.note("  ", f"未写年份的日期按 {plan.year} 年计：{source}{checked}")
    if plan.target:
        out.add("  target:")
        out.add(f"    rate: {plan.target.rate:g}", plan.cite(plan.target.origin))
        _when(out, plan, "    ", "by", plan.target.by, "通知未写明整改目标的期限")


def _span_hints(plan: NoticePlan) -> str:
    if plan.start is not None and plan.end is not None:
        return ""
    hints = list(plan.span_hints)
    if plan.notice_date:
        hints.append(f"通知落款 {plan.notice_date.words}（{plan.at(plan.notice_date.origin.line)}）")
    dated = sorted((d.due.day, d.due.origin.line) for d in plan.deliverables if d.due.day)
    dated += sorted((p.end.day, p.end.origin.line) for p in plan.phases if p.end and p.end.day)
    if dated:
        first, last = min(dated), max(dated)
        hints.append(
            f"最早的时间节点 {first[0].isoformat()}（{plan.at(first[1])}），最晚的 {last[0].isoformat()}"
            f"（{plan.at(last[1])}）"
        )
    return "；" + "；".join(hints) if hints else ""


def _texts(out: _Lines, plan: NoticePlan, key: str, values: list[Text], default: list[str], default_note: str) -> None:
    if values:
        out.add(f"{key}:")
        cited: set[int] = set()
        for value in values:
            out.add(
                f"  - {_scalar(value.value)}",
                plan.at(value.origin.line) if value.origin.line in cited else plan.cite(value.origin),
            )
            cited.add(value.origin.line)
    else:
        out.add(f"{key}: {_dump(default)}", default_note)


def _phases(out: _Lines, plan: NoticePlan) -> None:
    if not plan.phases:
        out.add("phases: []", "通知未分阶段")
        return
    out.add("phases:")
    for phase in plan.phases:
        out.add(f"  - name: {_scalar(phase.name.value)}", plan.cite(phase.name.origin))
        if phase.start is not None:
            _when(out, plan, "    ", "start", phase.start, "")
        _when(out, plan, "    ", "end", phase.end, f"{plan.at(phase.name.origin.line)}未写明阶段结束日期，请填写")


def _deliverables(out: _Lines, plan: NoticePlan) -> None:
    if not plan.deliverables:
        out.add("deliverables: []", "通知未写明带时限的报送事项")
        return
    out.add("deliverables:")
    contact_form = next((item for item in plan.deliverables if _is_contact_form(item.name)), None)
    for item in plan.deliverables:
        out.add(f"  - name: {_scalar(item.name)}", plan.cite(item.origin))
        if item is contact_form:
            out.add("    kind: contacts", f"{plan.at(item.origin.line)}：联系人表，联络员「登记」即为本单位报送")
        _when(out, plan, "    ", "due", item.due, "")
        if item.to:
            out.add(f"    to: {_scalar(item.to)}", f"{plan.at(item.origin.line)}：报送对象")
        if item.units:
            out.add(f"    units: {_dump(list(item.units))}", f"{plan.at(item.origin.line)}所在条目的责任单位")
        elif item.note:
            out.note("    ", item.note)
        if item.sender and not item.units:
            out.note("    ", f"报送单位：{item.sender}（通知原文；units 不填即全部单位报送）")


def _is_contact_form(name: str) -> bool:
    """The contact form (附件1 联系人表, 联络员名单…): a liaison's registration in chat submits it for the unit, so
    only one deliverable of a plan may be it — the first one the notice names."""
    return any(word in name for word in ("联系人", "联络员"))


def _weekly(out: _Lines, plan: NoticePlan) -> None:
    out.add("weekly_report:")
    weekly = plan.weekly
    if weekly is None:
        out.add("  weekday: 周五", "通知未写明周报要求：以下为默认值（docs/plan-format.md），请核对")
        out.add('  remind_at: ["09:00", "11:00"]', "默认")
        out.add('  due: "12:00"', "默认")
        return
    out.add(f"  weekday: {weekly.weekday}", plan.cite(weekly.origin))
    out.add('  remind_at: ["09:00", "11:00"]', "默认：截止当天提醒两次")
    out.add(
        f'  due: "{weekly.due}"',
        plan.at(weekly.origin.line)
        if weekly.due_read
        else f"{plan.at(weekly.origin.line)}未写明时刻，默认 12:00，请核对",
    )


def _units(out: _Lines, plan: NoticePlan) -> None:
    contacts: dict[str, list[ContactRow]] = {}
    for row in plan.contacts:
        if row.unit:
            contacts.setdefault(row.unit, []).append(row)
    named = [(unit.value, unit.origin) for unit in plan.units]
    named += [(unit, rows[0].origin) for unit, rows in contacts.items() if unit not in {u.value for u in plan.units}]
    if not named:
        out.add("units:", f"{TODO} 通知未列出参加单位：请逐个列出（至少一个）后再加载，例如：")
        out.note("", ' - {name: 执法监察支队, aliases: [支队], contacts: [{name: 张三, phone: "13900000000"}]}')
        out.note("", " - {name: 法制科}")
    else:
        out.add("units:", "通知中点名的单位；联络员可在 contacts 中预先登记（姓名+手机号）")
        for name, origin in named:
            people = [
                {k: v for k, v in (("name", r.name), ("title", r.title), ("phone", r.phone), ("email", r.email)) if v}
                for r in contacts.get(name, [])
            ]
            fields = {"name": name, **({"contacts": people} if people else {})}
            out.add(
                f"  - {_dump(fields)}", plan.cite(origin) if not people else f"{plan.at(origin.line)}：附件联系人表"
            )
    if plan.contact_columns:
        where = plan.at(plan.contact_columns.origin.line)
        out.note(
            "  ", f"附件联系人表（{where}）的栏目：{plan.contact_columns.value}；未填的由各单位联络员用「登记」报送"
        )
    if plan.collectives:
        out.note(
            "  ",
            f"{LATER}以下集合名称要展开为具体单位，任务才能落到单位：把每个成员单位列在 units 中并写上 groups，例如",
        )
        example = next(iter(plan.collectives))
        out.note("  ", f"  - {{name: 某某单位, groups: [{example}]}}")
        for name, lines in plan.collectives.items():
            shown = "、".join(plan.at(n) for n in lines[:6]) + ("等" if len(lines) > 6 else "")
            out.note("  ", f"  「{name}」：{shown}（共{len(lines)}处）")


def _groups_and_coordinators(out: _Lines, plan: NoticePlan) -> None:
    out.add(
        "groups: []",
        f'{LATER}接收截止提醒的工作群，如 {{name: 专项整治工作群, channel: wecom_robot, webhook: "https://…"}}',
    )
    if not plan.coordinators:
        out.add("coordinators: []", f"{LATER}牵头部门协调人，如 {{name: 张三, wecom_userid: ZhangSan}}")
        return
    out.add("coordinators:", f"{LATER}填写 wecom_userid 或 dingtalk_userid 后，协调人才能在聊天中使用「汇总」等指令")
    for person in plan.coordinators:
        fields = {"name": person.name, **({"phone": person.phone} if person.phone else {})}
        out.add(f"  - {_dump(fields)}", plan.cite(person.origin))


def _task(out: _Lines, plan: NoticePlan, task: Task) -> None:
    out.add(f"  - number: {task.number}", plan.at(task.origin.line))
    out.add(f"    text: {_scalar(task.text)}", plan.at(task.origin.line))
    for key, names, origin in zip(
        ("lead", "partners", "responsible"),
        (task.lead, task.partners, task.responsible),
        task.unit_origins,
        strict=True,
    ):
        if names:
            out.add(f"    {key}: {_dump(list(names))}", plan.cite(origin))
    origin = task.deadline_origin or task.origin
    if task.kind is TaskDeadlineKind.UNKNOWN:
        out.add(
            f"    deadline: {_scalar(task.deadline) if task.deadline else ''}".rstrip(),
            f"{TODO} {plan.cite(origin)}：无法识别完成时限，请写成 2024年3月底前、每年2月底前 或 长期坚持",
        )
    else:
        out.add(f"    deadline: {_scalar(task.deadline)}", f"{plan.cite(origin)}（{KIND_TEXT[task.kind]}）")


def _unplaced(out: _Lines, plan: NoticePlan) -> None:
    notes = [f"{plan.at(item.origin.line)}：{item.value}" for item in plan.unplaced]
    if not notes:
        return
    out.lines.append("")
    out.note("", "未能放入方案的内容（请人工处理）：")
    for note in notes:
        out.note("", f"  - {note}")


def render_plan(plan: NoticePlan, *, source: str = "通知") -> str:
    """The YAML plan text; loading it needs every TODO resolved first (duban plan load names what is left)."""
    out = _Lines()
    _campaign(out, plan)
    _texts(
        out,
        plan,
        "focus_areas",
        plan.focus_areas,
        DEFAULT_FOCUS_AREAS,
        "通知未列出整治重点：以下为默认值（docs/plan-format.md）",
    )
    _texts(
        out, plan, "sources", plan.sources, DEFAULT_SOURCES, "通知未列出线索来源：以下为默认值（docs/plan-format.md）"
    )
    _phases(out, plan)
    _deliverables(out, plan)
    _weekly(out, plan)
    out.add("deadline_nudges_days: [7, 3, 1, 0]", "默认：截止前7、3、1天和当天提醒")
    out.add("holidays: []", "官方节假日数据尚未覆盖的年份，在此补充放假日期")
    out.add("workdays: []", "同上，补充调休上班日")
    _units(out, plan)
    _groups_and_coordinators(out, plan)
    if plan.tasks:
        out.add("tasks:", f"任务分工 {len(plan.tasks)} 项")
        for task in plan.tasks:
            _task(out, plan, task)
    else:
        out.add("tasks: []", "通知没有编号的任务分工")
    _unplaced(out, plan)
    where = "页码、段落" if plan.places else "行号"
    header = [
        f"# 督办专项整治方案：由 duban plan import 从「{source}」生成（格式见 docs/plan-format.md）。",
        f"# 每个值旁的注释是它在通知中的出处（{where}与原文），请逐项核对。",
        *(f"# 注意：{plan.cite(item.origin)}：{item.value}" for item in plan.shortfalls),
        f"# 标有 TODO 的 {out.todos} 处须补全后才能用 duban plan load 加载；标有「请补充」的可以稍后再补。"
        if out.todos
        else "# 没有必须补全的 TODO，核对后即可用 duban plan load 加载；标有「请补充」的可以稍后再补。",
    ]
    return "\n".join([*header, *out.lines]) + "\n"
