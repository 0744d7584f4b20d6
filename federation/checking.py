"""Checking a batch of entries in another process: ``parse_entry``'s checks (schemas,
Ed25519 signature, payload hash, timestamp) off the GIL of the process that stores them.

In threads of the storing process, the checks' Python steps wait for the GIL that the
storing holds (a sync round got 1.1-1.2 of 2 cores, docs/performance.md 10.2). A worker
process (``python -m federation.checking``) reads requests on its standard input and
writes answers on its standard output, one frame each: 8 bytes of length
(little-endian), then ``marshal`` data. Both ends run the same interpreter, and JSON
documents are plain values (dicts, lists, strings, numbers, booleans, None).

- request: ``(documents, max_payload_bytes, max_future_seconds or None)``;
- answer: for each document, ``(header_bytes, payload_text)`` of the entry that
  ``parse_entry`` returned, or ``None`` when it refused the document. The caller checks a
  refused document again itself to learn why: refusals are rare, and their exceptions
  stay where they are raised.
"""

from __future__ import annotations

import contextlib
import marshal
import signal
import struct
import sys
from datetime import timedelta
from typing import IO, Any

from .entry import Entry, parse_entry

#: What the worker computed of an accepted entry: its canonical header and payload text.
Checked = tuple[bytes, str | None]

_LENGTH = struct.Struct("<Q")
#: Larger frames mean a broken stream, not a batch (a sync page is about 1 MiB).
MAX_FRAME_BYTES = 1 << 30


def check_batch(
    documents: list[Any], max_payload_bytes: int, max_future_seconds: float | None
) -> list[Checked | None]:
    """``parse_entry`` of each document: what it computed, or None when it refused it."""
    max_future = None if max_future_seconds is None else timedelta(seconds=max_future_seconds)
    checked: list[Checked | None] = []
    for document in documents:
        try:
            entry = parse_entry(
                document, max_payload_bytes=max_payload_bytes, max_future=max_future
            )
        except Exception:  # refused, or a bug: the caller's own check says which
            checked.append(None)
        else:
            checked.append((entry.header_bytes, entry.payload_text))
    return checked


def checked_entry(document: dict[str, Any], checked: Checked) -> Entry:
    """The entry ``parse_entry`` returned for ``document`` in the worker, its canonical
    bytes as computed there (they depend on the document alone)."""
    entry = Entry(document["header"], document["sig"], document["payload"])
    # What ``Entry``'s computed fields would compute again on first read.
    entry.__dict__["header_bytes"], entry.__dict__["payload_text"] = checked
    return entry


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = marshal.dumps(value)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's value; ``EOFError`` when the stream ends, even within a frame."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the stream ended")
    (size,) = _LENGTH.unpack(head)
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {size} bytes: the stream is broken")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended within a frame")
    return marshal.loads(data)


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until ``requests`` ends."""
    while True:
        try:
            documents, max_payload_bytes, max_future_seconds = read_frame(requests)
        except EOFError:
            return
        write_frame(answers, check_batch(documents, max_payload_bytes, max_future_seconds))


def main() -> None:
    # Ctrl-C at a terminal reaches the whole process group: the process that started
    # this one decides, and this one ends with its requests (or when that one dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answers
    with contextlib.suppress(BrokenPipeError):  # that process ended first
        serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
