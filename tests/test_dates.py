"""The supported date range and calendar (urn:papi:datetime), and that every date the
schema accepts can be parsed, converted to UTC and to the French time zone: a signed
event must never be storable here and break a page there."""

from __future__ import annotations

import calendar
from datetime import UTC
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from federation import schema
from federation.errors import SchemaError
from federation.timeutil import format_ts, parse_ts
from node.services.store import object_columns

PARIS = ZoneInfo("Europe/Paris")
LOCAL = schema.document("urn:papi:datetime")["pattern"]
UTC_TS = schema.document("urn:papi:datetime")["$defs"]["utc"]["pattern"]


def _valid(text: str) -> bool:
    try:
        schema.validate("urn:papi:datetime", text)
    except SchemaError:
        return False
    return True


def _real_date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def test_calendar_and_range_exactly() -> None:
    """Every (year, month, day) around the bounds: valid exactly when it is a real date of
    the years 1900-2199 (leap years included, 1900 and 2100 excluded)."""
    for year in (*range(1896, 1906), *range(1996, 2004), *range(2096, 2104), *range(2194, 2204)):
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z"
                expected = 1900 <= year <= 2199 and _real_date(year, month, day)
                assert _valid(text) is expected, text


def test_clock_and_offset_bounds() -> None:
    assert _valid("2026-03-14T23:59:59.999999999+23:59")
    assert _valid("2026-03-14T00:00-23:59")
    for bad in ("24:00:00Z", "23:60:00Z", "23:59:60Z", "12:00:00+24:00", "12:00:00-00:60"):
        assert not _valid(f"2026-03-14T{bad}"), bad


@settings(max_examples=300, deadline=None)
@given(st.from_regex(LOCAL, fullmatch=True))
def test_every_accepted_event_date_converts(text: str) -> None:
    moment = parse_ts(text)
    assert 1899 <= moment.astimezone(UTC).year <= 2200
    moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    columns = object_columns("event", {"title": "t", "start": text, "end": text})
    assert columns["starts_at"] == format_ts(moment.astimezone(UTC))


@settings(max_examples=200, deadline=None)
@given(st.from_regex(UTC_TS, fullmatch=True))
def test_every_accepted_header_ts_parses(text: str) -> None:
    assert parse_ts(text).utcoffset() is not None
    parse_ts(text).astimezone(PARIS)
