"""Path convertors of the node's routes, so that no route depends on the order of the
others:

- ``{collection:collection}`` matches the API collections of ``services.objects.
  COLLECTIONS`` (``skills``, ``equipment``, ``events``) and nothing else: ``/api/v1/node``
  or ``/admin/peers/...`` never reach a collection's handler;
- ``{oid:oid}`` matches an object id as the header schema has it (``urn:papi:header``
  ``oid``): ``/o/{origin}/event/{oid}.ics`` is never an object page;
- ``{oid:admin_oid}`` the same but ``new``: ``/admin/skills/new`` is never an object.

Starlette keeps convertors in one global registry, read when a route is built:
``register_convertors()`` is called by the ``routes()`` functions that use them (app
assembly, never import time); registering again is harmless.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

from .services.objects import COLLECTIONS


class CollectionConvertor(Convertor[str]):
    """One of the collection names of the API, from the one table of collections."""

    regex = "|".join(re.escape(name) for name in sorted(COLLECTIONS, key=len, reverse=True))

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        if value not in COLLECTIONS:
            raise ValueError(f"{value!r} is not a collection ({', '.join(COLLECTIONS)})")
        return value


class OidConvertor(Convertor[str]):
    """An object id: the header schema's ``oid`` pattern (tests/test_routes.py checks)."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        if not re.fullmatch(self.regex, value):
            raise ValueError(f"{value!r} is not an object id")
        return value


class AdminOidConvertor(OidConvertor):
    """An object id in the admin's paths: any but ``new``, which names the form of a new
    object (``/admin/skills/new``). Objects this node writes have ids of 16 random
    characters (``services.log.new_oid``), so none is ``new``."""

    regex = "(?!new(?![A-Za-z0-9_-]))[A-Za-z0-9_-]{1,64}"

    def to_string(self, value: str) -> str:
        if value == "new":
            raise ValueError("'new' names the form of a new object, not an object")
        return super().to_string(value)


def register_convertors() -> None:
    register_url_convertor("collection", CollectionConvertor())
    register_url_convertor("oid", OidConvertor())
    register_url_convertor("admin_oid", AdminOidConvertor())
