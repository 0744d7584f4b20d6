"""What the cooperation pages of /admin (loans, registrations, help requests) share: the
conversation named by the path, days as animators type them, the message of a refusal."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request

from federation.cooperation import Ref

from .i18n import N_

#: A day as typed in French: ``5/12/2026`` or ``05/12/2026``.
_FRENCH_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")

#: The message of a refusal the page has no words of its own for.
NOT_ACCEPTED = N_("This value is not accepted.")


def path_ref(request: Request) -> Ref:
    """The conversation named by the path's ``{origin}/{oid}``."""
    return Ref(request.path_params["origin"], request.path_params["oid"])


def form_day(text: str) -> str:
    """A day as typed (``05/12/2026``) or as a date field sends it (``2026-12-05``)."""
    text = text.strip()
    match = _FRENCH_DAY.match(text)
    if match:
        return f"{match.group(3)}-{int(match.group(2)):02d}-{int(match.group(1)):02d}"
    return text


def refusal_message(messages: Mapping[tuple[str, str], str], field: str, keyword: str) -> str:
    """The page's words for a refusal of ``field`` by ``keyword``, else the generic ones."""
    return messages.get((field, keyword), NOT_ACCEPTED)
