"""The texts of the notification mails: French for every event of every conversation,
another place's text made inert, the right page linked."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from node.mail import compose
from node.mail.compose import Contact, Notification, Participant

ORIGIN = "ed25519:" + "B" * 43
REF = f"{ORIGIN}/demande-1"
EVENT = {"event": "Atelier « smartphone »", "event_start": "2026-12-05T14:00:00+01:00"}
LOAN = {"item": "Vidéoprojecteur", "quantity": 1, "start": "2026-12-05", "end": "2026-12-07"}


def every_notification() -> list[Notification]:
    notes: list[Notification] = [
        compose.new_loan_request(REF, **LOAN, borrower="EPN", contact=Contact("A", "a@b.fr")),
        compose.new_registration(REF, **EVENT, seats=2, registrant="EPN"),
        compose.new_registration(REF, **EVENT, seats=2, registrant="EPN", decided="confirmed"),
        compose.new_registration(
            REF, **EVENT, seats=2, registrant="EPN", decided="waitlisted", position=2
        ),
        compose.new_registration(REF, **EVENT, seats=2, registrant="EPN", decided="declined"),
        compose.new_help_offer(REF, request_title="Réparer un PC", offerer="EPN"),
        compose.help_offer_accepted(REF, request_title="Réparer un PC", asker="EPN"),
        compose.trial_mail("EPN"),
    ]
    for outcome, role in product(compose.LOAN_OUTCOMES, compose.ROLES_OF_LOANS):
        notes.append(compose.loan_decided(REF, outcome, role=role, **LOAN, other_place="EPN"))
    for outcome, role in product(compose.REGISTRATION_OUTCOMES, compose.ROLES_OF_REGISTRATIONS):
        notes.append(
            compose.registration_decided(
                REF, outcome, role=role, **EVENT, seats=1, other_place="EPN", position=1
            )
        )
    return notes


def test_every_notification_is_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    french = every_notification()
    monkeypatch.setattr(compose, "LANGUAGE", "en")
    english = every_notification()
    for fr, en in zip(french, english, strict=True):
        assert fr.kind == en.kind
        assert fr.subject != en.subject, fr.subject
        fr_lines, en_lines = fr.body.splitlines(), en.body.splitlines()
        assert len(fr_lines) == len(en_lines)
        for fr_line, en_line in zip(fr_lines, en_lines, strict=True):
            if en_line.strip() and not en_line.startswith(("> ", "- ")):
                assert fr_line != en_line, en_line
    # One kind per event, so that an operator (and a test) can tell them apart.
    assert {note.kind for note in french} == {
        "loan_requested",
        *(f"loan_{outcome}" for outcome in compose.LOAN_OUTCOMES),
        "registration_requested",
        *(f"registration_{outcome}" for outcome in compose.REGISTRATION_OUTCOMES),
        "help_offer",
        "help_offer_accepted",
        "test",
    }


def test_the_words_of_a_few_events() -> None:
    approved = compose.loan_decided(
        REF, "approved", role="borrower", **LOAN, other_place="Cyber Quimper"
    )
    assert approved.subject == "Prêt accepté : Vidéoprojecteur"
    assert approved.body.startswith(
        "Cyber Quimper a accepté votre demande d'emprunt de 1 × Vidéoprojecteur"
        " du samedi 5 décembre 2026 au lundi 7 décembre 2026."
    )
    assert approved.page == f"/admin/loans/{ORIGIN}/demande-1"

    declined = compose.loan_decided(
        REF, "declined", role="borrower", **LOAN, other_place="X", reason="unavailable"
    )
    assert "Motif : le matériel n'est pas disponible ces jours-là." in declined.body

    waiting = compose.registration_decided(
        REF, "waitlisted", role="registrant", **EVENT, seats=3, other_place="Y", position=2
    )
    assert "votre inscription (3 personnes) est en liste d'attente" in waiting.body
    assert "Position dans la liste d'attente : 2 (1 = la prochaine)." in waiting.body
    assert "samedi 5 décembre 2026 à 14:00" in waiting.body
    assert waiting.page == f"/admin/registrations/{ORIGIN}/demande-1"

    promoted = compose.registration_decided(
        REF, "promoted", role="registrant", **EVENT, seats=1, other_place="Y"
    )
    assert promoted.subject == "Inscription confirmée depuis la liste d'attente : " + (
        "Atelier « smartphone »"
    )
    assert "(1 personne)" in promoted.body and "passe de la liste d'attente à confirmée" in (
        promoted.body
    )

    request = compose.new_registration(
        REF,
        **EVENT,
        seats=2,
        registrant="EPN",
        participants=[Participant("Anne", "anne@epn.fr"), Participant("Bob", "")],
        message="Deux animateurs.",
    )
    assert "Participants :\n- Anne <anne@epn.fr>\n- Bob" in request.body
    assert "Son message :\n> Deux animateurs." in request.body

    offer = compose.new_help_offer(REF, request_title="Réparer un PC", offerer="EPN")
    assert offer.body.startswith("EPN propose son aide pour votre demande « Réparer un PC ».")
    assert offer.page == f"/admin/help-requests/{ORIGIN}/demande-1"


def test_another_places_text_is_made_inert() -> None:
    hostile_title = "PC\r\nBcc: victime@exemple.fr\x00\x1b[31m" + "x" * 500
    note = compose.new_loan_request(
        REF,
        item=hostile_title,
        quantity=1,
        start="pas une date\n",
        end=date(2026, 12, 7),
        borrower="Lieu\u202eà l'envers",
        contact=Contact("Nom\nBcc: x@y", "a@b.fr\r\n", "\x07"),
        message="ligne 1\r\n\r\n\r\n\r\nligne 2\x1b" + "y" * 10_000,
    )
    assert "\n" not in note.subject and "\r" not in note.subject
    assert "\x00" not in note.body and "\x1b" not in note.body and "\u202e" not in note.body
    assert "\r" not in note.body
    first_line = note.body.splitlines()[0]
    assert "PC Bcc: victime@exemple.fr [31m" in first_line
    assert len(note.subject) < 160 and "…" in note.subject
    assert "du pas une date au lundi 7 décembre 2026" in first_line
    assert "Nom : Nom Bcc: x@y" in note.body and "Téléphone" not in note.body
    quoted = [line for line in note.body.splitlines() if line.startswith(">")]
    assert quoted[:2] == ["> ligne 1", ">"] and quoted[2].startswith("> ligne 2yyy")
    assert len(quoted) == 3  # three line breaks in a row kept as one blank line
    assert len(quoted[2]) < compose.MESSAGE_CHARS and quoted[2].endswith("…")


def test_wrong_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="outcome"):
        compose.loan_decided(REF, "lost", role="lender", **LOAN, other_place="X")
    with pytest.raises(ValueError, match="role"):
        compose.loan_decided(REF, "approved", role="owner", **LOAN, other_place="X")
    with pytest.raises(ValueError, match="outcome"):
        compose.registration_decided(
            REF, "pending", role="organiser", **EVENT, seats=1, other_place="X"
        )
    with pytest.raises(ValueError, match="origin"):
        compose.new_help_offer("not-a-ref", request_title="t", offerer="X")
    # An unknown reason code (from another implementation) is left out, not shown raw.
    note = compose.loan_decided(
        REF, "declined", role="borrower", **LOAN, other_place="X", reason="<b>nouveau</b>"
    )
    assert "Motif" not in note.body and "nouveau" not in note.body


def test_render_body_links_the_page() -> None:
    note = compose.loan_decided(REF, "returned", role="lender", **LOAN, other_place="X")
    body = compose.render_body(note, base_url="https://papi.exemple.fr/", place="EPN Bellevue")
    assert f"La page du prêt :\nhttps://papi.exemple.fr/admin/loans/{ORIGIN}/demande-1\n" in body
    assert body.endswith(
        "-- \nEnvoyé par le nœud papi-node du lieu « EPN Bellevue » à son adresse de contact."
        " Il peut contenir des données personnelles de personnes d'un autre lieu : gardez-le"
        " au sein du lieu.\n"
    )
    bare = compose.render_body(note, base_url="", place="")
    assert f"/admin/loans/{ORIGIN}/demande-1 (à la suite de l'adresse de votre nœud)" in bare
