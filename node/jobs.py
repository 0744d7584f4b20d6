"""Background work. apscheduler only wakes the workers; the work itself is rows in the
database (deliveries, peers' next attempts), so a restart loses nothing.

Each entry point of the workers (a task's loop, a scheduled job) is declared
``@on_node_database``: it runs with its node's database as the current one, which the
services and the store reach through Tortoise's context (several nodes may run in one
process: the tests' networks)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from federation.timeutil import utc_now

from .cooperation import rows as coop_rows
from .cooperation.processor import KEEP_DONE, process_due
from .cooperation.purge import purge_due
from .cooperation.workflows import PERIODIC
from .mail import outbox as mail_outbox
from .mail.worker import KEEP_FINISHED, send_due_mails
from .runtime import Node
from .services.blob_fetch import reset_interrupted, run_blob_work
from .services.blobs import drop_strays
from .services.changes import graft_due, visit
from .services.changes import tick as federation_tick
from .services.deliveries import DeliveryWorker, purge_finished
from .services.ingest import drop_stale_pending
from .services.repair import repair_missing
from .services.sync import round_peers
from .services.tree import FrameWorker, purge_finished_frames
from .store import peers as peer_rows
from .store.peers import PeerLike

log = logging.getLogger(__name__)

#: Attachments: due fetches and unreferenced blobs are looked at this often at least.
BLOB_INTERVAL_SECONDS = 15
#: Notification mails: due retries (and mails queued by a CLI command) at least this often.
MAIL_INTERVAL_SECONDS = 60
#: Cooperation tasks: due retries at least this often (new tasks wake the worker at once).
COOP_INTERVAL_SECONDS = 30


P = ParamSpec("P")
R = TypeVar("R")


def on_node_database(
    method: Callable[Concatenate[Workers, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Workers, P], Coroutine[Any, Any, R]]:
    """The worker entry point runs with ``self.node``'s database as the current one."""

    @functools.wraps(method)
    async def bound(self: Workers, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.node.db.activated():
            return await method(self, *args, **kwargs)

    return bound


class Workers:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.scheduler = AsyncIOScheduler()
        self._tasks: list[asyncio.Task[None]] = []
        #: Rounds in progress, by peer id: each tick starts rounds with the due peers that
        #: have none, so a slow peer holds its own round only, never the next ticks.
        self._rounds: dict[int, asyncio.Task[None]] = {}
        self.deliveries = DeliveryWorker(node)
        self.frames = FrameWorker(node)
        #: Grafts that are due (protocol 1.1), in a task of their own.
        self._grafts: asyncio.Task[None] | None = None

    async def start(self) -> None:
        interval = self.node.settings.sync_interval_seconds
        self.scheduler.add_job(
            self.sync_round, "interval", seconds=interval, jitter=max(1, interval // 5),
            id="sync", max_instances=1, coalesce=True,
        )  # fmt: skip
        self.scheduler.add_job(
            self.node.wake_push, "interval", seconds=10, id="deliveries", coalesce=True
        )
        self.scheduler.add_job(self.housekeeping, "interval", hours=1, id="housekeeping")
        self.scheduler.add_job(
            self.node.wake_blobs, "interval", seconds=BLOB_INTERVAL_SECONDS, id="blobs"
        )
        self.scheduler.add_job(self.repair, "interval", minutes=10, id="repair", coalesce=True)
        self.scheduler.add_job(
            self.node.wake_coop, "interval", seconds=COOP_INTERVAL_SECONDS, id="coop"
        )
        self.scheduler.add_job(
            self.coop_checks, "interval", hours=1, id="coop_checks", coalesce=True
        )
        if self.node.settings.mail_enabled:
            self.scheduler.add_job(
                self.node.wake_mail, "interval", seconds=MAIL_INTERVAL_SECONDS, id="mail"
            )
            self._tasks.append(asyncio.create_task(self._mail_worker()))
        self.scheduler.start()
        self._tasks.append(asyncio.create_task(self._delivery_worker()))
        self._tasks.append(asyncio.create_task(self._sync_soon_worker()))
        self._tasks.append(asyncio.create_task(self._blob_worker()))
        self._tasks.append(asyncio.create_task(self._coop_worker()))
        self._tasks.append(asyncio.create_task(self._first_coop_checks()))
        # First round soon after start, spread so that a restarted network does not stampede.
        self._tasks.append(asyncio.create_task(self._first_sync(random.uniform(0.2, 2.0))))

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        grafts = [self._grafts] if self._grafts is not None else []
        for task in [*self._tasks, *self._rounds.values(), *grafts]:
            task.cancel()
        for task in [*self._tasks, *self._rounds.values(), *grafts]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.deliveries.stop()
        await self.frames.stop()

    async def _first_sync(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.sync_round()

    @on_node_database
    async def sync_round(self) -> None:
        """The periodic tick: probe peers in backoff, then start a round with each due peer
        that has none running. Returns without waiting for the rounds."""
        try:
            # Protocol 1.1: features, broadcast neighbours (pulled every interval), grafts.
            neighbours = await federation_tick(self.node)
        except Exception:
            log.exception("protocol 1.1 upkeep failed")
            neighbours = []
        try:
            peers: list[PeerLike] = [*await round_peers(self.node)]
        except Exception:
            log.exception("choosing the peers of a sync round failed")
            return
        chosen = {peer.id for peer in peers}
        peers += [p for p in neighbours if p.id not in chosen and p.id not in self.node.syncing]
        self._start_rounds(peers, self._full_rounds(peers))
        if self._grafts is None or self._grafts.done():
            self._grafts = asyncio.create_task(self._graft_due())

    @on_node_database
    async def _graft_due(self) -> None:
        try:
            await graft_due(self.node)
        except Exception:
            log.exception("grafts failed")

    def _full_rounds(self, peers: list[PeerLike]) -> set[int]:
        """Peers that get a full round (5.2) rather than a changes pull this time: all of
        them after the node starts, then one random peer every ``full_round_hours``."""
        now = time.monotonic()
        last = self.node.last_full_round
        if last is None:
            full = {peer.id for peer in peers}
        elif now - last >= self.node.settings.full_round_hours * 3600 and peers:
            full = {random.choice(peers).id}
        else:
            return set()
        if full:
            self.node.last_full_round = now
        return full

    def _start_rounds(self, peers: Sequence[PeerLike], full: set[int] | None = None) -> None:
        for peer in peers:
            if peer.id not in self._rounds:
                self._rounds[peer.id] = asyncio.create_task(
                    self._round(peer, peer.id in (full or set()))
                )

    @on_node_database
    async def _round(self, peer: PeerLike, full: bool = False) -> None:
        try:
            deadline = self.node.settings.sync_round_deadline_seconds
            await visit(self.node, peer, full=full, deadline=deadline)
        except Exception:
            log.exception("sync round with %s failed", peer.url)
        finally:
            self._rounds.pop(peer.id, None)

    @on_node_database
    async def _sync_soon_worker(self) -> None:
        """Rounds with peers that came back (they contacted us): at once, not after their
        backoff, and without waiting for the periodic rounds in progress."""
        wakeup = self.node.sync_wakeup
        while True:
            await wakeup.wait()
            wakeup.clear()
            ids, self.node.sync_soon = self.node.sync_soon, set()
            if not ids:
                continue
            try:
                returning = await peer_rows.with_ids(self.node.db.connection(), ids=ids)
            except Exception:
                log.exception("loading returning peers failed")
                continue
            self._start_rounds(returning)

    @on_node_database
    async def _delivery_worker(self) -> None:
        wakeup = self.node.push_wakeup
        while True:
            await wakeup.wait()
            wakeup.clear()
            try:
                await self.deliveries.dispatch()
                await self.frames.dispatch()
            except Exception:
                log.exception("delivery run failed")

    @on_node_database
    async def _blob_worker(self) -> None:
        await reset_interrupted(self.node.db)
        self.node.wake_blobs()
        wakeup = self.node.blob_wakeup
        while True:
            await wakeup.wait()
            wakeup.clear()
            try:
                await run_blob_work(self.node)
            except Exception:
                log.exception("attachment fetch run failed")

    @on_node_database
    async def _mail_worker(self) -> None:
        self.node.wake_mail()
        wakeup = self.node.mail_wakeup
        while True:
            await wakeup.wait()
            wakeup.clear()
            try:
                # This task is the node's only sender: a row still 'sending' now was left
                # by a stop or a failure in the middle of an earlier run.
                await mail_outbox.reset_interrupted(self.node.db)
                await send_due_mails(self.node)
            except Exception:
                log.exception("sending notification mails failed")

    @on_node_database
    async def _coop_worker(self) -> None:
        """Steps of cooperation addressed to this node: processed in the order stored."""
        self.node.wake_coop()
        wakeup = self.node.coop_wakeup
        while True:
            await wakeup.wait()
            wakeup.clear()
            try:
                await process_due(self.node)
            except Exception:
                log.exception("processing cooperation tasks failed")

    async def _first_coop_checks(self) -> None:
        await asyncio.sleep(random.uniform(5.0, 30.0))
        await self.coop_checks()

    @on_node_database
    async def coop_checks(self) -> None:
        """Hourly: reminders (overdue loans...), purge of requests past their retention,
        and done tasks forgotten after a while. Each part runs even if another fails."""
        now = utc_now()
        for check in PERIODIC:
            try:
                await check(self.node, now)
            except Exception:
                log.exception("cooperation check %s failed", check.__name__)
        try:
            await purge_due(self.node, now=now)
        except Exception:
            log.exception("purge of cooperation requests failed")
        try:
            await coop_rows.purge_done(self.node.db.connection(), now - KEEP_DONE)
        except Exception:
            log.exception("purge of done cooperation tasks failed")

    @on_node_database
    async def repair(self) -> None:
        """Ask peers for the payloads of entries that reached us stripped."""
        try:
            await repair_missing(self.node)
        except Exception:
            log.exception("repair of missing payloads failed")

    @on_node_database
    async def housekeeping(self) -> None:
        await drop_stale_pending(self.node.db)
        await self.node.membership.purge_former_members()
        await purge_finished(conn=self.node.db.connection())
        await purge_finished_frames(self.node.db.connection())
        await drop_strays(self.node.db.connection(), self.node.blobs)
        await mail_outbox.purge_finished(self.node.db, KEEP_FINISHED)
        # Tombstones received from peers: do not keep purged bytes in the WAL.
        await self.node.db.checkpoint()
