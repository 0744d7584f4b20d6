"""The place's identity when its signing key changes (docs/protocol.md 17): the origin
id stays the first key's, kept in the data directory's ``origin`` file; ``node.key``
holds the key in force. A rotation writes the next key aside first (``node.key.next``),
publishes the ``key`` entry that names it, then puts it in place: a stop in between is
finished at the next start (``finish_rotation``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from federation.entry import Entry
from federation.keychain import key_payload
from federation.keys import NodeKey

from ..settings import KEY_FILE

if TYPE_CHECKING:
    from ..runtime import Node

ORIGIN_FILE = "origin"
NEXT_KEY_FILE = "node.key.next"


def read_origin(data_dir: Path) -> str | None:
    """The place's origin id when it is not the key's (after a rotation), else None."""
    try:
        text = (data_dir / ORIGIN_FILE).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text or None


def write_origin(data_dir: Path, origin: str) -> None:
    path = data_dir / ORIGIN_FILE
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(origin + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


async def declare_recovery(node: Node, recovery: NodeKey) -> Entry:
    """Publish the recovery key's public part (a ``key`` entry keeping the node key)."""
    from .log import publish

    return await publish(node, "key", "key", "put", key_payload(node.key.origin, recovery.origin))


def _install(node: Node, key: NodeKey) -> None:
    data_dir = node.settings.data_dir
    write_origin(data_dir, node.origin)
    os.replace(data_dir / NEXT_KEY_FILE, data_dir / KEY_FILE)
    node.key = key


async def rotate(node: Node) -> NodeKey:
    """Replace the node key by a new one: the old key signs the ``key`` entry naming the
    new one, peers follow it, the history stays verifiable."""
    from .log import publish

    data_dir = node.settings.data_dir
    (data_dir / NEXT_KEY_FILE).unlink(missing_ok=True)
    new = NodeKey.generate()
    new.save(data_dir / NEXT_KEY_FILE)
    await publish(node, "key", "key", "put", key_payload(new.origin))
    _install(node, new)
    return new


async def recover(node: Node, recovery: NodeKey) -> Entry:
    """On a fresh node holding the place's log (fetched from peers) and a new key: the
    recovery key signs the ``key`` entry that makes the new key the place's."""
    from .log import publish

    return await publish(
        node, "key", "key", "put", key_payload(node.key.origin), signing_key=recovery
    )


async def finish_rotation(node: Node) -> None:
    """A rotation stopped after publishing its entry: put the new key in place (or drop
    it, when its entry was never written)."""
    from ..store import keychain

    path = node.settings.data_dir / NEXT_KEY_FILE
    if not path.exists():
        return
    new = NodeKey.load(path)
    async with node.db.transaction() as conn:
        state = await keychain.state_at(conn, origin=node.origin)
    if state.node_key == new.origin:
        _install(node, new)
    else:
        path.unlink()
