"""Recurring events (federation/recurrence.py, docs/protocol.md 3.10): sessions computed by
hand across daylight saving changes, month ends and February 29, the rules of a series,
and the same sessions as python-dateutil's RFC 5545 expansion for random rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rruleset, rrulestr
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from federation import schema
from federation.errors import SchemaError
from federation.payloads import validate_payload
from federation.recurrence import (
    END_OF_RANGE,
    MAX_OCCURRENCES,
    WEEKDAYS,
    Rule,
    find_occurrence,
    is_occurrence,
    occurrences,
    parse_rrule,
    period,
    series,
    wire_text,
)

PARIS = ZoneInfo("Europe/Paris")
EXAMPLES = Path(__file__).parent.parent / "schemas" / "examples" / "payload-event"


def _event(start: str, rrule: str, end: str | None = None, **recurrence: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": "Atelier", "start": start,
                               "recurrence": {"rrule": rrule, **recurrence}}  # fmt: skip
    if end is not None:
        payload["end"] = end
    return payload


def _local(payload: dict[str, Any], **options: Any) -> list[str]:
    """Session starts as Paris wall clock with offset, to compare with hand-made lists."""
    return [o.start.astimezone(PARIS).isoformat() for o in occurrences(payload, **options)]


# -- hand-computed sessions --------------------------------------------------------------


def test_weekly_keeps_the_paris_wall_clock_across_both_changes() -> None:
    payload = _event("2026-03-17T14:00+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3",
                     "2026-03-17T16:00+01:00")  # fmt: skip
    found = occurrences(payload)
    assert [o.start.isoformat() for o in found] == [
        "2026-03-17T13:00:00+00:00",
        "2026-03-24T13:00:00+00:00",
        "2026-03-31T12:00:00+00:00",  # summer time since March 29: still 14:00 in Brest
    ]
    assert all(o.end - o.start == timedelta(hours=2) for o in found if o.end)
    autumn = _event("2026-10-20T14:00+02:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=2")
    assert _local(autumn) == ["2026-10-20T14:00:00+02:00", "2026-10-27T14:00:00+01:00"]


def test_a_time_in_the_spring_gap_and_an_autumn_time_that_occurs_twice() -> None:
    # 02:30 does not exist on 2026-03-29: read with the offset before the gap (+01:00).
    spring = _event("2026-03-22T02:30+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=3")
    assert [o.start.isoformat() for o in occurrences(spring)] == [
        "2026-03-22T01:30:00+00:00",
        "2026-03-29T01:30:00+00:00",
        "2026-04-05T00:30:00+00:00",
    ]
    # 02:30 occurs twice on 2026-10-25: the first one (summer time) is the session.
    autumn = _event("2026-10-18T02:30+02:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=3")
    assert [o.start.isoformat() for o in occurrences(autumn)] == [
        "2026-10-18T00:30:00+00:00",
        "2026-10-25T00:30:00+00:00",
        "2026-11-01T01:30:00+00:00",
    ]
    # A start at the second 02:30 stays that instant; later sessions are read as above.
    second = _event("2026-10-25T02:30+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=2")
    assert [o.start.isoformat() for o in occurrences(second)] == [
        "2026-10-25T01:30:00+00:00",
        "2026-11-01T01:30:00+00:00",
    ]


def test_start_in_another_offset_takes_its_paris_day_and_time() -> None:
    # 23:30 UTC on Monday is 00:30 on Tuesday in Brest: Tuesdays at 00:30, Paris time.
    payload = _event("2026-01-05T23:30:00Z", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=2")
    assert _local(payload) == ["2026-01-06T00:30:00+01:00", "2026-01-13T00:30:00+01:00"]
    with pytest.raises(SchemaError) as caught:
        series(_event("2026-01-05T23:30:00Z", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;COUNT=2"))
    assert caught.value.keyword == "startInRule"


def test_monthly_last_friday() -> None:
    payload = _event("2026-01-30T18:00+01:00", "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1FR;COUNT=12")
    days = [o.start.astimezone(PARIS).date().isoformat() for o in occurrences(payload)]
    assert days == [
        "2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24", "2026-05-29", "2026-06-26",
        "2026-07-31", "2026-08-28", "2026-09-25", "2026-10-30", "2026-11-27", "2026-12-25",
    ]  # fmt: skip
    assert _local(payload)[3] == "2026-04-24T18:00:00+02:00"


def test_monthly_nth_weekday_every_two_months() -> None:
    payload = _event("2026-01-13T10:00+01:00", "FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU;COUNT=4")
    days = [o.start.astimezone(PARIS).date().isoformat() for o in occurrences(payload)]
    assert days == ["2026-01-13", "2026-03-10", "2026-05-12", "2026-07-14"]


def test_month_days_that_some_months_lack_are_skipped() -> None:
    feb29 = _event("2028-02-29T10:00+01:00", "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=29;COUNT=14")
    days = [o.start.astimezone(PARIS).date().isoformat() for o in occurrences(feb29)]
    assert days[-3:] == ["2029-01-29", "2029-03-29", "2029-04-29"]  # no 2029-02-29
    assert len(days) == 14
    yearly = _event("2096-02-29T10:00+01:00", "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=29;COUNT=3")
    years = [o.start.astimezone(PARIS).year for o in occurrences(yearly)]
    assert years == [2096, 2104, 2108]  # 2100 is not a leap year
    thirty_first = _event("2026-01-31T10:00+01:00", "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=31;COUNT=4")
    days = [o.start.astimezone(PARIS).date().isoformat() for o in occurrences(thirty_first)]
    assert days == ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]
    last = _event("2028-01-31T10:00+01:00", "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=-1;COUNT=3")
    days = [o.start.astimezone(PARIS).date().isoformat() for o in occurrences(last)]
    assert days == ["2028-01-31", "2028-02-29", "2028-03-31"]


def test_fortnightly_weeks_start_on_monday() -> None:
    # Start on a Thursday: Monday of that week is before the start, so it is skipped;
    # the next week is off, then Monday and Thursday of the week after.
    payload = _event("2026-03-05T09:30+01:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=4")
    days = [o.start.astimezone(PARIS).date().isoformat() for o in occurrences(payload)]
    assert days == ["2026-03-05", "2026-03-16", "2026-03-19", "2026-03-30"]


def test_count_includes_cancelled_sessions_and_until_is_inclusive() -> None:
    payload = _event("2026-01-06T14:00+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3",
                     exdates=["2026-01-13T13:00:00Z"])  # fmt: skip
    assert _local(payload) == ["2026-01-06T14:00:00+01:00", "2026-01-20T14:00:00+01:00"]
    cancelled = series(payload).cancelled
    assert [o.start.isoformat() for o in cancelled] == ["2026-01-13T13:00:00+00:00"]
    until = _event(
        "2026-01-06T14:00+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20260120T130000Z"
    )
    assert len(occurrences(until)) == 3  # the session starting at UNTIL is in
    just_before = until["recurrence"]["rrule"].replace("130000Z", "125959Z")
    assert len(occurrences(_event("2026-01-06T14:00+01:00", just_before))) == 2


def test_after_before_and_limit() -> None:
    payload = _event("2026-01-06T14:00+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=10",
                     "2026-01-06T16:00+01:00")  # fmt: skip
    during_second = datetime(2026, 1, 13, 14, 30, tzinfo=PARIS)
    upcoming = occurrences(payload, after=during_second, limit=3)
    # A session under way is not over: it comes first.
    assert _dates(upcoming) == ["2026-01-13", "2026-01-20", "2026-01-27"]
    window = occurrences(payload, after=during_second, before=datetime(2026, 1, 27, tzinfo=UTC))
    assert _dates(window) == ["2026-01-13", "2026-01-20"]
    assert occurrences(payload, after=datetime(2027, 1, 1, tzinfo=UTC)) == []
    first, last = period(payload)
    assert first.isoformat() == "2026-01-06T13:00:00+00:00"
    assert last.isoformat() == "2026-03-10T15:00:00+00:00"


def _dates(found: list[Any]) -> list[str]:
    return [o.start.astimezone(PARIS).date().isoformat() for o in found]


def test_a_single_event_is_its_one_session() -> None:
    payload = {"title": "x", "start": "2026-05-06T14:00+02:00", "end": "2026-05-06T16:30+02:00"}
    (only,) = occurrences(payload)
    assert only.start.isoformat() == "2026-05-06T12:00:00+00:00"
    assert only.end is not None and only.end.isoformat() == "2026-05-06T14:30:00+00:00"
    assert is_occurrence(payload, "2026-05-06T12:00:00Z")
    assert not is_occurrence(payload, "2026-05-13T12:00:00Z")


def test_is_occurrence_compares_instants_and_ignores_cancelled_sessions() -> None:
    payload = _event("2026-01-06T14:00+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=5",
                     exdates=["2026-01-13T14:00+01:00"])  # fmt: skip
    assert is_occurrence(payload, "2026-01-20T14:00+01:00")
    assert is_occurrence(payload, "2026-01-20T13:00:00.000Z")
    assert is_occurrence(payload, datetime(2026, 1, 27, 14, tzinfo=PARIS))
    assert not is_occurrence(payload, "2026-01-13T14:00+01:00")  # cancelled
    assert not is_occurrence(payload, "2026-01-20T15:00+01:00")  # another time
    assert not is_occurrence(payload, "2026-02-10T14:00+01:00")  # after the last one
    assert not is_occurrence(payload, "mardi")
    found = find_occurrence(payload, "2026-01-27T13:00:00Z")
    assert found is not None and found.start == datetime(2026, 1, 27, 13, tzinfo=UTC)
    assert find_occurrence(payload, "2026-01-13T14:00+01:00") is None
    assert not is_occurrence(payload, datetime(2026, 1, 20, 14))  # no offset: not an instant
    broken = _event("2026-01-07T14:00+01:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=5")
    assert not is_occurrence(broken, "2026-01-07T14:00+01:00")


def test_wire_text() -> None:
    # The key of a session, whatever its offset, is federation.cooperation.session_key.
    assert wire_text(datetime(2026, 7, 7, 12, tzinfo=UTC)) == "2026-07-07T14:00:00+02:00"
    assert wire_text(datetime(2026, 1, 7, 12, 0, 30, tzinfo=UTC)) == "2026-01-07T13:00:30+01:00"


# -- the rules of a series ---------------------------------------------------------------


def _semantic() -> list[Path]:
    return sorted((EXAMPLES / "invalid-semantic").glob("*.json"))


@pytest.mark.parametrize("path", _semantic(), ids=lambda p: p.name)
def test_semantic_examples_are_refused_by_validate_payload(path: Path) -> None:
    with pytest.raises(SchemaError):
        validate_payload("event", json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("name", "field", "keyword"),
    [
        ("recurrence-start-not-a-session", "recurrence.rrule", "startInRule"),
        ("recurrence-start-not-the-last-friday", "recurrence.rrule", "startInRule"),
        ("recurrence-until-before-start", "recurrence.rrule", "notBefore"),
        ("recurrence-exdate-not-a-session", "recurrence.exdates.0", "occurrence"),
        ("recurrence-exdate-after-the-last-session", "recurrence.exdates.0", "occurrence"),
        ("recurrence-same-session-cancelled-twice", "recurrence.exdates.1", "uniqueItems"),
        ("recurrence-every-session-cancelled", "recurrence.exdates", "minOccurrences"),
        ("recurrence-more-than-520-sessions", "recurrence.rrule", "maxOccurrences"),
        ("recurrence-sessions-overlap", "end", "overlap"),
        ("recurrence-beyond-2199", "recurrence.rrule", "range"),
    ],
)
def test_each_rule_says_which_member_breaks_it(name: str, field: str, keyword: str) -> None:
    payload = json.loads((EXAMPLES / "invalid-semantic" / f"{name}.json").read_text())
    with pytest.raises(SchemaError) as caught:
        validate_payload("event", payload)
    assert (caught.value.field, caught.value.keyword) == (field, keyword)


@pytest.mark.parametrize("path", sorted((EXAMPLES / "valid").glob("*.json")), ids=lambda p: p.name)
def test_valid_examples_pass_validate_payload(path: Path) -> None:
    validate_payload("event", json.loads(path.read_text(encoding="utf-8")))


def test_exactly_520_sessions_are_accepted() -> None:
    payload = _event(
        "2026-01-05T10:00+01:00", f"FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;COUNT={MAX_OCCURRENCES}"
    )
    validate_payload("event", payload)
    assert len(occurrences(payload)) == MAX_OCCURRENCES
    assert len(occurrences(payload, limit=5)) == 5


def test_parse_rrule_refuses_what_the_schema_refuses() -> None:
    for path in sorted((EXAMPLES / "invalid").glob("rrule-*.json")):
        rrule = json.loads(path.read_text(encoding="utf-8"))["recurrence"]["rrule"]
        with pytest.raises(SchemaError):
            parse_rrule(rrule)


_WEEKLY = st.builds(
    lambda days, interval, end: Rule("WEEKLY", interval, tuple(sorted(days)), **end),
    st.sets(st.integers(0, 6), min_size=1),
    st.integers(1, 12),
    st.one_of(
        st.builds(lambda n: {"count": n}, st.integers(1, MAX_OCCURRENCES)),
        st.builds(
            lambda d: {"until": d.replace(tzinfo=UTC)},
            st.datetimes(datetime(1900, 1, 1), datetime(2199, 12, 31, 23, 59, 59)).map(
                lambda d: d.replace(microsecond=0)
            ),
        ),
    ),
)
_MONTHLY = st.builds(
    lambda by, interval, count: Rule("MONTHLY", interval, **by, count=count),
    st.one_of(
        st.builds(
            lambda w, d: {"weekdays": (d,), "month_week": w},
            st.sampled_from((1, 2, 3, 4, -1)),
            st.integers(0, 6),
        ),
        st.builds(lambda d: {"month_day": d}, st.sampled_from((*range(1, 32), -1))),
    ),
    st.integers(1, 12),
    st.integers(1, MAX_OCCURRENCES),
)


@given(st.one_of(_WEEKLY, _MONTHLY))
def test_canonical_text_matches_the_schema_and_parses_back(rule: Rule) -> None:
    text = rule.text()
    schema.validate("urn:papi:payload/event", {"title": "x", "start": "2026-01-06T14:00Z",
                                               "recurrence": {"rrule": text}})  # fmt: skip
    assert parse_rrule(text) == rule


# -- the same sessions as an independent RFC 5545 implementation --------------------------

_RULES = st.one_of(
    st.builds(
        lambda days, interval: (
            f"FREQ=WEEKLY;INTERVAL={interval};BYDAY=" + ",".join(WEEKDAYS[d] for d in sorted(days))
        ),
        st.sets(st.integers(0, 6), min_size=1),
        st.sampled_from((1, 1, 1, 2, 3, 4)),
    ),
    st.builds(
        lambda week, day, interval: f"FREQ=MONTHLY;INTERVAL={interval};BYDAY={week}{WEEKDAYS[day]}",
        st.sampled_from((1, 2, 3, 4, -1)),
        st.integers(0, 6),
        st.sampled_from((1, 1, 2, 3, 12)),
    ),
    st.builds(
        lambda day, interval: f"FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={day}",
        st.sampled_from((1, 15, 28, 29, 30, 31, -1)),
        st.sampled_from((1, 1, 2, 12)),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # found by hypothesis: the test expected sessions in year 2200
    rule="FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=29",
    day=date(2040, 2, 29),
    clock=time(0, 0),
    minutes=None,
    end="COUNT=40",
    cancel=[],
)
@given(
    rule=_RULES,
    day=st.dates(date(1990, 1, 1), date(2060, 12, 31)),
    clock=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    minutes=st.one_of(st.none(), st.integers(1, 6 * 60)),
    end=st.one_of(
        st.builds(lambda n: f"COUNT={n}", st.integers(1, 120)),
        st.builds(lambda n: n, st.integers(1, 3000)),  # UNTIL = first start + n days
    ),
    cancel=st.lists(st.integers(0, 200), max_size=5, unique=True),
)
def test_same_sessions_as_dateutil(
    rule: str, day: date, clock: time, minutes: int | None, end: Any, cancel: list[int]
) -> None:
    # The first session: the first day the rule names from ``day`` on (dateutil says).
    seed = datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC).astimezone(PARIS)
    found = list(rrulestr(f"{rule};COUNT=1;WKST=MO", dtstart=seed))
    assume(found and found[0].year <= 2100)  # the 31st of every 12th April never comes
    first = found[0]
    first = first.astimezone(UTC).astimezone(PARIS)
    if isinstance(end, int):
        until = (first + timedelta(days=end)).astimezone(UTC)
        end = "UNTIL=" + until.strftime("%Y%m%dT%H%M%SZ")
    text = f"{rule};{end}"
    expected = list(rrulestr(f"{text};WKST=MO", dtstart=first))
    assert expected[0] == first
    last = expected[-1].astimezone(UTC) + timedelta(minutes=minutes or 0)
    if len(expected) > MAX_OCCURRENCES or last >= END_OF_RANGE:
        # Too many sessions, or sessions beyond 2199 (the 29th of every 12th month from
        # February 2040, 40 times, skips 2100 and ends in 2200).
        with pytest.raises(SchemaError):
            series(_event(first.isoformat(), text))
        return
    exdates = sorted({expected[i] for i in cancel if i < len(expected)})
    if len(exdates) == len(expected):
        exdates = exdates[1:]
    as_set = rruleset()
    as_set.rrule(rrulestr(f"{text};WKST=MO", dtstart=first))
    for moment in exdates:
        as_set.exdate(moment)
    # In UTC: Python adds a timedelta to the wall clock of an aware datetime.
    stop = None if minutes is None else (first.astimezone(UTC) + timedelta(minutes=minutes))
    stop_text = None if stop is None else stop.isoformat()
    cancelled = {"exdates": [m.isoformat() for m in exdates]} if exdates else {}
    payload = _event(first.isoformat(), text, stop_text, **cancelled)
    got = occurrences(payload)
    assert [o.start for o in got] == [m.astimezone(UTC) for m in as_set]
    if minutes is not None:
        assert all(o.end == o.start + timedelta(minutes=minutes) for o in got)
