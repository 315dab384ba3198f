"""Logs: one JSON object per line (or a readable console line), whether they come from structlog or from the
standard `logging` calls the code makes with `extra={...}`, uvicorn's access log included.

Every line carries timestamp, level, logger and event, the extras, and the request id of the HTTP request it
belongs to (asgi-correlation-id keeps it in a contextvar, which worker threads inherit). A redaction step
masks secret-looking fields and URL parameters as a safety net: the code itself never logs secrets or message
bodies at INFO.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from asgi_correlation_id import correlation_id
from structlog.typing import EventDict, Processor

LogFormat = Literal["json", "console"]
REDACTED = "[已隐藏]"
# Field names whose values are secrets wherever they appear (token_name, msg_id … are not: whole words only).
SECRET_FIELD = re.compile(r"(?:^|_)(?:token|secret|password|aes_key|app_secret|authorization|cookie)$", re.IGNORECASE)
# Webhook and API URLs carry their credentials as query parameters (WeCom robots ?key=, DingTalk
# ?access_token=…&sign=, WeCom API ?access_token=).
SECRET_PARAM = re.compile(
    r"([?&](?:key|access_token|token|secret|sign|corpsecret|appsecret)=)[^&\s\"'#]+", re.IGNORECASE
)
# Loggers that would otherwise log request URLs (with their access_token) at INFO, and APScheduler's executor,
# which logs two lines for every run of the 2-second delivery job (the tick and the outbox log what they did).
QUIET_LOGGERS = ("httpx", "httpcore", "asgi_correlation_id", "apscheduler.executors.default")
_DROPPED = ("color_message",)  # uvicorn's extra copy of the message with ANSI colours


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_PARAM.sub(rf"\1{REDACTED}", value) if "=" in value else value
    if isinstance(value, Mapping):
        return {key: REDACTED if SECRET_FIELD.search(str(key)) else _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Mask fields named like secrets and credentials in URLs, in the event and in every field."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):
            continue  # structlog's own bookkeeping (the LogRecord)
        event_dict[key] = REDACTED if SECRET_FIELD.search(key) and value is not None else _scrub(value)
    return event_dict


def add_request_id(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    request_id = correlation_id.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def access_fields(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """uvicorn's access line as fields (client, method, path, status) instead of one formatted string."""
    record, args = event_dict.get("_record"), event_dict.pop("positional_args", None)
    if record is not None and record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        event_dict.update(
            event="http request", client=client, method=method, path=path, status=status, http_version=http_version
        )
    return event_dict


def drop_noise(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    for key in _DROPPED:
        event_dict.pop(key, None)
    return event_dict


class AlembicChatter(logging.Filter):
    """Drops the two lines alembic logs at INFO whenever a migration context is made ("Context impl
    SQLiteImpl.", "Will assume transactional DDL."): /readyz makes one on every probe. Its "Running upgrade"
    lines, which say what a start-up changed, stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(("Context impl", "Will assume")))


def configure_logging(level: str = "INFO", fmt: LogFormat = "json", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library (root logger, uvicorn's loggers) through one handler.

    Called once when `duban serve` starts; it replaces the root logger's handlers.
    """
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
        final: list[Processor] = [structlog.processors.format_exc_info, renderer]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())]
    formatter = structlog.stdlib.ProcessorFormatter(
        # Foreign records (logging.getLogger(...).info("…", extra={…})): extras become fields.
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), access_fields, drop_noise, redact],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        pass_foreign_args=True,  # for access_fields, which removes them again
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()  # uvicorn's own handlers would print every line a second time
        uvicorn_logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    migration_logger = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, AlembicChatter) for f in migration_logger.filters):
        migration_logger.addFilter(AlembicChatter())
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
