"""Creating and opening a data directory: config file, key, database, place profile."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from federation.errors import KeyFileError
from federation.keys import NodeKey

from .i18n import N_, Translatable
from .settings import (
    CONFIG_FILE,
    KEY_FILE,
    NEW_LOG_MARKER,
    RESTORED_MARKER,
    ConfigError,
    render_config,
)


class DataDirError(Translatable):
    """The data directory cannot be used; the message says what to do."""


#: Files and directories created by this process are for its user only (the CLI sets it
#: first thing; files are also created with explicit modes, whoever calls).
PRIVATE_UMASK = 0o077


#: Mode of every file of the data directory (the directory itself is 0700): the key and
#: the session secret are refused otherwise, the others are made so.
PRIVATE_FILE_MODE = 0o600


def write_private(path: Path, text: str) -> None:
    """Create ``path`` (mode 0600 from the start, whatever the umask) holding ``text``."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def make_private(path: Path) -> None:
    """Take group and other permissions away from a file of ours, if it exists (files
    written by an older version were 0644)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
    except OSError:
        return  # missing, or not ours to change


def init_data_dir(data_dir: Path, values: dict[str, Any]) -> tuple[NodeKey, bool]:
    """Create the directory, config and key if missing. Never overwrites a key.

    Returns the key and whether it was created now.
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(
            N_("data directory %(dir)s is a file, not a directory; choose another with --data-dir"),
            dir=data_dir,
        )
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(
            N_("cannot create data directory %(dir)s: %(error)s"), dir=data_dir, error=exc.strerror
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirError(
            N_("data directory %(dir)s is not writable; choose another with --data-dir"),
            dir=data_dir,
        )
    config = data_dir / CONFIG_FILE
    if not config.exists():
        try:
            write_private(config, render_config({k: v for k, v in values.items() if v}))
        except OSError as exc:
            raise DataDirError(
                N_("cannot write %(path)s: %(error)s"), path=config, error=exc.strerror
            ) from None
    make_private(config)
    key_path = data_dir / KEY_FILE
    if key_path.exists():
        return _load(key_path), False
    key = NodeKey.generate()
    try:
        key.save(key_path)
        # A brand-new key may start its log at seq 1; an old key with an empty database
        # must first recover its log from peers (bootstrap.py), or it would fork itself.
        (data_dir / NEW_LOG_MARKER).touch(mode=0o600)
    except KeyFileError as exc:
        raise DataDirError(N_("%(error)s"), error=exc) from None
    return key, True


def allow_new_log(data_dir: Path) -> None:
    """Let an existing key start a new log (``papi init --new-log``), or a restored node
    write without first catching up with its peers (the operator takes the risk)."""
    (data_dir / NEW_LOG_MARKER).touch(mode=0o600)
    (data_dir / RESTORED_MARKER).unlink(missing_ok=True)


def load_key(data_dir: Path) -> NodeKey:
    return _load(data_dir / KEY_FILE)


def _load(path: Path) -> NodeKey:
    """The key, or a ``DataDirError`` that says in words what is wrong with its file."""
    try:
        return NodeKey.load(path)
    except KeyFileError as exc:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise DataDirError(
                N_("key file %(path)s not found; run 'papi init' first"), path=path
            ) from None
        except OSError:
            raise DataDirError(N_("%(error)s"), error=exc) from None
        if mode & 0o077:
            raise DataDirError(
                N_(
                    "key file %(path)s is readable by other users (mode %(mode)s); run "
                    "'chmod 600 %(path)s' and start again"
                ),
                path=path,
                mode=f"{mode:o}",
            ) from None
        if os.access(path, os.R_OK):
            raise DataDirError(
                N_(
                    "key file %(path)s is damaged or holds no Ed25519 key: restore it from a "
                    "backup (never replace it by a new key: peers would see another node)"
                ),
                path=path,
            ) from None
        raise DataDirError(N_("%(error)s"), error=exc) from None


__all__ = ["ConfigError", "DataDirError", "init_data_dir", "load_key"]
