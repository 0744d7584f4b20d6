"""The ``papi`` command line. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .datadir import PRIVATE_UMASK, DataDirError, allow_new_log, init_data_dir, load_key
from .logging_setup import configure_logging
from .settings import KEY_FILE, ConfigError, Settings, load_settings, update_config
from .version import software

T = TypeVar("T")


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def default_data_dir() -> Path:
    return Path(os.environ.get("PAPI_DATA_DIR") or "./papi-data")


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(Path(args.data_dir), overrides)


def _initialise(args: argparse.Namespace, **values: Any) -> tuple[Settings, bool]:
    data_dir = Path(args.data_dir)
    _, created = init_data_dir(data_dir, values)
    return load_settings(data_dir), created


def run_with_node(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the node's database, run ``work(node)`` inside its context, close it."""
    from .runtime import Node
    from .services.bootstrap import ensure_place

    async def main() -> T:
        node = Node(settings, load_key(settings.data_dir))
        try:
            try:
                await node.db.open()
            except Exception as exc:  # sqlite3/Tortoise errors: corrupt or unreadable file
                raise CliError(f"cannot open the database {settings.db_url}: {exc}") from None
            with node.db.activated():
                await ensure_place(node)
                return await work(node)
        finally:
            await node.db.close()

    return asyncio.run(main())


# -- commands -------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> None:
    values = {"name": args.name, "commune": args.commune, "url": args.url}
    settings, created = _initialise(args, **values)
    given = {name: value for name, value in values.items() if value}
    if not created and given:
        # An existing node (for instance one 'scripts/serve' started unnamed): keep the key,
        # record the new values and bring the published place profile up to date.
        update_config(settings.config_path, given)
        settings = load_settings(settings.data_dir)
    if args.new_log:
        allow_new_log(settings.data_dir)
    node_id = run_with_node(settings, _origin if created else _refresh_place)
    state = "created" if created else "already initialised (key kept)"
    print(f"Data directory {settings.data_dir}: {state}")
    if given and not created:
        print(f"Updated: {', '.join(f'{k} = {v!r}' for k, v in given.items())}")
    print(f"Node id: {node_id}")
    print(f"Next: papi serve --data-dir {settings.data_dir}")


async def _refresh_place(node: Any) -> str:
    from .services.bootstrap import refresh_place
    from .services.log import LogRecovering

    try:
        await refresh_place(node)
    except LogRecovering:
        print(
            "The place profile is not published yet: this node is catching up its own log "
            "from its peers (run 'papi init' again once 'papi sync' has succeeded)",
            file=sys.stderr,
        )
    return str(node.origin)


async def _origin(node: Any) -> str:
    return str(node.origin)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app
    from .ops import servelock

    settings, _ = _initialise(args)
    settings = load_settings(settings.data_dir, {"host": args.host, "port": args.port})
    try:
        # Held until the process ends: 'papi restore' refuses to run under a live node.
        lock = servelock.acquire(settings.data_dir)
    except servelock.NodeRunning as exc:
        raise CliError(f"{exc}; stop it first or choose another --data-dir") from None
    _check_port_free(settings.host, settings.port)
    run_with_node(settings, _origin)  # a database that cannot be opened fails here, cleanly
    configure_logging(_log_level(settings.log_level))
    app = create_app(settings)
    print(f"papi-node {app.state.node.origin}")
    print(f"Serving on http://{settings.host}:{settings.port}/ (Ctrl-C to stop)", flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
    )
    lock.release()


def _check_port_free(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise CliError(f"port {port} is not between 1 and 65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    f"port {port} on {host} is already in use; stop the other program "
                    f"or choose another port with --port"
                ) from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def cmd_token_create(args: argparse.Namespace) -> None:
    from .api.auth import create_token

    settings, _ = _initialise(args)

    async def work(node: Any) -> str:
        return await create_token(args.label)

    token = run_with_node(settings, work)
    print(f"New API token (label {args.label!r}); it is shown only once:", file=sys.stderr)
    print(token)


def cmd_peer_add(args: argparse.Namespace) -> None:
    from federation.errors import PeerError

    from .services.features import remember_features
    from .services.peers import add_peer

    settings = _settings(args)

    async def work(node: Any) -> str:
        try:
            peer = await add_peer(args.url)
        except ValueError as exc:
            raise CliError(f"{exc}; give the peer's base URL, e.g. http://10.0.0.5:8000") from None
        async with node.peer_client() as client:
            try:
                info = await client.node_info(peer.url)
            except PeerError as exc:
                return f"Added {peer.url}, but it does not answer now ({exc}); will retry."
        if info["id"] == node.origin:
            await peer.delete()
            raise CliError(f"{peer.url} is this node itself")
        peer.origin = info["id"]
        await peer.save(update_fields=["origin"])
        await remember_features(peer, info)  # protocol 1.1 (docs/protocol.md 11.1)
        return f"Added {peer.url}: {info.get('name') or '?'} ({info['id']})"

    print(run_with_node(settings, work))


def cmd_peer_list(args: argparse.Namespace) -> None:
    from .models import Peer

    settings = _settings(args)

    async def work(node: Any) -> list[Any]:
        return list(await Peer.all().order_by("url"))

    peers = run_with_node(settings, work)
    if not peers:
        print("No peers yet. Join the network with: papi peer add URL")
        return
    print(f"{'URL':40} {'STATE':9} {'FAILS':>5} {'LAST SUCCESS':20} {'NEXT ATTEMPT':20} ERROR")
    for peer in peers:
        last = peer.last_success.strftime("%Y-%m-%d %H:%M:%S") if peer.last_success else "-"
        nxt = peer.next_attempt.strftime("%Y-%m-%d %H:%M:%S") if peer.next_attempt else "-"
        print(
            f"{peer.url:40} {peer.state:9} {peer.consecutive_failures:>5} {last:20} {nxt:20} "
            f"{(peer.last_error or '')[:60]}"
        )


#: Failures of ``papi sync`` that are only warnings (BRIEF §8): the peer is down or busy,
#: or policy forbids contacting it. Anything else (a peer answering nonsense, a refused
#: entry, a full disk) is an error.
SYNC_WARNING_KINDS = frozenset({"unreachable", "busy", "refused"})


def cmd_sync(args: argparse.Namespace) -> None:
    from .models import Peer
    from .services.sync import RoundResult, sync_peers

    settings = _settings(args)
    # Progress and outcomes are printed below; the log adds only warnings and errors.
    configure_logging(max(logging.WARNING, _log_level(settings.log_level)))
    # On a terminal, one line updated in place; in a log, one line per page.
    live = sys.stderr.isatty()
    clear = "\r\033[K" if live else ""
    running: dict[str, RoundResult] = {}

    def progress(result: RoundResult) -> None:
        running[result.peer] = result
        pages = sum(r.pages for r in running.values())
        accepted = sum(r.accepted for r in running.values())
        sent = sum(r.pushed_back for r in running.values())
        where = "" if live else f" ({result.peer})"
        print(
            f"{clear}  {pages} pages: {accepted} entries accepted, {sent} sent back{where}",
            end="" if live else "\n",
            file=sys.stderr,
            flush=True,
        )

    def done(result: RoundResult) -> None:
        running.pop(result.peer, None)
        if result.error:
            label = "warning" if result.error_kind in SYNC_WARNING_KINDS else "error"
            print(f"{clear}{label}: {result.peer}: {result.error_kind}: {result.error}",
                  file=sys.stderr)  # fmt: skip
        elif result.in_sync_at_start:
            print(f"{clear}{result.peer}: already in sync", file=sys.stderr)
        else:
            print(
                f"{clear}{result.peer}: {result.accepted} accepted, {result.rejected} rejected,"
                f" {result.pushed_back} sent back",
                file=sys.stderr,
            )

    async def work(node: Any) -> list[RoundResult]:
        peers = await Peer.all().order_by("url")
        if not peers:
            raise CliError("no peers; add one with: papi peer add URL")
        print(f"Syncing with {len(peers)} peer(s)", file=sys.stderr)
        return await sync_peers(node, list(peers), progress, deadline=None, done=done)

    results = run_with_node(settings, work)
    exit_status = sync_exit_status(results)
    if exit_status:
        synced = sum(1 for r in results if r.synced)
        raise CliError(
            f"{len(results) - synced} of {len(results)} peer(s) not synced or entries "
            "rejected; see the errors above and 'papi peer list'"
            if synced
            else "no peer could be synced; see 'papi peer list'"
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

    async def work(node: Any) -> Export:
        return await export_places(None if args.network else node.origin)

    result = run_with_node(settings, work)
    text = result.csv() if args.format == "csv" else result.json()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        listed = f" ({result.listings} unclaimed listings)" if result.listings else ""
        print(f"{len(result.rows)} place(s){listed} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for origin, name, errors in result.skipped:
        print(f"left out {name} ({origin}): {'; '.join(errors)}", file=sys.stderr)


def cmd_import_lamednum(args: argparse.Namespace) -> None:
    """Seed the directory with the national open data; messages in French (coordinators)."""
    from .services.lamednum_import import ImportFileError, ImportReport, import_file

    settings = _settings(args)
    live = sys.stderr.isatty()
    clear = "\r\033[K" if live else ""

    def progress(step: str, done: int, total: int) -> None:
        end = "\n" if not live or done == total else ""
        print(f"{clear}  {step} : {done}/{total}", end=end, file=sys.stderr, flush=True)

    async def work(node: Any) -> ImportReport:
        try:
            return await import_file(
                Path(args.file), replace=args.replace, dry_run=args.dry_run, progress=progress
            )
        except ImportFileError as exc:
            raise CliError(str(exc)) from None

    report = run_with_node(settings, work)
    for warning in report.warnings:
        print(f"attention : {warning}", file=sys.stderr)
    for rejected in report.rejected:
        print(f"refusée : {rejected.french()}", file=sys.stderr)
    verb = "vérifiées (rien n'est enregistré : --dry-run)" if args.dry_run else "importées"
    print(
        f"{len(report.rows)} fiche(s) {verb}, {len(report.rejected)} ligne(s) refusée(s)"
        f"; {report.replaced} déjà remplacée(s) par le lieu signé correspondant."
    )
    if report.rejected and not report.rows:
        raise CliError("aucune fiche valide dans ce fichier ; rien n'a été importé")


def cmd_resources_import(args: argparse.Namespace) -> None:
    from .services.resource_files import import_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder")
    settings = _settings(args)
    report = run_with_node(settings, lambda node: import_folder(node, folder))
    for name, message in report.warnings:
        print(f"warning: {name}: {message}", file=sys.stderr)
    for name, message in report.errors:
        print(f"not imported: {name}: {message}", file=sys.stderr)
    print(
        f"{len(report.created)} created, {len(report.updated)} updated,"
        f" {len(report.unchanged)} unchanged, {len(report.errors)} not imported"
    )
    if report.errors:
        raise CliError(f"{len(report.errors)} file(s) could not be imported")


def cmd_resources_export(args: argparse.Namespace) -> None:
    from .services.resource_files import export_folder

    folder = Path(args.folder)
    settings = _settings(args)
    report = run_with_node(settings, lambda node: export_folder(node, folder))
    for name, message in report.warnings:
        print(f"warning: {name}: {message}", file=sys.stderr)
    print(f"{len(report.written)} resource(s) written to {folder}")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(Path(args.data_dir), base_port=args.port)


def cmd_user_add(args: argparse.Namespace) -> None:
    import getpass

    from .web.accounts import add_user

    settings, _ = _initialise(args)
    password = os.environ.get("PAPI_PASSWORD") if not sys.stdin.isatty() else None
    if password is None:
        password = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Confirmer : ") != password:
            raise CliError("the two passwords differ; nothing was changed")

    async def work(node: Any) -> None:
        try:
            await add_user(args.email, password or "")
        except ValueError as exc:
            raise CliError(str(exc)) from None

    run_with_node(settings, work)
    print(f"User {args.email} can now log in at /admin")


# -- backup, restore, doctor ---------------------------------------------------------

#: Shortest passphrase accepted for a new encrypted backup.
MIN_PASSPHRASE = 12


def _refuse_foreign_root(data_dir: Path, command: str) -> None:
    from .ops.owner import foreign_owner

    owner = foreign_owner(data_dir)
    if owner is not None:
        raise CliError(
            f"{data_dir} belongs to {owner}: run this command as that user "
            f"(sudo -u {owner} papi {command} ...), or the node could no longer open "
            f"files that root creates"
        )


def _read_passphrase_file(path: str) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the passphrase file {path}: {exc}") from None
    if not lines or not lines[0]:
        raise CliError(f"the passphrase file {path} is empty (the first line is used)")
    return lines[0]


def _ask_passphrase(confirm: bool) -> str:
    import getpass

    if not sys.stdin.isatty():
        raise CliError("no terminal to ask the passphrase on; use --passphrase-file FILE")
    passphrase = getpass.getpass("Phrase de passe : ")
    if confirm and getpass.getpass("Confirmer : ") != passphrase:
        raise CliError("the two passphrases differ; nothing was written")
    return passphrase


def cmd_backup(args: argparse.Namespace) -> None:
    from .ops.backup import BackupError, create_backup

    data_dir = Path(args.data_dir)
    _refuse_foreign_root(data_dir, "backup")
    if not (data_dir / KEY_FILE).exists():
        raise CliError(f"{data_dir} holds no node (no {KEY_FILE}); nothing to back up")
    settings = _settings(args)
    passphrase = None
    if args.passphrase_file:
        passphrase = _read_passphrase_file(args.passphrase_file)
    elif args.encrypt:
        passphrase = _ask_passphrase(confirm=True)
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise CliError(f"the passphrase is too short: at least {MIN_PASSPHRASE} characters")
    try:
        manifest = create_backup(settings, Path(args.file), passphrase)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    sealed = " (encrypted)" if passphrase else ""
    print(
        f"Backup of node {manifest.origin} (its log up to seq {manifest.head_seq})"
        f" written to {args.file}{sealed}"
    )
    if passphrase is None:
        print("It holds the node's private key: keep it safe.", file=sys.stderr)


def _confirm_restore(staged: Any, data_dir: Path) -> None:
    """Describe what is replaced by what, in French, and ask on the terminal."""
    from .ops.backup import describe
    from .ops.text import t

    manifest = staged.manifest
    current, head = describe(data_dir)
    lines = [
        t("Sauvegarde : nœud %(origin)s, son journal jusqu'à l'entrée %(seq)d, faite le "
          "%(created)s.", origin=manifest.origin, seq=manifest.head_seq,
          created=manifest.created)
    ]  # fmt: skip
    if current is None:
        lines.append(t("Dossier %(dir)s : aucun nœud pour l'instant.", dir=data_dir))
    else:
        lines.append(
            t("Dossier %(dir)s : le nœud %(origin)s, son journal jusqu'à l'entrée %(seq)d. "
              "Sa base, sa clé et sa configuration seront remplacées.",
              dir=data_dir, origin=current, seq=head)
        )  # fmt: skip
        if current != manifest.origin:
            lines.append(
                t("ATTENTION : ce dossier contient un AUTRE nœud que celui de la sauvegarde ; "
                  "sans copie de sa clé, son identité sera perdue.")
            )  # fmt: skip
    lines.append(
        t("Ensuite, le nœud refusera toute modification tant qu'une synchronisation avec un "
          "pair n'aura pas rattrapé son propre journal.")
    )  # fmt: skip
    print("\n".join(lines), file=sys.stderr)
    answer = input(t("Restaurer ? Tapez « oui » pour continuer : "))
    if answer.strip().lower() not in ("oui", "o", "yes", "y"):
        raise CliError("restore cancelled; nothing was changed")


def cmd_restore(args: argparse.Namespace) -> None:
    from .ops import servelock
    from .ops.backup import BackupError, install, staged_backup

    data_dir = Path(args.data_dir)
    backup = Path(args.file)
    _refuse_foreign_root(data_dir, "restore")
    if not backup.is_file():
        raise CliError(f"{backup} is not a file")
    if not args.yes and not sys.stdin.isatty():
        raise CliError("papi restore asks for confirmation on a terminal; add --yes to skip it")
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create data directory {data_dir}: {exc.strerror}") from None

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
            f"{exc}: stop it first (sudo systemctl stop papi-node, or Ctrl-C), "
            "then run papi restore again"
        ) from None
    except BackupError as exc:
        raise CliError(str(exc)) from None
    manifest = staged.manifest
    print(
        f"Restored node {manifest.origin} (its log up to seq {manifest.head_seq}, "
        f"backup of {manifest.created}) into {data_dir}."
    )
    print(
        "Before it writes anything, the node catches up its own log from its peers: start it "
        "(or run 'papi sync'); local changes are refused until a sync round with a peer has "
        "completed. 'papi doctor' shows where it stands."
    )


def cmd_doctor(args: argparse.Namespace) -> None:
    from .ops.doctor import diagnose, render

    data_dir = Path(args.data_dir)
    findings = diagnose(data_dir, timeout=args.timeout)
    sys.stdout.write(render(findings, data_dir))
    if any(finding.ok is False for finding in findings):
        raise SystemExit(1)


# -- sneakernet: vector files and bundles (messages in French: the operator) --------


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
    return f"{size / 1_000_000:.1f} Mo".replace(".", ",")


def cmd_vector(args: argparse.Namespace) -> None:
    from federation.bundle import dump_json

    from .ops.text import t
    from .services.bundles import vector_document

    output = Path(args.file)
    if output.exists() and not args.force:
        raise CliError(
            t("%(file)s existe déjà : choisissez un autre nom, ou ajoutez --force pour le "
              "remplacer", file=output)
        )  # fmt: skip
    settings = _settings(args)
    document = run_with_node(settings, vector_document)
    partial = output.with_name(f".{output.name}.part")
    try:
        partial.write_bytes(dump_json(document) + b"\n")
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CliError(t("impossible d'écrire %(file)s : %(error)s", file=output,
                         error=exc.strerror or exc)) from None  # fmt: skip
    wants = len(document.get("wants", []))
    print(t("Vecteur de ce nœud (%(origins)d origines%(wants)s) écrit dans %(file)s.",
            origins=len(document["vector"]), file=output,
            wants=t(", %(n)d pièces jointes attendues", n=wants) if wants else ""))  # fmt: skip
    print(t("Portez ce fichier au nœud qui vous envoie des données ; il y lance : "
            "papi bundle export PAQUET --for %(name)s", name=output.name))  # fmt: skip


def cmd_bundle_export(args: argparse.Namespace) -> None:
    from .ops.text import t
    from .services.bundles import BundleRefused, ExportReport, export_bundle, read_vector_file

    settings = _settings(args)
    show, end = _progress_printer()
    steps = {"entries": t("entrées"), "blobs": t("pièces jointes")}

    def progress(step: str, done: int, total: int) -> None:
        show(t("%(step)s : %(done)d/%(total)d", step=steps[step], done=done, total=total))

    async def work(node: Any) -> ExportReport:
        theirs = read_vector_file(Path(args.for_file)) if args.for_file else None
        if theirs is not None and theirs["origin"] == node.origin:
            raise BundleRefused(
                t("ce fichier de vecteur est celui de ce nœud-ci : il faut celui du nœud qui "
                  "recevra le paquet")
            )  # fmt: skip
        return await export_bundle(node, Path(args.file), theirs, progress)

    try:
        report = run_with_node(settings, work)
    except BundleRefused as exc:
        end()
        raise CliError(str(exc)) from None
    end()
    scope = (
        t("ce qui manque au nœud %(origin)s", origin=report.manifest["for"]["origin"])
        if "for" in report.manifest
        else t("tout ce que ce nœud détient")
    )
    print(t("Paquet écrit dans %(file)s (%(scope)s) : %(entries)d entrées de %(origins)d "
            "origines, %(blobs)d pièces jointes (%(size)s).", file=args.file, scope=scope,
            entries=report.entries, origins=report.origins, blobs=report.blobs,
            size=_megabytes(report.blob_bytes)))  # fmt: skip
    if report.blobs_missing:
        print(t("attention : %(n)d pièce(s) jointe(s) citée(s) ne sont pas sur ce nœud ; le "
                "nœud qui importe les demandera à ses pairs.", n=report.blobs_missing),
              file=sys.stderr)  # fmt: skip
    print(t("Sur l'autre nœud : papi bundle import %(name)s", name=Path(args.file).name))


#: Rejections listed one by one before the rest are only counted.
SHOWN_REJECTIONS = 50


def cmd_bundle_import(args: argparse.Namespace) -> None:
    from .ops.text import t
    from .services.bundles import BundleRefused, ImportReport, import_bundle

    path = Path(args.file)
    if not path.is_file():
        raise CliError(t("%(file)s n'est pas un fichier", file=path))
    settings = _settings(args)
    # The outcome is printed below; the log adds only warnings and errors.
    configure_logging(max(logging.WARNING, _log_level(settings.log_level)))
    show, end = _progress_printer()

    def progress(report: ImportReport) -> None:
        show(t("%(lines)d entrées lues : %(accepted)d enregistrées, %(duplicate)d déjà "
               "présentes, %(rejected)d refusées ; %(blobs)d pièces jointes gardées",
               lines=report.lines, accepted=report.accepted, duplicate=report.duplicate,
               rejected=len(report.rejected), blobs=report.blobs_kept))  # fmt: skip

    try:
        report = run_with_node(settings, lambda node: import_bundle(node, path, progress))
    except BundleRefused as exc:
        end()
        raise CliError(str(exc)) from None
    end()
    manifest = report.manifest
    print(t("Paquet du nœud %(origin)s, écrit le %(created)s.", origin=manifest["origin"],
            created=manifest["created"]), file=sys.stderr)  # fmt: skip
    for rejection in report.rejected[:SHOWN_REJECTIONS]:
        who = (
            f"{rejection.origin} seq {rejection.seq}"
            if rejection.origin and rejection.seq is not None
            else t("entrée illisible")
        )
        print(t("refusée : ligne %(line)d (%(who)s) : %(code)s : %(reason)s",
                line=rejection.line, who=who, code=rejection.code, reason=rejection.reason),
              file=sys.stderr)  # fmt: skip
    if len(report.rejected) > SHOWN_REJECTIONS:
        print(t("… et %(n)d autres entrées refusées", n=len(report.rejected) - SHOWN_REJECTIONS),
              file=sys.stderr)  # fmt: skip
    for blob in report.blobs_rejected:
        print(t("pièce jointe refusée : %(sha)s : %(reason)s", sha=blob.name,
                reason=blob.reason), file=sys.stderr)  # fmt: skip
    for problem in [*report.notes, *report.problems]:
        print(t("attention : %(problem)s", problem=problem), file=sys.stderr)
    print(t("%(accepted)d entrées enregistrées, %(duplicate)d déjà présentes, %(pending)d en "
            "attente (il manque des entrées avant elles), %(rejected)d refusées ; "
            "%(kept)d pièces jointes gardées, %(held)d déjà présentes, %(blobs_rejected)d "
            "refusées.", accepted=report.accepted, duplicate=report.duplicate,
            pending=report.pending, rejected=len(report.rejected), kept=report.blobs_kept,
            held=report.blobs_held, blobs_rejected=len(report.blobs_rejected)))  # fmt: skip
    if not report.clean:
        raise CliError(
            t("une partie du paquet a été refusée (voir ci-dessus) ; ce qui était valide est "
              "enregistré. Demandez un nouveau paquet à l'expéditeur (papi vector, puis "
              "papi bundle export --for) ou synchronisez dès qu'un lien existe.")
        )  # fmt: skip


# -- parser ---------------------------------------------------------------------------


def cmd_mail_test(args: argparse.Namespace) -> None:
    from .mail.smtp import SmtpFailure
    from .mail.trial import TrialRefused, failure_text, send_trial_mail
    from .web.i18n import DEFAULT_LANGUAGE, translations

    gettext = translations(DEFAULT_LANGUAGE).gettext
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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help="data directory (default: $PAPI_DATA_DIR or ./papi-data)",
    )
    parser = argparse.ArgumentParser(prog="papi", description="Nœud du réseau PAPI.")
    parser.add_argument("--version", action="version", version=software())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", parents=[common], help="create the data directory and key")
    p.add_argument("--name", help="name of the place")
    p.add_argument("--commune", help="commune of the place")
    p.add_argument("--url", help="public base URL of this node")
    p.add_argument(
        "--new-log",
        action="store_true",
        help="let an existing key whose database was lost start a new log (only if no "
        "peer ever received it: otherwise peers see a fork and freeze this node)",
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", parents=[common], help="run the node")
    p.add_argument("--host", default=None, help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    p = token.add_parser("create", parents=[common], help="print a new API bearer token")
    p.add_argument("--label", default="", help="what the token is for")
    p.set_defaults(func=cmd_token_create)

    peer = sub.add_parser("peer", help="peers").add_subparsers(
        dest="peer_command", required=True, metavar="ACTION"
    )
    p = peer.add_parser("add", parents=[common], help="add a peer by its base URL")
    p.add_argument("url")
    p.set_defaults(func=cmd_peer_add)
    p = peer.add_parser("list", parents=[common], help="show peers and their state")
    p.set_defaults(func=cmd_peer_list)

    p = sub.add_parser("sync", parents=[common], help="run one sync round with every peer now")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser(
        "export", parents=[common], help="export places to the LaMednum open data standard"
    )
    p.add_argument("--network", action="store_true", help="every known place, not only ours")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    imports = sub.add_parser("import", help="import open data").add_subparsers(
        dest="import_command", required=True, metavar="FORMAT"
    )
    p = imports.add_parser(
        "lamednum",
        parents=[common],
        help="seed the directory with places of the LaMednum open data standard (CSV or JSON)",
    )
    p.add_argument("file", help="a CSV or JSON file of the standard 1.0.2")
    p.add_argument("--replace", action="store_true", help="drop the listings imported before first")
    p.add_argument("--dry-run", action="store_true", help="check the file, store nothing")
    p.set_defaults(func=cmd_import_lamednum)

    resources = sub.add_parser("resources", help="fiches as Markdown files").add_subparsers(
        dest="resources_command", required=True, metavar="ACTION"
    )
    p = resources.add_parser(
        "import", parents=[common], help="publish the Markdown files of a folder as resources"
    )
    p.add_argument("folder", help="folder of .md files with a front matter, and their files")
    p.set_defaults(func=cmd_resources_import)
    p = resources.add_parser(
        "export", parents=[common], help="write this node's resources as Markdown files"
    )
    p.add_argument("folder", help="folder to write (created if needed)")
    p.set_defaults(func=cmd_resources_export)

    p = sub.add_parser("demo", parents=[common], help="start 5 local demo nodes")
    p.add_argument("--port", type=int, default=8101, help="first port (default 8101)")
    p.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="animators' accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    p = user.add_parser("add", parents=[common], help="add an account (password prompted)")
    p.add_argument("email")
    p.set_defaults(func=cmd_user_add)

    mail = sub.add_parser("mail", help="notification mails").add_subparsers(
        dest="mail_command", required=True, metavar="ACTION"
    )
    p = mail.add_parser("test", parents=[common], help="send a test mail now (SMTP settings)")
    p.add_argument("--to", help="recipient (default: notify_email, else the place's courriel)")
    p.set_defaults(func=cmd_mail_test)

    p = sub.add_parser(
        "backup", parents=[common], help="write a consistent backup while the node runs"
    )
    p.add_argument("file", help="backup file to create (never overwritten)")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument(
        "--encrypt", action="store_true", help="encrypt with a passphrase asked on the terminal"
    )
    secret.add_argument(
        "--passphrase-file", metavar="FILE", help="encrypt with the first line of FILE"
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore", parents=[common], help="restore a backup (the node must be stopped)"
    )
    p.add_argument("file", help="backup file written by 'papi backup'")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--passphrase-file", metavar="FILE", help="passphrase of an encrypted backup")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "vector", parents=[common], help="write this node's vector file (for papi bundle export)"
    )
    p.add_argument("file", help="vector file to write")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.set_defaults(func=cmd_vector)

    bundles = sub.add_parser(
        "bundle", help="carry entries and attachments on a USB stick"
    ).add_subparsers(dest="bundle_command", required=True, metavar="ACTION")
    p = bundles.add_parser(
        "export", parents=[common], help="write a bundle of entries and their attachments"
    )
    p.add_argument("file", help="bundle file to create (never overwritten)")
    p.add_argument(
        "--for",
        dest="for_file",
        metavar="VECTOR_FILE",
        help="only what the node of this vector file (papi vector) lacks",
    )
    p.set_defaults(func=cmd_bundle_export)
    p = bundles.add_parser(
        "import", parents=[common], help="verify a bundle and store what is valid in it"
    )
    p.add_argument("file", help="bundle file written by papi bundle export")
    p.set_defaults(func=cmd_bundle_import)

    p = sub.add_parser(
        "doctor", parents=[common], help="check the data directory; each problem with its fix"
    )
    p.add_argument(
        "--timeout", type=float, default=5.0, help="seconds per network check (default 5)"
    )
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    os.umask(PRIVATE_UMASK)  # the database, its WAL, the config: for this user only
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CliError, ConfigError, DataDirError) as exc:
        print(f"papi: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except PermissionError as exc:
        print(f"papi: error: permission denied: {exc.filename}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:  # disk full, read-only file system...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"papi: error: {exc.strerror or exc}{where}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
