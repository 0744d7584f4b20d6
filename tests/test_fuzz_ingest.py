"""Fuzzing ingest by push and by pull (hypothesis), one class of hostile entry per
strategy: out-of-range and odd dates, Unicode digits and spaces in patterned fields,
non-canonical base64url, small-order keys, stripped payloads, forks, gaps, oversize,
deep nesting, wrong types. Whatever arrives: never a 5xx, nothing invalid stored (every
stored log passes the independent verifier, a null payload is explained by a tombstone
or recorded as missing), and every public page still answers."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_sign_open

from federation import schema
from federation.canonical import canonical_bytes
from node.models import MissingPayload, Origin
from tests import independent_verifier as iv
from tests.conftest import InProcessNode
from tests.forger import Forger
from tests.hostile import HostilePeer, public_pages_answer, pull, victim_and_hostile

IDENTITY_KEY = "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
IDENTITY_SIG = "AQ" + "A" * 84
ODD_DIGITS = "٠١٢٣٤٥٦٧٨٩０１２３４５６７８９𝟎𝟏२३"
ODD_SPACES = "\n\r\t\x0b\x0c\x1c\x85\u00a0\u2007\u2028\u2029\u3000\ufeff "


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, InProcessNode, HostilePeer]]:
    """One node and its hostile peer for the whole module (examples accumulate on it)."""
    runner = asyncio.Runner()
    context = victim_and_hostile(
        Path(tmp_path_factory.mktemp("fuzz")), new_origins_per_hour=100_000
    )
    victim, hostile = runner.run(context.__aenter__())
    try:
        yield runner, victim, hostile
    finally:
        runner.run(context.__aexit__(None, None, None))
        runner.close()


# -- strategies: one per class of hostile entry ---------------------------------------------


@st.composite
def dates(draw: st.DrawFn) -> str:
    """Date-times near every bound: years, calendar, clock, offsets, odd characters."""
    year = draw(
        st.sampled_from([1, 1899, 1900, 2024, 2100, 2199, 2200, 9999]) | st.integers(0, 9999)
    )
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute = draw(st.integers(0, 25)), draw(st.integers(0, 61))
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}"
    if draw(st.booleans()):
        text += f":{draw(st.integers(0, 61)):02d}"
    offset = draw(st.sampled_from(["Z", "+", "-"]))
    if offset != "Z":
        offset += f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 61)):02d}"
    text += offset
    if draw(st.integers(0, 9)) == 0:
        index = draw(st.integers(0, len(text) - 1))
        text = text[:index] + draw(st.sampled_from(ODD_DIGITS + ODD_SPACES)) + text[index + 1 :]
    return text


odd_text = st.text(
    alphabet=st.sampled_from("0123456789AZaz@.:/+-" + ODD_DIGITS + ODD_SPACES), max_size=12
)


@st.composite
def dated_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    forger.write("place", "place")
    event: dict[str, Any] = {"title": "Atelier", "start": draw(dates())}
    if draw(st.booleans()):
        event["end"] = draw(dates())
    forger.write("event", "e1", event)
    return forger.log


@st.composite
def patterned_fields(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    field = draw(
        st.sampled_from(
            [
                "code_postal",
                "code_insee",
                "telephone",
                "courriels",
                "site_web",
                "endpoints",
                "pivot",
            ]
        )
    )
    value: Any = draw(odd_text)
    if field in ("courriels", "site_web", "endpoints"):
        value = [draw(st.sampled_from(["https://x.example/", "a@b.example"])) + value]
    forger.write("place", "place", {"nom": "Lieu", field: value})
    return forger.log


@st.composite
def non_canonical(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    entry = forger.write("place", "place")
    raw = bytearray(base64.urlsafe_b64decode(entry["sig"] + "=="))
    text = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(text[-1]) | draw(st.integers(1, 15))  # set unused bits
    entry["sig"] = text[:-1] + alphabet[last]
    if draw(st.booleans()):
        key = entry["header"]["origin"]
        entry["header"]["origin"] = (
            key[:-1] + alphabet[alphabet.index(key[-1]) | draw(st.integers(1, 3))]
        )
    return [entry]


@st.composite
def small_order(draw: st.DrawFn) -> list[dict[str, Any]]:
    header = Forger().write("place", "place")["header"]
    header["origin"] = draw(
        st.sampled_from(
            [
                IDENTITY_KEY,
                "ed25519:7P___________________________________________38",
                "ed25519:" + "A" * 43,
                "ed25519:JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU",
            ]
        )
    )
    return [{"header": header, "sig": IDENTITY_SIG, "payload": None}]


@st.composite
def stripped(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    forger.write("place", "place"), forger.write(), forger.write(oid="s2")
    if draw(st.booleans()):
        forger.write(op="delete")
    chosen = draw(st.lists(st.integers(1, len(forger.log)), min_size=1, max_size=3))
    return (
        [forger.entry(i) for i in range(1, len(forger.log) + 1)]
        + [forger.stripped(i) for i in chosen]
        if draw(st.booleans())
        else [
            forger.stripped(i) if i in chosen else forger.entry(i)
            for i in range(1, len(forger.log) + 1)
        ]
    )


@st.composite
def forks(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    forger.write("place", "place"), forger.write(), forger.write()
    at = draw(st.integers(2, 3))
    other = forger.branch(at)
    other.write(payload={"title": "Autre histoire"}), other.write(oid="s9")
    batch = forger.log + other.log[at - 1 :]
    return draw(st.permutations(batch))


@st.composite
def gaps(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    for n in range(draw(st.integers(3, 8))):
        forger.write(oid=f"s{n}")
    return draw(st.lists(st.sampled_from(forger.log[1:]), max_size=6))


@st.composite
def oversize_and_nesting(draw: st.DrawFn) -> list[dict[str, Any]]:
    forger = Forger()
    entry = forger.write()
    choice = draw(st.integers(0, 3))
    if choice == 0:
        entry["header"]["payload_len"] = draw(st.integers(131_073, 2_000_000))
    elif choice == 1:
        entry = forger.write(oid="big", payload={"title": "x", "description": "é" * 20_000})
    else:
        deep: Any = "x"
        for _ in range(draw(st.integers(20, 3000))):
            deep = [deep] if choice == 2 else {"a": deep}
        entry["payload"] = {"title": "t", "description": deep}
    return [entry]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def wrong_types(draw: st.DrawFn) -> list[Any]:
    entry: Any = Forger().write()
    where = draw(st.sampled_from(["entry", "header", "sig", "payload", "field"]))
    value = draw(json_values)
    if where == "entry":
        return [value]
    if where == "field":
        entry["header"][draw(st.sampled_from(sorted(entry["header"])))] = value
    else:
        entry[where] = value
    return [entry]


batches = st.lists(
    st.one_of(
        dated_events(),
        patterned_fields(),
        non_canonical(),
        small_order(),
        stripped(),
        forks(),
        gaps(),
        oversize_and_nesting(),
        wrong_types(),
    ),
    min_size=1,
    max_size=4,
).map(lambda parts: [document for part in parts for document in part])


# -- the invariants ---------------------------------------------------------------------------


async def assert_nothing_invalid_stored(node: InProcessNode) -> None:
    with node.node.db.activated():
        origins = [o.id for o in await Origin.filter(head_seq__gt=0)]
        missing = {(m.origin, m.seq) for m in await MissingPayload.all()}
    for origin in origins:
        log: list[dict[str, Any]] = []
        while True:
            r = await node.client.get(
                "/federation/v1/entries", params={"origin": origin, "after": len(log), "limit": 500}
            )
            assert r.status_code == 200
            page = r.json()["entries"]
            log += page
            if len(page) < 500:
                break
        deleted: dict[tuple[str, str], int] = {}
        for entry in log:
            if entry["header"]["op"] == "delete":
                deleted[(entry["header"]["kind"], entry["header"]["oid"])] = entry["header"]["seq"]
        for index, entry in enumerate(log):
            iv.verify_entry(entry)  # schema-level rules, signature, payload commitment
            # ...and what the independent verifier (OpenSSL, lenient) lets through.
            signature = base64.urlsafe_b64decode(entry["sig"] + "==")
            public = base64.urlsafe_b64decode(origin.removeprefix("ed25519:") + "=")
            crypto_sign_open(signature + canonical_bytes(entry["header"]), public)  # libsodium
            schema.validate("urn:papi:entry", entry)
            header = entry["header"]
            assert header["seq"] == index + 1
            if index:
                assert header["prev"] == iv.header_hash(log[index - 1]["header"])
            if header["op"] != "put":
                continue
            deleted_later = deleted.get((header["kind"], header["oid"]), 0) > header["seq"]
            if deleted_later:
                assert entry["payload"] is None, header  # erasure is real
            elif entry["payload"] is None:
                assert (origin, header["seq"]) in missing, header  # stripped: recorded


def _deep_json(value: Any) -> bytes:
    """``json.dumps`` of a value nested deeper than the recursion limit allows (the nesting
    strategy goes to 3,000 levels): what a hostile peer can send, for the node to refuse."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        return json.dumps(value).encode()
    finally:
        sys.setrecursionlimit(limit)


async def run_example(
    node: InProcessNode, hostile: HostilePeer, batch: list[Any], by_pull: bool
) -> None:
    if by_pull:
        hostile.sync_entries = batch
        await pull(node)  # a PeerError is fine (recorded on the peer), an exception is not
    else:
        body = _deep_json({"entries": batch[:500]})
        r = await node.client.post(
            "/federation/v1/push", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code < 500, r.text
    await assert_nothing_invalid_stored(node)
    await public_pages_answer(node)
    # Object pages of whatever is stored.
    r = await node.client.get("/api/v1/search", params={"past": "1", "limit": 100})
    assert r.status_code == 200
    for result in r.json()["results"][:10]:
        for path in (result.get("url"), f"/o/{result['origin']}/{result['kind']}/{result['id']}"):
            if path:
                assert (await node.client.get(path)).status_code < 500, path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=batches, by_pull=st.booleans())
def test_fuzz_ingest(
    world: tuple[Any, InProcessNode, HostilePeer], batch: list[Any], by_pull: bool
) -> None:
    runner, node, hostile = world
    runner.run(run_example(node, hostile, batch, by_pull))


def test_the_strategies_reach_storage_and_rejection(
    world: tuple[Any, InProcessNode, HostilePeer],
) -> None:
    """Guards the fuzzing above: its examples were stored, set aside, frozen and refused,
    not all refused at the door."""
    runner, node, _ = world

    async def counts() -> dict[str, int]:
        with node.node.db.activated():
            conn = node.node.db.connection()
            rows = await conn.execute_query_dict(
                "SELECT (SELECT COUNT(*) FROM entries) AS entries,"
                " (SELECT COUNT(*) FROM origins WHERE frozen) AS frozen,"
                " (SELECT COUNT(*) FROM pending_entries) AS pending"
            )
        return dict(rows[0])

    found = runner.run(counts())
    assert found["entries"] > 20 and found["frozen"] >= 1 and found["pending"] >= 1, found
