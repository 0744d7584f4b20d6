"""Which stored entries this node has to act upon: the hook of ``services/store.py``.

Every entry is stored through ``store_entries`` (a local publish, a push, a pull, a
repaired payload). When one is a cooperation step addressed to this node (a loan request
for one of its items, a lender's decision about one of its requests...), a
``coop_tasks`` row is inserted in the same transaction: the step and the duty to answer
it exist together or not at all. The cooperation worker (``processor.py``) processes the
rows later, in insertion order.

``ADDRESSEES`` says, per kind, to which origin an entry is addressed; a new workflow adds
its kinds here and its handlers in ``workflows.py``. A task whose kind has no handler
yet waits (a later version of the node processes it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.cooperation import Ref
from federation.entry import Entry
from federation.timeutil import utc_now

from . import rows

Addressee = Callable[[Entry], str | None]


def ref_origin(field: str) -> Addressee:
    """The origin of the ref in ``field`` of the entry's payload (None if it has none)."""

    def addressee(entry: Entry) -> str | None:
        payload = entry.payload
        if not isinstance(payload, dict):
            return None
        try:
            return Ref.parse(str(payload.get(field))).origin
        except ValueError:
            return None

    return addressee


def own_deletion(entry: Entry) -> str | None:
    """A tombstone of one of an origin's things concerns that origin's own node (the
    requests about the thing are answered: an item withdrawn)."""
    return entry.origin if entry.op == "delete" else None


def own_log(entry: Entry) -> str:
    """An entry addressed to its own author: a change of this node's own thing (an
    event updated or deleted) that its conversations follow."""
    return entry.origin


#: Kind -> the origin an entry of that kind is addressed to.
ADDRESSEES: Mapping[str, Addressee] = {
    # An item deleted by its owner: the requests for it are declined or cancelled.
    "equipment": own_deletion,
    # The borrower's request (and its cancellation) goes to the lender of the item.
    "loan": ref_origin("equipment"),
    # The lender's steps go to the borrower (its notifications).
    "loan_decision": ref_origin("loan"),
    # A registration goes to the organiser of the event, an offer of help to the asker.
    "registration": ref_origin("event"),
    "registration_decision": ref_origin("registration"),
    "help_offer": ref_origin("request"),
    # An organiser's own event changed (capacity raised, deleted): its registrations
    # are looked at again, in turn with the registrations themselves.
    "event": own_log,
    # The asker's closing of a request goes to the place whose offer it accepted.
    "help_request": ref_origin("accepted_offer"),
}


def addressed(entries: Sequence[Entry], own_origin: str) -> list[Entry]:
    """The entries addressed to ``own_origin`` (the addressee reads what it needs: a
    ref in the payload, which a tombstone or a stripped entry has not; the author)."""
    found = []
    for entry in entries:
        addressee = ADDRESSEES.get(entry.kind)
        if addressee is not None and addressee(entry) == own_origin:
            found.append(entry)
    return found


async def note_entries(conn: BaseDBAsyncClient, own_origin: str, entries: Sequence[Entry]) -> None:
    """Insert a task for each entry of ``entries`` addressed to ``own_origin``, in the
    caller's transaction (the one that stores them)."""
    mine = addressed(entries, own_origin)
    if mine:
        await rows.insert_tasks(conn, [(e.origin, e.seq, e.kind, e.oid) for e in mine], utc_now())
