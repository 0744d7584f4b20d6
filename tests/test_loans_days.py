"""Days of loans and bookings (docs/protocol.md 9.1 and 9.5.1): a loan's booking covers
exactly its days in Europe/Paris, across the changes of summer time; a booking written by
hand covers the days it touches."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from federation.cooperation import Period
from node.cooperation.loans import booking_period, day_start


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 3, 28), date(2026, 3, 29)),  # summer time starts on the 29th
        (date(2026, 10, 25), date(2026, 10, 25)),  # winter time starts on the 25th
        (date(2026, 12, 31), date(2027, 1, 1)),
    ],
)
def test_a_loan_booking_covers_exactly_its_days(first: date, last: date) -> None:
    payload = {"start": day_start(first), "end": day_start(last + timedelta(days=1))}
    assert booking_period(payload) == Period(first, last, 1)


def test_midnight_in_paris_is_written_with_its_offset() -> None:
    assert day_start(date(2026, 1, 15)) == "2026-01-15T00:00:00+01:00"
    assert day_start(date(2026, 7, 15)) == "2026-07-15T00:00:00+02:00"


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2026-05-04T09:00:00+02:00", "2026-05-04T12:00:00+02:00", (4, 4)),
        ("2026-05-04T22:30:00Z", "2026-05-05T08:00:00Z", (5, 5)),  # 00:30 to 10:00 in Paris
        ("2026-05-04T09:00:00+02:00", "2026-05-06T00:00:00+02:00", (4, 5)),
        ("2026-05-04T09:00:00+02:00", "2026-05-06T00:00:01+02:00", (4, 6)),
        ("2026-05-04T09:00:00+02:00", "2026-05-04T09:00:00+02:00", (4, 4)),  # empty: one day
    ],
)
def test_a_booking_by_hand_covers_the_days_it_touches(
    start: str, end: str, days: tuple[int, int]
) -> None:
    period = booking_period({"start": start, "end": end, "quantity": 2})
    assert period == Period(date(2026, 5, days[0]), date(2026, 5, days[1]), 2)


@pytest.mark.parametrize(
    "payload",
    [{}, {"start": "tomorrow", "end": "2026-05-04T09:00:00Z"}, {"start": 3, "end": None}],
)
def test_a_booking_whose_period_cannot_be_read_counts_for_nothing(
    payload: dict[str, object],
) -> None:
    assert booking_period(payload) is None


def test_odd_quantities_count_as_one_unit() -> None:
    base = {"start": "2026-05-04T00:00:00+02:00", "end": "2026-05-05T00:00:00+02:00"}
    for quantity in (0, -3, "2", True, None):
        period = booking_period({**base, "quantity": quantity})
        assert period is not None and period.quantity == 1
