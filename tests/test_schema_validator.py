"""The fast schema path (federation/fastschema.py) must agree with jsonschema exactly:
whenever it says "valid", jsonschema says so too, and it never says "invalid" for a valid
document. Checked on every example in ``schemas/examples`` and on generated variations."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation import fastschema, schema

EXAMPLES = Path(__file__).parent.parent / "schemas" / "examples"


def _schema_id(folder: str) -> str:
    return "urn:papi:" + (
        "payload/" + folder.removeprefix("payload-") if folder.startswith("payload-") else folder
    )


EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*/*.json"))
SCHEMA_IDS = sorted({_schema_id(p.parent.parent.name) for p in EXAMPLE_FILES})


def _full(schema_id: str, document: Any) -> bool:
    return schema.validator(schema_id).is_valid(document)


def _fast(schema_id: str, document: Any) -> bool | None:
    check = schema._fast_check(schema_id)
    assert check is not None, (
        f"{schema_id} has no fast path: teach federation/fastschema.py its new keyword"
    )
    try:
        return check(document)
    except fastschema.Unsure:
        return None


def _agree(schema_id: str, document: Any) -> None:
    fast = _fast(schema_id, document)
    if fast is not None:
        assert fast == _full(schema_id, document), (schema_id, document)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: "/".join(p.parts[-3:]))
def test_examples_agree(path: Path) -> None:
    schema_id = _schema_id(path.parent.parent.name)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert _fast(schema_id, document) == _full(schema_id, document)


def test_every_schema_has_a_fast_path() -> None:
    for schema_id in SCHEMA_IDS:
        assert schema._fast_check(schema_id) is not None, (
            f"{schema_id} has no fast path: teach federation/fastschema.py its new keyword"
        )


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**54), max_value=2**54),
    st.floats(allow_nan=False),
    st.sampled_from([0, 1, 2, 1.0, -1, "", "a", "put", "place", "sha256:" + "0" * 64]),
    st.text(max_size=80),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_examples_agree(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(EXAMPLE_FILES))
    schema_id = _schema_id(path.parent.parent.name)
    document = json.loads(path.read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        where = data.draw(st.sampled_from(_paths(document)))
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if not where:
            if action == "replace":
                document = data.draw(_values)
            continue
        parent = document
        for part in where[:-1]:
            parent = parent[part]
        last = where[-1]
        if action == "replace":
            parent[last] = data.draw(_values)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][data.draw(st.text(max_size=8))] = data.draw(_values)
        elif isinstance(parent[last], list):
            parent[last].append(copy.deepcopy(data.draw(_values)))
    _agree(schema_id, document)
