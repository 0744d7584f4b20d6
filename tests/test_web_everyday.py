"""Everyday use of /admin by a volunteer animator (issue 17): what the national open data
needs, said before an export leaves the place out."""

from __future__ import annotations

import html
import re

from tests.conftest import InProcessNode
from tests.test_web import admin, submit

__all__ = ["admin"]


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_dashboard_says_what_keeps_the_place_out_of_the_open_data(
    admin: InProcessNode,
) -> None:
    page = text_of((await admin.client.get("/admin")).text)
    assert "Votre lieu n'apparaîtra pas dans l'open data national tant que" in page
    assert "Numéro SIRET ou RNA : à renseigner" in page and "Adresse : à renseigner" in page
    assert "pivot" not in page
    response = await submit(
        admin,
        "/admin/place",
        {
            "nom": "EPN Brest Bellevue",
            "adresse": "1 place Napoléon III",
            "code_postal": "29200",
            "commune": "Brest",
            # Pasted from the directory of companies, with its spaces.
            "pivot": "212 900 197 00017",
        },
    )
    assert response.status_code == 303, text_of(response.text)
    page = text_of((await admin.client.get("/admin")).text)
    assert "n'apparaîtra pas dans l'open data" not in page
    place = (await admin.client.get("/api/v1/place")).json()
    assert place["pivot"] == "21290019700017"
    export = await admin.client.get("/api/v1/export/lamednum.csv")
    assert export.headers["x-papi-skipped"] == "0" and "21290019700017" in export.text


async def test_place_form_marks_what_the_open_data_needs_and_where_to_find_it(
    admin: InProcessNode,
) -> None:
    form = (await admin.client.get("/admin/place")).text
    for name in ("adresse", "code_postal", "commune", "pivot"):
        label = re.search(rf'<label for="f-{name}">(.*?)</label>', form, re.S)
        assert label and "nécessaire à l'open data national" in html.unescape(label.group(1))
    label = re.search(r'<label for="f-telephone">(.*?)</label>', form, re.S)
    assert label and "open data" not in label.group(1)
    page = text_of(form)
    assert "annuaire-entreprises.data.gouv.fr" in page
    assert "journal-officiel.gouv.fr/pages/associations-recherche" in page
    assert "Il manque encore pour l'open data" in page
