"""Logging of the node's own loggers (``node.*``, ``federation.*``) for long commands.

uvicorn configures only its own loggers; without this, the node's messages (a failing
sync, a full disk) would go nowhere. One line per record on stderr, or one JSON object
per line for log collectors."""

from __future__ import annotations

import json as _json
import logging
import sys
from typing import Any, TextIO

LOGGERS = ("node", "federation")
_HANDLER_NAME = "papi"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return _json.dumps(document, ensure_ascii=False)


def configure_logging(level: str | int, json: bool = False, stream: TextIO | None = None) -> None:
    """Send ``node`` and ``federation`` records at ``level`` and above to ``stream``
    (stderr). Calling it again replaces the handler instead of adding a second one."""
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(numeric)


#: Log formats of ``papi serve`` (the ``log_format`` setting).
LOG_FORMATS = ("text", "json")


def uvicorn_log_config(json: bool) -> dict[str, Any]:
    """uvicorn's own loggers: its default text lines, or the same JSON lines as the
    node's."""
    if not json:
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
