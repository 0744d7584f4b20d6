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
