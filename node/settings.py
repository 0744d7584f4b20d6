"""Settings are data: each ``Setting`` feeds the config file, the environment
(``PAPI_<NAME>``), validation and the documentation (docs/configuration.md is checked
against this list by a test)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address, HeaderRegistry
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .i18n import N_, Translatable

CONFIG_FILE = "papi.toml"
KEY_FILE = "node.key"
#: Present while this key may start a new log (see node/services/bootstrap.py).
NEW_LOG_MARKER = "new-log"
#: Present after 'papi restore' until our log has caught up with our peers' copies of it.
RESTORED_MARKER = "restored"
DATABASE_FILE = "papi.sqlite3"


class ConfigError(Translatable):
    """The configuration cannot be used; the message says which file and what to fix."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("name", "", "Name of the place (its profile's nom; 'papi init --name' updates both)."),
    Setting("commune", "", "Commune of the place ('papi init --commune' updates the profile)."),
    Setting("url", "", "Public base URL of this node, advertised to peers (empty: none)."),
    Setting("host", "127.0.0.1", "Interface 'papi serve' listens on."),
    Setting("port", 8000, "TCP port 'papi serve' listens on."),
    Setting("max_body_bytes", 256 * 1024, "Largest request body accepted (bytes)."),
    Setting("max_payload_bytes", 128 * 1024, "Largest entry payload accepted (canonical bytes)."),
    Setting("max_future_seconds", 86400, "Reject entries dated further ahead than this."),
    Setting("sync_interval_seconds", 60, "Seconds between anti-entropy rounds (with jitter)."),
    Setting("push_fanout", 3, "How many peers a new entry is pushed (or forwarded) to."),
    Setting("gossip_ttl", 6, "Hops a pushed entry may still be forwarded."),
    Setting("pull_only", False, "Never expect inbound requests (node behind NAT)."),
    Setting("allow_private_peers", False, "Contact discovered peers on private addresses."),
    Setting("sync_page_bytes", 1024 * 1024, "Upper bound of one sync answer (bytes)."),
    Setting("peer_timeout_seconds", 20.0, "Timeout of one request to a peer."),
    Setting("rate_limit_per_minute", 1200, "Requests per minute allowed per client (0: off)."),
    Setting("scheduler", True, "Run the background sync and delivery jobs."),
    Setting("log_level", "info", "Log level: debug, info, warning, error."),
    Setting("pending_max_entries", 50_000, "Entries kept aside beyond gaps, all origins."),
    Setting("pending_max_bytes", 50 * 1024 * 1024, "Bytes kept aside beyond gaps, all origins."),
    Setting("new_origins_per_hour", 100, "New origins one peer or client may bring per hour."),
    Setting("peer_connect_timeout_seconds", 5.0, "Time allowed to connect to a peer."),
    Setting("peer_request_deadline_seconds", 60.0, "Total time allowed for one request to a peer."),
    Setting("push_deadline_seconds", 15.0, "Total time allowed for one push to a peer."),
    Setting(
        "sync_round_deadline_seconds", 300.0, "Total time of one background round with a peer."
    ),
    Setting("sync_concurrency", 4, "Peers a sync round talks to at the same time."),
    Setting("delivery_concurrency", 4, "Peers pushed to at the same time."),
    Setting("max_heavy_federation_requests", 2, "Heavy federation requests served at once."),
    Setting("clock_skew_min_peers", 2, "Peers needed to judge our clock behind (ahead: one)."),
    Setting("min_free_disk_bytes", 64 * 1024 * 1024, "Free disk below which /readyz fails."),
    Setting(
        "map_tiles_url",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Map tiles of the web pages' maps, {z}/{x}/{y} URL (empty: no map, lists only).",
    ),
    Setting("blob_max_bytes", 20 * 1024 * 1024, "Largest attachment accepted or fetched (bytes)."),
    Setting("blob_quota_bytes", 2 * 1024**3, "Disk space attachments may take in all (bytes)."),
    Setting("smtp_host", "", "SMTP server of notification mails (empty: no mail is sent)."),
    Setting("smtp_port", 587, "Port of the SMTP server (587 STARTTLS, 465 TLS)."),
    Setting("smtp_security", "starttls", "starttls, tls (implicit TLS) or none."),
    Setting("smtp_user", "", "SMTP login (empty: no authentication)."),
    Setting("smtp_password", "", "SMTP password (a secret: never logged nor shown)."),
    Setting("smtp_from", "", "Sender of notification mails (empty: derived, see the docs)."),
    Setting("notify_email", "", "Recipient of notifications (empty: the place's first courriel)."),
    Setting("smtp_timeout_seconds", 30.0, "Timeout of each step of an SMTP exchange."),
    Setting(
        "founders",
        "",
        "Founding members' origin ids (TOML list, or comma-separated; empty: open network).",
    ),
    Setting(
        "vouches_required", 1, "Members' vouches a new place needs (a founder's: one is enough)."
    ),
    Setting(
        "member_purge_days",
        30,
        "Days the data of an origin that stops being a member is kept hidden.",
    ),
    Setting(
        "candidates_max", 1000, "Non-member origins remembered as candidates (refused, not stored)."
    ),
    Setting("coop_retention_days", 90, "Days this node keeps its own requests after they end."),
    Setting(
        "metrics_token",
        "",
        "Bearer token /metrics requires (a secret; empty: /metrics is public).",
    ),
    Setting("log_format", "text", "Log lines of 'papi serve': text, or json (one object a line)."),
    Setting(
        "backup_max_age_days", 7, "The status page warns when the last backup is older (0: never)."
    ),
    Setting(
        "federation_features",
        "broadcast changes",
        "Protocol 1.1 features spoken, space-separated: broadcast, changes (empty: version 1).",
    ),
    Setting("broadcast_degree", 4, "Broadcast neighbours this node chooses (protocol 1.1)."),
    Setting("broadcast_max_neighbours", 8, "Broadcast neighbours in all, chosen or not."),
    Setting("changes_settle_seconds", 10.0, "Entries this recent are not listed as changes yet."),
    Setting("full_round_hours", 24.0, "A full anti-entropy round with one peer this often."),
    Setting("check_processes", 1, "Processes that check a sync round's large pages (0: none)."),
)

_DEFAULTS = {setting.name: setting.default for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    name: str = _DEFAULTS["name"]
    commune: str = _DEFAULTS["commune"]
    url: str = _DEFAULTS["url"]
    host: str = _DEFAULTS["host"]
    port: int = _DEFAULTS["port"]
    max_body_bytes: int = _DEFAULTS["max_body_bytes"]
    max_payload_bytes: int = _DEFAULTS["max_payload_bytes"]
    max_future_seconds: int = _DEFAULTS["max_future_seconds"]
    sync_interval_seconds: int = _DEFAULTS["sync_interval_seconds"]
    push_fanout: int = _DEFAULTS["push_fanout"]
    gossip_ttl: int = _DEFAULTS["gossip_ttl"]
    pull_only: bool = _DEFAULTS["pull_only"]
    allow_private_peers: bool = _DEFAULTS["allow_private_peers"]
    sync_page_bytes: int = _DEFAULTS["sync_page_bytes"]
    peer_timeout_seconds: float = _DEFAULTS["peer_timeout_seconds"]
    rate_limit_per_minute: int = _DEFAULTS["rate_limit_per_minute"]
    scheduler: bool = _DEFAULTS["scheduler"]
    log_level: str = _DEFAULTS["log_level"]
    pending_max_entries: int = _DEFAULTS["pending_max_entries"]
    pending_max_bytes: int = _DEFAULTS["pending_max_bytes"]
    new_origins_per_hour: int = _DEFAULTS["new_origins_per_hour"]
    peer_connect_timeout_seconds: float = _DEFAULTS["peer_connect_timeout_seconds"]
    peer_request_deadline_seconds: float = _DEFAULTS["peer_request_deadline_seconds"]
    push_deadline_seconds: float = _DEFAULTS["push_deadline_seconds"]
    sync_round_deadline_seconds: float = _DEFAULTS["sync_round_deadline_seconds"]
    sync_concurrency: int = _DEFAULTS["sync_concurrency"]
    delivery_concurrency: int = _DEFAULTS["delivery_concurrency"]
    max_heavy_federation_requests: int = _DEFAULTS["max_heavy_federation_requests"]
    clock_skew_min_peers: int = _DEFAULTS["clock_skew_min_peers"]
    min_free_disk_bytes: int = _DEFAULTS["min_free_disk_bytes"]
    map_tiles_url: str = _DEFAULTS["map_tiles_url"]
    blob_max_bytes: int = _DEFAULTS["blob_max_bytes"]
    blob_quota_bytes: int = _DEFAULTS["blob_quota_bytes"]
    smtp_host: str = _DEFAULTS["smtp_host"]
    smtp_port: int = _DEFAULTS["smtp_port"]
    smtp_security: str = _DEFAULTS["smtp_security"]
    smtp_user: str = _DEFAULTS["smtp_user"]
    smtp_password: str = field(default=_DEFAULTS["smtp_password"], repr=False)
    smtp_from: str = _DEFAULTS["smtp_from"]
    notify_email: str = _DEFAULTS["notify_email"]
    smtp_timeout_seconds: float = _DEFAULTS["smtp_timeout_seconds"]
    founders: str = _DEFAULTS["founders"]
    vouches_required: int = _DEFAULTS["vouches_required"]
    member_purge_days: int = _DEFAULTS["member_purge_days"]
    candidates_max: int = _DEFAULTS["candidates_max"]
    coop_retention_days: int = _DEFAULTS["coop_retention_days"]
    metrics_token: str = field(default=_DEFAULTS["metrics_token"], repr=False)
    log_format: str = _DEFAULTS["log_format"]
    backup_max_age_days: int = _DEFAULTS["backup_max_age_days"]
    federation_features: str = _DEFAULTS["federation_features"]
    broadcast_degree: int = _DEFAULTS["broadcast_degree"]
    broadcast_max_neighbours: int = _DEFAULTS["broadcast_max_neighbours"]
    changes_settle_seconds: float = _DEFAULTS["changes_settle_seconds"]
    full_round_hours: float = _DEFAULTS["full_round_hours"]
    check_processes: int = _DEFAULTS["check_processes"]

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE

    @property
    def key_path(self) -> Path:
        return self.data_dir / KEY_FILE

    @property
    def db_url(self) -> str:
        return f"sqlite://{self.data_dir / DATABASE_FILE}"

    @property
    def advertised_url(self) -> str | None:
        """The URL this node gives peers to reach it: none when it is pull-only (it takes
        no pushes) or has no public URL."""
        return None if self.pull_only or not self.url else self.url

    @property
    def mail_enabled(self) -> bool:
        """Notification mails are sent only when an SMTP server is configured."""
        return bool(self.smtp_host)

    @property
    def smtp_sender(self) -> str:
        """The From of notification mails: ``smtp_from``, else the SMTP login when it is
        an address (what most providers require), else noreply at the host of ``url``;
        empty when none of them gives one."""
        if self.smtp_from:
            return self.smtp_from
        if "@" in self.smtp_user:
            return f"papi-node <{self.smtp_user}>"
        host = urlsplit(self.url).hostname if self.url else None
        return f"papi-node <noreply@{host}>" if host else ""

    @property
    def founder_ids(self) -> tuple[str, ...]:
        """The founders' origin ids (empty: an open network, docs/protocol.md 16)."""
        return tuple(part.strip() for part in self.founders.split(",") if part.strip())

    @property
    def features(self) -> frozenset[str]:
        """The protocol 1.1 features this node speaks (docs/protocol.md 11.1)."""
        return frozenset(self.federation_features.split())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, value: Any, source: str) -> Any:
    if name == "founders":
        return _founders(value, source)
    default = _DEFAULTS[name]
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if isinstance(default, int):
            if isinstance(value, bool):
                raise ValueError("not an integer")
            return int(value)
        if isinstance(default, float):
            return float(value)
        if not isinstance(value, str):
            raise ValueError("not a string")
        return value
    except ValueError as exc:
        raise ConfigError(
            N_("%(source)s: setting %(name)s: %(error)s"), source=source, name=name, error=exc
        ) from None


def _founders(value: Any, source: str) -> str:
    """``founders`` as one comma-separated text of origin ids, each checked."""
    from federation.keys import public_key_bytes

    parts = value if isinstance(value, list) else str(value).split(",")
    ids = [str(part).strip() for part in parts if str(part).strip()]
    for origin in ids:
        try:
            public_key_bytes(origin)
        except ValueError:
            raise ConfigError(
                f"{source}: setting 'founders': {origin!r} is not an origin id "
                "(ed25519: followed by 43 base64url characters)"
            ) from None
    return ",".join(ids)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            N_("%(path)s is not valid TOML (%(error)s); fix or remove it"), path=path, error=exc
        ) from None
    except OSError as exc:
        raise ConfigError(
            N_("cannot read %(path)s: %(error)s"), path=path, error=exc.strerror
        ) from None
    return document


#: Settings of earlier versions that no longer exist, and what to do about them.
REMOVED_SETTINGS = {
    "database_url": N_(
        "%(path)s: 'database_url' was removed: a node keeps its data in SQLite, in its data "
        "directory (search needs SQLite's FTS5; one small database per place). Remove the line."
    ),
}


def load_settings(
    data_dir: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults < config file < environment (``PAPI_*``) < explicit overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = data_dir / CONFIG_FILE
    for name, value in read_config_file(config_path).items():
        if name in REMOVED_SETTINGS:
            raise ConfigError(REMOVED_SETTINGS[name], path=config_path)
        if name not in _DEFAULTS:
            raise ConfigError(N_("%(path)s: unknown setting %(name)s"), path=config_path, name=name)
        values[name] = _coerce(name, value, str(config_path))
    for name in _DEFAULTS:
        env_name = f"PAPI_{name.upper()}"
        if env_name in environ:
            values[name] = _coerce(name, environ[env_name], f"environment {env_name}")
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, "command line")
    settings = Settings(data_dir=data_dir, **values)
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"{config_path}: setting 'log_format' must be text or json")
    check_mail_settings(settings, str(config_path))
    check_federation_settings(settings, str(config_path))
    return settings


def render_config(values: Mapping[str, Any]) -> str:
    """A commented TOML config file holding ``values``."""
    lines = ["# papi-node configuration. Every setting: docs/configuration.md", ""]
    for setting in SETTINGS:
        if setting.name in values:
            lines.append(f"# {setting.help}")
            lines.append(f"{setting.name} = {_toml_value(values[setting.name])}")
    return "\n".join(lines) + "\n"


def update_config(path: Path, values: Mapping[str, Any]) -> None:
    """Set ``values`` in the config file, keeping the settings already there."""
    merged = {**read_config_file(path), **values}
    for name, value in merged.items():
        if name not in _DEFAULTS:
            raise ConfigError(N_("%(path)s: unknown setting %(name)s"), path=path, name=name)
        _coerce(name, value, str(path))
    try:
        path.write_text(render_config(merged))
    except OSError as exc:
        raise ConfigError(
            N_("cannot write %(path)s: %(error)s"), path=path, error=exc.strerror
        ) from None


def _toml_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


# -- notification mails ------------------------------------------------------------------

SMTP_SECURITY = ("starttls", "tls", "none")


def check_mail_settings(settings: Settings, source: str) -> None:
    """The mail settings hold together (checked when mail is on): a known security
    mode, a port, addresses that are one address each (no line break that could add a
    header), and a sender."""
    if not settings.mail_enabled:
        return
    if settings.smtp_security not in SMTP_SECURITY:
        raise ConfigError(
            N_("%(source)s: setting smtp_security must be one of %(values)s"),
            source=source,
            values=", ".join(SMTP_SECURITY),
        )
    if not 0 < settings.smtp_port < 65536:
        raise ConfigError(
            N_("%(source)s: setting smtp_port must be between 1 and 65535"), source=source
        )
    if settings.smtp_timeout_seconds <= 0:
        raise ConfigError(
            N_("%(source)s: setting smtp_timeout_seconds must be positive"), source=source
        )
    if not settings.smtp_sender:
        raise ConfigError(
            N_(
                "%(source)s: setting smtp_from is needed (the sender of notification mails, "
                'e.g. "papi-node <noreply@mon-lieu.fr>"): smtp_user is not an address and '
                "url is empty"
            ),
            source=source,
        )
    sender_name = "smtp_from" if settings.smtp_from else "smtp_from (derived from smtp_user)"
    for name, value in (
        (sender_name, settings.smtp_sender),
        ("notify_email", settings.notify_email),
    ):
        if value and single_address(value) is None:
            raise ConfigError(
                N_("%(source)s: setting %(name)s: not one e-mail address: %(value)s"),
                source=source,
                name=name,
                value=repr(value),
            )
    for name in ("smtp_host", "smtp_user", "smtp_password"):
        if any(char in getattr(settings, name) for char in "\r\n\0"):
            raise ConfigError(
                N_("%(source)s: setting %(name)s holds a line break"), source=source, name=name
            )


def single_address(value: str) -> str | None:
    """The address of ``Name <user@host>`` or ``user@host``; None unless ``value`` is
    exactly one address, on one line."""
    if any(char in value for char in "\r\n\0"):
        return None
    try:
        header = _HEADERS("to", value)
    except (ValueError, IndexError, TypeError):
        return None
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if len(addresses) != 1 or defects or not addresses[0].username or not addresses[0].domain:
        return None
    return str(addresses[0].addr_spec)


_HEADERS = HeaderRegistry()


# -- protocol 1.1 --------------------------------------------------------------------------

#: The protocol 1.1 features this implementation can speak (``territory`` is not one yet).
KNOWN_FEATURES = ("broadcast", "changes")


def check_federation_settings(settings: Settings, source: str) -> None:
    unknown = sorted(settings.features - set(KNOWN_FEATURES))
    if unknown:
        raise ConfigError(
            f"{source}: setting 'federation_features': unknown {', '.join(unknown)}"
            f" (known: {', '.join(KNOWN_FEATURES)})"
        )
    if settings.broadcast_degree < 1 or settings.broadcast_max_neighbours < 1:
        raise ConfigError(f"{source}: broadcast_degree and broadcast_max_neighbours must be >= 1")
    if settings.changes_settle_seconds < 0 or settings.full_round_hours <= 0:
        raise ConfigError(f"{source}: changes_settle_seconds must be >= 0 and full_round_hours > 0")
    if not 0 <= settings.check_processes <= 16:
        raise ConfigError(f"{source}: check_processes must be between 0 and 16")
