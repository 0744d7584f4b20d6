"""Receiving entries, wherever they come from: a push (``POST /federation/v1/push``), a
page of a sync round (services/sync.py) or a bundle file (services/bundles.py). One path,
one write transaction:

1. the ingestor checks and stores the batch (services/ingest.py: signatures, chains,
   membership, objects and the search index);
2. in the same transaction, the endpoints that accepted place entries advertise become
   candidate peers (``peers.learn_peers``) and, for a push that may travel further
   (``forward``), what was new to this node is queued for a few other peers
   (``deliveries.enqueue_push``: gossip, ``ttl - 1``);
3. after the commit: the disk took writes (its "full" mark goes), the delivery worker
   wakes for what was queued, and (``tree``, protocol 1.1, 12.3) what was new goes to
   our eager neighbours along the broadcast tree (``tree.spread``: frame rows).

A broadcast frame (``tree.receive_frame``) and a graft answer come through here too; the
tree then decides itself where their entries go on.

A full disk is recorded (``node.storage``, shown by ``/readyz`` and ``/admin/status``) and
raised as ``DiskFull``; nothing of the batch is stored then."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry

from .deliveries import enqueue_push
from .health import is_disk_full
from .ingest import IngestReport
from .peers import learn_peers
from .tree import spread

if TYPE_CHECKING:
    from ..runtime import Node


class DiskFull(Exception):
    """The database could not take the batch: the disk is full (recorded on the node)."""


@dataclass(frozen=True, slots=True)
class AlongTree:
    """Protocol 1.1: the entries new to this node go on along the broadcast tree, not
    back to ``source`` (who brought them; None: unknown)."""

    source: str | None


@dataclass(frozen=True, slots=True)
class Forward:
    """Gossip: the entries new to this node, received with ``ttl`` > 0, go on to a few
    peers with ``ttl - 1``, never back to ``sender_url``."""

    ttl: int
    sender_url: str | None = None


async def receive(
    node: Node,
    documents: list[Any],
    *,
    sender: str | None,
    source: str,
    forward: Forward | None = None,
    tree: AlongTree | None = None,
) -> IngestReport:
    """Check and store ``documents`` and do what follows (above); what became of each.

    ``sender`` is charged for the new origins it brings (``Ingestor.ingest``); ``source``
    says where the batch came from in the disk-full record ("push", "sync from URL",
    "bundle import")."""

    async def then(conn: BaseDBAsyncClient, accepted: list[Entry]) -> None:
        await learn_peers(node.settings.url, node.origin, accepted, conn=conn)
        if forward is not None and forward.ttl > 0:
            await enqueue_push(
                conn, node, accepted, ttl=forward.ttl - 1, exclude_url=forward.sender_url
            )

    try:
        report = await node.ingestor.ingest(documents, sender=sender, then=then)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        node.storage.record_full(f"{source}: {len(documents)} entries")
        raise DiskFull(f"the disk is full: {exc}") from exc
    if report.accepted:
        node.storage.clear()
        if forward is not None and forward.ttl > 0:
            node.wake_push()
        if tree is not None:
            # Frames only: the version 1 pushes were queued above (``forward``).
            await spread(node, report.accepted, source=tree.source, ttl=0)
    return report
