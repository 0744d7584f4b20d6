"""Documentation that must not drift from the code."""

from __future__ import annotations

from pathlib import Path

from node.settings import SETTINGS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in text]
    assert not missing, f"undocumented settings: {missing}"


def test_every_rejection_code_is_in_the_protocol() -> None:
    from federation import errors

    text = (DOCS / "protocol.md").read_text()
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.EntryRejected)
        and cls is not errors.EntryRejected
    }
    missing = [code for code in sorted(codes) if f"`{code}`" not in text]
    assert not missing, f"codes missing from docs/protocol.md: {missing}"


def test_bucket_example_of_the_protocol() -> None:
    from federation.vector import bucket_digests, bucket_of

    origin = "ed25519:n0Ir1ZsKrUAEftdPC1jfag1gW1oPFrQhgSyPpMqQvaA"
    digests = bucket_digests({origin: 12})
    text = (DOCS / "protocol.md").read_text()
    assert bucket_of(origin) == 231 and "bucket 231" in text
    assert digests[231] == "1315f54c056f507f" and digests[231] in text
    assert set(digests) - {digests[231]} == {"44136fa355b3678a"} and digests[0] in text


def test_every_test_cited_by_the_security_page_exists() -> None:
    import ast
    import re

    text = (DOCS / "security.md").read_text()
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", text))
    assert len(cited) > 30
    root = DOCS.parent
    missing = []
    for path, name in sorted(cited):
        tree = ast.parse((root / path).read_text())
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if name not in defined:
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/security.md cites tests that do not exist: {missing}"
