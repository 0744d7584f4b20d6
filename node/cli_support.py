"""What the commands of ``papi`` share: messages in the locale's language (French
unless it asks for English, through the web interface's catalogue), the one-line
failure, opening the node's database, confirmation on a terminal, and times in Paris
time with their zone."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .datadir import init_data_dir, load_key
from .i18n import N_, locale_language, locale_ngettext, locale_text, translations
from .settings import ConfigError, Settings, load_settings

T = TypeVar("T")


#: A message of the command line in the locale's language.
_ = locale_text


ngettext = locale_ngettext


def gettext(message: str) -> str:
    return translations(locale_language()).gettext(message)


#: argparse's own messages (usage, errors, section titles): the standard library reads
#: them through gettext, given here from the node's catalogue (``speak_argparse``).
ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("invalid %(type)s value: %(value)r"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("ignored explicit argument %r"),
    N_("unexpected option string: %s"),
)


def speak_argparse() -> None:
    """argparse's messages in the locale's language (it looks ``_`` and ``ngettext``
    up in its module at each use)."""
    language = locale_language()
    catalogue = translations(language)
    argparse._ = catalogue.gettext  # type: ignore[attr-defined]
    argparse.ngettext = catalogue.ngettext  # type: ignore[attr-defined]


#: How help and usage name the values of arguments, by their ``dest`` (argparse would show
#: the ``dest`` itself, an English word); an explicit ``metavar`` is translated as well.
PLACEHOLDERS = {
    "data_dir": N_("DIR"),
    "file": N_("FILE"),
    "output": N_("FILE"),
    "passphrase_file": N_("FILE"),
    "for_file": N_("VECTOR_FILE"),
    "folder": N_("FOLDER"),
    "url": N_("URL"),
    "peer": N_("URL"),
    "email": N_("EMAIL"),
    "to": N_("EMAIL"),
    "origin": N_("PLACE_ID"),
    "code": N_("CODE"),
    "name": N_("NAME"),
    "commune": N_("COMMUNE"),
    "host": N_("HOST"),
    "port": N_("PORT"),
    "label": N_("LABEL"),
    "title": N_("TITLE"),
    "description": N_("TEXT"),
    "reason": N_("REASON"),
    "timeout": N_("SECONDS"),
}


def name_placeholders(parser: argparse.ArgumentParser) -> None:
    """Name the values of ``parser``'s arguments, and its subcommands', in the locale's
    language (``PLACEHOLDERS``)."""
    for action in parser._actions:  # argparse has no public walk of a parser's arguments
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                name_placeholders(child)
        if action.nargs == 0 or (action.choices is not None and action.metavar is None):
            continue  # a flag, or a value shown as its choices
        if isinstance(action.metavar, str):
            action.metavar = gettext(action.metavar)
        elif action.metavar is None and action.dest in PLACEHOLDERS:
            action.metavar = gettext(PLACEHOLDERS[action.dest])


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def confirm(question: str, yes: bool) -> None:
    """Ask ``question`` on the terminal (``oui``/``yes`` goes on); ``--yes`` skips it.
    Without a terminal and without ``--yes``, refuse: a script must say it means it."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(_("this command asks for confirmation on a terminal; add --yes to skip it"))
    answer = input(question + " " + _("Type “yes” to go on: "))
    if answer.strip().lower() not in ("oui", "o", "yes", "y"):
        raise CliError(_("cancelled; nothing was changed"))


def default_data_dir() -> Path:
    return Path(os.environ.get("PAPI_DATA_DIR") or "./papi-data")


def settings_of(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(Path(args.data_dir), overrides)


def initialise(
    args: argparse.Namespace, *, whole_profile: bool = False, **values: Any
) -> tuple[Settings, bool]:
    """The data directory made if need be, and its settings. ``url`` is always checked;
    with ``whole_profile`` (``papi init``), the place profile's schema too: it loads the
    schema validator, which a node otherwise loads at its first validation (idle memory,
    docs/performance.md 10.3), so ``papi serve`` leaves it out."""
    data_dir = Path(args.data_dir)
    check_place_settings(values, _("command line"), whole_profile=whole_profile)
    created = init_data_dir(data_dir, values)[1]
    settings = load_settings(data_dir)
    check_place_settings(
        {"name": settings.name, "commune": settings.commune, "url": settings.url},
        str(settings.config_path),
        whole_profile=whole_profile,
    )
    return settings, created


#: The settings the place profile is made of (``services/bootstrap.py``), by its member.
_PROFILE_MEMBERS = {"nom": "name", "commune": "commune", "endpoints": "url"}


def check_place_settings(
    values: Mapping[str, Any], source: str, *, whole_profile: bool = True
) -> None:
    """``name``, ``commune`` and ``url`` become the published place profile: refuse, in
    one line naming the setting, what its schema (or a peer dialling the URL) would
    refuse, before anything is written or published."""
    from federation.errors import SchemaError
    from federation.netguard import normalise_url
    from federation.schema import validate

    url = values.get("url") or ""
    if url:
        try:
            normalise_url(url)
        except ValueError as exc:
            raise ConfigError(
                N_("%(source)s: setting %(name)s: %(error)s"), source=source, name="url", error=exc
            ) from None
    if not whole_profile:
        return
    profile: dict[str, Any] = {"nom": values.get("name") or "-"}
    if values.get("commune"):
        profile["commune"] = values["commune"]
    if url:
        profile["endpoints"] = [url]
    try:
        validate("urn:papi:payload/place", profile)
    except SchemaError as exc:
        name = _PROFILE_MEMBERS.get(exc.field.split(".")[0], exc.field)
        raise ConfigError(
            N_("%(source)s: setting %(name)s: %(error)s"), source=source, name=name, error=exc
        ) from None


def print_migration(migration: Any, number: int, total: int) -> None:
    """One line on stderr for each migration of the database's schema."""
    print(
        _(
            "Migration %(n)d/%(total)d of the database schema (version %(version)d): %(title)s",
            n=number,
            total=total,
            version=migration.version,
            title=gettext(migration.title),
        ),
        file=sys.stderr,
        flush=True,
    )


def run_with_node(
    settings: Settings,
    work: Callable[[Any], Awaitable[T]],
    *,
    bootstrap: bool = True,
    progress: Callable[[Any, int, int], None] | None = print_migration,
) -> T:
    """Open the node's database (migrating its schema, progress on stderr), run
    ``work(node)`` inside its context, close it. ``bootstrap``: publish the place profile
    first if the node has none yet. ``progress``: told of each migration (default: a
    line on stderr; ``None`` from ``papi serve`` in JSON: the log)."""
    from .migrations import SchemaTooNew
    from .runtime import Node
    from .services.bootstrap import ensure_place
    from .services.identity import finish_rotation

    # What is loaded by now (modules, classes, the ORM's tables) lives as long as the
    # command: the cyclic garbage collector need not walk it again at each of its full
    # collections, which a sync round's allocations trigger (0.2 s of CPU for 30,000
    # entries, docs/performance.md 10.2).
    gc.freeze()

    async def main() -> T:
        node = Node(settings, load_key(settings.data_dir))
        try:
            try:
                await node.db.open(progress=progress)
            except SchemaTooNew as exc:
                raise CliError(exc.text(gettext)) from None
            except Exception as exc:  # sqlite3/Tortoise errors: corrupt or unreadable file
                raise CliError(
                    _("cannot open the database %(url)s: %(error)s", url=settings.db_url, error=exc)
                ) from None
            with node.db.activated():
                await finish_rotation(node)
                if bootstrap:
                    await ensure_place(node)
                return await work(node)
        finally:
            await node.db.close()

    return asyncio.run(main())
