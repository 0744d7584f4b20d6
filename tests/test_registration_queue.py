"""The queue of an event's session as every implementation reads it (docs/protocol.md
9.4) and how the reference implementation admits and promotes (9.5): pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from federation.cooperation import (
    REGISTRATION,
    Registered,
    RegistrationState,
    admission,
    positions,
    promotions,
    seats_left,
    session_key,
    waiting_list,
)
from node.cooperation.registrations import is_over, names_a_session, session_bounds

C, W, X = RegistrationState.confirmed, RegistrationState.waitlisted, RegistrationState.cancelled


def queue(*items: tuple[str, RegistrationState, int, int]) -> list[Registered]:
    return [Registered(ref, state, seats, order) for ref, state, seats, order in items]


def test_seats_left_counts_confirmed_registrations_only() -> None:
    found = queue(("a", C, 3, 1), ("b", W, 2, 2), ("c", X, 4, 3))
    assert seats_left(10, found) == 7
    assert seats_left(None, found) is None  # no capacity: unlimited
    assert seats_left(2, found) == 0  # a capacity lowered under the confirmed seats


def test_positions_follow_the_organisers_log_not_the_list_order() -> None:
    found = queue(("late", W, 1, 9), ("early", W, 1, 4), ("in", C, 1, 2), ("gone", X, 1, 5))
    assert positions(found) == {"early": 1, "late": 2}
    assert [r.ref for r in waiting_list(found)] == ["early", "late"]


def test_admission_never_lets_a_later_one_overtake() -> None:
    assert admission(3, [], 3) is C
    assert admission(3, queue(("a", C, 2, 1)), 2) is W
    # 1 seat is left, but someone waits: the newcomer waits too.
    assert admission(3, queue(("a", C, 2, 1), ("b", W, 2, 2)), 1) is W
    assert admission(None, queue(("a", C, 50, 1)), 100) is C


def test_promotions_in_order_while_the_first_fits() -> None:
    found = queue(("a", C, 2, 1), ("b", W, 2, 2), ("c", W, 1, 3), ("d", W, 1, 4))
    promoted, dropped = promotions(4, found)
    assert [r.ref for r in promoted] == ["b"] and dropped == []
    promoted, _ = promotions(3, found)
    assert promoted == []  # b (2) does not fit in 1: c (1) does not overtake it
    promoted, dropped = promotions(None, found)
    assert [r.ref for r in promoted] == ["b", "c", "d"]
    # A capacity lowered under what the first one asks: it can never fit, declined.
    promoted, dropped = promotions(1, queue(("b", W, 2, 2), ("c", W, 1, 3)))
    assert [r.ref for r in dropped] == ["b"] and [r.ref for r in promoted] == ["c"]


def test_a_confirmed_registration_is_declined_when_its_event_is_deleted() -> None:
    assert REGISTRATION.next(C, "decline") is RegistrationState.declined
    assert REGISTRATION.next(W, "promote") is C
    assert REGISTRATION.is_final(X)


def test_a_session_is_one_instant_whatever_its_offset() -> None:
    assert session_key("2026-03-10T14:00:00+01:00") == session_key("2026-03-10T13:00:00Z")
    assert session_key(None) is None
    with pytest.raises(ValueError):
        session_key("2026-03-10")


WORKSHOP = {"title": "Atelier", "start": "2026-03-03T14:00:00+01:00",
            "end": "2026-03-03T16:00:00+01:00"}  # fmt: skip
SERIES = {
    **WORKSHOP,
    "recurrence": {
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=10",
        "exdates": ["2026-03-17T14:00:00+01:00"],
    },
}


def test_which_sessions_a_registration_may_name() -> None:
    assert names_a_session(WORKSHOP, None)
    assert not names_a_session(WORKSHOP, "2026-03-03T14:00:00+01:00")
    assert names_a_session(SERIES, "2026-03-10T13:00:00Z")
    assert not names_a_session(SERIES, None)
    assert not names_a_session(SERIES, "2026-02-24T14:00:00+01:00")  # before the first
    assert not names_a_session(SERIES, "2026-03-17T13:00:00Z")  # a cancelled session
    assert not names_a_session(SERIES, "mardi")


def test_a_sessions_bounds_and_whether_it_is_over() -> None:
    start, end = session_bounds(SERIES, "2026-03-10T14:00:00+01:00") or (None, None)
    assert start == datetime(2026, 3, 10, 13, tzinfo=UTC)
    assert end == datetime(2026, 3, 10, 15, tzinfo=UTC)
    assert session_bounds({"title": "x"}, None) is None
    during = datetime(2026, 3, 10, 14, tzinfo=UTC)
    assert not is_over(SERIES, "2026-03-10T14:00:00+01:00", during)
    assert is_over(SERIES, "2026-03-03T14:00:00+01:00", during)
    assert is_over({"start": "2026-03-10T14:00:00+01:00"}, None, during)  # no end: its start
