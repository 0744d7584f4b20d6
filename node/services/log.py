"""Our own log: every local create, update or delete becomes exactly one signed entry,
stored with its object and its outbound deliveries in one transaction."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.chain import Head
from federation.entry import Entry, build_entry
from federation.errors import FederationError
from federation.keys import NodeKey

from ..i18n import N_, Translatable
from ..runtime import Node
from ..settings import RESTORED_MARKER
from ..store import keychain, origins
from .blobs import BLOB_MEMBERS, check_attachments
from .deliveries import enqueue_push
from .store import store_entries


def new_oid() -> str:
    return secrets.token_urlsafe(12)


async def head_of(conn: BaseDBAsyncClient, origin: str) -> Head:
    return await origins.head(conn, origin_id=origin)


class LogRecovering(Translatable):
    """Our key predates this database and our log is empty, or the database was restored
    from a backup and has not caught up with our peers yet: writing would fork our log.
    (``str()`` is English; ``text(gettext)`` the reader's language.)"""


def catching_up(node: Node) -> bool:
    """True after ``papi restore`` until our log has caught up with our peers' copies of
    it (``services.bootstrap.settle_catch_up``)."""
    return (node.settings.data_dir / RESTORED_MARKER).exists()


class KeyNotInForce(Translatable, FederationError):
    """The key this node signs with is no longer the place's (rotated or recovered
    elsewhere): what it signs would be refused everywhere."""


class ClockSkew(FederationError):
    """Our clock is too far from our peers': our entries would be refused, or misdated.
    (A ``FederationError`` so that forms that show those show this one too.)"""


def check_can_write(node: Node) -> None:
    """Raise when this node must not sign new entries now: ``ClockSkew`` while our clock
    is off by more than ``max_future_seconds`` (``Node.clock_problem``), ``LogRecovering``
    after a restore until our log has caught up."""
    problem = node.clock_problem()
    if problem is not None:
        raise ClockSkew(problem)
    if catching_up(node):
        raise LogRecovering(
            N_(
                "this node was restored from a backup and is catching up its own log from "
                "its peers: writes resume after a sync round with a peer ('papi sync'); "
                "see 'papi doctor'"
            )
        )


async def publish_in(
    conn: BaseDBAsyncClient,
    node: Node,
    kind: str,
    oid: str,
    op: str,
    payload: dict[str, Any] | None,
    *,
    new_log: bool = False,
    signing_key: NodeKey | None = None,
) -> Entry:
    """Sign and store one entry of our log in the caller's transaction ``conn``, with
    its outbound deliveries. The caller holds ``node.write_lock``, has taken the
    database's write lock (``node.db.write_transaction``) and calls ``after_publish`` once its
    transaction is committed. Checks as ``publish``."""
    check_can_write(node)
    head = await head_of(conn, node.origin)
    if head.seq == 0 and not new_log:
        raise LogRecovering(
            N_(
                "this node is recovering its own log from its peers: add a peer and sync "
                "first ('papi peer add URL', 'papi sync'), or run 'papi init --new-log'"
            )
        )
    key = signing_key or node.key
    keys = await keychain.state_at(conn, origin=node.origin)
    if key.origin != keys.node_key and not (kind == "key" and key.origin == keys.recovery_key):
        raise KeyNotInForce(
            N_(
                "this node signs with %(key)s, but the place's key in force is %(in_force)s: "
                "its entries would be refused (see 'papi recover')"
            ),
            key=key.origin,
            in_force=keys.node_key,
        )
    entry = build_entry(
        key,
        origin=node.origin,
        seq=head.seq + 1,
        prev=head.hash,
        kind=kind,
        oid=oid,
        op=op,
        payload=payload,
        max_payload_bytes=node.settings.max_payload_bytes,
    )
    await store_entries(conn, [entry], own_origin=node.origin)
    await keychain.record(conn, entries=[entry], before=keys)
    if kind == "vouch":  # our vouch may admit or exclude origins (docs/protocol.md 16)
        await node.membership.settle(conn)
    await enqueue_push(conn, node, [entry], ttl=node.settings.gossip_ttl)
    from .features import broadcasting
    from .tree import enqueue_frames

    # Protocol 1.1 (12.3): along the broadcast tree too, rows in this transaction. The
    # tree's state is loaded when the node starts (a CLI command has no frame worker:
    # its entries reach 1.1 peers by their pulls).
    if broadcasting(node) and node.tree.loaded:
        actions = node.tree.state.on_local([(entry.origin, entry.seq)], ours=True)
        await enqueue_frames(conn, node.tree, actions)
    return entry


async def after_publish(node: Node, entries: Sequence[Entry]) -> None:
    """What follows the commit of entries of our log: push them, wake the workers they
    concern, and make a tombstone's erasure real."""
    if not entries:
        return
    if node.tree.loaded:
        from .tree import save

        await save(node.tree)  # modes and missing records the new entries changed
    node.storage.clear()  # a write went through: the disk has room again
    if any(entry.op == "delete" for entry in entries):
        await node.db.checkpoint()
    node.wake_push()
    node.entries_stored(entries)


async def publish(
    node: Node,
    kind: str,
    oid: str,
    op: str,
    payload: dict[str, Any] | None,
    *,
    new_log: bool = False,
    signing_key: NodeKey | None = None,
) -> Entry:
    """Sign and store one entry of our log; ``SchemaError`` if the payload is invalid.

    Seq 1 is only written with ``new_log`` (see services/bootstrap.py). ``ClockSkew``
    while our clock is off by more than ``max_future_seconds`` (``Node.clock_problem``).
    ``signing_key``: another key than the node's (the recovery key signing a recovery);
    ``KeyNotInForce`` when the key is not one our key chain allows."""
    check_can_write(node)
    if kind in BLOB_MEMBERS and op == "put" and payload is not None:
        await check_attachments(payload, kind, conn=node.db.connection())
    from .features import broadcasting
    from .tree import tree_of

    if broadcasting(node):
        await tree_of(node)  # loaded before the transaction that uses it
    async with node.write_lock, node.db.write_transaction() as conn:
        entry = await publish_in(
            conn, node, kind, oid, op, payload, new_log=new_log, signing_key=signing_key
        )
    await after_publish(node, [entry])
    return entry
