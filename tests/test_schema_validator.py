"""The node's schema validator (``federation/schema.py``: jsonschema-rs) against the
reference (python-jsonschema with ECMA-262 ``pattern``, tests/schema_reference.py):

- both judge alike every example in ``schemas/examples`` and many generated variations;
- when a document is invalid, the ``SchemaError`` names a keyword and a field that the
  reference also reports (its errors and their context, at any depth);
- the errors carry the keyword, the field and the limit as data, keyword by keyword;
- the regular expressions have the ECMA-262 meaning the protocol gives them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError

from federation import schema
from federation.errors import SchemaError
from tests import schema_reference

EXAMPLES = schema_reference.EXAMPLES


def _schema_id(folder: str) -> str:
    return "urn:papi:" + (
        "payload/" + folder.removeprefix("payload-") if folder.startswith("payload-") else folder
    )


EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*/*.json"))


def _reference_errors(errors: Iterable[ValidationError]) -> Iterator[tuple[str, str]]:
    """(keyword, JSON path) of every error the reference reports, at any depth. A member
    named "" is left out of the path: jsonschema-rs's paths drop it (its error then names
    the object holding that member)."""
    for error in errors:
        path = ".".join(str(part) for part in error.absolute_path if part != "")
        yield str(error.validator), path
        yield from _reference_errors(error.context or [])


#: Keywords whose ``field`` is the member they are about, one level below the error.
_ABOUT_A_MEMBER = {"required", "dependentRequired", "additionalProperties"}


def _agree(schema_id: str, document: Any) -> None:
    expected = schema_reference.validator(schema_id).is_valid(document)
    assert schema.is_valid(schema_id, document) is expected, (schema_id, document)
    try:
        schema.validate(schema_id, document)
    except SchemaError as error:
        assert not expected, (schema_id, document, error.message)
        errors = schema_reference.validator(schema_id).iter_errors(document)
        reported = set(_reference_errors(errors))
        if error.keyword == "propertyNames":
            # python-jsonschema names the keyword that refused the member's name instead.
            reported = {("propertyNames", path) for _, path in reported}
        if error.keyword in _ABOUT_A_MEMBER:
            # The field is the object's path plus the member's name, which may itself hold
            # dots (a member named "."): the object's path is a prefix of the field.
            assert any(
                keyword == error.keyword and (not at or error.field.startswith(at + "."))
                for keyword, at in reported
            ), (schema_id, document, error.__dict__, reported)
        else:
            assert (error.keyword, error.field) in reported, (
                schema_id,
                document,
                error.__dict__,
                reported,
            )
    else:
        assert expected, (schema_id, document)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: "/".join(p.parts[-3:]))
def test_examples_agree(path: Path) -> None:
    _agree(_schema_id(path.parent.parent.name), json.loads(path.read_text(encoding="utf-8")))


def test_every_schema_is_compiled() -> None:
    assert set(schema.documents()) == set(schema_reference.schemas())
    for schema_id in schema.documents():
        assert schema._validator(schema_id) is not None


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


# -- ECMA-262 patterns ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^abc$", "abc", True),
        ("^abc$", "abc\n", False),  # Python's re.search would match: $ before a final \n
        ("^abc$", "\nabc", False),
        ("^[0-9]{5}$", "29200", True),
        ("^[0-9]{5}$", "٢٩٢٠٠", False),  # Arabic-Indic digits
        ("^[0-9]{5}$", "２９２００", False),  # full-width digits
        ("^[A-Za-z0-9_-]{1,64}$", "é", False),
        ("^[A-Z_]{2,40}$", "\u212a\u212a", False),  # KELVIN SIGN is not K
        ("^[^\\x00-\\x20\\u00a0]+$", "a\u00a0b", False),
        ("^[^\\x00-\\x20\\u00a0]+$", "a\u2007b", True),
    ],
)
def test_patterns_have_their_ecma_262_meaning(pattern: str, text: str, matches: bool) -> None:
    assert schema._compile({"type": "string", "pattern": pattern}).is_valid(text) is matches


def test_a_trailing_newline_fails_a_referenced_pattern() -> None:
    """Through a ``$ref`` to another schema too (urn:papi:datetime, urn:papi:ref)."""
    with pytest.raises(SchemaError) as caught:
        schema.validate("urn:papi:payload/event", {"title": "t", "start": "2026-05-06T14:00Z\n"})
    assert (caught.value.field, caught.value.keyword) == ("start", "pattern")


# -- errors as data, keyword by keyword ------------------------------------------------------


def _error(schema_id: str, document: Any) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        schema.validate(schema_id, document)
    return caught.value


SKILL, EQUIPMENT, EVENT, PLACE = (
    "urn:papi:payload/skill",
    "urn:papi:payload/equipment",
    "urn:papi:payload/event",
    "urn:papi:payload/place",
)
START = "2026-05-06T14:00:00+02:00"


@pytest.mark.parametrize(
    ("schema_id", "document", "field", "keyword", "limit"),
    [
        (SKILL, {"title": "t" * 201}, "title", "maxLength", 200),
        (SKILL, {"title": ""}, "title", "minLength", 1),
        (SKILL, {"description": "no title"}, "title", "required", None),
        (SKILL, {"title": "t", "color": "bleu"}, "color", "additionalProperties", None),
        (SKILL, {"title": 5}, "title", "type", "string"),
        (EQUIPMENT, {"title": "t", "quantity": 0}, "quantity", "minimum", 1),
        (EQUIPMENT, {"title": "t", "quantity": 1.5}, "quantity", "type", "integer"),
        (EVENT, {"title": "t", "start": START, "capacity": -1}, "capacity", "minimum", 0),
        (EVENT, {"title": "t", "start": "2026-05-06"}, "start", "pattern", None),
        (PLACE, {"nom": "EPN", "latitude": 91}, "latitude", "maximum", 90),
        (PLACE, {"nom": "EPN", "code_postal": "2920"}, "code_postal", "pattern", "^[0-9]{5}$"),
        (PLACE, {"nom": "EPN", "services": ["Cuisine"]}, "services.0", "enum", None),
        (PLACE, {"nom": "EPN", "itinerance": ["Fixe", "Fixe"]}, "itinerance", "uniqueItems", None),
        (
            "urn:papi:sync-request",
            {"scope": [3], "max_bytes": 4096},
            "vector",
            "dependentRequired",
            "scope",
        ),
        (
            "urn:papi:sync-request",
            {"max_bytes": 4096},
            "",
            "anyOf",
            ["digest", "vector", "buckets"],
        ),
        ("urn:papi:sync-request", {"vector": {"bad": 1}}, "vector", "propertyNames", None),
        ("urn:papi:sealed", {}, "", "minProperties", 1),
    ],
)  # fmt: skip
def test_errors_carry_field_keyword_and_limit(
    schema_id: str, document: Any, field: str, keyword: str, limit: Any
) -> None:
    error = _error(schema_id, document)
    assert (error.field, error.keyword) == (field, keyword), error.message
    if keyword == "enum":
        assert "Cours de cuisine" not in error.limit and len(error.limit) > 3
    elif keyword == "pattern" and limit is None:
        assert error.limit == schema.document("urn:papi:datetime")["pattern"]
    else:
        assert error.limit == limit
    assert (field or "document") in error.message


def test_a_failed_one_of_reports_the_branch_of_the_right_type() -> None:
    """``prev`` is null or a hash: a malformed hash says what is wrong with the hash."""
    header = json.loads((EXAMPLES / "header/valid/skill-put-seq-2.json").read_text())
    error = _error("urn:papi:header", {**header, "prev": "sha256:XX"})
    assert (error.field, error.keyword, error.limit) == ("prev", "minLength", 71)


def test_long_patterns_are_not_quoted() -> None:
    error = _error(EVENT, {"title": "t", "start": "demain"})
    assert "its pattern" in error.message and "[0-9]" not in error.message


def test_a_value_json_cannot_hold_is_an_error_not_a_crash() -> None:
    error = _error(SKILL, {"title": b"bytes"})
    assert (error.field, error.keyword) == ("", "")  # the validator cannot say more
    assert schema.is_valid(SKILL, {"title": b"bytes"}) is False


def test_unknown_schema() -> None:
    with pytest.raises(LookupError):
        schema.validate("urn:papi:nothing", {})


def test_a_deeply_nested_culprit_is_named_not_shown() -> None:
    nested: Any = []
    for _ in range(200):
        nested = [nested]
    error = _error(SKILL, {"title": nested})
    assert (error.field, error.keyword) == ("title", "type")
    assert "an array" in error.message and len(error.message) < 100
    for _ in range(5000):
        nested = [nested]
    error = _error(SKILL, {"title": nested})  # beyond jsonschema-rs's depth: still refused
    assert (error.field, error.keyword) == ("", "")


def test_the_cost_of_an_error_does_not_grow_with_the_square_of_the_document() -> None:
    """A sync request whose 100,000 vector members all break the schema: one error is
    described, not 100,000 each holding a copy of the whole vector."""
    vector = {f"ed25519:{index:043d}": "x" for index in range(100_000)}
    error = _error("urn:papi:sync-request", {"vector": vector})
    assert error.field.startswith("vector")


def test_a_member_named_with_a_dot_is_reported_at_its_object() -> None:
    """Found by the mutation test: the unknown member "." of ``accepted[0]``."""
    path = EXAMPLES / "push-response/valid/all-accepted.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["accepted"][0]["."] = None
    error = _error("urn:papi:push-response", document)
    assert (error.field, error.keyword) == ("accepted.0..", "additionalProperties")
    _agree("urn:papi:push-response", document)
