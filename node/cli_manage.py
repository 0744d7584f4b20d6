"""``papi user``, ``papi token`` and ``papi peer remove``: the accounts of /admin, the
API tokens and the peers, listed and managed from the command line. Each change that
takes something away asks for confirmation on a terminal (``--yes`` skips it) and writes
an audit line (``node.audit``)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .audit import audit, command_line_actor
from .cli_support import (
    CliError,
    _,
    confirm,
    gettext,
    initialise,
    ngettext,
    run_with_node,
    settings_of,
)
from .i18n import N_, local_time
from .logging_setup import configure_logging

if TYPE_CHECKING:
    from .db import Database


def _audit_to_stderr() -> None:
    """Audit lines of a command go to its stderr (the node's own go to its log)."""
    configure_logging(logging.WARNING)


def _new_password(email: str) -> str:
    """Asked twice on a terminal; ``PAPI_PASSWORD`` for a script."""
    if not sys.stdin.isatty():
        password = os.environ.get("PAPI_PASSWORD")
        if password is None:
            raise CliError(
                _("no terminal to ask the password on; give it in the PAPI_PASSWORD variable")
            )
        return password
    password = getpass.getpass(_("Password for %(email)s: ", email=email))
    if getpass.getpass(_("Confirm: ")) != password:
        raise CliError(_("the two passwords differ; nothing was changed"))
    return password


def _run(args: argparse.Namespace, work: Any, *, create: bool = False) -> Any:
    """Run ``work(node)``; an ``AccountError`` becomes the command's one-line error."""
    from .web.accounts import AccountError

    settings = initialise(args)[0] if create else settings_of(args)

    async def guarded(node: Any) -> Any:
        try:
            return await work(node)
        except AccountError as exc:
            raise CliError(exc.text(gettext)) from None

    return run_with_node(settings, guarded)


def _role_name(role: str) -> str:
    return _("administrator") if role == "admin" else _("animator")


# -- papi user ------------------------------------------------------------------------


def _change_account(
    args: argparse.Namespace, action: str, change: Callable[[Database], Awaitable[object]]
) -> None:
    """Make one change to the account ``args.email``, then write its audit line."""

    async def work(node: Any) -> None:
        await change(node.db)

    _audit_to_stderr()
    _run(args, work)
    audit(action, args.email, command_line_actor())


def cmd_user_add(args: argparse.Namespace) -> None:
    from .web.accounts import add_user

    password = _new_password(args.email)

    async def work(node: Any) -> tuple[bool, str]:
        from .web.accounts import list_accounts

        created = await add_user(node.db, args.email, password, args.role)
        role = next(a.role for a in await list_accounts(node.db) if a.email == args.email.lower())
        return created, role

    _audit_to_stderr()
    created, role = _run(args, work, create=True)
    audit("user.add" if created else "user.password", args.email, command_line_actor())
    print(
        _("%(email)s (%(role)s) can now log in at /admin", email=args.email, role=_role_name(role))
    )


def cmd_user_list(args: argparse.Namespace) -> None:
    from .web.accounts import list_accounts

    async def work(node: Any) -> Any:
        return await list_accounts(node.db)

    accounts = _run(args, work)
    if not accounts:
        print(_("No account yet. Create one with: papi user add EMAIL"))
        return
    headers = (_("E-MAIL"), _("ROLE"), _("STATE"), _("CREATED"))
    print(f"{headers[0]:40} {headers[1]:15} {headers[2]:12} {headers[3]}")
    for account in accounts:
        state = _("disabled") if account.disabled else _("active")
        print(
            f"{account.email:40} {_role_name(account.role):15} {state:12} "
            f"{local_time(account.created)}"
        )


def cmd_user_password(args: argparse.Namespace) -> None:
    from .web.accounts import set_password

    password = _new_password(args.email)

    _change_account(args, "user.password", lambda db: set_password(db, args.email, password))
    print(_("New password set for %(email)s; its open sessions are closed.", email=args.email))


def cmd_user_role(args: argparse.Namespace) -> None:
    from .web.accounts import set_role

    _change_account(args, f"user.role={args.role}", lambda db: set_role(db, args.email, args.role))
    print(_("%(email)s is now %(role)s.", email=args.email, role=_role_name(args.role)))


def cmd_user_disable(args: argparse.Namespace) -> None:
    from .web.accounts import set_disabled

    confirm(
        _("Disable the account %(email)s (it can no longer log in)?", email=args.email), args.yes
    )

    _change_account(args, "user.disable", lambda db: set_disabled(db, args.email, True))
    print(_("%(email)s is disabled; its open sessions are closed.", email=args.email))


def cmd_user_enable(args: argparse.Namespace) -> None:
    from .web.accounts import set_disabled

    _change_account(args, "user.enable", lambda db: set_disabled(db, args.email, False))
    print(_("%(email)s can log in again.", email=args.email))


def cmd_user_remove(args: argparse.Namespace) -> None:
    from .web.accounts import remove_user

    confirm(_("Remove the account %(email)s for good?", email=args.email), args.yes)

    _change_account(args, "user.remove", lambda db: remove_user(db, args.email))
    print(_("The account %(email)s is removed.", email=args.email))


# -- papi token -----------------------------------------------------------------------


def cmd_token_list(args: argparse.Namespace) -> None:
    from .api.auth import list_tokens

    async def work(node: Any) -> Any:
        return await list_tokens(node)

    tokens = _run(args, work)
    if not tokens:
        print(_("No API token. Create one with: papi token create --label LABEL"))
        return
    headers = (_("ID"), _("LABEL"), _("CREATED"), _("LAST USED"))
    print(f"{headers[0]:>4} {headers[1]:30} {headers[2]:22} {headers[3]}")
    for token in tokens:
        print(
            f"{token.id:>4} {token.label or '-':30} {local_time(token.created):22} "
            f"{local_time(token.last_used)}"
        )


def cmd_token_revoke(args: argparse.Namespace) -> None:
    from .api.auth import TokenNotFound, list_tokens, revoke_token

    async def find(node: Any) -> Any:
        return await list_tokens(node)

    given = args.token.strip()
    matching = [
        t for t in _run(args, find) if (given.isdigit() and str(t.id) == given) or t.label == given
    ]
    shown = matching[0].label if len(matching) == 1 else given
    confirm(
        _(
            "Revoke the API token %(token)s (the scripts using it are refused at once)?",
            token=shown,
        ),
        args.yes,
    )

    async def work(node: Any) -> Any:
        try:
            return await revoke_token(node, given)
        except TokenNotFound as exc:
            if exc.matches:
                raise CliError(
                    ngettext(
                        "%(num)s token has the label %(label)s: give its id (papi token list)",
                        "%(num)s tokens have the label %(label)s: give the id (papi token list)",
                        exc.matches,
                        label=given,
                    )
                ) from None
            raise CliError(_("no API token %(token)s (see papi token list)", token=given)) from None

    _audit_to_stderr()
    revoked = _run(args, work)
    audit("token.revoke", f"{revoked.id} ({revoked.label})", command_line_actor())
    print(_("API token %(id)s (%(label)s) revoked.", id=revoked.id, label=revoked.label or "-"))


# -- papi peer remove -----------------------------------------------------------------


def cmd_peer_remove(args: argparse.Namespace) -> None:
    from .services.peers import remove_peer

    confirm(
        _("Forget the peer %(url)s and the updates waiting to be sent to it?", url=args.url),
        args.yes,
    )

    async def work(node: Any) -> Any:
        return await remove_peer(args.url, conn=node.db.connection())

    _audit_to_stderr()
    peer = _run(args, work)
    if peer is None:
        raise CliError(_("no peer %(url)s (see papi peer list)", url=args.url))
    audit("peer.remove", peer.url, command_line_actor())
    print(_("Peer %(url)s removed.", url=peer.url))


# -- parsers --------------------------------------------------------------------------


def _yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))


def add_user_commands(user: Any, common: argparse.ArgumentParser) -> None:
    roles = ("admin", "animator")
    p = user.add_parser("add", parents=[common], help=_("add an account (password prompted)"))
    p.add_argument("email", help=_("the account's e-mail address"))
    p.add_argument(
        "--role",
        choices=roles,
        default=None,
        help=_(
            "admin or animator (default: admin for the first account, animator for the next ones)"
        ),
    )
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("list", parents=[common], help=_("list the accounts and their roles"))
    p.set_defaults(func=cmd_user_list)
    p = user.add_parser("password", parents=[common], help=_("set a new password (prompted)"))
    p.add_argument("email", help=_("the account's e-mail address"))
    p.set_defaults(func=cmd_user_password)
    p = user.add_parser("role", parents=[common], help=_("change the role of an account"))
    p.add_argument("email", help=_("the account's e-mail address"))
    p.add_argument("role", choices=roles)
    p.set_defaults(func=cmd_user_role)
    p = user.add_parser("disable", parents=[common], help=_("stop an account from logging in"))
    p.add_argument("email", help=_("the account's e-mail address"))
    _yes(p)
    p.set_defaults(func=cmd_user_disable)
    p = user.add_parser("enable", parents=[common], help=_("let a disabled account log in again"))
    p.add_argument("email", help=_("the account's e-mail address"))
    p.set_defaults(func=cmd_user_enable)
    p = user.add_parser("remove", parents=[common], help=_("delete an account"))
    p.add_argument("email", help=_("the account's e-mail address"))
    _yes(p)
    p.set_defaults(func=cmd_user_remove)


def add_token_commands(token: Any, common: argparse.ArgumentParser) -> None:
    p = token.add_parser(
        "list", parents=[common], help=_("list the API tokens (never their value)")
    )
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", parents=[common], help=_("revoke an API token"))
    p.add_argument(
        "token", metavar=N_("LABEL_OR_ID"), help=_("its id or its label (papi token list)")
    )
    _yes(p)
    p.set_defaults(func=cmd_token_revoke)


def add_peer_commands(peer: Any, common: argparse.ArgumentParser) -> None:
    p = peer.add_parser("remove", parents=[common], help=_("forget a peer"))
    p.add_argument("url", help=_("the peer's base URL, as papi peer list shows it"))
    _yes(p)
    p.set_defaults(func=cmd_peer_remove)
