"""RFC 3339 timestamps. Informative only in the protocol: order comes from ``seq``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """``2026-11-25T22:10:11.123456Z`` (UTC, microseconds kept only when non-zero)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def parse_ts(text: str) -> datetime:
    """Parse RFC 3339 with a mandatory offset (``Z`` or ``±hh:mm``); ``ValueError`` otherwise."""
    if not text or (text[-1] not in "Zz" and (len(text) < 6 or text[-6] not in "+-")):
        raise ValueError(f"{text!r} has no UTC offset")
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment
