"""The JSON Schemas in ``schemas/`` and their examples.

Every ``*.schema.json`` must be a valid draft 2020-12 schema with ``$id`` ``urn:papi:<stem>``;
every example under ``schemas/examples/<name>/valid/`` must validate against it and every
one under ``invalid/`` must not. ``invalid-semantic/`` examples pass the schema: they are
only rejected by checks done in code (e.g. an event whose end is before its start).
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jsonschema import Draft202012Validator

from tests import schema_reference

SCHEMAS = Path(__file__).parent.parent / "schemas"
EXAMPLES = SCHEMAS / "examples"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_files() -> list[Path]:
    return sorted(p for p in SCHEMAS.rglob("*.schema.json") if EXAMPLES not in p.parents)


def _stem(path: Path) -> str:
    """``payload/place.schema.json`` -> ``payload/place``."""
    relative = path.relative_to(SCHEMAS).as_posix()
    return relative.removesuffix(".schema.json")


def _example_name(stem: str) -> str:
    """``payload/place`` -> ``payload-place`` (the examples folder)."""
    return stem.replace("/", "-")


SCHEMA_FILES = _schema_files()
STEMS = [_stem(p) for p in SCHEMA_FILES]


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {_stem(p): _load(p) for p in SCHEMA_FILES}


def _validator(stem: str) -> Any:
    return schema_reference.validator(f"urn:papi:{stem}")


def _examples(folder: str) -> list[tuple[str, Path]]:
    cases: list[tuple[str, Path]] = []
    for stem in STEMS:
        directory = EXAMPLES / _example_name(stem) / folder
        cases.extend((stem, path) for path in sorted(directory.glob("*.json")))
    return cases


def _ids(cases: list[tuple[str, Path]]) -> list[str]:
    return [path.relative_to(EXAMPLES).as_posix() for _, path in cases]


VALID = _examples("valid")
INVALID = _examples("invalid")
SEMANTIC = _examples("invalid-semantic")


def test_expected_schemas_exist() -> None:
    assert set(STEMS) >= {
        "entry",
        "header",
        "payload/place",
        "payload/skill",
        "payload/equipment",
        "payload/event",
        "payload/booking",
        "payload/vouch",
        "sync-request",
        "sync-response",
        "push-request",
        "push-response",
    }


@pytest.mark.parametrize("stem", STEMS)
def test_schema_is_valid_draft_2020_12(stem: str) -> None:
    schema = _schemas()[stem]
    assert schema["$schema"] == DRAFT
    assert schema["$id"] == f"urn:papi:{stem}"
    assert schema.get("title")
    assert schema.get("description")
    Draft202012Validator.check_schema(schema)


def _object_schemas(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    """Every subschema that declares ``properties`` (i.e. describes a closed object)."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            found.append((where, node))
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties"):
                for name, sub in value.items():
                    found.extend(_object_schemas(sub, f"{where}/{key}/{name}"))
            elif key not in ("enum", "const", "examples", "default"):
                found.extend(_object_schemas(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_object_schemas(item, f"{where}/{index}"))
    return found


@pytest.mark.parametrize("stem", STEMS)
def test_every_object_is_closed(stem: str) -> None:
    """Objects with declared properties reject unknown fields (``if`` parts are excepted)."""
    for where, sub in _object_schemas(_schemas()[stem]):
        if "/if" in where or "/then" in where:
            continue
        assert sub.get("additionalProperties") is False, where


@pytest.mark.parametrize("stem", STEMS)
def test_schema_has_enough_examples(stem: str) -> None:
    folder = EXAMPLES / _example_name(stem)
    assert len(list((folder / "valid").glob("*.json"))) >= 2, folder
    assert len(list((folder / "invalid").glob("*.json"))) >= 3, folder


def test_no_orphan_example_folder() -> None:
    expected = {_example_name(stem) for stem in STEMS}
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert folders <= expected, folders - expected
    for folder in EXAMPLES.iterdir():
        if folder.is_dir():
            kinds = {p.name for p in folder.iterdir()}
            assert kinds <= {"valid", "invalid", "invalid-semantic"}, (folder, kinds)


@pytest.mark.parametrize(("stem", "path"), VALID, ids=_ids(VALID))
def test_valid_example(stem: str, path: Path) -> None:
    errors = [e.message for e in _validator(stem).iter_errors(_load(path))]
    assert errors == []


@pytest.mark.parametrize(("stem", "path"), INVALID, ids=_ids(INVALID))
def test_invalid_example(stem: str, path: Path) -> None:
    assert not _validator(stem).is_valid(_load(path))


@pytest.mark.parametrize(("stem", "path"), SEMANTIC, ids=_ids(SEMANTIC))
def test_semantically_invalid_example_passes_schema(stem: str, path: Path) -> None:
    errors = [e.message for e in _validator(stem).iter_errors(_load(path))]
    assert errors == []


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sha256_tag(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _signed_entries() -> list[dict[str, Any]]:
    """The entries of the valid examples that carry full entries."""
    entries: list[dict[str, Any]] = []
    for name, key in (("entry", None), ("sync-response", "entries"), ("push-request", "entries")):
        for path in sorted((EXAMPLES / name / "valid").glob("*.json")):
            document = _load(path)
            found = [document] if key is None else document.get(key, [])
            entries.extend(e for e in found if _validator("entry").is_valid(e))
    return entries


def test_valid_entry_examples_are_genuinely_signed_and_chained() -> None:
    """Examples double as fixtures: signatures, payload hashes and prev links are real."""
    entries = _signed_entries()
    assert len(entries) >= 5
    headers: dict[tuple[str, int], dict[str, Any]] = {}
    for entry in entries:
        header = entry["header"]
        raw = _b64url(header["origin"].removeprefix("ed25519:"))
        key = Ed25519PublicKey.from_public_bytes(raw)
        key.verify(_b64url(entry["sig"]), rfc8785.dumps(header))  # raises if forged
        if entry["payload"] is not None:
            payload = rfc8785.dumps(entry["payload"])
            assert header["payload_hash"] == _sha256_tag(payload)
            assert header["payload_len"] == len(payload)
        headers[(header["origin"], header["seq"])] = header
    links = 0
    for (origin, seq), header in headers.items():
        previous = headers.get((origin, seq - 1))
        if previous is not None:
            assert header["prev"] == _sha256_tag(rfc8785.dumps(previous))
            links += 1
    assert links >= 3
