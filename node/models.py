"""Database rows. Entries are stored as their canonical JSON text so that what a node
serves is byte for byte what was signed; current objects are derived from entries."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model as TortoiseModel
from tortoise.models import ModelMeta


class _ModelMeta(ModelMeta):
    """Tortoise reads each model class's source (``inspect.getsource``, which parses this
    whole file again for every class) to copy its ``#:`` comments into the columns'
    comments: 0.2 to 0.3 s of every process start (each ``papi`` command) for comments
    that nothing reads. ``_no_comments`` turns that off; the comments stay for readers."""

    def __new__(cls, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> ModelMeta:
        attrs.setdefault("_no_comments", True)
        return super().__new__(cls, name, bases, attrs)


class Model(TortoiseModel, metaclass=_ModelMeta):
    """The base of the node's models (abstract)."""

    class Meta:
        abstract = True


class Origin(Model):
    """One origin whose log we hold (our own included), with its verified head."""

    id = fields.CharField(primary_key=True, max_length=60)
    head_seq = fields.BigIntField(default=0)
    head_hash = fields.CharField(max_length=71, null=True)
    frozen = fields.BooleanField(default=False)
    frozen_reason = fields.TextField(null=True)
    name = fields.CharField(max_length=200, null=True)
    commune = fields.CharField(max_length=100, null=True)
    first_seen = fields.DatetimeField(auto_now_add=True)
    last_received = fields.DatetimeField(null=True)

    class Meta:
        table = "origins"


class LogEntry(Model):
    """One verified entry of some origin's log. ``payload`` is NULL once purged."""

    id = fields.BigIntField(primary_key=True)
    origin = fields.CharField(max_length=60)
    seq = fields.BigIntField()
    kind = fields.CharField(max_length=16)
    oid = fields.CharField(max_length=64)
    op = fields.CharField(max_length=8)
    header = fields.TextField()
    sig = fields.CharField(max_length=90)
    hash = fields.CharField(max_length=71)
    payload = fields.TextField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "entries"
        unique_together = (("origin", "seq"),)
        indexes = (("origin", "kind", "oid"),)


class PendingEntry(Model):
    """An entry that arrived ahead of a gap in its origin's log, kept aside until the gap
    is filled (then applied) or it grows too old (then dropped)."""

    id = fields.BigIntField(primary_key=True)
    origin = fields.CharField(max_length=60)
    seq = fields.BigIntField()
    document = fields.TextField()
    received_at = fields.DatetimeField(auto_now_add=True)
    #: Who brought it (peer URL or client address; "" when local), for fair eviction.
    source = fields.CharField(max_length=300, default="")
    #: Bytes of ``document`` (UTF-8), counted against ``pending_max_bytes``.
    size = fields.IntField(default=0)

    class Meta:
        table = "pending_entries"
        unique_together = (("origin", "seq"),)
        indexes = (("source", "received_at"),)


class MissingPayload(Model):
    """A stored ``put`` whose payload we lack and that no later tombstone explains: it
    arrived stripped. The object keeps its previous state until the payload is repaired
    (a copy of the same entry with its payload) or a tombstone of the object arrives."""

    id = fields.BigIntField(primary_key=True)
    origin = fields.CharField(max_length=60)
    seq = fields.BigIntField()
    kind = fields.CharField(max_length=16)
    oid = fields.CharField(max_length=64)
    since = fields.DatetimeField(auto_now_add=True)
    #: Last time its payload was asked of peers (``services/repair.py``).
    last_request = fields.DatetimeField(null=True)

    class Meta:
        table = "missing_payloads"
        unique_together = (("origin", "seq"),)
        indexes = (("origin", "kind", "oid"),)


class OriginAdmission(Model):
    """The first time an origin we did not hold was brought to us, and by whom: each
    sender may introduce at most ``new_origins_per_hour`` origins an hour."""

    origin = fields.CharField(primary_key=True, max_length=60)
    sender = fields.CharField(max_length=300)
    at = fields.DatetimeField()

    class Meta:
        table = "origin_admissions"
        indexes = (("sender", "at"),)


class ForkEvidence(Model):
    """Two validly signed, different headers for the same (origin, seq)."""

    id = fields.IntField(primary_key=True)
    origin = fields.CharField(max_length=60)
    seq = fields.BigIntField()
    header_a = fields.TextField()
    sig_a = fields.CharField(max_length=90)
    header_b = fields.TextField()
    sig_b = fields.CharField(max_length=90)
    detected_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "fork_evidence"


class CurrentObject(Model):
    """The live state of one object: the payload of its highest-seq entry."""

    id = fields.BigIntField(primary_key=True)
    origin = fields.CharField(max_length=60)
    kind = fields.CharField(max_length=16)
    oid = fields.CharField(max_length=64)
    seq = fields.BigIntField()
    payload = fields.TextField()
    updated = fields.CharField(max_length=40)
    # Denormalised text for the full-text index (kept in sync by triggers, see db.py).
    title = fields.CharField(max_length=200)
    body = fields.TextField(default="")
    theme = fields.CharField(max_length=100, default="")
    place = fields.CharField(max_length=200, default="")
    commune = fields.CharField(max_length=100, default="")
    #: Events and bookings: UTC ISO start/end, for date filters and ordering.
    starts_at = fields.CharField(max_length=40, null=True)
    ends_at = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "objects"
        unique_together = (("origin", "kind", "oid"),)


class Peer(Model):
    """A node we talk to, with its sync state. Backoff lives here, not in memory."""

    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=300, unique=True)
    origin = fields.CharField(max_length=60, null=True)
    source = fields.CharField(max_length=16, default="manual")  # manual | discovered
    state = fields.CharField(max_length=16, default="new")  # a PeerState (services/peers.py)
    last_attempt = fields.DatetimeField(null=True)
    last_success = fields.DatetimeField(null=True)
    consecutive_failures = fields.IntField(default=0)
    next_attempt = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    entries_received = fields.BigIntField(default=0)
    created = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "peers"


class Delivery(Model):
    """An outbound push of some entries to one peer: a row with state and retries."""

    id = fields.BigIntField(primary_key=True)
    peer: fields.ForeignKeyRelation[Peer] = fields.ForeignKeyField(
        "models.Peer", related_name="deliveries", on_delete=fields.CASCADE
    )
    peer_id: int
    entries = fields.TextField()  # JSON list of [origin, seq]
    ttl = fields.IntField(default=0)
    state = fields.CharField(max_length=16, default="pending")  # services.deliveries.DeliveryState
    attempts = fields.IntField(default=0)
    next_attempt = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "deliveries"
        indexes = (("state", "next_attempt"),)


class ApiToken(Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    label = fields.CharField(max_length=100, default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    created = fields.DatetimeField(auto_now_add=True)
    last_used = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"


class User(Model):
    """Someone who may log in to /admin. Password hashed with argon2. ``role``:
    ``admin`` (the place, accounts, peers, tokens, and the offers) or ``animator`` (the
    offers only); the first account of a node is an administrator. A disabled account
    cannot log in (its sessions are deleted when it is disabled)."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=200)
    created = fields.DatetimeField(auto_now_add=True)
    role = fields.CharField(max_length=16, default="animator")
    disabled = fields.BooleanField(default=False)

    class Meta:
        table = "users"


class AdminSession(Model):
    """A logged-in animator. The session cookie carries a random token; only its SHA-256
    is kept here. Logging out deletes the row, a new password deletes all of the
    account's rows, and a row past ``expires`` is refused (and deleted)."""

    id = fields.CharField(primary_key=True, max_length=64)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    created = fields.DatetimeField(auto_now_add=True)
    last_seen = fields.DatetimeField()
    expires = fields.DatetimeField()

    class Meta:
        table = "admin_sessions"


class LoginFailure(Model):
    """One failed login (or one being checked), for rate limiting across restarts."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=300)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "login_failures"
        indexes = (("key", "at"),)


class Listing(Model):
    """A place imported from the national open data (``papi import lamednum``): a
    coordinator's directory data, never a signed entry and never sent to peers. It stays
    an unclaimed listing until a signed place with the same identity appears (see
    node/services/listings.py)."""

    id = fields.IntField(primary_key=True)
    #: The row's ``id`` in the standard (unique there).
    source_id = fields.CharField(max_length=200, unique=True)
    nom = fields.CharField(max_length=300)
    commune = fields.CharField(max_length=200, default="")
    #: Identity keys (node/services/listings.py): the SIRET/RNA, and name + commune.
    pivot_key = fields.CharField(max_length=20, default="", db_index=True)
    name_key = fields.CharField(max_length=500, default="", db_index=True)
    #: The row as imported: every field of the standard, as text.
    row = fields.TextField()
    source_file = fields.CharField(max_length=300, default="")
    imported_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "listings"
        indexes = (("commune", "nom"),)


class Blob(Model):
    """The bytes of an attachment, held on disk under ``blobs/`` by their SHA-256
    (node/services/blobstore.py). The row is the index: size for the quota, and the
    media type an upload was declared and checked with."""

    sha256 = fields.CharField(primary_key=True, max_length=64)
    size = fields.BigIntField()
    media_type = fields.CharField(max_length=100, null=True)
    created = fields.DatetimeField(auto_now_add=True)
    #: An upload no resource references yet is kept until then (the editor's grace).
    keep_until = fields.DatetimeField(null=True)

    class Meta:
        table = "blobs"


class BlobFetch(Model):
    """A blob referenced by a resource we hold and not held yet: fetched from peers in the
    background, retried with backoff, state in the row (like ``Delivery``)."""

    sha256 = fields.CharField(primary_key=True, max_length=64)
    #: The size the attachment announces; a peer's answer must have exactly this length.
    size = fields.BigIntField()
    #: pending | fetching | done | failed (larger than blob_max_bytes) | over_quota
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    #: JSON list of {"url", "error"}: the peers asked at the last attempt and what failed.
    tried = fields.TextField(default="[]")
    created = fields.DatetimeField(auto_now_add=True)
    updated = fields.DatetimeField(null=True)

    class Meta:
        table = "blob_fetches"
        indexes = (("state", "next_attempt"),)


class OutboxMail(Model):
    """A notification mail to send: queued in the transaction of the step that causes it
    (store first), sent by the mail worker, retried with backoff (node/mail/)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=40)
    recipient = fields.CharField(max_length=320)
    subject = fields.CharField(max_length=300)
    body = fields.TextField()
    message_id = fields.CharField(max_length=300)
    #: A mail with a key is queued at most once (a reminder found by a periodic scan).
    once_key = fields.CharField(max_length=300, null=True, unique=True)
    #: pending | sending | sent | failed (node/mail/states.py)
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_mails"
        indexes = (("state", "next_attempt"),)


class CoopTask(Model):
    """A cooperation entry addressed to this node (a loan request for one of its items,
    a lender's decision about one of its requests...), to be processed by the
    cooperation worker (node/cooperation/): inserted in the very transaction that stores
    the entry, processed in insertion order (``id``), state in the row."""

    id = fields.BigIntField(primary_key=True)
    #: The entry that caused it: its origin and seq, and its object.
    origin = fields.CharField(max_length=60)
    seq = fields.BigIntField()
    kind = fields.CharField(max_length=32)
    oid = fields.CharField(max_length=64)
    #: pending | done | failed (node/cooperation/states.py)
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created = fields.DatetimeField()
    finished = fields.DatetimeField(null=True)

    class Meta:
        table = "coop_tasks"
        unique_together = (("origin", "seq"),)
        indexes = (("state", "next_attempt"),)


class LoanRule(Model):
    """How this node lends one of its equipment items: a local setting of the place,
    never published (the decisions it leads to are)."""

    #: The equipment item's oid in this node's log.
    oid = fields.CharField(primary_key=True, max_length=64)
    #: Approve every request that fits at once, without an animator.
    auto_approve = fields.BooleanField(default=False)
    updated = fields.DatetimeField()

    class Meta:
        table = "loan_rules"


# -- protocol 1.1 (docs/protocol.md sections 11-13) ---------------------------------------


class PeerLink(Model):
    """What a peer speaks of protocol 1.1 and our broadcast link with it, kept across
    restarts beside its ``Peer`` row (backoff stays there)."""

    peer: fields.OneToOneRelation[Peer] = fields.OneToOneField(
        "models.Peer", related_name="link", on_delete=fields.CASCADE, primary_key=True
    )
    peer_id: int
    #: The features of its last ``GET /api/v1/node``, space-separated ("": version 1).
    features = fields.CharField(max_length=200, default="")
    #: When they were read (None: never, or forgotten after a 404/405).
    features_checked = fields.DatetimeField(null=True)
    #: A broadcast neighbour (section 12.1), and the mode of the link: eager | lazy.
    neighbour = fields.BooleanField(default=False)
    mode = fields.CharField(max_length=8, default="eager")
    #: Consecutive failed changes pulls or frames given up (2: it no longer counts).
    link_failures = fields.IntField(default=0)
    #: The last changes cursor it gave us (section 13).
    cursor = fields.CharField(max_length=81, null=True)

    class Meta:
        table = "peer_links"


class Frame(Model):
    """An outbound broadcast frame of some entries to one neighbour: a row with state and
    retries, like ``Delivery`` (store first). Due rows of one neighbour go together."""

    id = fields.BigIntField(primary_key=True)
    peer: fields.ForeignKeyRelation[Peer] = fields.ForeignKeyField(
        "models.Peer", related_name="frames", on_delete=fields.CASCADE
    )
    peer_id: int
    entries = fields.TextField()  # JSON list of [origin, seq]
    state = fields.CharField(max_length=16, default="pending")  # a DeliveryState too
    attempts = fields.IntField(default=0)
    next_attempt = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    #: The id of the first row of the request that sent it (rows sent together share it).
    request = fields.BigIntField(null=True)
    created = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "frames"
        indexes = (("state", "next_attempt"),)


class MissingHead(Model):
    """An origin announced further than we hold (section 12.3): who announced it, when to
    graft next and how many grafts were sent. Kept across restarts."""

    origin = fields.CharField(primary_key=True, max_length=60)
    wanted = fields.BigIntField()
    announcers = fields.TextField(default="[]")  # JSON list of peer URLs
    due = fields.FloatField()
    tries = fields.IntField(default=0)

    class Meta:
        table = "missing_heads"


class FederationState(Model):
    """Small named values of this node's federation state (the changes epoch)."""

    key = fields.CharField(primary_key=True, max_length=40)
    value = fields.CharField(max_length=200)

    class Meta:
        table = "federation_state"
