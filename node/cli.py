"""The ``papi`` command line. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from . import cli_manage
from .cli_support import (
    CliError,
    _,
    default_data_dir,
    gettext,
    initialise,
    name_placeholders,
    ngettext,
    print_migration,
    run_with_node,
    settings_of,
    speak_argparse,
)
from .datadir import PRIVATE_UMASK, DataDirError, allow_new_log
from .i18n import N_, Translatable, local_time, locale_language, translations
from .logging_setup import configure_logging
from .settings import DATABASE_FILE, KEY_FILE, ConfigError, Settings, load_settings, update_config
from .version import software

if TYPE_CHECKING:
    from federation.recovery import BadRecoveryWords

# Shared by the commands of every module (re-exported for them).
__all__ = ["CliError", "_", "ngettext", "run_with_node"]
_settings = settings_of
_initialise = initialise
# Named, not __name__: "python -m node.cli" runs this module as __main__.
log = logging.getLogger("node.cli")


# -- commands -------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> None:
    values = {"name": args.name, "commune": args.commune, "url": args.url}
    settings, created = _initialise(args, whole_profile=True, **values)
    given = {name: value for name, value in values.items() if value}
    if not created and given:
        # An existing node (for instance one 'scripts/serve' started unnamed): keep the key,
        # record the new values and bring the published place profile up to date.
        update_config(settings.config_path, given)
        settings = load_settings(settings.data_dir)
    if args.new_log:
        allow_new_log(settings.data_dir)
    recovery = None
    if created and not args.no_recovery_key:
        from federation.keys import NodeKey

        recovery = NodeKey.generate()
    work = (lambda node: _declare_recovery(node, recovery)) if recovery else _origin
    node_id = run_with_node(settings, work if created else _refresh_place)
    state = _("created") if created else _("already initialised (key kept)")
    print(_("Data directory %(dir)s: %(state)s", dir=settings.data_dir, state=state))
    if given and not created:
        changes = ", ".join(f"{k} = {v!r}" for k, v in given.items())
        print(_("Updated: %(changes)s", changes=changes))
        _warn_if_running_with_old_url(settings, given)
    print(_("Node id: %(id)s", id=node_id))
    if recovery is not None:
        _show_recovery_key(recovery, node_id)
    print(_("Next: %(command)s", command=serve_command(settings)))


def _warn_if_running_with_old_url(settings: Settings, given: dict[str, Any]) -> None:
    """A running node read ``url`` when it started (the name and commune it reads from the
    profile just published): until it restarts, it advertises the old one."""
    from .ops import servelock

    if "url" not in given:
        return
    pid = servelock.running_pid(settings.data_dir)
    if pid:
        print(
            _(
                "The node running on %(dir)s (pid %(pid)s) read its settings when it started: "
                "restart it so that it advertises the new url (until then, a place profile "
                "saved in /admin leaves it out).",
                dir=settings.data_dir,
                pid=pid,
            ),
            file=sys.stderr,
        )


def serve_command(settings: Settings) -> str:
    """The ``papi serve`` that runs this node: with ``--port`` when its URL is served
    directly (http) on another port than the configured one, as for a second node on
    the same machine (``--url http://127.0.0.1:8001``)."""
    command = f"papi serve --data-dir {settings.data_dir}"
    parts = urlsplit(settings.url)
    try:
        port = parts.port if parts.scheme == "http" else None
    except ValueError:  # a port out of range: the URL is refused elsewhere
        port = None
    if port is not None and port != settings.port:
        command += f" --port {port}"
    return command


async def _refresh_place(node: Any) -> str:
    from .services.bootstrap import refresh_place
    from .services.log import LogRecovering

    try:
        await refresh_place(node)
    except LogRecovering:
        print(
            _(
                "The place profile is not published yet: this node is catching up its own log "
                "from its peers (run 'papi init' again once 'papi sync' has succeeded)"
            ),
            file=sys.stderr,
        )
    return str(node.origin)


async def _origin(node: Any) -> str:
    return str(node.origin)


async def _declare_recovery(node: Any, recovery: Any) -> str:
    from .services.identity import declare_recovery

    await declare_recovery(node, recovery)
    return str(node.origin)


def _show_recovery_key(recovery: Any, origin: str) -> None:
    """The recovery key, once: 24 words and a QR code of them, never stored."""
    import segno

    from federation.recovery import recovery_words

    words = recovery_words(recovery)
    print()
    print(_("PLACE'S RECOVERY KEY — shown only once, it is stored nowhere."))
    print(
        _(
            "Print or copy these 24 words and keep them in the place's safe. If the node's "
            "key is lost or stolen, 'papi recover' on a new machine, with these words, gives "
            "the place its identity back (see docs/security.md)."
        )
    )
    print(_("Place: %(origin)s", origin=origin))
    for row in range(0, len(words), 6):
        print(
            "  "
            + "  ".join(f"{row + i + 1:2}. {word}" for i, word in enumerate(words[row : row + 6]))
        )
    print(_("The same words as a QR code:"))
    segno.make(" ".join(words), error="m").terminal(compact=True)
    print()


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app
    from .logging_setup import uvicorn_log_config
    from .ops import servelock

    settings = _initialise(args)[0]
    settings = load_settings(settings.data_dir, {"host": args.host, "port": args.port})
    try:
        # Held until the process ends: 'papi restore' refuses to run under a live node.
        lock = servelock.acquire(settings.data_dir)
    except servelock.NodeRunning as exc:
        raise CliError(
            _("%(problem)s; stop it first or choose another --data-dir", problem=running(exc))
        ) from None
    _check_port_free(settings.host, settings.port)
    json_lines = settings.log_format == "json"
    configure_logging(_log_level(settings.log_level), json=json_lines)
    # A database that cannot be opened fails here, cleanly; migrations are applied here.
    run_with_node(settings, _origin, progress=None if json_lines else print_migration)
    app = create_app(settings)
    for line in (
        f"papi-node {app.state.node.origin}",
        _("Serving on %(url)s (Ctrl-C to stop)", url=f"http://{settings.host}:{settings.port}/"),
    ):
        if json_lines:  # every line of the log is then one JSON object
            log.info("%s", line)
        else:
            print(line, flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(json_lines),
        access_log=False,
        server_header=False,
    )
    lock.release()


def running(exc: Any) -> str:
    """``servelock.NodeRunning`` in words."""
    who = _(" (pid %(pid)s)", pid=exc.pid) if exc.pid else ""
    return _("a node is already running on %(dir)s%(who)s", dir=exc.data_dir, who=who)


def _check_port_free(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise CliError(_("port %(port)s is not between 1 and 65535", port=port))
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    _(
                        "port %(port)s on %(host)s is already in use; stop the other program "
                        "or choose another port with --port (a second node on this machine "
                        "needs its own port)",
                        port=port,
                        host=host,
                    )
                ) from None
            raise CliError(
                _(
                    "cannot listen on %(host)s:%(port)s: %(error)s",
                    host=host,
                    port=port,
                    error=exc.strerror,
                )
            ) from None


def cmd_token_create(args: argparse.Namespace) -> None:
    from .api.auth import MAX_LABEL, create_token

    if len(args.label) > MAX_LABEL:
        raise CliError(_("--label: at most %(count)d characters", count=MAX_LABEL))
    settings = _initialise(args)[0]

    async def work(node: Any) -> str:
        return await create_token(args.label, node=node)

    token = run_with_node(settings, work)
    print(
        _("New API token (label %(label)r); it is shown only once:", label=args.label),
        file=sys.stderr,
    )
    print(token)  # alone on the last line of stdout: scripts read it there


def cmd_peer_add(args: argparse.Namespace) -> None:
    from federation.errors import PeerError

    from .services.features import remember_features
    from .services.peers import add_peer, identified, remove_peer
    from .services.sync import sync_peers

    settings = _settings(args)
    report = SyncReport(settings) if args.sync else None

    async def work(node: Any) -> list[Any] | None:
        try:
            peer = await add_peer(args.url, conn=node.db.connection())
        except ValueError:
            raise CliError(
                _(
                    "%(url)s is not a node's address; give the peer's base URL, e.g. "
                    "http://10.0.0.5:8000",
                    url=args.url,
                )
            ) from None
        async with node.peer_client() as client:
            try:
                info = await client.node_info(peer.url)
            except PeerError as exc:
                print(
                    _(
                        "Added %(url)s, but it does not answer now (%(error)s); will retry.",
                        url=peer.url,
                        error=exc,
                    ),
                    flush=True,
                )
                return None
        if info["id"] == node.origin:
            await remove_peer(peer.url, conn=node.db.connection())
            raise CliError(_("%(url)s is this node itself", url=peer.url))
        peer = await identified(peer, info["id"], conn=node.db.connection())
        # Protocol 1.1 (docs/protocol.md 11.1).
        await remember_features(peer, info, conn=node.db.connection())
        print(
            _(
                "Added %(url)s: %(name)s (%(id)s)",
                url=peer.url,
                name=info.get("name") or "?",
                id=info["id"],
            ),
            flush=True,
        )
        if report is None:
            return None
        # --sync: the round of `papi sync`, with this peer only, in this same process
        # (one command start instead of two: docs/performance.md 10.2).
        return await sync_peers(
            node, [peer], report.progress, deadline=None, done=report.done, waiting=report.waiting
        )

    results = run_with_node(settings, work)
    if report is None:
        return
    if results is None or sync_exit_status(results):
        # The peer stays added: the running node retries it, `papi sync` does it now.
        raise CliError(
            _(
                "%(url)s is added but not synced; see the error above and 'papi peer list', "
                "then run 'papi sync' (the running node also retries it by itself)",
                url=args.url,
            )
        )


def cmd_peer_list(args: argparse.Namespace) -> None:
    from .store import peers as peer_rows

    settings = _settings(args)

    async def work(node: Any) -> list[Any]:
        return await peer_rows.by_url(node.db.connection())

    peers = run_with_node(settings, work)
    if not peers:
        print(_("No peers yet. Join the network with: papi peer add URL"))
        return
    print(
        f"{'URL':40} {_('STATE'):11} {_('FAILS'):>6} {_('LAST SUCCESS'):21} "
        f"{_('NEXT ATTEMPT'):21} {_('ERROR')}"
    )
    for peer in peers:
        last, nxt = local_time(peer.last_success), local_time(peer.next_attempt)
        state = gettext(peer_state_labels().get(peer.state, peer.state))
        print(
            f"{peer.url:40} {state:11} {peer.consecutive_failures:>6} {last:21} {nxt:21} "
            f"{(peer.last_error or '')[:60]}"
        )


def peer_state_labels() -> dict[str, str]:
    """The states of a peer in ``papi peer list`` (imported here: the CLI starts without
    the ORM)."""
    from .services.peers import PeerState

    return {
        PeerState.new: N_("new"),
        PeerState.ok: N_("ok"),
        PeerState.failing: N_("failing"),
        PeerState.refused: N_("refused"),
    }


#: Failures of ``papi sync`` that are only warnings (BRIEF §8): the peer is down or busy,
#: or policy forbids contacting it. Anything else (a peer answering nonsense, a refused
#: entry, a full disk) is an error.
SYNC_WARNING_KINDS = frozenset({"unreachable", "busy", "refused"})


class SyncReport:
    """What `papi sync` prints of its rounds (stderr): progress, then one line per peer.
    Progress and outcomes are printed here; the log adds only warnings and errors."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(max(logging.WARNING, _log_level(settings.log_level)))
        # On a terminal, one line updated in place; in a log, one line per page.
        self.live = sys.stderr.isatty()
        self.clear = "\r\033[K" if self.live else ""
        self.running: dict[str, Any] = {}

    def progress(self, result: Any) -> None:
        running, clear = self.running, self.clear
        running[result.peer] = result
        pages = sum(r.pages for r in running.values())
        accepted = sum(r.accepted for r in running.values())
        sent = sum(r.pushed_back for r in running.values())
        where = "" if self.live else f" ({result.peer})"
        print(
            clear
            + "  "
            + ngettext(
                "%(num)s page: %(accepted)s entries accepted, %(sent)s sent back",
                "%(num)s pages: %(accepted)s entries accepted, %(sent)s sent back",
                pages,
                accepted=accepted,
                sent=sent,
            )
            + where,
            end="" if self.live else "\n",
            file=sys.stderr,
            flush=True,
        )

    def waiting(self, result: Any) -> None:
        print(
            self.clear
            + _(
                "%(peer)s: another process of this node (the running node or another command) "
                "is syncing with this peer; waiting for its round to end",
                peer=result.peer,
            ),
            file=sys.stderr,
            flush=True,
        )

    def done(self, result: Any) -> None:
        clear = self.clear
        self.running.pop(result.peer, None)
        if result.error:
            # The labels speak the locale's language: scripts read the exit status (BRIEF
            # section 8, sync_exit_status), and the kind, a fixed word, is never translated.
            line = (
                N_("warning: %(peer)s: %(kind)s: %(error)s")
                if result.error_kind in SYNC_WARNING_KINDS
                else N_("error: %(peer)s: %(kind)s: %(error)s")
            )
            said = _(line, peer=result.peer, kind=result.error_kind, error=result.error)
            print(clear + said, file=sys.stderr)
        elif result.in_sync_at_start:
            print(f"{clear}{result.peer}: " + _("already in sync"), file=sys.stderr)
        else:
            print(
                f"{clear}{result.peer}: "
                + _(
                    "%(accepted)s accepted, %(rejected)s rejected, %(sent)s sent back",
                    accepted=result.accepted,
                    rejected=result.rejected,
                    sent=result.pushed_back,
                ),
                file=sys.stderr,
            )


def cmd_sync(args: argparse.Namespace) -> None:
    from .services.sync import RoundResult, sync_peers
    from .store import peers as peer_rows

    settings = _settings(args)
    report = SyncReport(settings)

    async def work(node: Any) -> list[RoundResult]:
        peers = await peer_rows.by_url(node.db.connection())
        if not peers:
            raise CliError(_("no peers; add one with: papi peer add URL"))
        print(
            ngettext("Syncing with %(num)s peer", "Syncing with %(num)s peers", len(peers)),
            file=sys.stderr,
        )
        return await sync_peers(
            node,
            list(peers),
            report.progress,
            deadline=None,
            done=report.done,
            waiting=report.waiting,
        )

    results = run_with_node(settings, work)
    exit_status = sync_exit_status(results)
    if exit_status:
        synced = sum(1 for r in results if r.synced)
        raise CliError(
            _(
                "%(failed)s of %(total)s peers not synced or entries rejected; see the errors "
                "above and 'papi peer list'",
                failed=len(results) - synced,
                total=len(results),
            )
            if synced
            else _("no peer could be synced; see 'papi peer list'")
        )


def sync_exit_status(results: Sequence[Any]) -> int:
    """0 when at least one peer synced and every failure is only a warning (unreachable,
    busy, refused by policy) and no entry was rejected; 1 otherwise."""
    if not any(result.synced for result in results):
        return 1
    for result in results:
        if result.rejected or (result.error and result.error_kind not in SYNC_WARNING_KINDS):
            return 1
    return 0


def _log_level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO


def cmd_export(args: argparse.Namespace) -> None:
    from .services.export import Export, export_places

    settings = _settings(args)

    async def work(node: Any) -> tuple[Export, str]:
        return await export_places(node.db, None if args.network else node.origin), node.origin

    result, origin = run_with_node(settings, work)
    text = result.csv() if args.format == "csv" else result.json()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        written = ngettext(
            "%(num)s place written to %(file)s",
            "%(num)s places written to %(file)s",
            len(result.rows),
            file=args.output,
        )
        if result.listings:
            written += " " + ngettext(
                "(of which %(num)s unclaimed listing)",
                "(of which %(num)s unclaimed listings)",
                result.listings,
            )
        print(written, file=sys.stderr)
    else:
        sys.stdout.write(text)
    gettext = translations(locale_language()).gettext
    for skipped, name, problems in result.skipped:
        print(
            _(
                "%(place)s (%(origin)s) is left out of the open data: %(problems)s.",
                place=name,
                origin=skipped,
                problems=_("; ").join(p.text(gettext) for p in problems),
            )
            + (" " + _("Complete the place profile in /admin/place.") if skipped == origin else ""),
            file=sys.stderr,
        )


def cmd_import_lamednum(args: argparse.Namespace) -> None:
    """Seed the directory with the national open data."""
    from .services.lamednum_import import ImportFileError, ImportReport, import_file

    settings = _settings(args)
    live = sys.stderr.isatty()
    clear = "\r\033[K" if live else ""

    def progress(step: str, done: int, total: int) -> None:
        end = "\n" if not live or done == total else ""
        line = _("%(step)s: %(done)d/%(total)d", step=step, done=done, total=total)
        print(f"{clear}  {line}", end=end, file=sys.stderr, flush=True)

    async def work(node: Any) -> ImportReport:
        try:
            return await import_file(
                node.db,
                Path(args.file),
                replace=args.replace,
                dry_run=args.dry_run,
                progress=progress,
            )
        except ImportFileError as exc:
            raise CliError(str(exc)) from None

    report = run_with_node(settings, work)
    for warning in report.warnings:
        print(_("warning: %(message)s", message=warning), file=sys.stderr)
    for rejected in report.rejected:
        print(_("refused: %(message)s", message=rejected.text()), file=sys.stderr)
    counts = {
        "rows": len(report.rows),
        "rejected": len(report.rejected),
        "replaced": report.replaced,
    }
    if args.dry_run:
        summary = _(
            "%(rows)s entries checked (nothing is stored: --dry-run), %(rejected)s rows "
            "refused; %(replaced)s already replaced by the signed place.",
            **counts,
        )
    else:
        summary = _(
            "%(rows)s entries imported, %(rejected)s rows refused; %(replaced)s already "
            "replaced by the signed place.",
            **counts,
        )
    print(summary)
    if report.rejected and not report.rows:
        raise CliError(_("no valid entry in this file; nothing was imported"))


def cmd_resources_import(args: argparse.Namespace) -> None:
    from .services.resource_files import import_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CliError(_("%(folder)s is not a folder", folder=folder))
    settings = _settings(args)
    report = run_with_node(settings, lambda node: import_folder(node, folder))
    for name, message in report.warnings:
        said = message.text(gettext)
        print(_("warning: %(file)s: %(message)s", file=name, message=said), file=sys.stderr)
    for name, message in report.errors:
        said = message.text(gettext)
        print(_("not imported: %(file)s: %(message)s", file=name, message=said), file=sys.stderr)
    print(
        _(
            "%(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(errors)s not "
            "imported",
            created=len(report.created),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            errors=len(report.errors),
        )
    )
    if report.errors:
        raise CliError(
            ngettext(
                "%(num)s file could not be imported",
                "%(num)s files could not be imported",
                len(report.errors),
            )
        )


def cmd_resources_export(args: argparse.Namespace) -> None:
    from .services.resource_files import export_folder

    folder = Path(args.folder)
    settings = _settings(args)
    report = run_with_node(settings, lambda node: export_folder(node, folder))
    for name, message in report.warnings:
        said = message.text(gettext)
        print(_("warning: %(file)s: %(message)s", file=name, message=said), file=sys.stderr)
    print(
        ngettext(
            "%(num)s resource written to %(folder)s",
            "%(num)s resources written to %(folder)s",
            len(report.written),
            folder=folder,
        )
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(Path(args.data_dir), base_port=args.port)


# -- membership and keys -------------------------------------------------------------


def _stored_time(value: str) -> str:
    """A time the database gave as text (UTC), in Paris time with its zone."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return local_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def cmd_vouch(args: argparse.Namespace) -> None:
    """Vouch for a place (or withdraw the vouch): one signed entry of our log."""
    from federation.errors import SchemaError

    from .services.log import ClockSkew, KeyNotInForce, LogRecovering
    from .services.vouches import revoke, vouch

    settings = _settings(args)

    async def work(node: Any) -> str:
        try:
            if args.revoke:
                await revoke(node, args.origin, args.reason or "")
                return _("Vouch withdrawn for %(origin)s.", origin=args.origin.strip())
            await vouch(node, args.origin, args.title or "", args.description or "")
        except (KeyNotInForce, LogRecovering) as exc:
            raise CliError(_("nothing is published: %(error)s", error=exc.text(gettext))) from None
        except Translatable as exc:  # not a place's id, or this place itself
            raise CliError(exc.text(gettext)) from None
        except (SchemaError, ClockSkew) as exc:
            raise CliError(_("nothing is published: %(error)s", error=exc)) from None
        return _(
            "This place vouches for %(origin)s; the network's nodes will accept it as soon as "
            "they receive this vouch.",
            origin=args.origin.strip(),
        )

    print(run_with_node(settings, work))


def cmd_members(args: argparse.Namespace) -> None:
    """Print who is in the network, as this node sees it, and the places that asked to
    join it through this node."""
    from .services.invitations import join_requests
    from .services.membership import overview

    settings = _settings(args)

    async def work(node: Any) -> dict[str, Any]:
        conn = node.db.connection()
        return {**await overview(conn, node.membership), "requests": await join_requests(conn)}

    view = run_with_node(settings, work)
    if view["open"]:
        print(_("Open network (no founder configured): every place is accepted."))
    # The first word of each line says what it is, padded to one column in every language.
    words = {
        "request": _("request"),
        "member": _("member"),
        "vouch": _("vouch"),
        "candidate": _("candidate"),
        "hidden": _("hidden"),
        "frozen": _("frozen"),
    }
    width = max(len(word) for word in words.values()) + 2
    for request in view["requests"]:
        if request["state"] == "pending":
            commune = f" ({request['commune']})" if request["commune"] else ""
            line = _(
                "%(origin)s  %(name)s%(commune)s: papi vouch %(origin)s",
                origin=request["origin"], name=request["name"], commune=commune,
            )  # fmt: skip
            print(words["request"].ljust(width) + line)
    for member in view["members"]:
        role = " " + _("(founder)") if member["founder"] else ""
        print(words["member"].ljust(width) + f"{member['id']}  {member['name']}{role}")
    for vouch in view["vouches"]:
        line = (
            N_("%(voucher)s withdraws its vouch for %(subject)s")
            if vouch["revoked"]
            else N_("%(voucher)s vouches for %(subject)s")
        )
        said = _(
            line,
            voucher=vouch["voucher_name"] or vouch["voucher"],
            subject=vouch["subject_name"] or vouch["subject"],
        )
        print(words["vouch"].ljust(width) + said)
    for candidate in view["candidates"]:
        said = ngettext(
            "%(origin)s  refused %(num)s time (%(code)s), last seen on %(when)s",
            "%(origin)s  refused %(num)s times (%(code)s), last seen on %(when)s",
            candidate["refused"],
            origin=candidate["origin"],
            code=candidate["code"],
            when=_stored_time(candidate["last_seen"]),
        )
        print(words["candidate"].ljust(width) + said)
    for hidden in view["hidden"]:
        line = f"{hidden['origin']}  {hidden['name']} ({hidden['reason']})"
        print(words["hidden"].ljust(width) + line)
    for frozen in view["frozen"]:
        line = _("%(origin)s  %(name)s (proven fork)", origin=frozen["origin"], name=frozen["name"])
        print(words["frozen"].ljust(width) + line)


def cmd_invite(args: argparse.Namespace) -> None:
    """Print an invitation code for a new place (to give it by mail, phone, paper)."""
    from .services.invitations import INVITATION_DAYS, InvitationError, create_invitation

    settings = _settings(args)

    async def work(node: Any) -> str:
        try:
            return (await create_invitation(node)).code()
        except InvitationError as exc:
            raise CliError(exc.text(gettext)) from None

    code = run_with_node(settings, work)
    print(
        _("Invitation code (valid %(days)s days, for one place only):", days=INVITATION_DAYS),
        file=sys.stderr,
    )
    print(code)
    print(
        _(
            "The new place pastes it in its /admin (“Join the network”) or runs "
            "'papi join CODE'; its request then shows here: 'papi members', /admin/reseau."
        ),
        file=sys.stderr,
    )


def cmd_join(args: argparse.Namespace) -> None:
    from .ops import servelock
    from .services.invitations import InvitationError, join, parse_code

    settings = _settings(args)
    try:
        invitation = parse_code(args.code)
    except InvitationError as exc:
        raise CliError(exc.text(gettext)) from None
    if (
        not settings.founder_ids
        and invitation.founders
        and servelock.running_pid(settings.data_dir)
    ):
        # The running node read its (empty) founders at start: it would go on accepting
        # every origin, and show again what this command hides.
        raise CliError(
            _(
                "this node is running and would become a member of a closed network: paste "
                "the code in /admin/reseau (“Join a network”) instead, or stop the node first"
            )
        )

    async def work(node: Any) -> str:
        try:
            invitation = await join(node, args.code)
        except InvitationError as exc:
            raise CliError(exc.text(gettext)) from None
        return invitation.url

    url = run_with_node(settings, work)
    print(
        _(
            "Request sent to %(url)s. As soon as a member vouches for this place, the network "
            "will accept its publications; meanwhile this node syncs with it.",
            url=url,
        )
    )


def cmd_key_rotate(args: argparse.Namespace) -> None:
    from .ops import servelock
    from .services.identity import rotate

    settings = _settings(args)
    try:
        with servelock.held(settings.data_dir):
            new = run_with_node(settings, rotate)
    except servelock.NodeRunning as exc:
        raise CliError(
            _("%(problem)s: stop the node before changing its key", problem=running(exc))
        ) from None
    print(
        _(
            "New key of the node: %(origin)s. The place keeps its identity; its peers will "
            "follow the change as soon as they receive the entry signed by the old key.",
            origin=new.origin,
        )
    )


def cmd_key_recovery(args: argparse.Namespace) -> None:
    """Create the place's offline recovery key when it has none yet (a node made before
    recovery keys existed, or by the Docker image): declared in the log, shown once."""
    from federation.errors import WrongKey
    from federation.keys import NodeKey

    from .services.identity import declare_recovery
    from .services.log import ClockSkew, KeyNotInForce, LogRecovering
    from .store import keychain

    settings = _settings(args)
    recovery = NodeKey.generate()

    async def work(node: Any) -> str:
        async with node.db.transaction() as conn:
            keys = await keychain.state_at(conn, origin=node.origin)
        if keys.recovery_key is not None:
            raise CliError(
                _(
                    "this place already has a recovery key (the one whose 24 words were shown "
                    "when it was created): only it can replace itself, with 'papi recover'"
                )
            )
        try:
            await declare_recovery(node, recovery)
        except (KeyNotInForce, LogRecovering) as exc:
            raise CliError(_("nothing is published: %(error)s", error=exc.text(gettext))) from None
        except (ClockSkew, WrongKey) as exc:
            raise CliError(_("nothing is published: %(error)s", error=exc)) from None
        return str(node.origin)

    _show_recovery_key(recovery, run_with_node(settings, work))


def cmd_recover(args: argparse.Namespace) -> None:
    """On a fresh machine: the place's log from a peer, then a recovery signed by the
    recovery key (from its 24 words) that makes this node's new key the place's."""
    import getpass

    from federation.keys import public_key_bytes
    from federation.recovery import BadRecoveryWords, key_from_words

    from .datadir import init_data_dir
    from .services.identity import read_origin, recover, write_origin
    from .settings import NEW_LOG_MARKER

    try:
        public_key_bytes(args.origin)
    except ValueError:
        raise CliError(_("%(origin)r is not a place's id", origin=args.origin)) from None
    data_dir = Path(args.data_dir)
    key, created = init_data_dir(data_dir, {"url": args.url} if args.url else {})
    if not created and read_origin(data_dir) != args.origin:
        raise CliError(
            _(
                "%(dir)s already holds a node (%(origin)s): choose an empty directory",
                dir=data_dir,
                origin=key.origin,
            )
        )
    (data_dir / NEW_LOG_MARKER).unlink(missing_ok=True)  # never a new log of this place
    write_origin(data_dir, args.origin)
    text = sys.stdin.read() if not sys.stdin.isatty() else getpass.getpass(
        _("The 24 words of the recovery key: ")
    )  # fmt: skip
    try:
        recovery = key_from_words(text)
    except BadRecoveryWords as exc:
        raise CliError(recovery_words_problem(exc)) from None
    settings = _settings(args)

    async def work(node: Any) -> int:
        from .services.peers import add_peer
        from .services.sync import sync_peers
        from .store import keychain

        peer = await add_peer(args.peer, conn=node.db.connection())
        await sync_peers(node, [peer], deadline=None)
        async with node.db.transaction() as conn:
            keys = await keychain.state_at(conn, origin=node.origin)
        if keys.recovery_key is None:
            raise CliError(
                _(
                    "the place's log was not fetched, or it declares no recovery key: check "
                    "the peer %(peer)s and the place's id",
                    peer=args.peer,
                )
            )
        if keys.recovery_key != recovery.origin:
            raise CliError(_("these words are not this place's recovery key"))
        entry = await recover(node, recovery)
        await sync_peers(node, [peer], deadline=None)
        return entry.seq

    seq = run_with_node(settings, work)
    print(
        _(
            "Place %(origin)s taken over by this node (new key %(key)s, entry %(seq)s).",
            origin=args.origin,
            key=key.origin,
            seq=seq,
        )
    )
    print(_("Entries signed by the old key are now refused by the network."))
    print(_("Next: %(command)s", command=f"papi serve --data-dir {data_dir}"))


def recovery_words_problem(exc: BadRecoveryWords) -> str:
    """``federation.recovery.BadRecoveryWords`` in words."""
    if exc.problem == "count":
        return _(
            "the %(words)s words of the recovery key are needed (%(given)s given)",
            words=exc.expected,
            given=exc.given,
        )
    if exc.problem == "unknown_word":
        return _(
            "word no. %(position)s “%(word)s” is not in the list",
            position=exc.position,
            word=exc.word,
        )
    return _("these words do not make a valid key: a word is miscopied")


# -- backup, restore, doctor ---------------------------------------------------------

#: Shortest passphrase accepted for a new encrypted backup.
MIN_PASSPHRASE = 12


def _refuse_foreign_root(data_dir: Path, command: str) -> None:
    from .ops.owner import foreign_owner

    owner = foreign_owner(data_dir)
    if owner is not None:
        raise CliError(
            _(
                "%(dir)s belongs to %(owner)s: run this command as that user "
                "(sudo -u %(owner)s papi %(command)s ...), or the node could no longer open "
                "files that root creates",
                dir=data_dir,
                owner=owner,
                command=command,
            )
        )


def _read_passphrase_file(path: str) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(
            _("cannot read the passphrase file %(path)s: %(error)s", path=path, error=exc)
        ) from None
    if not lines or not lines[0]:
        raise CliError(
            _("the passphrase file %(path)s is empty (the first line is used)", path=path)
        )
    return lines[0]


def _ask_passphrase(confirm: bool) -> str:
    import getpass

    if not sys.stdin.isatty():
        raise CliError(_("no terminal to ask the passphrase on; use --passphrase-file FILE"))
    passphrase = getpass.getpass(_("Passphrase: "))
    if confirm and getpass.getpass(_("Confirm: ")) != passphrase:
        raise CliError(_("the two passphrases differ; nothing was written"))
    return passphrase


def cmd_backup(args: argparse.Namespace) -> None:
    from .ops.backup import BackupError, create_backup

    data_dir = Path(args.data_dir)
    _refuse_foreign_root(data_dir, "backup")
    if not (data_dir / KEY_FILE).exists():
        raise CliError(
            _("%(dir)s holds no node (no %(key)s); nothing to back up", dir=data_dir, key=KEY_FILE)
        )
    settings = _settings(args)
    passphrase = None
    if args.passphrase_file:
        passphrase = _read_passphrase_file(args.passphrase_file)
    elif args.encrypt:
        passphrase = _ask_passphrase(confirm=True)
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise CliError(
            _("the passphrase is too short: at least %(count)s characters", count=MIN_PASSPHRASE)
        )
    try:
        manifest = create_backup(settings, Path(args.file), passphrase)
    except BackupError as exc:
        raise CliError(exc.text(gettext)) from None
    print(
        (
            _("Encrypted backup of node %(origin)s (its log up to seq %(seq)s) written to %(file)s")
            if passphrase
            else _("Backup of node %(origin)s (its log up to seq %(seq)s) written to %(file)s")
        )
        % {"origin": manifest.origin, "seq": manifest.head_seq, "file": args.file}
    )
    if passphrase is None:
        print(_("It holds the node's private key: keep it safe."), file=sys.stderr)


def _confirm_restore(staged: Any, data_dir: Path) -> None:
    """Describe what is replaced by what, in French, and ask on the terminal."""
    from .ops.backup import describe

    manifest = staged.manifest
    current, head = describe(data_dir)
    lines = [
        _(
            "Backup: node %(origin)s, its log up to entry %(seq)s, made on %(created)s.",
            origin=manifest.origin,
            seq=manifest.head_seq,
            created=backup_time(manifest.created),
        )
    ]
    if current is None:
        lines.append(_("Folder %(dir)s: no node yet.", dir=data_dir))
    else:
        lines.append(
            _(
                "Folder %(dir)s: node %(origin)s, its log up to entry %(seq)s. Its database, its "
                "key and its configuration will be replaced.",
                dir=data_dir,
                origin=current,
                seq=head,
            )
        )
        if current != manifest.origin:
            lines.append(
                _(
                    "WARNING: this folder holds ANOTHER node than the backup's; without a copy "
                    "of its key, its identity will be lost."
                )
            )
    lines.append(
        _(
            "Then the node will refuse every change until a synchronisation with a peer has "
            "caught up its own log."
        )
    )
    print("\n".join(lines), file=sys.stderr)
    answer = input(_("Restore? Type “yes” to go on: "))
    if answer.strip().lower() not in ("oui", "o", "yes", "y"):
        raise CliError(_("restore cancelled; nothing was changed"))


def backup_time(created: str) -> str:
    """When a backup was made (its manifest says it in UTC), in Paris time."""
    from federation.timeutil import parse_ts

    try:
        return local_time(parse_ts(created))
    except ValueError:
        return created  # an older or odd manifest: as it is


def cmd_restore(args: argparse.Namespace) -> None:
    from .ops import servelock
    from .ops.backup import BackupError, install, staged_backup

    data_dir = Path(args.data_dir)
    backup = Path(args.file)
    _refuse_foreign_root(data_dir, "restore")
    if not backup.is_file():
        raise CliError(_("%(file)s is not a file", file=backup))
    if not args.yes and not sys.stdin.isatty():
        raise CliError(_("papi restore asks for confirmation on a terminal; add --yes to skip it"))
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(
            _("cannot create data directory %(dir)s: %(error)s", dir=data_dir, error=exc.strerror)
        ) from None

    def passphrase() -> str:
        if args.passphrase_file:
            return _read_passphrase_file(args.passphrase_file)
        return _ask_passphrase(confirm=False)

    try:
        with (
            servelock.held(data_dir),
            staged_backup(backup, data_dir, passphrase) as staged,
        ):
            if not args.yes:
                _confirm_restore(staged, data_dir)
            install(staged, data_dir)
    except servelock.NodeRunning as exc:
        raise CliError(
            _(
                "%(problem)s: stop it first (sudo systemctl stop papi-node, or Ctrl-C), then run "
                "papi restore again",
                problem=running(exc),
            )
        ) from None
    except BackupError as exc:
        raise CliError(exc.text(gettext)) from None
    manifest = staged.manifest
    print(
        _(
            "Restored node %(origin)s (its log up to seq %(seq)s, backup of %(created)s) into "
            "%(dir)s.",
            origin=manifest.origin,
            seq=manifest.head_seq,
            created=backup_time(manifest.created),
            dir=data_dir,
        )
    )
    print(
        _(
            "Before it writes anything, the node catches up its own log from its peers: start "
            "it (or run 'papi sync'); local changes are refused until a sync round with a peer "
            "has completed. 'papi doctor' shows where it stands."
        )
    )


def cmd_doctor(args: argparse.Namespace) -> None:
    from .ops.doctor import diagnose, render

    data_dir = Path(args.data_dir)
    findings = diagnose(data_dir, timeout=args.timeout)
    sys.stdout.write(render(findings, data_dir))
    if any(finding.ok is False for finding in findings):
        raise SystemExit(1)


def cmd_migrate(args: argparse.Namespace) -> None:
    from .migrations import LATEST, SchemaTooNew, file_version
    from .ops import servelock

    settings = _settings(args)
    path = settings.data_dir / DATABASE_FILE
    if not path.is_file():
        raise CliError(
            _(
                "no database %(path)s: nothing to migrate (papi init --data-dir "
                "%(dir)s creates a node, papi restore FILE restores one).",
                path=path,
                dir=settings.data_dir,
            )
        )
    _refuse_foreign_root(settings.data_dir, "migrate")
    try:
        before = file_version(path)
    except sqlite3.Error as exc:
        raise CliError(
            _("cannot read the database %(path)s: %(error)s", path=path, error=exc)
        ) from None
    if before > LATEST:
        raise CliError(SchemaTooNew(before, str(path)).text(gettext))
    print(
        _(
            "Database %(path)s: schema version %(before)d; this software writes "
            "version %(latest)d.",
            path=path,
            before=before,
            latest=LATEST,
        )
    )
    if before == LATEST:
        print(_("The database is already up to date: nothing to do."))
        return
    try:
        with servelock.held(settings.data_dir):
            applied = run_with_node(settings, _applied_migrations, bootstrap=False)
    except servelock.NodeRunning as exc:
        message = _(
            "a node is running on %(dir)s (pid %(pid)s) with an older version "
            "of papi-node: stop it (sudo systemctl stop papi-node), then run "
            "papi migrate again; or simply restart it, it applies the "
            "migrations at start.",
            dir=exc.data_dir,
            pid=exc.pid or "?",
        )
        raise CliError(message) from None
    print(
        ngettext(
            "Database up to date: schema version %(latest)d (%(num)s migration applied).",
            "Database up to date: schema version %(latest)d (%(num)s migrations applied).",
            applied,
            latest=LATEST,
        )
    )


async def _applied_migrations(node: Any) -> int:
    return len(node.db.upgrade.applied)


# -- sneakernet: vector files and bundles ------------------------------------------


def _progress_printer() -> tuple[Callable[[str], None], Callable[[], None]]:
    """``show(text)``: one line updated in place on a terminal, one line each in a log;
    ``end()`` closes the line on a terminal."""
    live = sys.stderr.isatty()

    def show(text: str) -> None:
        if live:
            print(f"\r\033[K  {text}", end="", file=sys.stderr, flush=True)
        else:
            print(f"  {text}", file=sys.stderr, flush=True)

    def end() -> None:
        if live:
            print(file=sys.stderr)

    return show, end


def _megabytes(size: int) -> str:
    number = f"{size / 1_000_000:.1f}"
    if locale_language() == "fr":
        number = number.replace(".", ",")
    return _("%(number)s MB", number=number)


def cmd_vector(args: argparse.Namespace) -> None:
    from federation.bundle import dump_json

    from .services.bundles import vector_document

    output = Path(args.file)
    if output.exists() and not args.force:
        raise CliError(
            _(
                "%(file)s already exists: choose another name, or add --force to replace it",
                file=output,
            )
        )
    settings = _settings(args)
    document = run_with_node(settings, vector_document)
    partial = output.with_name(f".{output.name}.part")
    try:
        partial.write_bytes(dump_json(document) + b"\n")
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CliError(
            _("cannot write %(file)s: %(error)s", file=output, error=exc.strerror or exc)
        ) from None
    wants = len(document.get("wants", []))
    print(
        _(
            "This node's vector (%(origins)d origins%(wants)s) written to %(file)s.",
            origins=len(document["vector"]),
            file=output,
            wants=_(", %(n)d attachments wanted", n=wants) if wants else "",
        )
    )
    print(
        _(
            "Take this file to the node that sends you data; run there: papi "
            "bundle export BUNDLE --for %(name)s",
            name=output.name,
        )
    )


def cmd_bundle_export(args: argparse.Namespace) -> None:
    from .services.bundles import BundleRefused, ExportReport, export_bundle, read_vector_file

    settings = _settings(args)
    show, end = _progress_printer()
    steps = {"entries": _("entries"), "blobs": _("attachments")}

    def progress(step: str, done: int, total: int) -> None:
        show(_("%(step)s: %(done)d/%(total)d", step=steps[step], done=done, total=total))

    async def work(node: Any) -> ExportReport:
        theirs = read_vector_file(Path(args.for_file)) if args.for_file else None
        if theirs is not None and theirs["origin"] == node.origin:
            raise BundleRefused(
                _(
                    "this vector file is this node's own: the one of the node that will "
                    "receive the bundle is needed"
                )
            )
        return await export_bundle(node, Path(args.file), theirs, progress)

    try:
        report = run_with_node(settings, work)
    except BundleRefused as exc:
        end()
        raise CliError(str(exc)) from None
    end()
    scope = (
        _("what node %(origin)s lacks", origin=report.manifest["for"]["origin"])
        if "for" in report.manifest
        else _("everything this node holds")
    )
    print(
        _(
            "Bundle written to %(file)s (%(scope)s): %(entries)d entries from "
            "%(origins)d origins, %(blobs)d attachments (%(size)s).",
            file=args.file,
            scope=scope,
            entries=report.entries,
            origins=report.origins,
            blobs=report.blobs,
            size=_megabytes(report.blob_bytes),
        )
    )
    if report.blobs_missing:
        print(
            ngettext(
                "warning: %(num)s cited attachment is not on this node; the importing node "
                "will ask its peers for it.",
                "warning: %(num)s cited attachments are not on this node; the importing node "
                "will ask its peers for them.",
                report.blobs_missing,
            ),
            file=sys.stderr,
        )
    print(_("On the other node: papi bundle import %(name)s", name=Path(args.file).name))


#: Rejections listed one by one before the rest are only counted.
SHOWN_REJECTIONS = 50


def cmd_bundle_import(args: argparse.Namespace) -> None:
    from .services.bundles import BundleRefused, ImportReport, import_bundle

    path = Path(args.file)
    if not path.is_file():
        raise CliError(_("%(file)s is not a file", file=path))
    settings = _settings(args)
    # The outcome is printed below; the log adds only warnings and errors.
    configure_logging(max(logging.WARNING, _log_level(settings.log_level)))
    show, end = _progress_printer()

    def progress(report: ImportReport) -> None:
        show(
            _(
                "%(lines)d entries read: %(accepted)d stored, %(duplicate)d already "
                "there, %(rejected)d refused; %(blobs)d attachments kept",
                lines=report.lines,
                accepted=report.accepted,
                duplicate=report.duplicate,
                rejected=len(report.rejected),
                blobs=report.blobs_kept,
            )
        )

    try:
        report = run_with_node(settings, lambda node: import_bundle(node, path, progress))
    except BundleRefused as exc:
        end()
        raise CliError(str(exc)) from None
    end()
    manifest = report.manifest
    print(
        _(
            "Bundle from node %(origin)s, written on %(created)s.",
            origin=manifest["origin"],
            created=backup_time(manifest["created"]),
        ),
        file=sys.stderr,
    )
    for rejection in report.rejected[:SHOWN_REJECTIONS]:
        who = (
            f"{rejection.origin} seq {rejection.seq}"
            if rejection.origin and rejection.seq is not None
            else _("unreadable entry")
        )
        print(
            _(
                "refused: line %(line)d (%(who)s): %(code)s: %(reason)s",
                line=rejection.line,
                who=who,
                code=rejection.code,
                reason=rejection.reason,
            ),
            file=sys.stderr,
        )
    if len(report.rejected) > SHOWN_REJECTIONS:
        print(
            _("… and %(n)d more refused entries", n=len(report.rejected) - SHOWN_REJECTIONS),
            file=sys.stderr,
        )
    for blob in report.blobs_rejected:
        print(
            _("attachment refused: %(sha)s: %(reason)s", sha=blob.name, reason=blob.reason),
            file=sys.stderr,
        )
    for problem in [*report.notes, *report.problems]:
        print(_("warning: %(problem)s", problem=problem), file=sys.stderr)
    print(
        _(
            "%(accepted)d entries stored, %(duplicate)d already there, "
            "%(pending)d waiting (entries before them are missing), "
            "%(rejected)d refused; %(kept)d attachments kept, %(held)d already "
            "there, %(blobs_rejected)d refused.",
            accepted=report.accepted,
            duplicate=report.duplicate,
            pending=report.pending,
            rejected=len(report.rejected),
            kept=report.blobs_kept,
            held=report.blobs_held,
            blobs_rejected=len(report.blobs_rejected),
        )
    )
    if not report.clean:
        raise CliError(
            _(
                "part of the bundle was refused (see above); what was valid is "
                "stored. Ask the sender for a new bundle (papi vector, then papi "
                "bundle export --for) or sync as soon as a link exists."
            )
        )


# -- parser ---------------------------------------------------------------------------


def cmd_mail_test(args: argparse.Namespace) -> None:
    from .mail.smtp import SmtpFailure
    from .mail.trial import TrialRefused, failure_text, send_trial_mail

    settings = _settings(args)

    async def work(node: Any) -> str:
        return await send_trial_mail(node, gettext, to=args.to, report=print)

    try:
        run_with_node(settings, work)
    except TrialRefused as exc:
        raise CliError(str(exc)) from None
    except SmtpFailure as exc:
        raise CliError(failure_text(exc, gettext)) from None


def build_parser() -> argparse.ArgumentParser:
    speak_argparse()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help=_("data directory (default: $PAPI_DATA_DIR or ./papi-data)"),
    )
    parser = argparse.ArgumentParser(prog="papi", description=_("Node of the PAPI network."))
    parser.add_argument(
        "--version", action="version", version=software(), help=_("show the version and exit")
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar=N_("COMMAND"))

    p = sub.add_parser("init", parents=[common], help=_("create the data directory and key"))
    p.add_argument("--name", help=_("name of the place"))
    p.add_argument("--commune", help=_("commune of the place"))
    p.add_argument("--url", help=_("public base URL of this node"))
    p.add_argument(
        "--new-log",
        action="store_true",
        help=_(
            "let an existing key whose database was lost start a new log (only if no "
            "peer ever received it: otherwise peers see a fork and freeze this node)"
        ),
    )
    p.add_argument(
        "--no-recovery-key", action="store_true",
        help=_("do not create the offline recovery key (tests, throw-away nodes)"),
    )  # fmt: skip
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", parents=[common], help=_("run the node"))
    p.add_argument("--host", default=None, help=_("interface (default 127.0.0.1)"))
    p.add_argument("--port", type=int, default=None, help=_("port (default 8000)"))
    p.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help=_("API tokens")).add_subparsers(
        dest="token_command", required=True, metavar=N_("ACTION")
    )
    p = token.add_parser("create", parents=[common], help=_("print a new API bearer token"))
    p.add_argument("--label", default="", help=_("what the token is for"))
    p.set_defaults(func=cmd_token_create)
    cli_manage.add_token_commands(token, common)

    peer = sub.add_parser("peer", help=_("peers")).add_subparsers(
        dest="peer_command", required=True, metavar=N_("ACTION")
    )
    p = peer.add_parser("add", parents=[common], help=_("add a peer by its base URL"))
    p.add_argument("url", help=_("the peer's base URL (http://10.0.0.5:8000)"))
    p.add_argument(
        "--sync",
        action="store_true",
        help=_("then sync with it now, as 'papi sync' does with this peer only"),
    )
    p.set_defaults(func=cmd_peer_add)
    p = peer.add_parser("list", parents=[common], help=_("show peers and their state"))
    p.set_defaults(func=cmd_peer_list)
    cli_manage.add_peer_commands(peer, common)

    p = sub.add_parser("sync", parents=[common], help=_("run one sync round with every peer now"))
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser(
        "export", parents=[common], help=_("export places to the LaMednum open data standard")
    )
    p.add_argument("--network", action="store_true", help=_("every known place, not only ours"))
    p.add_argument(
        "--format", choices=["csv", "json"], default="csv", help=_("file format (default: csv)")
    )
    p.add_argument("--output", "-o", help=_("file to write (default: standard output)"))
    p.set_defaults(func=cmd_export)

    imports = sub.add_parser("import", help=_("import open data")).add_subparsers(
        dest="import_command", required=True, metavar=N_("FORMAT")
    )
    p = imports.add_parser(
        "lamednum",
        parents=[common],
        help=_("seed the directory with places of the LaMednum open data standard (CSV or JSON)"),
    )
    p.add_argument("file", help=_("a CSV or JSON file of the standard 1.0.2"))
    p.add_argument(
        "--replace", action="store_true", help=_("drop the listings imported before first")
    )
    p.add_argument("--dry-run", action="store_true", help=_("check the file, store nothing"))
    p.set_defaults(func=cmd_import_lamednum)

    resources = sub.add_parser("resources", help=_("fiches as Markdown files")).add_subparsers(
        dest="resources_command", required=True, metavar=N_("ACTION")
    )
    p = resources.add_parser(
        "import", parents=[common], help=_("publish the Markdown files of a folder as resources")
    )
    p.add_argument("folder", help=_("folder of .md files with a front matter, and their files"))
    p.set_defaults(func=cmd_resources_import)
    p = resources.add_parser(
        "export", parents=[common], help=_("write this node's resources as Markdown files")
    )
    p.add_argument("folder", help=_("folder to write (created if needed)"))
    p.set_defaults(func=cmd_resources_export)

    p = sub.add_parser("demo", parents=[common], help=_("start 5 local demo nodes"))
    p.add_argument("--port", type=int, default=8101, help=_("first port (default 8101)"))
    p.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help=_("accounts of /admin")).add_subparsers(
        dest="user_command", required=True, metavar=N_("ACTION")
    )
    cli_manage.add_user_commands(user, common)

    mail = sub.add_parser("mail", help=_("notification mails")).add_subparsers(
        dest="mail_command", required=True, metavar=N_("ACTION")
    )
    p = mail.add_parser("test", parents=[common], help=_("send a test mail now (SMTP settings)"))
    p.add_argument("--to", help=_("recipient (default: notify_email, else the place's courriel)"))
    p.set_defaults(func=cmd_mail_test)

    p = sub.add_parser("vouch", parents=[common], help=_("vouch for a place (member)"))
    p.add_argument("origin", help=_("the place's id (ed25519:…)"))
    p.add_argument("--title", help=_("title of the vouch"))
    p.add_argument("--description", help=_("free text (visit, agreement…)"))
    p.add_argument("--revoke", action="store_true", help=_("withdraw the vouch"))
    p.add_argument("--reason", help=_("why it is withdrawn"))
    p.set_defaults(func=cmd_vouch)

    p = sub.add_parser("invite", parents=[common], help=_("invitation code for a new place"))
    p.set_defaults(func=cmd_invite)
    p = sub.add_parser("join", parents=[common], help=_("join the network with a code"))
    p.add_argument("code", help=_("the invitation code (PAPI1-…)"))
    p.set_defaults(func=cmd_join)

    p = sub.add_parser("members", parents=[common], help=_("members, vouches and candidates"))
    p.set_defaults(func=cmd_members)

    key = sub.add_parser("key", help=_("the node's keys")).add_subparsers(
        dest="key_command", required=True, metavar=N_("ACTION")
    )
    p = key.add_parser("rotate", parents=[common], help=_("replace the node's key (node stopped)"))
    p.set_defaults(func=cmd_key_rotate)
    p = key.add_parser(
        "recovery", parents=[common],
        help=_("create the place's recovery key if it has none (shown only once)"),
    )  # fmt: skip
    p.set_defaults(func=cmd_key_recovery)

    p = sub.add_parser(
        "recover", parents=[common],
        help=_("take a place over on a new machine with the words of its recovery key"),
    )  # fmt: skip
    p.add_argument("origin", help=_("id of the place to take over (ed25519:…)"))
    p.add_argument("--peer", required=True, help=_("a node of the network that holds its log"))
    p.add_argument("--url", help=_("public address of this new node"))
    p.set_defaults(func=cmd_recover)

    p = sub.add_parser(
        "backup", parents=[common], help=_("write a consistent backup while the node runs")
    )
    p.add_argument("file", help=_("backup file to create (never overwritten)"))
    secret = p.add_mutually_exclusive_group()
    secret.add_argument(
        "--encrypt", action="store_true", help=_("encrypt with a passphrase asked on the terminal")
    )
    secret.add_argument(
        "--passphrase-file", metavar=N_("FILE"), help=_("encrypt with the first line of FILE")
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore", parents=[common], help=_("restore a backup (the node must be stopped)")
    )
    p.add_argument("file", help=_("backup file written by 'papi backup'"))
    p.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    p.add_argument(
        "--passphrase-file", metavar=N_("FILE"), help=_("passphrase of an encrypted backup")
    )
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "vector", parents=[common], help=_("write this node's vector file (for papi bundle export)")
    )
    p.add_argument("file", help=_("vector file to write"))
    p.add_argument("--force", action="store_true", help=_("replace the file if it exists"))
    p.set_defaults(func=cmd_vector)

    bundles = sub.add_parser(
        "bundle", help=_("carry entries and attachments on a USB stick")
    ).add_subparsers(dest="bundle_command", required=True, metavar=N_("ACTION"))
    p = bundles.add_parser(
        "export", parents=[common], help=_("write a bundle of entries and their attachments")
    )
    p.add_argument("file", help=_("bundle file to create (never overwritten)"))
    p.add_argument(
        "--for",
        dest="for_file",
        metavar=N_("VECTOR_FILE"),
        help=_("only what the node of this vector file (papi vector) lacks"),
    )
    p.set_defaults(func=cmd_bundle_export)
    p = bundles.add_parser(
        "import", parents=[common], help=_("verify a bundle and store what is valid in it")
    )
    p.add_argument("file", help=_("bundle file written by papi bundle export"))
    p.set_defaults(func=cmd_bundle_import)

    p = sub.add_parser(
        "doctor", parents=[common], help=_("check the data directory; each problem with its fix")
    )
    p.add_argument(
        "--timeout", type=float, default=5.0, help=_("seconds per network check (default 5)")
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "migrate",
        parents=[common],
        help=_("bring the database's schema up to this version (also done at start)"),
    )
    p.set_defaults(func=cmd_migrate)
    name_placeholders(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    os.umask(PRIVATE_UMASK)  # the database, its WAL, the config: for this user only
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CliError, ConfigError, DataDirError) as exc:
        _fail(exc.text(gettext) if isinstance(exc, Translatable) else str(exc))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except PermissionError as exc:
        _fail(_("permission denied: %(file)s", file=exc.filename))
    except OSError as exc:  # disk full, read-only file system...
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}")


def _fail(message: str) -> NoReturn:
    print(_("papi: error: %(message)s", message=message), file=sys.stderr)
    raise SystemExit(1)


if __name__ == "__main__":
    main()
