"""The place form without expert data (issue 17): the commune chosen from the shipped
table fills the postcode, INSEE code and position; the typology as labelled choices; the
opening hours editor writes the OpenStreetMap syntax and reads it back."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from starlette.datastructures import FormData

from node.services.typologies import label, typologies
from node.web.fields import FormResult, place_fields
from node.web.hours_form import Grid, grid_of, grid_values, hours_of, read_hours
from node.web.i18n import translations
from node.web.place_form import apply_commune, commune_choices
from tests.conftest import InProcessNode
from tests.test_web import admin, submit

__all__ = ["admin"]


def french(result: FormResult, name: str) -> str:
    error = result.errors[name]
    return translations("fr").gettext(error.message) % dict(error.values)


def commune_result(**payload: Any) -> FormResult:
    return FormResult(dict(payload), {k: str(v) for k, v in payload.items()}, {})


# -- the commune ----------------------------------------------------------------------


def test_a_commune_fills_its_codes_and_a_first_position() -> None:
    result = commune_result(commune="plougastel daoulas")
    apply_commune(result, {})
    assert result.errors == {}
    assert result.payload["commune"] == "Plougastel-Daoulas"
    assert result.payload["code_insee"] == "29189" and result.payload["code_postal"] == "29470"
    assert 48.3 < result.payload["latitude"] < 48.4 and -4.4 < result.payload["longitude"] < -4.3


def test_a_suggestion_of_the_list_gives_name_and_postcode() -> None:
    result = commune_result(commune="Saint-Renan 29290")
    apply_commune(result, {})
    assert (result.payload["commune"], result.payload["code_postal"]) == ("Saint-Renan", "29290")


def test_homonyms_unknown_communes_and_foreign_postcodes_are_explained() -> None:
    result = commune_result(commune="Saint-Martin")
    apply_commune(result, {})
    assert french(result, "commune").startswith("Plusieurs communes s'appellent Saint-Martin")
    result = commune_result(commune="Saint-Martin", code_postal="32300")
    apply_commune(result, {})
    assert result.errors == {} and result.payload["code_insee"] == "32389"
    result = commune_result(commune="Brestopolis")
    apply_commune(result, {})
    assert french(result, "commune").startswith("Commune inconnue")
    result = commune_result(commune="Brest", code_postal="29470")
    apply_commune(result, {})
    assert french(result, "code_postal") == "29470 n'est pas un code postal de Brest : 29200."


def test_the_position_follows_a_new_commune_unless_it_was_moved() -> None:
    stored = {"commune": "Brest", "code_insee": "29019", "latitude": 48.39, "longitude": -4.48}
    followed = commune_result(commune="Crozon", latitude=48.39, longitude=-4.48)
    apply_commune(followed, stored)
    assert round(followed.payload["latitude"], 1) == 48.2  # Crozon's town hall
    moved = commune_result(commune="Brest", latitude=48.40123, longitude=-4.50123)
    apply_commune(moved, stored)
    assert (moved.payload["latitude"], moved.payload["longitude"]) == (48.40123, -4.50123)


def test_suggestions_without_a_script_are_the_communes_of_the_departement() -> None:
    choices = commune_choices({"code_insee": "29019"}, "")
    values = [choice.value for choice in choices]
    assert "Brest 29200" in values and "Plougastel-Daoulas 29470" in values
    assert len(values) > 250 and all(" 29" in value for value in values)
    assert [c.value for c in commune_choices({}, "Quimper")][:1] != []


async def test_commune_suggestions_api(papi: InProcessNode) -> None:
    answer = await papi.client.get("/api/v1/communes", params={"q": "plougastel", "limit": 3})
    assert answer.status_code == 200
    first = answer.json()["items"][0]
    assert first["nom"] == "Plougastel-Daoulas" and first["codes_postaux"] == ["29470"]
    too_long = await papi.client.get("/api/v1/communes", params={"q": "x" * 101})
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "q"
    assert (await papi.client.get("/api/v1/communes", params={"limit": "50"})).status_code == 422
    assert (await papi.client.get("/api/v1/communes")).json() == {"items": []}


# -- the typology -----------------------------------------------------------------------


def test_typology_choices_are_labelled_codes_of_the_national_list() -> None:
    spec = next(field for field in place_fields() if field.name == "typologie")
    assert ("BIB", "Bibliothèque / Médiathèque (BIB)") in spec.choices
    assert ("MUNI", "Municipalités (MUNI)") in spec.choices
    assert len(spec.choices) == len(typologies()) > 80
    assert label("EPN") == "Espace Public Numérique (EPN)" and label("XYZ") == "XYZ"


# -- the opening hours --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00; PH off",
        "Tu-Fr 09:30-12:00,13:30-18:00; Sa 10:00-12:30; PH off",
        "Mo,We 14:00-18:00; Sa 09:00-12:00",
        "Su,Mo 10:00-12:00",
        "",
    ],
)
def test_the_grid_reads_back_what_it_writes(text: str) -> None:
    grid = grid_of(text)
    assert grid is not None and hours_of(grid) == text


@pytest.mark.parametrize(
    "text", ["Mo-Fr 09:00-18:00; We 14:00-18:00", "24/7", "Mo 08:00-09:00,10:00-11:00,14:00-15:00",
             'Mo 10:00-12:00 "sur rendez-vous"', "Jul-Aug Mo 10:00-12:00", "n'importe quoi"],
)  # fmt: skip
def test_hours_beyond_the_grid_are_left_to_the_raw_syntax(text: str) -> None:
    assert grid_of(text) is None


def form(**values: str) -> FormData:
    return FormData(list(values.items()))


def test_the_grid_writes_the_opening_hours() -> None:
    typed = {"h_Tu_1_start": "9h30", "h_Tu_1_end": "12:00", "h_Tu_2_start": "13:30",
             "h_Tu_2_end": "18:00", "h_Sa_1_start": "10:00", "h_Sa_1_end": "12h30",
             "h_holidays": "closed"}  # fmt: skip
    for day in ("We", "Th", "Fr"):
        typed |= {f"h_{day}_1_start": "09:30", f"h_{day}_1_end": "12:00",
                  f"h_{day}_2_start": "13:30", f"h_{day}_2_end": "18:00"}  # fmt: skip
    hours = read_hours(form(**typed))
    assert hours.errors == {}
    assert hours.text == "Tu-Fr 09:30-12:00,13:30-18:00; Sa 10:00-12:30; PH off"


def test_a_raw_edit_wins_and_complex_hours_survive_an_untouched_grid() -> None:
    raw = 'Mo-Fr 09:00-12:00; Jul-Aug off; Sa 10:00-12:00 "sur rendez-vous"'
    kept = read_hours(form(horaires=raw, horaires_shown=raw, h_Mo_1_start="", h_Mo_1_end=""))
    assert kept.text == raw and kept.errors == {}
    edited = read_hours(form(horaires="Mo 10:00-12:00", horaires_shown="Tu 10:00-12:00",
                             h_Tu_1_start="10:00", h_Tu_1_end="12:00"))  # fmt: skip
    assert edited.text == "Mo 10:00-12:00"
    cleared = read_hours(form(horaires="Tu 10:00-12:00", horaires_shown="Tu 10:00-12:00"))
    assert cleared.text == ""  # a simple week whose grid was emptied: no hours any more
    wrong = read_hours(form(horaires="tous les jours", horaires_shown=""))
    assert "horaires" in wrong.errors


def test_grid_errors_are_next_to_their_time() -> None:
    hours = read_hours(form(h_Mo_1_start="14:00", h_Mo_1_end="12:00", h_We_1_start="9",
                            h_Th_1_start="midi", h_Th_1_end="14:00"))  # fmt: skip
    assert set(hours.errors) == {"h_Mo_1_end", "h_We_1_end", "h_Th_1_start"}
    assert grid_values(Grid())["h_holidays"] == "usual"


# -- the whole form, without a script ---------------------------------------------------


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_the_place_form_without_expert_data(admin: InProcessNode) -> None:
    page = (await admin.client.get("/admin/place")).text
    assert '<option value="Brest 29200">' in page  # the département's communes, no script
    assert 'name="h_Mo_1_start"' in page and 'name="typologie" value="BIB"' in page
    week = {f"h_{day}_{slot}_{end}": time
            for day in ("Tu", "We", "Th", "Fr")
            for slot, end, time in ((1, "start", "09:30"), (1, "end", "12:00"),
                                    (2, "start", "13:30"), (2, "end", "18:00"))}  # fmt: skip
    response = await submit(admin, "/admin/place", {
        "nom": "EPN Plougastel", "commune": "Plougastel-Daoulas 29470",
        "typologie": ["MUNI", "EPN"], "h_holidays": "closed", "horaires_shown": "", **week,
    })  # fmt: skip
    assert response.status_code == 303, text_of(response.text)
    place = (await admin.client.get("/api/v1/place")).json()
    assert place["commune"] == "Plougastel-Daoulas" and place["code_postal"] == "29470"
    assert place["code_insee"] == "29189" and "latitude" in place and "longitude" in place
    assert place["typologie"] == ["MUNI", "EPN"]
    assert place["horaires"] == "Tu-Fr 09:30-12:00,13:30-18:00; PH off"
    page = text_of((await admin.client.get("/admin/place")).text)
    assert "Horaires actuels : Du mardi au vendredi de 9 h 30 à 12 h et de 13 h 30 à 18 h" in page
    assert "Fermé les jours fériés" in page
    assert "Code INSEE : 29189 (d'après la commune)" in page
