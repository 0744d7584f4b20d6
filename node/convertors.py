"""Path convertors of the node's routes, so that no route depends on the order of the
others:

- ``{collection:collection}`` matches the API collections of ``services.objects.
  COLLECTIONS`` (``skills``, ``equipment``, ``events``) and nothing else: ``/api/v1/node``
  or ``/admin/peers/...`` never reach a collection's handler;
- ``{oid:oid}`` matches an object id as the header schema has it (``urn:papi:header``
  ``oid``): ``/o/{origin}/event/{oid}.ics`` is never an object page;
- ``{oid:admin_oid}`` the same but ``new`` and ``adapt``: ``/admin/skills/new`` is never
  an object;
- ``{kind:object_kind}`` the kinds the generic object page shows (a resource has a page
  of its own, ``web/routes_resources.py``);
- ``{collection:admin_collection}`` the collections the generic admin form edits (the
  resources have an editor of their own, ``web/routes_admin_resources.py``);
- ``{origin:origin}`` an origin id (``ed25519:`` and 43 characters): with ``{oid:oid}``
  after it, the two segments of a cooperation ref (BRIEF 8: ``/api/v1/loans/{origin}/{oid}``);
- ``{action:loan_action}`` the actions of a loan (``federation.cooperation.LOAN_ACTORS``);
  ``{action:registration_action}`` those of a registration (``cancel``).
- ``{action:help_action}`` the buttons of a help request in /admin (``HELP_ACTIONS``).

Starlette keeps convertors in one global registry, read when a route is built:
``register_convertors()`` is called by the ``routes()`` functions that use them (app
assembly, never import time); registering again is harmless.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

from federation.cooperation import LOAN_ACTORS
from federation.payloads import COOPERATION_KINDS, KINDS

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


#: Collections whose admin pages are their own, not the generic form's.
OWN_EDITOR = frozenset({"resources"})


class AdminCollectionConvertor(CollectionConvertor):
    """A collection the generic admin form edits: every one but those of ``OWN_EDITOR``."""

    regex = "|".join(
        re.escape(name) for name in sorted(set(COLLECTIONS) - OWN_EDITOR, key=len, reverse=True)
    )

    # Building a link may name any collection: a resource's admin path has the same shape
    # and is served by its own editor, which comes first (``to_string`` is inherited).


#: Kinds whose public page is their own, not the generic object page's.
OWN_PAGE = frozenset({"resource"})
#: Kinds that have no public page: the steps of cooperation are not offers (their
#: conversations are shown in /admin, to the two places concerned).
NO_PAGE = frozenset(COOPERATION_KINDS)


class ObjectKindConvertor(Convertor[str]):
    """A kind the generic object page shows: every entry kind but those of ``OWN_PAGE``
    and ``NO_PAGE``."""

    regex = "|".join(
        sorted((k for k in KINDS if k not in OWN_PAGE | NO_PAGE), key=len, reverse=True)
    )

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        # Building a link may name any kind: a resource's path has the same shape and is
        # served by its own page, which comes first.
        if value not in KINDS:
            raise ValueError(f"{value!r} is not a kind")
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


#: Words of the admin's paths that name a form, never an object.
ADMIN_WORDS = ("new", "adapt")


class AdminOidConvertor(OidConvertor):
    """An object id in the admin's paths: any but ``ADMIN_WORDS`` (``/admin/skills/new``,
    ``/admin/resources/adapt``). Objects this node writes have ids of 16 random
    characters (``services.log.new_oid``), so none is one of them."""

    regex = "(?!(?:" + "|".join(ADMIN_WORDS) + ")(?![A-Za-z0-9_-]))[A-Za-z0-9_-]{1,64}"

    def to_string(self, value: str) -> str:
        if value in ADMIN_WORDS:
            raise ValueError(f"{value!r} names a form, not an object")
        return super().to_string(value)


class OriginConvertor(Convertor[str]):
    """An origin id: ``ed25519:`` and the base64url of a 32-byte key (43 characters)."""

    regex = "ed25519:[A-Za-z0-9_-]{43}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        if not re.fullmatch(self.regex, value):
            raise ValueError(f"{value!r} is not an origin id")
        return value


class ChoiceConvertor(Convertor[str]):
    """One of the words of ``choices`` (the actions of a workflow)."""

    choices: tuple[str, ...] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.regex = "|".join(re.escape(c) for c in sorted(cls.choices, key=len, reverse=True))

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        if value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(self.choices)}")
        return value


class LoanActionConvertor(ChoiceConvertor):
    choices = tuple(LOAN_ACTORS)


class RegistrationActionConvertor(ChoiceConvertor):
    """What people do to a registration (the organiser's node decides the rest)."""

    choices = ("cancel",)


#: The buttons of a help request's row in /admin: the asker cancels its request, an
#: offerer withdraws its offer (``cooperation.help_requests.ROW_ACTIONS``).
HELP_ACTIONS = ("cancel", "withdraw")


class HelpActionConvertor(ChoiceConvertor):
    choices = HELP_ACTIONS


def register_convertors() -> None:
    register_url_convertor("collection", CollectionConvertor())
    register_url_convertor("oid", OidConvertor())
    register_url_convertor("admin_oid", AdminOidConvertor())
    register_url_convertor("admin_collection", AdminCollectionConvertor())
    register_url_convertor("object_kind", ObjectKindConvertor())
    register_url_convertor("origin", OriginConvertor())
    register_url_convertor("loan_action", LoanActionConvertor())
    register_url_convertor("registration_action", RegistrationActionConvertor())
    register_url_convertor("help_action", HelpActionConvertor())
