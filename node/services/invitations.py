"""Joining the network as a person would (docs/protocol.md 16.4): a member's node writes
an invitation code; the new place pastes it in its own node, which adopts the network's
founders (when it has none), adds the inviter as a peer and files a signed join request
with the inviter's node; the inviter's animators see the request with the place's name and
vouch with one click.

A code is ``PAPI1-`` + base64url of the RFC 8785 bytes of ``{"u": inviter's URL, "o":
inviter's origin, "n": nonce, "f": [founders]}``. The inviter keeps only the SHA-256 of
the nonce, for ``INVITATION_DAYS``, and accepts one request per invitation. The only
module that changes ``invitations`` and ``join_requests`` (their rows are
``store.invitations``)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation import schema
from federation.canonical import canonical_bytes
from federation.encoding import b64url_decode, b64url_encode
from federation.errors import SchemaError
from federation.keys import public_key_bytes, verify_signature
from federation.netguard import normalise_url
from federation.timeutil import utc_now

from ..i18n import N_, Translatable
from ..store import invitations as rows

if TYPE_CHECKING:
    from ..runtime import Node

CODE_PREFIX = "PAPI1-"
#: An invitation is valid this long.
INVITATION_DAYS = 14
#: Invitations not yet used, and join requests kept, at most (older ones go first).
MAX_OPEN_INVITATIONS = 200
MAX_REQUESTS = 200


class InvitationError(Translatable):
    """A code or a join request that cannot be used: the message is a msgid with its
    values, said in each reader's language (``text``; ``str()`` is English, for the API);
    ``code`` is stable, for programs."""

    def __init__(self, code: str, message: str, /, **values: Any) -> None:
        super().__init__(message, **values)
        self.code = code


@dataclass(frozen=True)
class Invitation:
    url: str
    origin: str
    nonce: str
    founders: tuple[str, ...]

    def code(self) -> str:
        document = {"u": self.url, "o": self.origin, "n": self.nonce, "f": list(self.founders)}
        return CODE_PREFIX + b64url_encode(canonical_bytes(document))


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


async def create_invitation(node: Node) -> Invitation:
    """A new invitation of this node (it needs a public URL to be reached)."""
    if not node.settings.url or node.settings.pull_only:
        raise InvitationError(
            "no_url",
            N_(
                "this node has no public address (setting url): a new place could not reach "
                "it; invite from a reachable node"
            ),
        )
    nonce = b64url_encode(secrets.token_bytes(16))
    now = utc_now()
    async with node.db.write_transaction() as conn:
        await rows.add_invitation(
            conn,
            nonce_hash=_hash(nonce),
            created=now,
            expires=now + timedelta(days=INVITATION_DAYS),
            keep_open=MAX_OPEN_INVITATIONS,
        )
    founders = node.membership.founder_list
    return Invitation(normalise_url(node.settings.url), node.origin, nonce, founders)


def parse_code(code: str) -> Invitation:
    """The invitation a pasted code holds; ``InvitationError`` when it is not one."""
    text = "".join(code.split())
    if not text.startswith(CODE_PREFIX):
        raise InvitationError(
            "bad_code", N_("this is not an invitation code (it starts with PAPI1-)")
        )
    try:
        document = json.loads(b64url_decode(text[len(CODE_PREFIX) :]))
        url = normalise_url(document["u"])
        origin, nonce = str(document["o"]), str(document["n"])
        founders = tuple(str(f) for f in document["f"])
        public_key_bytes(origin)
        for founder in founders:
            public_key_bytes(founder)
        if len(b64url_decode(nonce)) != 16:
            raise ValueError("nonce")
    except (ValueError, KeyError, TypeError):
        raise InvitationError(
            "bad_code", N_("this invitation code is incomplete or miscopied")
        ) from None
    return Invitation(url, origin, nonce, founders)


def join_request(node: Node, invitation: Invitation, name: str, commune: str) -> dict[str, Any]:
    """The signed request this node files with the inviter."""
    document: dict[str, Any] = {
        "invitation": invitation.nonce,
        "origin": node.origin,
        "name": name[:200] or "Nouveau lieu",
    }
    if commune:
        document["commune"] = commune[:100]
    if node.settings.url and not node.settings.pull_only:
        document["url"] = normalise_url(node.settings.url)
    document["sig"] = node.key.sign(canonical_bytes(document))
    return document


async def receive_join(conn: BaseDBAsyncClient, document: Any) -> dict[str, Any]:
    """Check a join request (schema, signature, an open invitation of ours) and keep it."""
    try:
        schema.validate("urn:papi:join-request", document)
    except SchemaError as exc:
        raise InvitationError(
            "invalid", N_("%(field)s: %(message)s"), field=exc.field or "request",
            message=exc.message,
        ) from None  # fmt: skip
    unsigned = {key: value for key, value in document.items() if key != "sig"}
    if not verify_signature(document["origin"], canonical_bytes(unsigned), document["sig"]):
        raise InvitationError("bad_signature", N_("the request is not signed by its origin's key"))
    now = utc_now()
    invitation = await rows.valid_invitation(
        conn, nonce_hash=_hash(document["invitation"]), now=now
    )
    if invitation is None or invitation.used_by not in (None, document["origin"]):
        raise InvitationError("unknown_invitation", N_("no such invitation, or used, or expired"))
    await rows.use_invitation(conn, invitation_id=invitation.id, origin=document["origin"])
    await rows.file_request(
        conn,
        origin=document["origin"],
        name=document["name"],
        commune=document.get("commune", ""),
        url=document.get("url"),
        now=now,
        keep=MAX_REQUESTS,
    )
    return {"origin": document["origin"], "name": document["name"]}


async def join_requests(conn: BaseDBAsyncClient) -> list[dict[str, Any]]:
    return [asdict(request) for request in await rows.requests(conn)]


async def mark_request(conn: BaseDBAsyncClient, origin: str, state: str) -> None:
    await rows.set_request_state(conn, origin=origin, state=state)


async def join(node: Node, code: str, name: str = "", commune: str = "") -> Invitation:
    """Answer an invitation: adopt its founders if this node has none, add the inviter as
    a peer, file the signed request with the inviter's node."""
    from federation.errors import PeerError

    from ..settings import update_config
    from .peers import add_peer, identified

    invitation = parse_code(code)
    if invitation.origin == node.origin:
        raise InvitationError("own_code", N_("this code was made by this very node"))
    if not node.membership.founders and invitation.founders:
        update_config(node.settings.config_path, {"founders": list(invitation.founders)})
        await node.membership.adopt(invitation.founders)
    async with node.peer_client() as client:
        try:
            info = await client.node_info(invitation.url)
            if info.get("id") != invitation.origin:
                raise InvitationError(
                    "wrong_node",
                    N_("the code's address does not answer in the name of the inviting place"),
                )
            request = join_request(node, invitation, name or node.settings.name, commune or
                                   node.settings.commune)  # fmt: skip
            await client.join(invitation.url, request)
        except PeerError as exc:
            raise InvitationError(
                "unreachable",
                N_("the inviting node did not accept the request: %(error)s"),
                error=str(exc),
            ) from None
    conn = node.db.connection()
    peer = await add_peer(invitation.url, conn=conn)
    if peer.origin is None:
        peer = await identified(peer, invitation.origin, conn=conn)
    node.wake_sync(peer.id)
    return invitation
