"""``papi doctor``: check a data directory and say, for each problem, how to fix it.

It only reads: files' modes and owners, the configuration, the key, the database (SQLite's
``integrity_check`` and a few rows), the serve lock, the clock, and the advertised URL
fetched from this machine. The advertised URL is checked *from this machine's point of
view*: a peer elsewhere may still fail to reach it (port forwarding, a firewall, a DNS
name that only resolves inside the room); the protocol has no way to ask a peer to try.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from federation.errors import KeyFileError
from federation.keys import NodeKey
from federation.timeutil import parse_ts

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
from . import servelock
from .backup import STAGING_PREFIX
from .owner import foreign_owner
from .text import t

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
    peers: list[dict[str, Any]] = field(default_factory=list)
    running_pid: str | None = None


def diagnose(data_dir: Path, timeout: float = 5.0) -> list[Finding]:
    findings: list[Finding] = []
    facts = Facts(data_dir)
    if not data_dir.is_dir():
        return [
            Finding(
                False,
                t("Le dossier de données %(dir)s n'existe pas.", dir=data_dir),
                t(
                    "Créez le nœud (papi init --data-dir %(dir)s) ou restaurez une sauvegarde "
                    "(papi restore FICHIER --data-dir %(dir)s).",
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
                t("Lancé en root : la base n'est pas ouverte (ses fichiers deviendraient "
                  "ceux de root)."),
                t("Pour la vérifier aussi : sudo -u %(owner)s papi doctor --data-dir %(dir)s",
                  owner=owner, dir=data_dir),
            )
        )  # fmt: skip
    else:
        findings += _database(facts)
        if facts.database_ok:
            findings += _log_state(facts)
            findings += _peers(facts)
    findings.append(_running(facts))
    findings += _disk(data_dir)
    findings += _clock(facts, timeout)
    findings += _advertised_url(facts, timeout)
    return findings


def render(findings: list[Finding], data_dir: Path) -> str:
    lines = [t("papi doctor : %(dir)s (vu depuis cette machine)", dir=data_dir)]
    for finding in findings:
        label = {True: "OK", False: t("PROBLÈME"), None: "INFO"}[finding.ok]
        lines.append(f"{label:9} {finding.message}")
        if finding.fix:
            lines.append(f"{'':9} → {finding.fix}")
    problems = sum(1 for finding in findings if finding.ok is False)
    if problems:
        lines.append(t("%(n)d problème(s) à corriger.", n=problems))
    else:
        lines.append(t("Aucun problème trouvé."))
    return "\n".join(lines) + "\n"


# -- files ------------------------------------------------------------------------------


def _private(path: Path, what: str, mode: int) -> Finding | None:
    """A problem when group or others have any access to ``path``."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        return Finding(
            False,
            t("%(what)s est accessible à d'autres utilisateurs (mode %(mode)o).",
              what=what, mode=current),
            t("chmod %(wanted)o %(path)s", wanted=mode, path=path),
        )  # fmt: skip
    return None


def _directory(data_dir: Path) -> list[Finding]:
    findings = []
    problem = _private(data_dir, t("Le dossier de données %(dir)s", dir=data_dir), 0o700)
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
                t("Des fichiers n'appartiennent pas au propriétaire du dossier : %(names)s "
                  "(souvent après une commande lancée avec sudo sans -u).",
                  names=", ".join(strangers[:5])),
                t("chown -R %(uid)d:%(gid)d %(dir)s", uid=info.st_uid, gid=info.st_gid,
                  dir=data_dir),
            )
        )  # fmt: skip
    if os.geteuid() != 0 and not os.access(data_dir, os.W_OK | os.X_OK):
        findings.append(
            Finding(
                False,
                t("Le dossier %(dir)s n'est pas modifiable par cet utilisateur.", dir=data_dir),
                t("Lancez les commandes papi en tant que propriétaire du dossier "
                  "(sudo -u papi …)."),
            )
        )  # fmt: skip
    stale = sorted(
        str(path)
        for path in data_dir.glob(f"{STAGING_PREFIX}*")
        if path.stat().st_mtime < time.time() - STALE_STAGING_SECONDS
    )
    if stale:
        findings.append(
            Finding(
                False,
                t("Une sauvegarde ou une restauration interrompue a laissé des fichiers "
                  "temporaires : %(paths)s", paths=", ".join(stale)),
                t("rm -rf %(paths)s", paths=" ".join(stale)),
            )
        )  # fmt: skip
    if problem:
        findings.append(problem)
    if not findings:
        findings.append(
            Finding(True, t("Dossier de données %(dir)s : privé (mode 700).", dir=data_dir))
        )
    return findings


def _config(facts: Facts) -> list[Finding]:
    path = facts.data_dir / CONFIG_FILE
    findings: list[Finding] = []
    if not path.exists():
        findings.append(
            Finding(
                False,
                t("La configuration %(path)s manque (le nœud tourne avec les réglages par "
                  "défaut).", path=path),
                t("papi init --data-dir %(dir)s --name \"…\" --commune \"…\" --url https://… "
                  "la recrée (la clé est gardée).", dir=facts.data_dir),
            )
        )  # fmt: skip
    elif problem := _private(path, CONFIG_FILE, 0o600):
        findings.append(problem)
    try:
        facts.settings = load_settings(facts.data_dir)
    except ConfigError as exc:
        findings.append(
            Finding(
                False,
                t("La configuration ne peut pas être lue : %(error)s", error=exc),
                t("Corrigez ou retirez la ligne en cause de %(path)s (réglages : "
                  "docs/configuration.md).", path=path),
            )
        )  # fmt: skip
        return findings
    if path.exists() and not findings:
        findings.append(Finding(True, t("Configuration %(path)s lisible.", path=path)))
    return findings


def _key(facts: Facts) -> list[Finding]:
    path = facts.data_dir / KEY_FILE
    if not path.exists():
        return [
            Finding(
                False,
                t("La clé du nœud %(path)s manque : c'est l'identité du lieu.", path=path),
                t("Restaurez la dernière sauvegarde (papi restore FICHIER). Sans sauvegarde, "
                  "'papi init' crée un NOUVEAU nœud, inconnu de vos pairs."),
            )
        ]  # fmt: skip
    if problem := _private(path, KEY_FILE, 0o600):
        return [
            Finding(
                False,
                t("%(msg)s Le nœud refuse de démarrer avec une clé lisible par d'autres.",
                  msg=problem.message),
                problem.fix,
            )
        ]  # fmt: skip
    try:
        facts.origin = NodeKey.load(path).origin
    except KeyFileError as exc:
        return [
            Finding(
                False,
                t("La clé du nœud est inutilisable : %(error)s", error=exc),
                t("Restaurez la clé depuis la dernière sauvegarde (papi restore FICHIER)."),
            )
        ]
    return [Finding(True, t("Clé du nœud lisible, privée : %(origin)s", origin=facts.origin))]


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
                t("Il reste %(mb)d Mo libres pour les données.", mb=free // 2**20),
                t("Libérez de la place : anciennes sauvegardes, journaux système "
                  "(sudo journalctl --vacuum-size=100M)."),
            )
        ]  # fmt: skip
    return [Finding(True, t("Espace disque libre : %(mb)d Mo.", mb=free // 2**20))]


def _running(facts: Facts) -> Finding:
    if facts.running_pid:
        return Finding(None, t("Le nœud tourne (pid %(pid)s).", pid=facts.running_pid))
    return Finding(None, t("Le nœud ne tourne pas sur ce dossier en ce moment."))


# -- database ---------------------------------------------------------------------------


def _database(facts: Facts) -> list[Finding]:
    path = facts.data_dir / DATABASE_FILE
    if not path.exists():
        return [
            Finding(
                False,
                t("La base %(path)s manque.", path=path),
                t("Restaurez la dernière sauvegarde (papi restore FICHIER) ; sinon, au "
                  "démarrage, le nœud récupère son journal auprès de ses pairs."),
            )
        ]  # fmt: skip
    findings: list[Finding] = []
    if problem := _private(path, DATABASE_FILE, 0o600):
        findings.append(problem)
    damaged = t(
        "Arrêtez le nœud puis restaurez la dernière sauvegarde (papi restore FICHIER). Sans "
        "sauvegarde : mettez la base de côté (mv %(path)s %(path)s.abimee) et redémarrez ; "
        "le nœud récupère son journal et celui du réseau auprès de ses pairs.",
        path=path,
    )
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as connection:
            status = connection.execute("PRAGMA integrity_check").fetchone()[0]
            if status == "ok":
                _read_facts(connection, facts)
    except sqlite3.Error as exc:
        status = str(exc)
    if status != "ok":
        findings.append(Finding(False, t("La base est abîmée : %(error)s", error=status), damaged))
        return findings
    facts.database_ok = True
    findings.append(Finding(True, t("Base %(path)s intègre (integrity_check).", path=path)))
    return findings


def _read_facts(connection: sqlite3.Connection, facts: Facts) -> None:
    if facts.origin is None:
        return
    row = connection.execute(
        "SELECT head_seq, frozen FROM origins WHERE id = ?", (facts.origin,)
    ).fetchone()
    if row:
        facts.head_seq, facts.own_frozen = int(row[0]), bool(row[1])
    last = connection.execute(
        "SELECT header FROM entries WHERE origin = ? ORDER BY seq DESC LIMIT 1", (facts.origin,)
    ).fetchone()
    if last:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            facts.last_ts = parse_ts(json.loads(last[0])["ts"])
    connection.row_factory = sqlite3.Row
    facts.peers = [
        dict(row)
        for row in connection.execute(
            "SELECT url, source, state, last_error, last_success FROM peers"
            " ORDER BY source = 'discovered', url"
        )
    ]


def _log_state(facts: Facts) -> list[Finding]:
    data_dir = facts.data_dir
    if facts.own_frozen:
        return [
            Finding(
                False,
                t("Ce nœud a reçu une autre version de son propre journal : deux machines "
                  "utilisent la même clé (une copie de la carte SD ?)."),
                t("Arrêtez l'autre machine ; un nœud, une clé. Puis demandez au "
                  "coordinateur du réseau comment repartir."),
            )
        ]  # fmt: skip
    if (data_dir / RESTORED_MARKER).exists():
        return [
            Finding(
                False,
                t("Restauré depuis une sauvegarde : le nœud rattrape son propre journal auprès "
                  "de ses pairs et refuse toute modification d'ici là (journal à l'entrée "
                  "%(seq)d).", seq=facts.head_seq),
                t("Vérifiez que des pairs répondent (papi peer list) puis lancez papi sync. "
                  "Nœud isolé, que personne n'a connu depuis la sauvegarde : papi init "
                  "--new-log lève l'attente (si un pair a reçu des entrées plus récentes, "
                  "il y aura fourche et le nœud sera gelé partout)."),
            )
        ]  # fmt: skip
    if facts.head_seq == 0 and not (data_dir / NEW_LOG_MARKER).exists():
        return [
            Finding(
                False,
                t("Le journal de ce nœud est vide alors que sa clé existait : il attend de "
                  "le récupérer auprès de ses pairs et refuse toute modification d'ici là."),
                t("papi peer add URL puis papi sync. Si aucun pair n'a jamais reçu ce "
                  "journal : papi init --new-log."),
            )
        ]  # fmt: skip
    return [Finding(True, t("Journal de ce nœud : %(seq)d entrée(s).", seq=facts.head_seq))]


def _peers(facts: Facts) -> list[Finding]:
    peers = facts.peers
    if not peers:
        return [
            Finding(
                False,
                t("Aucun pair : ce nœud ne reçoit ni n'envoie rien."),
                t("Rejoignez le réseau : papi peer add https://un-noeud-connu.exemple.fr"),
            )
        ]
    working = [peer for peer in peers if peer["state"] == "ok"]
    manual = [peer for peer in peers if peer["source"] != "discovered"]
    if not working:
        errors = "; ".join(
            f"{peer['url']} : {(peer['last_error'] or peer['state'])[:80]}"
            for peer in (manual or peers)[:3]
        )
        return [
            Finding(
                False,
                t("Aucun pair n'a répondu à la dernière tentative (%(errors)s).", errors=errors),
                t("Vérifiez l'adresse des pairs et la connexion (papi peer list), puis "
                  "papi sync."),
            )
        ]  # fmt: skip
    return [
        Finding(
            True,
            t("Pairs : %(ok)d joignables sur %(n)d connus.", ok=len(working), n=len(peers)),
        )
    ]


# -- clock and network ------------------------------------------------------------------


def _clock(facts: Facts, timeout: float) -> list[Finding]:
    now = datetime.now(UTC)
    findings: list[Finding] = []
    fix = t(
        "Réglez l'heure par le réseau : sudo timedatectl set-ntp true (un Raspberry Pi n'a "
        "pas d'horloge sauvegardée : il lui faut le réseau au démarrage)."
    )
    if facts.last_ts is not None and now < facts.last_ts - MAX_SKEW:
        findings.append(
            Finding(
                False,
                t("L'horloge (%(now)s UTC) est en retard sur la dernière entrée publiée "
                  "(%(last)s UTC).", now=f"{now:%Y-%m-%d %H:%M}",
                  last=f"{facts.last_ts:%Y-%m-%d %H:%M}"),
                fix,
            )
        )  # fmt: skip
    if _ntp_synchronised() is False:
        findings.append(
            Finding(False, t("L'horloge n'est pas synchronisée par le réseau (NTP)."), fix)
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
                    t("L'horloge diffère de %(s)d secondes de celle du pair %(url)s.",
                      s=int(skew.total_seconds()), url=url),
                    fix,
                )
            )  # fmt: skip
        else:
            findings.append(
                Finding(True, t("Horloge à l'heure (comparée au pair %(url)s).", url=url))
            )
        break
    else:
        if not findings:
            findings.append(Finding(None, t("Horloge non comparée : aucun pair n'a répondu.")))
    return findings


def _ntp_synchronised() -> bool | None:
    """timedatectl's answer where systemd runs; None when it cannot tell."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
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
                t("pull_only : ce nœud n'annonce pas d'adresse ; il va chercher les nouvelles "
                  "chez ses pairs sans jamais être appelé."),
            )
        ]  # fmt: skip
    url = settings.url
    if not url:
        return [
            Finding(
                False,
                t("Aucune adresse publique (url) : les pairs ne peuvent pas joindre ce nœud."),
                t("papi init --url https://votre-nom.exemple.fr ; derrière une box sans "
                  "redirection de port : pull_only = true dans %(path)s.",
                  path=settings.config_path),
            )
        ]  # fmt: skip
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            Finding(
                False,
                t("L'adresse publique %(url)s n'est pas une URL http(s).", url=url),
                t("papi init --url https://votre-nom.exemple.fr"),
            )
        ]
    findings: list[Finding] = []
    if parts.scheme == "http" and not _local_host(parts.hostname):
        findings.append(
            Finding(
                False,
                t("L'adresse publique %(url)s est en http : les mots de passe de /admin "
                  "passeraient en clair.", url=url),
                t("Mettez Caddy (deploy/Caddyfile, certificat automatique) ou nginx et "
                  "certbot devant le nœud, puis papi init --url https://…"),
            )
        )  # fmt: skip
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
    where = t("vu depuis cette machine ; un pair ailleurs peut encore en être empêché "
              "(redirection de port, pare-feu)")  # fmt: skip
    try:
        response = httpx.get(
            url.rstrip("/") + "/api/v1/node", timeout=timeout, follow_redirects=True
        )
        answered = response.json().get("id") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        stopped = "" if facts.running_pid else t(" Le nœud ne tourne pas : démarrez-le.")
        return Finding(
            False,
            t("L'adresse annoncée %(url)s ne répond pas (%(error)s).",
              url=url, error=str(exc) or type(exc).__name__),
            t("Vérifiez le service (systemctl status papi-node), le proxy (Caddy ou nginx), "
              "le nom de domaine et la redirection de port de la box ; sans redirection "
              "possible : pull_only = true.%(stopped)s", stopped=stopped),
        )  # fmt: skip
    if answered is None:
        return Finding(
            False,
            t("L'adresse annoncée %(url)s ne répond pas comme un nœud papi (statut %(code)d).",
              url=url, code=response.status_code),
            t("Le proxy (Caddy ou nginx) doit renvoyer vers le port du nœud."),
        )  # fmt: skip
    if answered != facts.origin:
        return Finding(
            False,
            t("L'adresse annoncée %(url)s mène à un autre nœud (%(other)s).",
              url=url, other=answered),
            t("Corrigez l'adresse (papi init --url …) ou la configuration du proxy."),
        )  # fmt: skip
    return Finding(
        True, t("L'adresse annoncée %(url)s répond avec l'identité de ce nœud (%(where)s).",
                url=url, where=where)
    )  # fmt: skip
