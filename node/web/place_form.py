"""The place form's help with expert data: the commune chosen from the shipped table of
French communes fills the postcode, the INSEE code and a first position (the town hall),
which the map pin then refines; the typology as labelled choices; the opening hours
editor (``hours_form``). Everything works without a script: the commune suggestions are a
``<datalist>`` of the place's département, and the position has its two fields."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from ..services.communes import Commune, communes
from ..services.typologies import COMMON
from .fields import Field, FieldError, FormResult
from .hours import describe_hours
from .hours_form import grid_of, grid_values
from .i18n import N_

_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")
#: Decimals kept of a position (about a metre).
POSITION_DECIMALS = 5


@dataclass(frozen=True)
class CommuneChoice:
    #: What the input receives (``Saint-Renan 29290``: the name and one postcode).
    value: str
    label: str


def _postcodes(commune: Commune) -> tuple[str, ...]:
    if commune.codes_postaux or not commune.parent:
        return commune.codes_postaux
    parent = communes().by_insee(commune.parent)
    return parent.codes_postaux if parent else ()


def commune_choices(place: dict[str, Any], fallback: str) -> list[CommuneChoice]:
    """The communes of the place's département (else of the node's ``commune`` setting):
    the suggestions of the commune field, one per postcode."""
    table = communes()
    commune = None
    if isinstance(place.get("code_insee"), str):
        commune = table.by_insee(place["code_insee"])
    if commune is None:
        commune = table.resolve(str(place.get("commune") or fallback or ""))
    if commune is None:
        return []
    return [
        CommuneChoice(f"{c.nom} {code}", f"{c.nom} ({code})")
        for c in table.in_departement(commune.departement)
        for code in c.codes_postaux
    ]


async def load_choices(place: dict[str, Any], fallback: str) -> list[CommuneChoice]:
    return await asyncio.to_thread(commune_choices, place, fallback)


def _error(result: FormResult, name: str, message: str, /, **values: Any) -> None:
    result.errors[name] = FieldError(message, values)


def apply_commune(result: FormResult, current: dict[str, Any]) -> None:
    """Resolve the commune typed into the payload: its official name, INSEE code and
    postcode, and a position when there is none yet (or the commune changed and the
    position did not). Errors next to the commune or the postcode when it is unknown,
    ambiguous or the postcode is not one of its own."""
    payload, values = result.payload, result.values
    text = str(payload.get("commune") or "")
    if not text:
        payload.pop("code_insee", None)
        values["code_insee"] = ""
        return
    typed_postcode = str(payload.get("code_postal") or "")
    if typed_postcode and not _POSTCODE.fullmatch(typed_postcode):
        _error(result, "code_postal", N_("Five digits, for example 29200."))
        typed_postcode = ""
    found = _POSTCODE.search(text)
    in_text = found.group(1) if found else ""
    table = communes()
    if not in_text and not typed_postcode:
        homonyms = table.homonyms(text)
        if homonyms:
            choices = ", ".join(
                f"{c.nom} {(_postcodes(c) or ('',))[0]} ({c.departement})" for c in homonyms[:6]
            )
            _error(
                result,
                "commune",
                N_(
                    "Several communes are called %(name)s: choose yours in "
                    "the list, or add its postcode (%(choices)s)."
                ),
                name=text,
                choices=choices,
            )
            return
    commune = table.resolve(text if in_text else f"{text} {typed_postcode}".strip())
    if commune is None:
        _error(
            result, "commune", N_("Unknown commune: choose it in the list, or check its spelling.")
        )
        return
    payload["commune"] = values["commune"] = commune.nom
    payload["code_insee"] = values["code_insee"] = commune.insee
    codes = _postcodes(commune)
    postcode = typed_postcode or in_text
    if "code_postal" in result.errors:
        pass
    elif postcode:
        if codes and postcode not in codes:
            _error(
                result,
                "code_postal",
                N_("%(code)s is not a postcode of %(commune)s: %(codes)s."),
                code=postcode,
                commune=commune.nom,
                codes=", ".join(codes),
            )
        else:
            payload["code_postal"] = values["code_postal"] = postcode
    elif len(codes) == 1:
        payload["code_postal"] = values["code_postal"] = codes[0]
    elif codes:
        _error(
            result,
            "code_postal",
            N_("%(commune)s has several postcodes (%(codes)s): give the place's."),
            commune=commune.nom,
            codes=", ".join(codes),
        )
    _place_on_map(result, current, commune)


def _place_on_map(result: FormResult, current: dict[str, Any], commune: Commune) -> None:
    payload, values = result.payload, result.values
    if commune.point is None or "latitude" in result.errors or "longitude" in result.errors:
        return
    latitude, longitude = payload.get("latitude"), payload.get("longitude")
    none_yet = latitude is None and longitude is None
    followed_the_old_commune = (
        commune.insee != current.get("code_insee")
        and latitude == current.get("latitude")
        and longitude == current.get("longitude")
    )
    if none_yet or followed_the_old_commune:
        for name, value in zip(("latitude", "longitude"), commune.point, strict=True):
            payload[name] = round(value, POSITION_DECIMALS)
            values[name] = str(payload[name])


def typology_groups(spec: Field, chosen: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The typology's choices: the common ones, the others, and the codes stored that the
    list does not have (shown checked, kept)."""
    known = dict(spec.choices)
    return {
        "common": [(code, known[code]) for code in COMMON if code in known],
        "others": [(code, text) for code, text in spec.choices if code not in COMMON],
        "unknown": [(code, code) for code in chosen if code not in known],
    }


def hours_context(text: str, language: str) -> dict[str, Any]:
    """What the hours editor shows for the stored ``horaires``."""
    grid = grid_of(text)
    return {
        "hours_values": grid_values(grid),
        "hours_in_grid": grid is not None,
        "hours_words": describe_hours(text, language) if text else None,
        "hours_shown": text,
    }
