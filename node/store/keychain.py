"""The key chain of each origin held, kept in ``key_chain``: one row per ``key`` entry,
the keys in force after it (the rules are ``federation.keychain``). An origin without
rows signs with its first key (its origin id). The only module that touches this table."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.keychain import KeyState, advance

DDL = """
CREATE TABLE IF NOT EXISTS key_chain (
    origin VARCHAR(60) NOT NULL,
    seq BIGINT NOT NULL,
    node_key VARCHAR(60) NOT NULL,
    recovery_key VARCHAR(60),
    recovered_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (origin, seq)
);
"""


async def state_at(conn: BaseDBAsyncClient, *, origin: str, seq: int | None = None) -> KeyState:
    """The keys of ``origin`` in force after its entry ``seq`` (None: after its head)."""
    if seq is None:
        rows = await conn.execute_query_dict(
            "SELECT node_key, recovery_key, recovered_at FROM key_chain WHERE origin = ?"
            " ORDER BY seq DESC LIMIT 1",
            [origin],
        )
    else:
        rows = await conn.execute_query_dict(
            "SELECT node_key, recovery_key, recovered_at FROM key_chain WHERE origin = ?"
            " AND seq <= ? ORDER BY seq DESC LIMIT 1",
            [origin, seq],
        )
    if not rows:
        return KeyState.initial(origin)
    row = rows[0]
    return KeyState(row["node_key"], row["recovery_key"], row["recovered_at"])


async def record(conn: BaseDBAsyncClient, *, entries: list[Entry], before: KeyState) -> KeyState:
    """Record the key entries among ``entries`` (one origin, in log order, already
    checked with ``advance``); returns the state after them."""
    state = before
    rows = []
    for entry in entries:
        state = advance(state, entry)
        if entry.kind == "key":
            rows.append([entry.origin, entry.seq, state.node_key, state.recovery_key,
                         state.recovered_at])  # fmt: skip
    if rows:
        await conn.execute_many(
            "INSERT INTO key_chain (origin, seq, node_key, recovery_key, recovered_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO NOTHING",
            rows,
        )
    return state


async def insert(conn: BaseDBAsyncClient, *, origin: str, rows: list[tuple[int, KeyState]]) -> None:
    """Record the keys in force after each key entry ``(seq, state)`` of ``origin``."""
    if rows:
        await conn.execute_many(
            "INSERT INTO key_chain (origin, seq, node_key, recovery_key, recovered_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO NOTHING",
            [[origin, seq, k.node_key, k.recovery_key, k.recovered_at] for seq, k in rows],
        )


async def latest_recovery(conn: BaseDBAsyncClient, *, origin: str) -> int:
    """The seq of the latest recovery of ``origin`` we hold (0: none)."""
    rows = await conn.execute_query_dict(
        "SELECT max(recovered_at) AS r FROM key_chain WHERE origin = ?", [origin]
    )
    return int(rows[0]["r"] or 0)


async def forget_from(conn: BaseDBAsyncClient, *, origin: str, seq: int) -> None:
    """Drop the key rows of entries ``seq`` and after (a log truncated by a recovery)."""
    await conn.execute_query("DELETE FROM key_chain WHERE origin = ? AND seq >= ?", [origin, seq])


async def latest_recoveries(conn: BaseDBAsyncClient) -> dict[str, int]:
    """The seq of the latest recovery of each origin that had one."""
    rows = await conn.execute_query_dict(
        "SELECT origin, max(recovered_at) AS seq FROM key_chain WHERE recovered_at > 0"
        " GROUP BY origin"
    )
    return {row["origin"]: int(row["seq"]) for row in rows}
