"""The node's metrics, in Prometheus's text format (``GET /metrics``, docs/api.md).

Each ``Node`` has its own ``Metrics`` and registry (no global state: several nodes live in
one process in the tests). Two kinds of series:

- counters of what this process did since it started (entries ingested and rejected,
  sync rounds, their bytes and duration, failures per peer), incremented where it
  happens: ``Ingestor`` reports each batch, ``sync_with`` each round;
- the node's state, read from the database at each scrape (``read_state``), then written
  into gauges and rendered without yielding to the event loop, so that two scrapes
  never mix their values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from .services.blobs import FetchState
from .services.deliveries import DeliveryState
from .services.peers import PeerState
from .version import version

if TYPE_CHECKING:
    from .runtime import Node
    from .services.ingest import IngestReport
    from .services.sync import RoundResult

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Upper bounds of the sync round duration histogram (seconds); the round deadline is
#: ``sync_round_deadline_seconds`` (300 by default).
ROUND_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: States a peer, a delivery and a blob fetch can be in (series exist at 0 for each).
PEER_STATES: tuple[str, ...] = tuple(PeerState)
DELIVERY_STATES: tuple[str, ...] = tuple(DeliveryState)
FETCH_STATES: tuple[str, ...] = tuple(FetchState)


@dataclass
class State:
    """The node's state at one moment, as read from the database."""

    peers: list[dict[str, Any]] = field(default_factory=list)
    deliveries: dict[str, int] = field(default_factory=dict)
    pending_entries: int = 0
    pending_bytes: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    fetches: dict[str, int] = field(default_factory=dict)
    frozen_origins: int = 0
    origins: int = 0
    own_head: int = 0
    disk_free: int | None = None
    clock_skew: float | None = None
    schema_version: int = 0


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.info = Info("papi_node", "This node's software version.", registry=registry)
        self.info.info({"version": version()})
        # -- what this process did
        self.ingested = Counter(
            "papi_entries_ingested",
            "Entries received from peers or clients, verified and stored.",
            registry=registry,
        )
        self.rejected = Counter(
            "papi_entries_rejected",
            "Entries refused, by rejection code (docs/protocol.md).",
            ["reason"],
            registry=registry,
        )
        self.sync_rounds = Counter(
            "papi_sync_rounds",
            "Sync rounds with a peer, by outcome (ok, partial: stopped at its deadline "
            "after progress, failed).",
            ["outcome"],
            registry=registry,
        )
        self.sync_bytes = Counter(
            "papi_sync_bytes",
            "Bytes of sync rounds' requests (sent) and answers (received).",
            ["direction"],
            registry=registry,
        )
        self.sync_duration = Histogram(
            "papi_sync_round_duration_seconds",
            "Duration of sync rounds with a peer.",
            buckets=ROUND_BUCKETS,
            registry=registry,
        )
        self.sync_failures = Counter(
            "papi_sync_failures",
            "Failed sync rounds, by peer and kind (unreachable, busy, refused, protocol, "
            "disk_full, internal).",
            ["peer", "kind"],
            registry=registry,
        )
        # -- the node's state, read at each scrape
        self.peers = Gauge("papi_peers", "Peers by state.", ["state"], registry=registry)
        self.peer_failures = Gauge(
            "papi_peer_consecutive_failures",
            "Failed attempts in a row with each peer (0: the last one succeeded).",
            ["peer"],
            registry=registry,
        )
        self.peer_last_success = Gauge(
            "papi_peer_last_success_timestamp_seconds",
            "Last successful exchange with each peer (Unix time; absent: never).",
            ["peer"],
            registry=registry,
        )
        self.deliveries = Gauge(
            "papi_delivery_queue",
            "Pushes of new entries to peers, by state (pending: still to deliver).",
            ["state"],
            registry=registry,
        )
        self.pending_entries = Gauge(
            "papi_pending_entries",
            "Entries kept aside until a gap in their origin's log is filled.",
            registry=registry,
        )
        self.pending_bytes = Gauge(
            "papi_pending_entries_bytes", "Bytes of the entries kept aside.", registry=registry
        )
        self.blobs = Gauge("papi_blobs", "Attachments held.", registry=registry)
        self.blob_bytes = Gauge(
            "papi_blobs_bytes", "Bytes of the attachments held.", registry=registry
        )
        self.blob_quota = Gauge(
            "papi_blobs_quota_bytes",
            "Bytes attachments may take in all (blob_quota_bytes).",
            registry=registry,
        )
        self.blob_fetches = Gauge(
            "papi_blob_fetches",
            "Attachments referenced and fetched from peers, by state.",
            ["state"],
            registry=registry,
        )
        self.origins = Gauge(
            "papi_origins", "Origins whose log this node holds.", registry=registry
        )
        self.frozen_origins = Gauge(
            "papi_origins_frozen",
            "Origins frozen after a proven fork (two versions of one entry).",
            registry=registry,
        )
        self.own_head = Gauge(
            "papi_log_head_seq", "Entries in this node's own log.", registry=registry
        )
        self.disk_free = Gauge(
            "papi_disk_free_bytes",
            "Free bytes on the data directory's file system.",
            registry=registry,
        )
        self.clock_skew = Gauge(
            "papi_clock_skew_seconds",
            "Median of this node's clock minus its peers' (NaN: not known yet).",
            registry=registry,
        )
        self.schema_version = Gauge(
            "papi_schema_version", "Version of the database's schema.", registry=registry
        )

    # -- counters ------------------------------------------------------------------------

    def count_ingest(self, report: IngestReport) -> None:
        if report.accepted:
            self.ingested.inc(len(report.accepted))
        for rejection in report.rejected:
            self.rejected.labels(rejection.code).inc()

    def count_round(self, result: RoundResult, seconds: float) -> None:
        if result.skipped:
            return
        outcome = "failed" if result.error else "partial" if result.partial else "ok"
        self.sync_rounds.labels(outcome).inc()
        self.sync_duration.observe(seconds)
        self.sync_bytes.labels("sent").inc(result.bytes_sent)
        self.sync_bytes.labels("received").inc(result.bytes_received)
        if result.error:
            self.sync_failures.labels(result.peer, result.error_kind or "internal").inc()

    # -- state -----------------------------------------------------------------------------

    def render(self, state: State, settings_quota: int) -> bytes:
        """Write ``state`` into the gauges and render every series (no await in here)."""
        self.peers.clear()
        for name in PEER_STATES:
            self.peers.labels(name).set(0)
        self.peer_failures.clear()
        self.peer_last_success.clear()
        for peer in state.peers:
            self.peers.labels(peer["state"]).inc()
            self.peer_failures.labels(peer["url"]).set(peer["consecutive_failures"])
            if peer["last_success"] is not None:
                self.peer_last_success.labels(peer["url"]).set(peer["last_success"].timestamp())
        for name in DELIVERY_STATES:
            self.deliveries.labels(name).set(state.deliveries.get(name, 0))
        for name in FETCH_STATES:
            self.blob_fetches.labels(name).set(state.fetches.get(name, 0))
        self.pending_entries.set(state.pending_entries)
        self.pending_bytes.set(state.pending_bytes)
        self.blobs.set(state.blobs)
        self.blob_bytes.set(state.blob_bytes)
        self.blob_quota.set(settings_quota)
        self.origins.set(state.origins)
        self.frozen_origins.set(state.frozen_origins)
        self.own_head.set(state.own_head)
        self.disk_free.set(math.nan if state.disk_free is None else state.disk_free)
        self.clock_skew.set(math.nan if state.clock_skew is None else state.clock_skew)
        self.schema_version.set(state.schema_version)
        return generate_latest(self.registry)


async def read_state(node: Node) -> State:
    """The node's state, from its database (``node.db``)."""
    from .migrations import read_version
    from .services.health import free_disk_bytes
    from .store import origins as origin_rows
    from .store import peers as peer_rows
    from .store import pending, stats

    async with node.db.transaction() as conn:
        waiting = await pending.totals(conn)
        blobs = await stats.blobs_held(conn)
        counted = await stats.origins(conn)
        state = State(
            deliveries=await stats.by_state(conn, table="deliveries"),
            fetches=await stats.by_state(conn, table="blob_fetches"),
            pending_entries=waiting.entries,
            pending_bytes=waiting.bytes,
            blobs=blobs.rows,
            blob_bytes=blobs.bytes,
            origins=counted.origins,
            frozen_origins=counted.frozen,
            own_head=(await origin_rows.head(conn, origin_id=node.origin)).seq,
            schema_version=await read_version(conn),
        )
    state.peers = [
        {
            "url": peer.url,
            "state": peer.state,
            "consecutive_failures": peer.consecutive_failures,
            "last_success": peer.last_success,
        }
        for peer in await peer_rows.by_url(node.db.connection())
    ]
    state.disk_free = free_disk_bytes(node.settings.data_dir)
    skew = node.clock_skew()
    state.clock_skew = None if skew is None else skew.seconds
    return state
