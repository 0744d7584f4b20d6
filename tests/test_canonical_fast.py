"""``federation.canonical.canonical_bytes`` takes a fast path through the standard JSON
encoder for plain values; it must produce exactly the bytes of the ``rfc8785`` package."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.canonical import canonical_bytes

_keys = st.text(max_size=6) | st.sampled_from(["", "a", "é", "\U0001f600", "\ue000", "A", "b"])
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["\x00", "\x1f", "\x7f", '"\\/', "\u2028", "\ud800", "é\n\t\b\f\r"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:
        return type(exc)


def _ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical_bytes(value)
    except Exception as exc:
        return type(exc)


@settings(max_examples=2000, deadline=None)
@given(_values)
def test_same_bytes_as_rfc8785(value: Any) -> None:
    assert _ours(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"], "\U0001f600": 1, "\ue000": 2},
        {"seq": 2**53 - 1, "neg": -(2**53) + 1},
        {"big": 2**53},
        {"f": 1.0, "g": 1e21, "h": 5e-7},
        (1, 2),
        "\ud800",
        {"k": "\x00\x01\x1f\x7f\u2028 é"},
    ],
)
def test_edge_cases(value: Any) -> None:
    assert _ours(value) == _reference(value)
