"""Who is talking to the bot, as the commands see them."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A sender's role in the campaign, resolved from their platform identity (never from what they write)."""

    COORDINATOR = "coordinator"  # 牵头部门协调人
    LIAISON = "liaison"  # a unit's liaison officer whose registration is active
    PENDING = "pending"  # registered in chat, waiting for a coordinator's approval
    STRANGER = "stranger"  # not registered, or rejected


ROLE_TITLES = {
    Role.LIAISON: "联络员",
    Role.COORDINATOR: "牵头部门协调人",
    Role.PENDING: "待审核联络员",
    Role.STRANGER: "未登记用户",
}
