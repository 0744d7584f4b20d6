"""The broadcast tree's state as rows (docs/protocol.md 12): which peers are neighbours,
the mode of each link and its failures (columns of ``peer_links``, whose features and
changes cursor ``store.peers`` keeps), and the origins announced further than we hold
(``missing_heads``). The decisions are ``federation.broadcast``'s and ``services.tree``'s;
the frames it sends are ``store.frames``.

Every function takes the connection (``conn``): the caller's transaction, or the node's
connection for a statement of its own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient


@dataclass(frozen=True)
class NeighbourRow:
    """A broadcast neighbour: its peer, the mode of our link with it (``eager`` or
    ``lazy``) and the link's consecutive failures."""

    peer_id: int
    url: str
    mode: str
    link_failures: int


@dataclass(frozen=True)
class MissingRow:
    """An origin announced up to ``wanted`` while we hold less: who announced it, when
    (Unix time) to graft next and how many grafts were sent."""

    origin: str
    wanted: int
    announcers: tuple[str, ...]
    due: float
    tries: int


# -- neighbours (``peer_links``) -----------------------------------------------------------


async def neighbours(conn: BaseDBAsyncClient) -> list[NeighbourRow]:
    """Every neighbour, with its peer's URL, by peer id."""
    rows = await conn.execute_query_dict(
        "SELECT l.peer_id, p.url, l.mode, l.link_failures FROM peer_links l"
        " JOIN peers p ON p.id = l.peer_id WHERE l.neighbour ORDER BY l.peer_id"
    )
    return [
        NeighbourRow(int(r["peer_id"]), r["url"], r["mode"], int(r["link_failures"])) for r in rows
    ]


async def make_neighbour(conn: BaseDBAsyncClient, *, peer_id: int, mode: str) -> None:
    """``peer_id`` becomes a neighbour in ``mode``, its failures forgotten (its link row is
    created when it has none: no features known yet)."""
    await conn.execute_query(
        "INSERT INTO peer_links (peer_id, features, neighbour, mode, link_failures)"
        " VALUES (?, '', 1, ?, 0) ON CONFLICT (peer_id) DO UPDATE SET"
        " neighbour = 1, mode = excluded.mode, link_failures = 0",
        [peer_id, mode],
    )


async def drop_neighbour(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    await conn.execute_query("UPDATE peer_links SET neighbour = 0 WHERE peer_id = ?", [peer_id])


async def set_mode(conn: BaseDBAsyncClient, *, peer_id: int, mode: str) -> None:
    await conn.execute_query("UPDATE peer_links SET mode = ? WHERE peer_id = ?", [mode, peer_id])


async def count_failure(conn: BaseDBAsyncClient, *, peer_id: int, mode: str) -> None:
    """One more failure of the link with ``peer_id`` (its row is created when it has none,
    in ``mode``, not a neighbour)."""
    await conn.execute_query(
        "INSERT INTO peer_links (peer_id, features, neighbour, mode, link_failures)"
        " VALUES (?, '', 0, ?, 1) ON CONFLICT (peer_id) DO UPDATE SET"
        " link_failures = link_failures + 1",
        [peer_id, mode],
    )


async def forget_failures(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    await conn.execute_query(
        "UPDATE peer_links SET link_failures = 0 WHERE peer_id = ? AND link_failures > 0",
        [peer_id],
    )


# -- missing heads (``missing_heads``) -------------------------------------------------------


async def missing(conn: BaseDBAsyncClient) -> list[MissingRow]:
    """Every missing record, by origin; announcers that cannot be read count as none."""
    rows = await conn.execute_query_dict(
        "SELECT origin, wanted, announcers, due, tries FROM missing_heads ORDER BY origin"
    )
    return [
        MissingRow(r["origin"], int(r["wanted"]), _urls(r["announcers"]), float(r["due"]),
                   int(r["tries"]))
        for r in rows
    ]  # fmt: skip


def _urls(text: str) -> tuple[str, ...]:
    try:
        return tuple(str(url) for url in json.loads(text))
    except (ValueError, TypeError):
        return ()


async def save_missing(
    conn: BaseDBAsyncClient, *, changed: Sequence[MissingRow], gone: Iterable[str]
) -> None:
    """Write the records of ``changed`` (new or not) and delete those of ``gone``."""
    origins = sorted(gone)
    if origins:
        await conn.execute_query(
            f"DELETE FROM missing_heads WHERE origin IN ({', '.join('?' * len(origins))})",
            origins,
        )
    if changed:
        await conn.execute_many(
            "INSERT INTO missing_heads (origin, wanted, announcers, due, tries)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET"
            " wanted = excluded.wanted, announcers = excluded.announcers,"
            " due = excluded.due, tries = excluded.tries",
            [[r.origin, r.wanted, json.dumps(list(r.announcers)), r.due, r.tries]
             for r in changed],
        )  # fmt: skip
