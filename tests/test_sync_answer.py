"""The answer to a sync request is written from the entries' stored text (node/services/
sync.py ``answer_sync_json``): the same JSON as the entries decoded, bounded in UTF-8 bytes."""

from __future__ import annotations

import json

from federation import schema
from federation.canonical import canonical_bytes
from node.services.log import publish
from tests.conftest import InProcessNode


def _entries_text(body: bytes) -> bytes:
    """The ``entries`` array of a sync answer, brackets included, as sent."""
    start = body.index(b'"entries":[') + len(b'"entries":')
    end = body.index(b'],"more":') + 1
    return body[start:end]


async def test_a_sync_page_is_the_stored_text_bounded_in_utf8_bytes(papi: InProcessNode) -> None:
    # Two bytes per "é" in UTF-8: a bound counted in characters would let a page overflow.
    with papi.node.db.activated():
        for number in range(6):
            await publish(papi.node, "skill", f"skill-{number}", "put",
                          {"title": f"Atelier {number}", "description": "é" * 900})  # fmt: skip
    answers = []
    held = 0
    while True:
        response = await papi.client.post(
            "/federation/v1/sync",
            json={"vector": {papi.node.origin: held}, "max_bytes": 4096},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.content
        answer = json.loads(body)
        schema.validate("urn:papi:sync-response", answer)
        answers.append(answer)
        sent = _entries_text(body)
        assert len(sent) <= 4096 or len(answer["entries"]) == 1
        # Each entry is the compact JSON of its document, keys as signed (RFC 8785).
        written = [
            b'{"header":' + canonical_bytes(e["header"])
            + b',"sig":' + json.dumps(e["sig"]).encode()
            + b',"payload":' + canonical_bytes(e["payload"]) + b"}"
            for e in answer["entries"]
        ]  # fmt: skip
        assert sent == b"[" + b",".join(written) + b"]"
        if not answer["more"]:
            break
        held = answer["entries"][-1]["header"]["seq"]
        # Full: the next entry (about 2 kB) would not have fit.
        assert len(sent) > 4096 - 2000
    seqs = [e["header"]["seq"] for answer in answers for e in answer["entries"]]
    assert seqs == list(range(1, 8))  # the place profile, then the six skills
    assert len(answers) >= 4  # two entries of about 2 kB per page at most
    assert answers[-1]["vector"] == {papi.node.origin: 7}
