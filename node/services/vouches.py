"""Vouching for a place and revoking a vouch: one signed ``vouch`` entry of our log each
(docs/protocol.md 16), whose oid is derived from the subject, so that each of our vouches
about one place is one object with its history."""

from __future__ import annotations

from typing import Any

from federation.entry import Entry
from federation.keys import public_key_bytes
from federation.membership import vouch_oid

from ..i18n import N_, Translatable
from ..runtime import Node
from .invitations import mark_request
from .log import publish

#: Title of a vouch written without one (the schema requires a title).
DEFAULT_TITLE = "Membre du réseau"
REVOKED_TITLE = "Garantie retirée"


class VouchRefused(Translatable, ValueError):
    """A vouch that cannot be written (not an origin id, oneself): a ``ValueError`` whose
    message is said in each reader's language (``text``; ``str()`` is English)."""


def check_origin(subject: str) -> str:
    """``subject`` if it is an origin id; ``VouchRefused`` (a ``ValueError``) if not."""
    subject = subject.strip()
    try:
        public_key_bytes(subject)
    except ValueError:
        raise VouchRefused(
            N_("%(subject)r is not a place's id (ed25519: followed by 43 characters)"),
            subject=subject,
        ) from None
    return subject


async def vouch(node: Node, subject: str, title: str = "", description: str = "") -> Entry:
    """Vouch for ``subject``: it becomes a member wherever our vouch counts."""
    subject = check_origin(subject)
    if subject == node.origin:
        raise VouchRefused(N_("a place cannot vouch for itself"))
    payload: dict[str, Any] = {"title": title.strip() or DEFAULT_TITLE, "subject": subject}
    if description.strip():
        payload["description"] = description.strip()
    entry = await publish(node, "vouch", vouch_oid(subject), "put", payload)
    # Its join request, if it filed one here, is answered (the page, the API, the CLI).
    await mark_request(node.db.connection(), subject, "vouched")
    return entry


async def revoke(node: Node, subject: str, reason: str = "") -> Entry:
    """Withdraw our vouch for ``subject`` (a founder's revocation excludes it)."""
    subject = check_origin(subject)
    payload: dict[str, Any] = {"title": REVOKED_TITLE, "subject": subject, "revoked": True}
    if reason.strip():
        payload["description"] = reason.strip()
    return await publish(node, "vouch", vouch_oid(subject), "put", payload)
