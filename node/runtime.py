"""The running node: settings, identity, database and the wake-up events of its workers.
Created by ``create_app`` and by the CLI; nothing here runs at import time."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from federation.client import PeerClient
from federation.clockskew import SkewEstimate, SkewEstimator, clock_is_off
from federation.entry import Entry
from federation.keys import NodeKey
from federation.membership import MEMBERSHIP_CODES
from federation.payloads import COOPERATION_KINDS

from .cooperation.inbox import ADDRESSEES
from .db import Database
from .metrics import Metrics
from .services.blobstore import BlobStore
from .services.health import StorageStatus
from .services.identity import read_origin
from .services.ingest import Ingestor
from .services.membership import Membership
from .services.rejections import RejectionMemory
from .services.tree import Tree
from .settings import Settings
from .version import user_agent

if TYPE_CHECKING:
    import httpx
    from starlette.requests import HTTPConnection


class PeerAddress(Protocol):
    """What ``Node.peer_client`` needs of a peer (a row of ``peers``, of any form)."""

    @property
    def source(self) -> str: ...


class Node:
    def __init__(
        self,
        settings: Settings,
        key: NodeKey,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.key = key
        #: The place's origin id: its first key's, kept in the data directory once the
        #: signing key changed (a rotation or a recovery, node/services/identity.py).
        self._origin = read_origin(settings.data_dir) or key.origin
        self.db = Database(settings.db_url)
        #: Prometheus series of this node (its own registry).
        self.metrics = Metrics()
        #: Serialises our own log: one seq, one prev, whatever the concurrency.
        self.write_lock = asyncio.Lock()
        #: Entries a peer sent that we refused, not to be fetched again every round.
        self.rejections = RejectionMemory()
        #: Who is in the network (docs/protocol.md 16): what ingest accepts and we show.
        self.membership = Membership(
            self.origin,
            settings.founder_ids,
            db=self.db,
            required=settings.vouches_required,
            candidates_max=settings.candidates_max,
            purge_days=settings.member_purge_days,
            rejections=self.rejections,
        )
        self.ingestor = Ingestor(
            self.db,
            max_payload_bytes=settings.max_payload_bytes,
            max_future=timedelta(seconds=settings.max_future_seconds),
            pending_max_entries=settings.pending_max_entries,
            pending_max_bytes=settings.pending_max_bytes,
            new_origins_per_hour=settings.new_origins_per_hour,
            on_stored=self.entries_stored,
            on_report=self.metrics.count_ingest,
            membership=self.membership,
            # The place's origin, not the key's: they differ after a key rotation.
            own_origin=self.origin,
            check_processes=settings.check_processes,
        )
        self.transport = transport
        #: Our wall clock (injectable for tests); compared with peers' Date headers.
        self.clock = clock
        self.skew = SkewEstimator()
        self.storage = StorageStatus()
        self.push_wakeup = asyncio.Event()
        self.sync_wakeup = asyncio.Event()
        #: Peers to sync with as soon as possible (they came back), by peer id.
        self.sync_soon: set[int] = set()
        #: Peers a round is running with now: never two rounds with one peer at once.
        self.syncing: set[int] = set()
        #: Rounds running at once in this node, whoever started them.
        self.sync_slots = asyncio.Semaphore(max(1, settings.sync_concurrency))
        #: Heavy federation requests served at once (sync with a vector, push).
        self.heavy_requests = asyncio.Semaphore(max(1, settings.max_heavy_federation_requests))
        #: Attachments' bytes, and the event that wakes their fetcher.
        self.blobs = BlobStore(settings.data_dir / "blobs")
        self.blob_wakeup = asyncio.Event()
        #: Wakes the sender of notification mails (after a commit that queued one).
        self.mail_wakeup = asyncio.Event()
        #: Wakes the cooperation worker (tasks addressed to this node were stored).
        self.coop_wakeup = asyncio.Event()
        #: TLS trust for the SMTP server (tests); None: the system's trusted CAs.
        self.mail_tls_context: ssl.SSLContext | None = None
        #: Protocol 1.1: the broadcast tree's state (loaded from the database on first use)
        #: and when the last full anti-entropy round ran (None: not since the start).
        self.tree = Tree(self.db)
        self.last_full_round: float | None = None
        #: Peers that refused entries as not from members (``not_member``, ``blocked``),
        #: with when (monotonic): their visits are full rounds, whose push back offers
        #: the entries again, until one is taken or ``full_round_hours`` pass, so that a
        #: place vouched for since gets its log there (docs/protocol.md 13.3).
        self.full_round_wanted: dict[int, float] = {}

    @property
    def origin(self) -> str:
        return self._origin

    def note_refusals(self, peer_id: int, rejected: Iterable[Any]) -> None:
        """Read a push or frame answer's ``rejected``: membership refusals ask for full
        rounds with that peer (``full_round_wanted``)."""
        if any(isinstance(r, dict) and r.get("code") in MEMBERSHIP_CODES for r in rejected):
            self.full_round_wanted[peer_id] = time.monotonic()

    def wants_full_round(self, peer_id: int) -> bool:
        """Whether ``peer_id`` refused entries as not from members lately."""
        since = self.full_round_wanted.get(peer_id)
        if since is None:
            return False
        if time.monotonic() - since < self.settings.full_round_hours * 3600:
            return True
        del self.full_round_wanted[peer_id]
        return False

    def peer_client(
        self,
        peer: PeerAddress | None = None,
        *,
        deadline: float | None = None,
    ) -> PeerClient:
        """A client for ``peer`` (``None``: an address the operator gave). Discovered
        peers must be on public addresses unless ``allow_private_peers``."""
        settings = self.settings
        public_only = (
            peer is not None and peer.source == "discovered" and not settings.allow_private_peers
        )
        return PeerClient(
            timeout=settings.peer_timeout_seconds,
            connect_timeout=settings.peer_connect_timeout_seconds,
            deadline=deadline or settings.peer_request_deadline_seconds,
            transport=self.transport,
            public_only=public_only,
            on_date=self.skew.record,
            clock=self.clock,
            user_agent=user_agent(),
        )

    def clock_skew(self) -> SkewEstimate | None:
        """How far our clock is from our peers' (median over recent answers), if known."""
        return self.skew.estimate(float(self.settings.max_future_seconds))

    def clock_problem(self) -> str | None:
        """Why our clock must not date new entries now, or ``None`` if it may."""
        margin = float(self.settings.max_future_seconds)
        estimate = self.clock_skew()
        if estimate is None or not clock_is_off(
            estimate, margin, self.settings.clock_skew_min_peers
        ):
            return None
        side = "ahead of" if estimate.seconds > 0 else "behind"
        return (
            f"this node's clock is {_duration(abs(estimate.seconds))} {side} its peers' "
            f"({estimate.agreeing} of {estimate.peers} peers agree), more than the "
            f"{_duration(margin)} entries may be dated ahead: fix the system clock (NTP)"
        )

    def wake_push(self) -> None:
        self.push_wakeup.set()

    def wake_sync(self, peer_id: int | None = None) -> None:
        if peer_id is not None:
            self.sync_soon.add(peer_id)
        self.sync_wakeup.set()

    def wake_blobs(self) -> None:
        self.blob_wakeup.set()

    def wake_mail(self) -> None:
        self.mail_wakeup.set()

    def wake_coop(self) -> None:
        self.coop_wakeup.set()

    def entries_stored(self, entries: Sequence[Entry]) -> None:
        """Entries were just committed (ours or a peer's): resources may bring blobs to
        fetch, or leave some unreferenced; cooperation steps may have queued mails."""
        if any(entry.kind == "resource" for entry in entries):
            self.wake_blobs()
        # A workflow queues its mails in the transaction that stores the cooperation step
        # (node/mail/notify.py): send them now rather than at the next minute.
        # Steps addressed to this node became tasks in the same transaction.
        if any(e.kind in ADDRESSEES for e in entries):
            self.wake_coop()
        if self.settings.mail_enabled and any(e.kind in COOPERATION_KINDS for e in entries):
            self.wake_mail()


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def node_of(request: HTTPConnection) -> Node:
    """The node an app serves (``create_app`` puts it in the app's state)."""
    node: Node = request.app.state.node
    return node
