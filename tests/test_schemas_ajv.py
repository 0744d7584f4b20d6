"""A second validator for the schemas: Ajv (JavaScript, ECMA-262 regular expressions,
draft 2020-12 in strict mode) must agree with ``federation.schema`` on every schema, every
example, variations of the examples with tricky strings (Unicode digits, white space and
line separators, trailing newlines, astral and lone surrogate characters...) and on each
pattern alone. A disagreement is a place where two implementations of the protocol, both
following the schemas, would keep different entries forever.

Ajv is installed in ``tests/js`` by ``scripts/test`` (``npm ci``); this test installs it
too when it is missing. It is skipped only when ``node`` or ``npm`` is absent."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from federation import schema
from federation.errors import SchemaError

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "js"
SCHEMAS = ROOT / "schemas"
EXAMPLES = SCHEMAS / "examples"

#: Strings that engines disagree on when a pattern is not written for ECMA-262 alone.
TRICKY = [
    "", "0", "29200", "٢٩٢٠٠", "２９２００", "𝟐𝟗𝟐𝟎𝟎", "29२००", "29200\n", "\n29200",
    "29 200", "29\u00a0200", "29\u2007200", "abc", "ABC", "K", "\u212a", "ſ", "ǅ",
    "a\u2028b", "a\u2029b", "a\u0085b", "a\x1cb", "a\x0bb", "a\ufeffb", "a\u3000b",
    "😀", "\ud800", "x" * 300,
    "https://papi.example/", "https://papi.example/é", "https://papi.example/\u00a0",
    "https://papi.example/\x1c", "https://papi.example/\x85", "https://papi.example/\n",
    "HTTPS://papi.example/", "contact@mairie.example", "contact@mairie.example\n",
    "contact\u2003@mairie.example", "contact@mairie\x1f.example",
    "+33298000000", "+33٢٩٨٠٠٠٠٠٠", "+33298000000\n",
    "2026-03-14T14:00:00Z", "2026-03-14T14:00:00Z\n", "2026-03-14t14:00:00z",
    "2026-03-14T１4:00:00Z", "2024-02-29T09:30Z", "2100-02-29T09:30Z",
    "9999-12-31T23:30:00Z", "2026-03-14T14:00:00-23:59", "2026-03-14T14:00:00+24:00",
    "2025-09-02T14:03:10.482-00:00", "sha256:" + "a" * 64, "sha256:" + "A" * 64,
    "sha256:" + "a" * 64 + "\n", "ed25519:" + "A" * 43, "ed25519:" + "A" * 42 + "B",
    "ed25519:" + "A" * 42 + "٣", "A" * 85 + "Q", "A" * 85 + "R", "s1", "s-1_x", "s/1",
    "MUNI", "muni", "29B12", "2A004", "20000",
]  # fmt: skip


def _schema_files() -> list[Path]:
    return sorted(p for p in SCHEMAS.rglob("*.schema.json") if EXAMPLES not in p.parents)


@cache
def _schemas() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in _schema_files()]


def _ajv_ready() -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for the Ajv schema tests (apt-get install nodejs npm)")
    if not (JS / "node_modules" / "ajv").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=JS, check=True, timeout=300,
        )  # fmt: skip


def _ajv(cases: list[tuple[str, Any]], patterns: list[tuple[str, str]]) -> dict[str, Any]:
    _ajv_ready()
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, which JavaScript reads back.
    body = json.dumps({"schemas": _schemas(), "cases": cases, "patterns": patterns})
    result = subprocess.run(
        ["node", str(JS / "validate.mjs")],
        input=body.encode(), capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _python_valid(schema_id: str, document: Any) -> bool:
    try:
        schema.validate(schema_id, document)
    except SchemaError:
        valid = False
    else:
        valid = True
    assert schema.is_valid(schema_id, document) is valid, (schema_id, document)
    return valid


def _has_lone_surrogate(document: Any) -> bool:
    return any(
        isinstance(text, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        for text in _strings(document)
    )


def _strings(document: Any) -> Iterator[Any]:
    if isinstance(document, dict):
        yield from document.keys()
        for value in document.values():
            yield from _strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from _strings(value)
    else:
        yield document


def _matches(validator: Any, text: str) -> bool:
    try:
        return bool(validator.is_valid(text))
    except UnicodeEncodeError:
        # jsonschema-rs matches no pattern against a lone surrogate ("\ud800"), which no
        # signed entry can hold anyway (RFC 8785); ``schema.is_valid`` then says False.
        return False


def _examples() -> list[tuple[str, Any, str]]:
    ids = {p.relative_to(SCHEMAS).as_posix().removesuffix(".schema.json"): d["$id"]
           for p, d in zip(_schema_files(), _schemas(), strict=True)}  # fmt: skip
    cases = []
    for stem, schema_id in ids.items():
        for path in sorted((EXAMPLES / stem.replace("/", "-")).glob("*/*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            cases.append((schema_id, document, path.parent.name))
    return cases


def _string_paths(document: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(document, str):
        yield path
    elif isinstance(document, dict):
        for key, value in document.items():
            yield from _string_paths(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _string_paths(value, (*path, index))


def _replaced(document: Any, path: tuple[Any, ...], value: str) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def _variations() -> list[tuple[str, Any]]:
    """Each string of each valid example replaced by each tricky string."""
    cases: list[tuple[str, Any]] = []
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    for schema_id, document, folder in _examples():
        if folder != "valid":
            continue
        for path in _string_paths(document):
            shape = (schema_id, tuple(p if isinstance(p, str) else 0 for p in path))
            if shape in seen:
                continue
            seen.add(shape)
            cases.extend((schema_id, _replaced(document, path, s)) for s in TRICKY)
    return cases


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_patterns_use_the_portable_subset() -> None:
    """ASCII classes only, no ``.``: what ECMA-262 and Python's ``re`` read alike."""
    for pattern in {p for document in _schemas() for p in _patterns(document)}:
        for escape in ("\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "\\b", "\\B", "(?"):
            assert escape not in pattern, (pattern, escape)
        unescaped = pattern.replace("\\\\", "").replace("\\.", "")
        assert "." not in unescaped.split("[")[0] or "[" in pattern, pattern
        assert pattern.startswith("^") and pattern.endswith("$"), pattern


def test_ajv_and_python_agree_on_every_example_and_variation() -> None:
    cases = [(schema_id, document) for schema_id, document, _ in _examples()]
    cases += _variations()
    patterns = sorted({p for document in _schemas() for p in _patterns(document)})
    pattern_cases = [(p, s) for p in patterns for s in TRICKY]
    answer = _ajv(cases, pattern_cases)
    disagreements = [
        (schema_id, document, verdict)
        for (schema_id, document), verdict in zip(cases, answer["valid"], strict=True)
        if _python_valid(schema_id, document) is not verdict
        # The one known difference: jsonschema-rs matches no pattern against a lone
        # surrogate, which no signed entry can hold (RFC 8785) and the API refuses (400).
        and not (verdict and _has_lone_surrogate(document))
    ]
    assert disagreements == []
    compiled = {p: schema._compile({"type": "string", "pattern": p}) for p in patterns}
    mismatched = [
        (p, s, verdict)
        for (p, s), verdict in zip(pattern_cases, answer["matches"], strict=True)
        if _matches(compiled[p], s) is not verdict
        and not (verdict and _has_lone_surrogate(s))  # the same known difference
    ]
    assert mismatched == []
    assert len(cases) > 1000


def test_examples_are_judged_alike_by_ajv() -> None:
    """Valid examples (and invalid-semantic ones) pass Ajv, invalid ones fail it: the
    examples specify the same thing to both implementations."""
    examples = _examples()
    answer = _ajv([(schema_id, document) for schema_id, document, _ in examples], [])
    wrong = [
        (schema_id, document, folder)
        for (schema_id, document, folder), verdict in zip(examples, answer["valid"], strict=True)
        if verdict is not (folder != "invalid")
    ]
    assert wrong == []
