"""federation/checking.py: a batch checked by ``check_batch`` (in a worker process) gives
the entries ``parse_entry`` gives, and refuses what it refuses."""

from __future__ import annotations

import copy
import io
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from federation.checking import check_batch, checked_entry, read_frame, serve, write_frame
from federation.entry import build_entry, parse_entry
from federation.errors import EntryRejected
from federation.keys import NodeKey
from federation.timeutil import utc_now
from tests.bulk import origin_log


def _batch() -> list[Any]:
    batch: list[Any] = origin_log(0, 6)
    forged = copy.deepcopy(batch[2])
    forged["payload"]["title"] = "Forgé"
    batch[2] = forged  # payload hash mismatch
    bad_signature = copy.deepcopy(batch[4])
    bad_signature["sig"] = batch[3]["sig"]
    batch[4] = bad_signature
    batch.append({"header": "not an entry"})
    batch.append(["not", "an", "object"])
    return batch


def _refused(document: Any) -> bool:
    try:
        parse_entry(document)
    except EntryRejected:
        return True
    return False


def test_check_batch_accepts_and_refuses_as_parse_entry() -> None:
    batch = _batch()
    checked = check_batch(batch, 128 * 1024, 86400.0)
    assert [parts is None for parts in checked] == [_refused(d) for d in batch]
    refused = [parts is None for parts in checked]
    assert refused == [False, False, True, False, True, False, True, True]
    for document, parts in zip(batch, checked, strict=True):
        if parts is None:
            continue
        entry, expected = checked_entry(document, parts), parse_entry(document)
        assert entry == expected
        assert entry.header_bytes == expected.header_bytes
        assert entry.payload_text == expected.payload_text
        assert entry.header_hash == expected.header_hash


def test_check_batch_applies_the_bounds() -> None:
    document = origin_log(1, 1)[0]
    size = document["header"]["payload_len"]
    assert check_batch([document], size, None) != [None]
    assert check_batch([document], size - 1, None) == [None]  # too large for that bound
    ahead = build_entry(
        NodeKey.generate(), seq=1, prev=None, kind="place", oid="place", op="put",
        payload=document["payload"], ts=utc_now() + timedelta(days=2),
    ).to_json()  # fmt: skip
    assert check_batch([ahead], size, 86400.0) == [None]  # too far in the future
    assert check_batch([ahead], size, 3 * 86400.0) != [None]
    assert check_batch([ahead], size, None) != [None]


def test_frames_round_trip_and_end() -> None:
    stream = io.BytesIO()
    write_frame(stream, ([{"a": [1, 2.5, None, True, "é"]}], 3, None))
    write_frame(stream, [])
    stream.seek(0)
    assert read_frame(stream) == ([{"a": [1, 2.5, None, True, "é"]}], 3, None)
    assert read_frame(stream) == []
    with pytest.raises(EOFError):
        read_frame(stream)
    truncated = io.BytesIO()
    write_frame(truncated, "abcdef")
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(truncated.getvalue()[:-2]))


def test_serve_answers_each_request_until_the_end() -> None:
    batch = _batch()
    requests = io.BytesIO()
    write_frame(requests, (batch, 128 * 1024, 86400.0))
    write_frame(requests, (batch[:1], 128 * 1024, None))
    requests.seek(0)
    answers = io.BytesIO()
    serve(requests, answers)
    answers.seek(0)
    assert read_frame(answers) == check_batch(batch, 128 * 1024, 86400.0)
    assert read_frame(answers) == check_batch(batch[:1], 128 * 1024, None)
    with pytest.raises(EOFError):
        read_frame(answers)


def test_the_worker_process_answers() -> None:
    batch = _batch()
    requests = io.BytesIO()
    write_frame(requests, (batch, 128 * 1024, 86400.0))
    done = subprocess.run(
        [sys.executable, "-P", "-m", "federation.checking"],
        input=requests.getvalue(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert read_frame(io.BytesIO(done.stdout)) == check_batch(batch, 128 * 1024, 86400.0)
