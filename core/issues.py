"""An issue (问题线索) as every reader sees it: its fields, their names on 附件2, and one record shape.

The chat's 问题 dialog asks for the fields by these names, 附件2's columns are headed by them, and the
exports and the dashboard API read an issue as one `IssueRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.statuses import IssueStatus

# A field's name on 附件2 (问题清单) and in the 问题 dialog.
ISSUE_LABELS = {
    "year": "年度",
    "title": "线索名称",
    "source": "线索来源",
    "focus_area": "整治重点",
    "content": "线索内容",
    "measures": "整改措施",
    "goal": "整改目标",
    "owner": "责任人",
    "due": "完成时限",
    "remark": "备注",
}


@dataclass(frozen=True)
class IssueRecord:
    """One issue of the ledger, as read (storage.repos.Issues.records builds them in table order)."""

    unit_id: int
    unit: str  # the unit's name
    number: int  # #12 in chat, unique within the campaign
    year: int
    title: str
    source: str
    content: str
    measures: str
    goal: str
    owner: str
    due: date
    remark: str | None
    status: IssueStatus
    percent: int
    rectified_at: datetime | None
    focus_area: str | None
    evidence: int = 0  # files sent in chat as its 佐证材料 (附件2's 备注 counts them)

    def overdue(self, today: date) -> bool:
        return self.status is not IssueStatus.RECTIFIED and self.due < today
