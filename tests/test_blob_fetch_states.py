"""The lifecycle of a blob fetch (node/services/blobs.py ``BLOB_FETCH``): every move
declared and checked against the row's state, every exception an attempt counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from federation.statemachine import TransitionRefused
from federation.timeutil import utc_now
from node.db import current_connection
from node.services import blob_fetch
from node.services.blob_fetch import fetch_one
from node.services.blobs import BLOB_FETCH, FetchState, fetch_move, note_attachments
from node.store import blobs as blob_rows
from node.store.blobs import FetchRow
from tests.conftest import InProcessNode

SHA = "ab" * 32


async def _wanted() -> FetchRow:
    """A fetch row for ``SHA``, as storing a resource that lists it makes one."""
    async with in_transaction() as conn:
        listed = [("resource", {"attachments": [{"sha256": SHA, "size": 10}]})]
        assert await note_attachments(conn, listed) == 1
    row = await blob_rows.fetch(current_connection(), sha256=SHA)
    assert row is not None and row.state == FetchState.pending and row.attempts == 0
    return row


def test_the_table_refuses_undeclared_moves() -> None:
    with pytest.raises(TransitionRefused):
        BLOB_FETCH.next(FetchState.done, "start")
    with pytest.raises(TransitionRefused):
        BLOB_FETCH.next(FetchState.failed, "retry")
    with pytest.raises(TransitionRefused):
        BLOB_FETCH.next(FetchState.over_quota, "start")  # it waits for room first
    # A blob that gets held is done whatever its fetch was doing.
    assert fetch_move("held") == ([str(state) for state in FetchState], FetchState.done)


async def test_a_row_moved_meanwhile_is_not_moved_from_a_stale_state(
    papi: InProcessNode,
) -> None:
    """The worker saw the row pending; the blob was uploaded before the attempt started:
    the row stays done, no attempt is counted."""
    with papi.node.db.activated():
        seen = await _wanted()
        async with in_transaction() as conn:
            await blob_rows.index(
                conn, sha256=SHA, size=10, media_type=None, keep_until=None, now=utc_now(),
                fetch_from=[FetchState.pending], fetch_to=FetchState.done,
            )  # fmt: skip
        assert await fetch_one(papi.node, seen) == 0
        row = await blob_rows.fetch(current_connection(), sha256=SHA)
    assert row is not None and row.state == FetchState.done and row.attempts == 0


@pytest.mark.parametrize("where", ["before the start", "while fetching"])
async def test_an_unexpected_exception_counts_the_attempt(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    async def broken(*args: object) -> object:
        raise RuntimeError("broken")

    name = "usage" if where == "before the start" else "_candidates"
    monkeypatch.setattr(blob_fetch, name, broken)
    with papi.node.db.activated():
        seen = await _wanted()
        assert await fetch_one(papi.node, seen) == 0
        row = await blob_rows.fetch(current_connection(), sha256=SHA)
    assert row is not None and row.state == FetchState.pending
    assert row.attempts == 1 and row.last_error == "RuntimeError: broken"
    # With the backoff of a failed attempt, not due at once.
    assert row.next_attempt > utc_now() + timedelta(seconds=5)
