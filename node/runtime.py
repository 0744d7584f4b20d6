"""The running node: settings, identity, database and the wake-up events of its workers.
Created by ``create_app`` and by the CLI; nothing here runs at import time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import httpx

from federation.client import PeerClient
from federation.entry import Entry
from federation.keys import NodeKey

from .db import Database
from .services.blobstore import BlobStore
from .services.ingest import Ingestor
from .settings import Settings


class Node:
    def __init__(
        self,
        settings: Settings,
        key: NodeKey,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.key = key
        self.db = Database(settings.db_url)
        #: Serialises our own log: one seq, one prev, whatever the concurrency.
        self.write_lock = asyncio.Lock()
        self.ingestor = Ingestor(
            max_payload_bytes=settings.max_payload_bytes,
            max_future=timedelta(seconds=settings.max_future_seconds),
            pending_max_entries=settings.pending_max_entries,
            pending_max_bytes=settings.pending_max_bytes,
            new_origins_per_hour=settings.new_origins_per_hour,
            on_stored=self.entries_stored,
        )
        self.transport = transport
        self.push_wakeup = asyncio.Event()
        #: Attachments' bytes, and the event that wakes their fetcher.
        self.blobs = BlobStore(settings.data_dir / "blobs")
        self.blob_wakeup = asyncio.Event()

    @property
    def origin(self) -> str:
        return self.key.origin

    def peer_client(self) -> PeerClient:
        return PeerClient(timeout=self.settings.peer_timeout_seconds, transport=self.transport)

    def wake_push(self) -> None:
        self.push_wakeup.set()

    def wake_blobs(self) -> None:
        self.blob_wakeup.set()

    def entries_stored(self, entries: Sequence[Entry]) -> None:
        """Entries were just committed (ours or a peer's): resources may bring blobs to
        fetch, or leave some unreferenced."""
        if any(entry.kind == "resource" for entry in entries):
            self.wake_blobs()
