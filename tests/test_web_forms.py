"""Schema errors onto the admin forms' fields, in French: chosen from the error's keyword
and limit (``SchemaError`` data), never from the wording of its English message."""

from __future__ import annotations

from typing import Any

import pytest

from federation.errors import SchemaError
from federation.payloads import validate_payload
from node.web.fields import FieldError, object_fields, place_fields
from node.web.forms import schema_error
from node.web.i18n import translations


def _french(error: FieldError) -> str:
    return translations("fr").gettext(error.message) % dict(error.values)


def _shown(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """(field, French message) of the error the form shows for an invalid payload."""
    with pytest.raises(SchemaError) as caught:
        validate_payload(kind, payload)
    fields = place_fields() if kind == "place" else object_fields(kind)
    name, error = schema_error(fields, caught.value)
    return name, _french(error)


START = "2026-05-06T14:00:00+02:00"


@pytest.mark.parametrize(
    ("kind", "payload", "field", "french"),
    [
        ("skill", {"title": "t" * 201}, "title", "200 caractères au plus."),  # maxLength
        ("skill", {"title": ""}, "title", "Ce champ est obligatoire."),  # minLength 1
        ("skill", {"description": "sans titre"}, "title", "Ce champ est obligatoire."),
        ("skill", {"title": "t", "theme": "Cuisine"}, "theme",
         "Choisissez une valeur dans la liste."),  # enum
        ("place", {"nom": "EPN", "code_postal": "2920"}, "code_postal",
         "Cinq chiffres, par exemple 29200."),  # pattern, with the field's format hint
        ("equipment", {"title": "t", "quantity": "2"}, "quantity",
         "Indiquez un nombre entier, par exemple 4."),  # type integer
        ("place", {"nom": "EPN", "latitude": "48,4"}, "latitude",
         "Indiquez un nombre, par exemple 48,39."),  # type number
        ("equipment", {"title": "t", "quantity": 0}, "quantity", "Au moins 1."),  # minimum
        ("place", {"nom": "EPN", "latitude": 91}, "latitude", "Au plus 90."),  # maximum
        ("place", {"nom": "EPN", "courriels": [f"a{i}@b.fr" for i in range(11)]}, "courriels",
         "Trop de valeurs."),  # maxItems
        ("place", {"nom": "EPN", "courriels": ["a" * 300 + "@b.fr"]}, "courriels",
         "254 caractères au plus."),  # maxLength of one line (not "too many values")
        ("place", {"nom": "EPN", "courriels": ["pas-une-adresse"]}, "courriels",
         "Chaque ligne doit être une adresse électronique, comme contact@exemple.fr."),
        ("place", {"nom": "EPN", "services": ["Santé"]}, "services",
         "Choisissez une valeur dans la liste."),  # enum of an item
        ("place", {"nom": "EPN", "itinerance": ["Fixe", "Fixe"]}, "itinerance",
         "Indiquez chaque valeur une seule fois."),  # uniqueItems
        ("event", {"title": "t", "start": START, "end": "2026-05-06T13:00:00+02:00"}, "end",
         "La fin doit être après le début."),  # "after", a rule checked in code
    ],
)  # fmt: skip
def test_each_keyword_has_its_french_message(
    kind: str, payload: dict[str, Any], field: str, french: str
) -> None:
    assert _shown(kind, payload) == (field, french)


def test_an_unknown_member_is_a_form_level_error() -> None:
    name, french = _shown("skill", {"title": "t", "color": "bleu"})  # additionalProperties
    assert name == ""
    assert french.startswith("Le serveur a refusé le formulaire") and "color" in french


def test_a_pattern_without_format_hint_shows_the_detail() -> None:
    error = SchemaError("'title': 'x' does not match ^y$", "title", "pattern", "^y$")
    name, shown = schema_error(object_fields("skill"), error)
    assert name == "title" and "'x' does not match" in _french(shown)


def test_the_keyword_decides_not_the_english_words() -> None:
    """An upgrade of the validator may reword its messages: the French stays right."""
    fields = object_fields("skill")
    reworded = SchemaError("'title': something else entirely", "title", "maxLength", 200)
    assert _french(schema_error(fields, reworded)[1]) == "200 caractères au plus."
    misleading = SchemaError("'title': 'x' is too long", "title", "enum", ["a"])
    assert _french(schema_error(fields, misleading)[1]) == "Choisissez une valeur dans la liste."
