"""Audit lines: who changed an account, a token or a peer, one log line each
(logger ``node.audit``, always at INFO whatever the node's log level; see
``logging_setup``). Secrets (passwords, tokens) never appear in them."""

from __future__ import annotations

import getpass
import logging

log = logging.getLogger("node.audit")


def command_line_actor() -> str:
    """Who runs a command: ``cli:<system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli"


def audit(action: str, target: str, actor: str) -> None:
    """``action`` (``user.disable``...) on ``target`` by ``actor`` (an e-mail or
    ``cli:<user>``)."""
    log.info("audit: %s %s by %s", action, target, actor)
