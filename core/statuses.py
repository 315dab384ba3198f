"""The states a contact, an issue, a task, a deliverable and an outbox message can be in, and how they read."""

from __future__ import annotations

import enum


class ContactStatus(enum.StrEnum):
    PRELISTED = "prelisted"  # named in the plan (unit + phone), no chat identity yet
    PENDING = "pending"  # registered in chat, waiting for a coordinator
    ACTIVE = "active"
    REJECTED = "rejected"


class IssueStatus(enum.StrEnum):
    OPEN = "open"  # 未整改
    IN_PROGRESS = "in_progress"  # 整改中
    RECTIFIED = "rectified"  # 已整改 (销号)


class TaskDeadlineKind(enum.StrEnum):
    DATE = "date"  # 2024年3月底前
    YEARLY = "yearly"  # 每年2月底前
    DATE_THEN_ONGOING = "date_then_ongoing"  # 2024年6月15日前并长期坚持
    ONGOING = "ongoing"  # 长期坚持
    UNKNOWN = "unknown"  # could not be read; a person must fix the plan


class TaskRole(enum.StrEnum):
    LEAD = "lead"  # 牵头单位
    PARTNER = "partner"  # 配合单位
    RESPONSIBLE = "responsible"  # 责任单位


class DeliverableKind(enum.StrEnum):
    CONTACTS = "contacts"  # the contact form (附件1): a liaison's registration submits it for the unit


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanent failure, visible to coordinators
    MISSED = "missed"  # its moment passed while the service was down; recorded, never sent


# How an issue's status reads in replies, the dashboard and the exports (附件2's 整改情况 column).
STATUS_TEXT = {IssueStatus.OPEN: "未整改", IssueStatus.IN_PROGRESS: "整改中", IssueStatus.RECTIFIED: "已整改"}
