"""``papi doctor``: check a data directory and say, for each problem, how to fix it.

It only reads: files' modes and owners, the configuration, the key, the database (SQLite's
``integrity_check`` and a few rows), the serve lock, the clock, and the advertised URL
fetched from this machine. The advertised URL is checked *from this machine's point of
view*: a peer elsewhere may still fail to reach it (port forwarding, a firewall, a DNS
name that only resolves inside the room); the protocol has no way to ask a peer to try.

It speaks the command line's language (``locale_text``: French unless the locale asks for
English) and gives times in Paris time with their zone.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import os
import shutil
import stat
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from federation.errors import KeyFileError
from federation.keys import NodeKey
from federation.timeutil import parse_ts

from ..i18n import local_time, locale_language, translations
from ..i18n import locale_ngettext as ngettext
from ..i18n import locale_text as _
from ..migrations import LATEST
from ..services.identity import read_origin
from ..services.peers import PeerState
from ..settings import (
    CONFIG_FILE,
    DATABASE_FILE,
    KEY_FILE,
    NEW_LOG_MARKER,
    RESTORED_MARKER,
    ConfigError,
    Settings,
    load_settings,
)
from ..store import files
from . import servelock
from .backup import STAGING_PREFIX, backup_overdue, last_backup
from .owner import foreign_owner

SESSION_KEY_FILE = "session.key"
#: Below this, a node can no longer store what it receives.
MIN_FREE_BYTES = 200 * 1024 * 1024
#: Clock difference with a peer above which we speak up.
MAX_SKEW = timedelta(minutes=2)
#: A staging directory older than this was left by an interrupted backup or restore.
STALE_STAGING_SECONDS = 3600
#: Peers asked for their clock (manual peers first).
CLOCK_PEERS = 3


@dataclass(frozen=True)
class Finding:
    #: True: fine; False: a problem (with its fix); None: information, not checked.
    ok: bool | None
    message: str
    fix: str = ""


@dataclass
class Facts:
    """What the checks learnt and the later checks use."""

    data_dir: Path
    settings: Settings | None = None
    origin: str | None = None
    database_ok: bool = False
    head_seq: int = 0
    last_ts: datetime | None = None
    own_frozen: bool = False
    #: The place's offline recovery key, as its log declares it (None: none declared).
    recovery_key: str | None = None
    peers: list[dict[str, Any]] = field(default_factory=list)
    running_pid: str | None = None
    schema_version: int = 0


def diagnose(data_dir: Path, timeout: float = 5.0) -> list[Finding]:
    findings: list[Finding] = []
    facts = Facts(data_dir)
    if not data_dir.is_dir():
        return [
            Finding(
                False,
                _("The data directory %(dir)s does not exist.", dir=data_dir),
                _(
                    "Create the node (papi init --data-dir %(dir)s) or restore a backup "
                    "(papi restore FILE --data-dir %(dir)s).",
                    dir=data_dir,
                ),
            )
        ]
    findings += _directory(data_dir)
    findings += _config(facts)
    findings += _key(facts)
    findings += _session_key(data_dir)
    facts.running_pid = servelock.running_pid(data_dir)
    owner = foreign_owner(data_dir)
    if owner is not None:
        # Opening the database as root would leave root-owned -wal/-shm files behind.
        findings.append(
            Finding(
                None,
                _("Run as root: the database is not opened (its files would become root's)."),
                _(
                    "To check it too: sudo -u %(owner)s papi doctor --data-dir %(dir)s",
                    owner=owner,
                    dir=data_dir,
                ),
            )
        )
    else:
        findings += _database(facts)
        if facts.database_ok:
            findings += _log_state(facts)
            findings += _recovery_key(facts)
            findings += _peers(facts)
    findings.append(_running(facts))
    findings += _backups(facts)
    findings += _disk(data_dir)
    findings += _clock(facts, timeout)
    findings += _advertised_url(facts, timeout)
    return findings


def render(findings: list[Finding], data_dir: Path) -> str:
    lines = [_("papi doctor: %(dir)s (seen from this machine)", dir=data_dir)]
    for finding in findings:
        label = {True: "OK", False: _("PROBLEM"), None: "INFO"}[finding.ok]
        lines.append(f"{label:9} {finding.message}")
        if finding.fix:
            lines.append(f"{'':9} → {finding.fix}")
    problems = sum(1 for finding in findings if finding.ok is False)
    if problems:
        lines.append(ngettext("%(num)s problem to fix.", "%(num)s problems to fix.", problems))
    else:
        lines.append(_("No problem found."))
    return "\n".join(lines) + "\n"


# -- files ------------------------------------------------------------------------------


def _private(path: Path, what: str, mode: int) -> Finding | None:
    """A problem when group or others have any access to ``path``."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        return Finding(
            False,
            _("%(what)s is accessible to other users (mode %(mode)o).", what=what, mode=current),
            _("chmod %(wanted)o %(path)s", wanted=mode, path=path),
        )
    return None


def _directory(data_dir: Path) -> list[Finding]:
    findings = []
    problem = _private(data_dir, _("The data directory %(dir)s", dir=data_dir), 0o700)
    info = data_dir.stat()
    strangers = sorted(
        path.name
        for path in data_dir.iterdir()
        if path.lstat().st_uid != info.st_uid and not path.name.startswith(STAGING_PREFIX)
    )
    if strangers:
        findings.append(
            Finding(
                False,
                _(
                    "Some files do not belong to the directory's owner: %(names)s "
                    "(often after a command run with sudo without -u).",
                    names=", ".join(strangers[:5]),
                ),
                _(
                    "chown -R %(uid)d:%(gid)d %(dir)s",
                    uid=info.st_uid,
                    gid=info.st_gid,
                    dir=data_dir,
                ),
            )
        )
    if os.geteuid() != 0 and not os.access(data_dir, os.W_OK | os.X_OK):
        findings.append(
            Finding(
                False,
                _("The directory %(dir)s is not writable by this user.", dir=data_dir),
                _("Run the papi commands as the directory's owner (sudo -u papi …)."),
            )
        )
    stale = sorted(
        str(path)
        for path in data_dir.glob(f"{STAGING_PREFIX}*")
        if path.stat().st_mtime < time.time() - STALE_STAGING_SECONDS
    )
    if stale:
        findings.append(
            Finding(
                False,
                _(
                    "An interrupted backup or restore left temporary files: %(paths)s",
                    paths=", ".join(stale),
                ),
                _("rm -rf %(paths)s", paths=" ".join(stale)),
            )
        )
    if problem:
        findings.append(problem)
    if not findings:
        findings.append(
            Finding(True, _("Data directory %(dir)s: private (mode 700).", dir=data_dir))
        )
    return findings


def _config(facts: Facts) -> list[Finding]:
    path = facts.data_dir / CONFIG_FILE
    findings: list[Finding] = []
    if not path.exists():
        findings.append(
            Finding(
                False,
                _(
                    "The configuration %(path)s is missing (the node runs with the "
                    "default settings).",
                    path=path,
                ),
                _(
                    'papi init --data-dir %(dir)s --name "…" --commune "…" --url '
                    "https://… recreates it (the key is kept).",
                    dir=facts.data_dir,
                ),
            )
        )
    elif problem := _private(path, CONFIG_FILE, 0o600):
        findings.append(problem)
    try:
        facts.settings = load_settings(facts.data_dir)
    except ConfigError as exc:
        findings.append(
            Finding(
                False,
                _(
                    "The configuration cannot be read: %(error)s",
                    error=exc.text(translations(locale_language()).gettext),
                ),
                _(
                    "Correct or remove the offending line of %(path)s (settings: "
                    "docs/configuration.md).",
                    path=path,
                ),
            )
        )
        return findings
    if path.exists() and not findings:
        findings.append(Finding(True, _("Configuration %(path)s readable.", path=path)))
    return findings


def _key(facts: Facts) -> list[Finding]:
    path = facts.data_dir / KEY_FILE
    if not path.exists():
        return [
            Finding(
                False,
                _("The node key %(path)s is missing: it is the place's identity.", path=path),
                _(
                    "Restore the last backup (papi restore FILE). Without a backup, "
                    "'papi init' creates a NEW node, unknown to your peers."
                ),
            )
        ]
    if problem := _private(path, KEY_FILE, 0o600):
        return [
            Finding(
                False,
                _(
                    "%(msg)s The node refuses to start with a key others can read.",
                    msg=problem.message,
                ),
                problem.fix,
            )
        ]
    try:
        key = NodeKey.load(path).origin
    except KeyFileError as exc:
        return [
            Finding(
                False,
                _("The node key is unusable: %(error)s", error=exc),
                _("Restore the key from the last backup (papi restore FILE)."),
            )
        ]
    # After a key rotation or a recovery, the place keeps its first key's id (origin file).
    facts.origin = read_origin(facts.data_dir) or key
    if facts.origin != key:
        return [
            Finding(
                True,
                _(
                    "Node key readable, private: %(key)s (place %(origin)s, whose key has changed)",
                    key=key,
                    origin=facts.origin,
                ),
            )
        ]
    return [Finding(True, _("Node key readable, private: %(origin)s", origin=facts.origin))]


def _session_key(data_dir: Path) -> list[Finding]:
    path = data_dir / SESSION_KEY_FILE
    if not path.exists():
        return []  # created at the first start
    if problem := _private(path, SESSION_KEY_FILE, 0o600):
        return [problem]
    return []


def _disk(data_dir: Path) -> list[Finding]:
    free = shutil.disk_usage(data_dir).free
    if free < MIN_FREE_BYTES:
        return [
            Finding(
                False,
                _("Only %(mb)d MB left free for the data.", mb=free // 2**20),
                _(
                    "Free some space: old backups, system logs (sudo journalctl "
                    "--vacuum-size=100M)."
                ),
            )
        ]
    return [Finding(True, _("Free disk space: %(mb)d MB.", mb=free // 2**20))]


def _backups(facts: Facts) -> list[Finding]:
    max_days = facts.settings.backup_max_age_days if facts.settings else 0
    last = last_backup(facts.data_dir)
    fix = _(
        "papi backup /var/backups/papi/papi-$(date +%F).tar.gz; every "
        "night: the papi-backup.timer unit (deploy/README.md, step 9)."
    )
    if last is None:
        return [Finding(None, _("No backup of this node is recorded here."), fix)]
    when = local_time(last.created)
    if backup_overdue(facts.data_dir, max_days, datetime.now(UTC)):
        return [
            Finding(
                False,
                _(
                    "The last backup dates from %(when)s (%(file)s), more than %(days)d days ago.",
                    when=when,
                    file=last.file,
                    days=max_days,
                ),
                fix,
            )
        ]
    return [Finding(True, _("Last backup: %(when)s (%(file)s).", when=when, file=last.file))]


def _running(facts: Facts) -> Finding:
    if facts.running_pid:
        return Finding(None, _("The node is running (pid %(pid)s).", pid=facts.running_pid))
    return Finding(None, _("The node is not running on this directory at the moment."))


# -- database ---------------------------------------------------------------------------


def _database(facts: Facts) -> list[Finding]:
    path = facts.data_dir / DATABASE_FILE
    if not path.exists():
        return [
            Finding(
                False,
                _("The database %(path)s is missing.", path=path),
                _(
                    "Restore the last backup (papi restore FILE); otherwise, at start, "
                    "the node gets its log back from its peers."
                ),
            )
        ]
    findings: list[Finding] = []
    if problem := _private(path, DATABASE_FILE, 0o600):
        findings.append(problem)
    damaged = _(
        "Stop the node, then restore the last backup (papi restore FILE). "
        "Without a backup: put the database aside (mv %(path)s "
        "%(path)s.damaged) and restart; the node gets its log and the "
        "network's back from its peers.",
        path=path,
    )
    inspection = files.inspect(path, origin=facts.origin)
    facts.schema_version, status = inspection.schema_version, inspection.status
    if inspection.own is not None:
        _read_facts(inspection.own, facts)
    if status != "ok":
        findings.append(
            Finding(False, _("The database is damaged: %(error)s", error=status), damaged)
        )
        return findings
    facts.database_ok = True
    findings.append(Finding(True, _("Database %(path)s intact (integrity_check).", path=path)))
    findings.append(_schema(facts.schema_version, path))
    return findings


def _schema(version: int, path: Path) -> Finding:
    if version > LATEST:
        return Finding(
            False,
            _(
                "The database is at schema version %(found)d, newer than this "
                "software's (%(known)d): the node refuses to start on it.",
                found=version,
                known=LATEST,
            ),
            _(
                "Reinstall the version of papi-node that wrote it (or a later one); "
                "or restore a backup made before the upgrade (papi restore FILE)."
            ),
        )
    if version < LATEST:
        return Finding(
            None,
            _(
                "Database schema: version %(found)d; the node will migrate it to "
                "version %(known)d at its next start.",
                found=version,
                known=LATEST,
            ),
            _(
                "To do it now, with the node stopped: papi migrate --data-dir %(dir)s",
                dir=path.parent,
            ),
        )
    return Finding(True, _("Database schema up to date (version %(v)d).", v=version))


def _read_facts(own: files.OwnLog, facts: Facts) -> None:
    if own.head_seq is not None:
        facts.head_seq, facts.own_frozen = own.head_seq, own.frozen
    facts.recovery_key = own.recovery_key
    if own.last_header:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            facts.last_ts = parse_ts(json.loads(own.last_header)["ts"])
    facts.peers = [asdict(peer) for peer in own.peers]


def _log_state(facts: Facts) -> list[Finding]:
    data_dir = facts.data_dir
    if facts.own_frozen:
        return [
            Finding(
                False,
                _(
                    "This node received another version of its own log: two machines "
                    "use the same key (a copy of the SD card?)."
                ),
                _(
                    "Stop the other machine; one node, one key. Then ask the network's "
                    "coordinator how to start again."
                ),
            )
        ]
    if (data_dir / RESTORED_MARKER).exists():
        return [
            Finding(
                False,
                _(
                    "Restored from a backup: the node is catching up its own log from "
                    "its peers and refuses any change until then (log at entry "
                    "%(seq)d).",
                    seq=facts.head_seq,
                ),
                _(
                    "Check that peers answer (papi peer list), then run papi sync. An "
                    "isolated node that nobody has known since the backup: papi init "
                    "--new-log lifts the wait (if a peer received newer entries, there "
                    "will be a fork and the node will be frozen everywhere)."
                ),
            )
        ]
    if facts.head_seq == 0 and not (data_dir / NEW_LOG_MARKER).exists():
        return [
            Finding(
                False,
                _(
                    "This node's log is empty although its key existed: it waits to get "
                    "it back from its peers and refuses any change until then."
                ),
                _(
                    "papi peer add URL, then papi sync. If no peer ever received this "
                    "log: papi init --new-log."
                ),
            )
        ]
    return [
        Finding(
            True,
            ngettext(
                "Log of this node: %(num)s entry.",
                "Log of this node: %(num)s entries.",
                facts.head_seq,
            ),
        )
    ]


def _recovery_key(facts: Facts) -> list[Finding]:
    if facts.head_seq == 0:
        return []
    if facts.recovery_key is None:
        return [
            Finding(
                None,
                _(
                    "No recovery key declared: if the node key is lost or stolen, the "
                    "place cannot be taken back."
                ),
                _("papi key recovery (shows 24 words once, to keep in the place's safe)."),
            )
        ]
    return [
        Finding(
            True,
            _("Recovery key declared (%(key)s), kept off the machine.", key=facts.recovery_key),
        )
    ]


def _peers(facts: Facts) -> list[Finding]:
    peers = facts.peers
    if not peers:
        return [
            Finding(
                False,
                _("No peer: this node receives and sends nothing."),
                _("Join the network: papi peer add https://a-known-node.example.org"),
            )
        ]
    working = [peer for peer in peers if peer["state"] == PeerState.ok]
    manual = [peer for peer in peers if peer["source"] != "discovered"]
    if not working:
        errors = "; ".join(
            f"{peer['url']} : {(peer['last_error'] or peer['state'])[:80]}"
            for peer in (manual or peers)[:3]
        )
        return [
            Finding(
                False,
                _("No peer answered the last attempt (%(errors)s).", errors=errors),
                _(
                    "Check the peers' addresses and the connection (papi peer list), "
                    "then papi sync."
                ),
            )
        ]
    return [
        Finding(
            True,
            _("Peers: %(ok)d reachable out of %(n)d known.", ok=len(working), n=len(peers)),
        )
    ]


# -- clock and network ------------------------------------------------------------------


def _clock(facts: Facts, timeout: float) -> list[Finding]:
    now = datetime.now(UTC)
    findings: list[Finding] = []
    fix = _(
        "Set the time from the network: sudo timedatectl set-ntp true (a "
        "Raspberry Pi has no battery-backed clock: it needs the network at "
        "boot)."
    )
    if facts.last_ts is not None and now < facts.last_ts - MAX_SKEW:
        findings.append(
            Finding(
                False,
                _(
                    "The clock (%(now)s) is behind the last published entry (%(last)s).",
                    now=local_time(now),
                    last=local_time(facts.last_ts),
                ),
                fix,
            )
        )
    if _ntp_synchronised() is False:
        findings.append(
            Finding(False, _("The clock is not synchronised from the network (NTP)."), fix)
        )
    urls = [peer["url"] for peer in facts.peers][:CLOCK_PEERS]
    for url in urls:
        remote = _peer_date(url, timeout)
        if remote is None:
            continue
        skew = now - remote
        if abs(skew) > MAX_SKEW:
            findings.append(
                Finding(
                    False,
                    _(
                        "The clock differs by %(s)d seconds from the clock of the peer %(url)s.",
                        s=int(skew.total_seconds()),
                        url=url,
                    ),
                    fix,
                )
            )
        else:
            findings.append(
                Finding(True, _("Clock on time (compared with the peer %(url)s).", url=url))
            )
        break
    else:
        if not findings:
            findings.append(Finding(None, _("Clock not compared: no peer answered.")))
    return findings


def _ntp_synchronised() -> bool | None:
    """timedatectl's answer where systemd runs; None when it cannot tell."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    if done.returncode != 0 or answer not in ("yes", "no"):
        return None
    return answer == "yes"


def _peer_date(url: str, timeout: float) -> datetime | None:
    with contextlib.suppress(httpx.HTTPError, ValueError, TypeError):
        response = httpx.get(url.rstrip("/") + "/api/v1/node", timeout=timeout)
        header = response.headers.get("date")
        if header:
            return email.utils.parsedate_to_datetime(header).astimezone(UTC)
    return None


def _advertised_url(facts: Facts, timeout: float) -> list[Finding]:
    settings = facts.settings
    if settings is None:
        return []
    if settings.pull_only:
        return [
            Finding(
                None,
                _(
                    "pull_only: this node advertises no address; it fetches the news "
                    "from its peers without ever being called."
                ),
            )
        ]
    url = settings.url
    if not url:
        return [
            Finding(
                False,
                _("No public address (url): peers cannot reach this node."),
                _(
                    "papi init --url https://your-name.example.org; behind a router "
                    "without port forwarding: pull_only = true in %(path)s.",
                    path=settings.config_path,
                ),
            )
        ]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            Finding(
                False,
                _("The public address %(url)s is not an http(s) URL.", url=url),
                _("papi init --url https://your-name.example.org"),
            )
        ]
    findings: list[Finding] = []
    if parts.scheme == "http" and not _local_host(parts.hostname):
        findings.append(
            Finding(
                False,
                _(
                    "The public address %(url)s uses http: the passwords of /admin "
                    "would travel in clear.",
                    url=url,
                ),
                _(
                    "Put Caddy (deploy/Caddyfile, automatic certificate) or nginx and "
                    "certbot in front of the node, then papi init --url https://…"
                ),
            )
        )
    findings.append(_reachable(facts, url, timeout))
    return findings


def _local_host(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith((".local", ".lan", ".home.arpa")):
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def _reachable(facts: Facts, url: str, timeout: float) -> Finding:
    where = _(
        "seen from this machine; a peer elsewhere may still be kept out (port forwarding, firewall)"
    )
    try:
        response = httpx.get(
            url.rstrip("/") + "/api/v1/node", timeout=timeout, follow_redirects=True
        )
        answered = response.json().get("id") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        stopped = "" if facts.running_pid else " " + _("The node is not running: start it.")
        return Finding(
            False,
            _(
                "The advertised address %(url)s does not answer (%(error)s).",
                url=url,
                error=str(exc) or type(exc).__name__,
            ),
            _(
                "Check the service (systemctl status papi-node), the proxy (Caddy "
                "or nginx), the domain name and the router's port forwarding; if "
                "forwarding is impossible: pull_only = true.%(stopped)s",
                stopped=stopped,
            ),
        )
    if answered is None:
        return Finding(
            False,
            _(
                "The advertised address %(url)s does not answer as a papi node (status %(code)d).",
                url=url,
                code=response.status_code,
            ),
            _("The proxy (Caddy or nginx) must forward to the node's port."),
        )
    if answered != facts.origin:
        return Finding(
            False,
            _(
                "The advertised address %(url)s leads to another node (%(other)s).",
                url=url,
                other=answered,
            ),
            _("Correct the address (papi init --url …) or the proxy's configuration."),
        )
    return Finding(
        True,
        _(
            "The advertised address %(url)s answers with this node's identity (%(where)s).",
            url=url,
            where=where,
        ),
    )
