"""The cooperation rules of federation/cooperation.py: refs, lifecycles, derived state,
availability."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.cooperation import (
    LOAN,
    LoanState,
    Period,
    Ref,
    conflicts,
    decision_matches,
    decision_oid,
    loan_state,
    registration_state,
)
from federation.keys import NodeKey
from federation.statemachine import TransitionRefused

LENDER = NodeKey.generate().origin
BORROWER = NodeKey.generate().origin
ITEM = f"{LENDER}/projo1"


def test_refs() -> None:
    ref = Ref.parse(f"{BORROWER}/abc_D-1")
    assert (ref.origin, ref.oid, str(ref)) == (BORROWER, "abc_D-1", f"{BORROWER}/abc_D-1")
    for bad in ("", "abc", f"{BORROWER}/", f"{BORROWER}/a/b", "ed25519:x/abc", f"{BORROWER}/é"):
        with pytest.raises(ValueError):
            Ref.parse(bad)
    oid = decision_oid(ref)
    assert oid.startswith("d") and len(oid) == 44 and oid == decision_oid(str(ref))
    assert oid != decision_oid(Ref(LENDER, "abc_D-1"))


def test_loan_moves() -> None:
    assert LOAN.next(LoanState.requested, "approve") is LoanState.approved
    assert LOAN.next(LoanState.overdue, "return") is LoanState.returned
    for state, action in [
        (LoanState.checked_out, "cancel"),
        (LoanState.declined, "approve"),
        (LoanState.returned, "return"),
        (LoanState.requested, "checkout"),
    ]:
        with pytest.raises(TransitionRefused):
            LOAN.next(state, action)


def _request(state: str = "requested") -> dict[str, object]:
    return {"equipment": ITEM, "quantity": 1, "start": "2026-12-01", "end": "2026-12-03",
            "state": state}  # fmt: skip


def _decision(state: str, ref: Ref) -> dict[str, object]:
    return {"loan": str(ref), "equipment": ITEM, "quantity": 1, "start": "2026-12-01",
            "end": "2026-12-03", "state": state}  # fmt: skip


def test_derived_loan_state() -> None:
    ref = Ref(BORROWER, "r1")
    day = date(2026, 12, 2)
    assert loan_state(_request(), None, day) is LoanState.requested
    assert loan_state(_request("cancelled"), None, day) is LoanState.cancelled
    assert loan_state(_request(), _decision("approved", ref), day) is LoanState.approved
    assert loan_state(_request("cancelled"), _decision("approved", ref), day) is LoanState.cancelled
    # Cancelling after checkout changes nothing: the item is out.
    out = _decision("checked_out", ref)
    assert loan_state(_request("cancelled"), out, day) is LoanState.checked_out
    assert loan_state(_request(), out, date(2026, 12, 3)) is LoanState.checked_out
    assert loan_state(_request(), out, date(2026, 12, 4)) is LoanState.overdue


def test_only_the_owner_decides() -> None:
    ref = Ref(BORROWER, "r1")
    decision = _decision("approved", ref)
    assert decision_matches(ref, _request(), LENDER, decision)
    assert not decision_matches(ref, _request(), BORROWER, decision)  # borrower approving
    assert not decision_matches(Ref(BORROWER, "r2"), _request(), LENDER, decision)
    other_item = {**decision, "equipment": f"{LENDER}/other"}
    assert not decision_matches(ref, _request(), LENDER, other_item)
    registration = {"event": f"{LENDER}/ev", "seats": 2, "state": "requested"}
    confirmed = {"registration": str(ref), "event": f"{LENDER}/ev", "seats": 2,
                 "state": "confirmed"}  # fmt: skip
    assert decision_matches(ref, registration, LENDER, confirmed)
    assert registration_state(registration, confirmed).value == "confirmed"
    assert registration_state({**registration, "state": "cancelled"}, confirmed).value == (
        "cancelled"
    )


def d(day: int) -> date:
    return date(2026, 12, day)


def test_conflicts() -> None:
    busy = [Period(d(1), d(3), 1), Period(d(5), d(6), 2)]
    assert conflicts(2, busy, Period(d(2), d(4), 1)) is None
    assert conflicts(2, busy, Period(d(2), d(5), 1)) == [busy[0], busy[1]]
    assert conflicts(3, busy, Period(d(6), d(9), 1)) is None
    assert conflicts(1, [], Period(d(1), d(1), 2)) == []


@given(
    total=st.integers(1, 4),
    bookings=st.lists(
        st.tuples(st.integers(1, 20), st.integers(0, 5), st.integers(1, 3)), max_size=8
    ),
    start=st.integers(1, 20),
    length=st.integers(0, 5),
    quantity=st.integers(1, 4),
)
def test_conflicts_agree_with_counting_every_day(
    total: int, bookings: list[tuple[int, int, int]], start: int, length: int, quantity: int
) -> None:
    periods = [Period(d(s), d(min(s + n, 28)), q) for s, n, q in bookings]
    wanted = Period(d(start), d(min(start + length, 28)), quantity)
    day_by_day = all(
        sum(p.quantity for p in periods if p.start <= d(day) <= p.end) + quantity <= total
        for day in range(wanted.start.day, wanted.end.day + 1)
    )
    assert (conflicts(total, periods, wanted) is None) == day_by_day
