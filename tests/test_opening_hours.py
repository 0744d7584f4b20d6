"""Opening hours as places type them (OpenStreetMap ``opening_hours``), checked at fixed
instants in Europe/Paris time, with the French public holidays; and the same hours in
plain French."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.services.opening_hours import PARIS, readable, status_at, uses_school_holidays
from node.web.hours import describe_hours, status_phrase


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


# Fixed instants of 2026 (Europe/Paris).
FRI_10 = paris("2026-11-27 10:00")  # an ordinary Friday morning
FRI_13 = paris("2026-11-27 13:00")  # the lunch break
FRI_1745 = paris("2026-11-27 17:45")
SAT_09 = paris("2026-11-28 09:00")
SAT_0100 = paris("2026-11-28 01:00")  # Friday night, after midnight
SUN_11 = paris("2026-11-29 11:00")
BASTILLE_DAY = paris("2026-07-14 10:00")  # Tuesday, public holiday
ASCENSION = paris("2026-05-14 10:00")  # Thursday, public holiday
WHIT_MONDAY = paris("2026-05-25 10:00")  # Monday, public holiday
GOOD_FRIDAY = paris("2026-04-03 10:00")  # a holiday in Alsace-Moselle only
AUGUST_WED = paris("2026-08-12 10:00")
JULY_WED = paris("2026-07-15 11:00")
CHRISTMAS = paris("2026-12-25 10:00")  # Friday
NEW_YEAR_EVE = paris("2026-12-31 10:00")  # Thursday

LAMEDNUM_EXAMPLE = "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00"

# (hours as typed, instant, expected ``open``): True, False, or None (cannot say).
CASES = [
    # The example of the LaMednum 1.0.2 standard (exemple-valide.csv).
    (LAMEDNUM_EXAMPLE, FRI_10, True),
    (LAMEDNUM_EXAMPLE, FRI_13, False),
    (LAMEDNUM_EXAMPLE, FRI_1745, True),
    (LAMEDNUM_EXAMPLE, SAT_09, True),
    (LAMEDNUM_EXAMPLE, SUN_11, False),
    # No "PH off": a public holiday on a weekday is an ordinary weekday.
    (LAMEDNUM_EXAMPLE, BASTILLE_DAY, True),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", FRI_10, True),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", FRI_1745, False),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", BASTILLE_DAY, False),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", ASCENSION, False),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", WHIT_MONDAY, False),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", CHRISTMAS, False),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", GOOD_FRIDAY, True),
    ("Mo-Fr 09:00-12:00,14:00-17:30; PH off", NEW_YEAR_EVE, True),
    # Order matters: a later rule wins, so weekdays override an earlier "PH off".
    ("PH off; Mo-Fr 09:00-12:00", BASTILLE_DAY, True),
    ("Tu-Fr 09:30-12:00,13:30-18:00; Sa 10:00-12:30; PH off", FRI_10, True),
    ("Tu-Fr 09:30-12:00,13:30-18:00; Sa 10:00-12:30; PH off", SAT_09, False),
    ("Tu-Fr 09:30-12:00,13:30-18:00; Sa 10:00-12:30; PH off", BASTILLE_DAY, False),
    ("Mo,We 14:00-18:00; Sa 09:00-12:00", SAT_09, True),
    ("Mo,We 14:00-18:00; Sa 09:00-12:00", FRI_10, False),
    ("Tu,Th 14:00-18:00; We,Sa 10:00-12:00,14:00-18:00", SAT_09, False),
    ("Tu,Th 14:00-18:00; We,Sa 10:00-12:00,14:00-18:00", JULY_WED, True),
    ("Mo-Fr 13:30-17:30", FRI_10, False),
    ("Mo-Fr 13:30-17:30", FRI_13, False),
    ("Mo-Fr 13:30-17:30", paris("2026-11-27 13:30"), True),
    ("Mo-Fr 13:30-17:30", paris("2026-11-27 17:30"), False),  # the end is excluded
    ("Mo,We,Fr 09:00-12:00", FRI_10, True),
    ("Sa 10:00-12:00", SAT_09, False),
    ("Sa 10:00-12:00", paris("2026-11-28 11:59"), True),
    # Typed with a space after the comma, or a one-digit hour: still valid.
    ("Mo-Fr 08:30-12:00, 13:30-17:00", FRI_13, False),
    ("Mo-Fr 08:30-12:00, 13:30-17:00", paris("2026-11-27 16:00"), True),
    ("Mo-Fr 9:00-12:00", FRI_10, True),
    ("Mo-Sa 10:00-18:00; Su,PH off", SUN_11, False),
    ("Mo-Sa 10:00-18:00; Su,PH off", SAT_09, False),
    ("Mo-Sa 10:00-18:00; Su,PH off", ASCENSION, False),
    ("Mo-Fr 09:00-18:00; Aug off", AUGUST_WED, False),
    ("Mo-Fr 09:00-18:00; Aug off", JULY_WED, True),
    ("Sep-Jun Mo-Fr 09:00-12:00; Jul-Aug Mo-Fr 10:00-12:00", paris("2026-08-12 09:30"), False),
    ("Sep-Jun Mo-Fr 09:00-12:00; Jul-Aug Mo-Fr 10:00-12:00", paris("2026-11-25 09:30"), True),
    ("Mo-Fr 09:00-17:00; Dec 25 off", CHRISTMAS, False),
    ("Mo-Fr 09:00-17:00; Dec 25 off", NEW_YEAR_EVE, True),
    ("Mo-Sa 09:00-19:00; Dec 24-31 off", NEW_YEAR_EVE, False),
    ("24/7", SUN_11, True),
    ("24/7", CHRISTMAS, True),
    ("Mo-Su 08:00-20:00", SUN_11, True),
    ('Tu,Th 14:00-17:00 "sur rendez-vous"', paris("2026-11-26 15:00"), True),
    ('Tu,Th 14:00-17:00 "sur rendez-vous"', FRI_10, False),
    ('We 14:00-17:00 open "ateliers"; Sa 10:00-12:00', paris("2026-11-25 15:00"), True),
    # "unknown": the place says it may be open; the answer is neither true nor false.
    ('Mo-Fr 09:00-12:00; Sa unknown "sur rendez-vous"', SAT_09, None),
    ("Mo-Fr 09:00-12:00,14:00-17:00; PH 10:00-12:00", BASTILLE_DAY, True),
    ("Mo-Fr 09:00-12:00,14:00-17:00; PH 10:00-12:00", paris("2026-07-14 15:00"), False),
    ("Fr 20:00-02:00", SAT_0100, True),  # across midnight
    ("Fr 20:00-02:00", paris("2026-11-28 02:30"), False),
    ("Mo-Th 09:00-12:00,13:30-17:00; Fr 09:00-12:00", FRI_1745, False),
    ("Mo-Fr 08:45-12:15,13:45-17:15; Sa 09:00-12:00; PH off", paris("2026-11-27 12:10"), True),
    ("Mo-Fr 08:45-12:15,13:45-17:15; Sa 09:00-12:00; PH off", paris("2026-11-27 12:20"), False),
    ("Mo-Fr 09:00-12:00; We 14:00-17:00", paris("2026-11-25 10:00"), False),  # We replaced
    ("Mo-Fr 09:00-12:00, We 14:00-17:00", paris("2026-11-25 10:00"), True),  # We added to
    ("Jan-Jun,Sep-Dec Mo-Fr 09:00-17:00", AUGUST_WED, False),
    ('Mo-Fr 09:00-12:00 "sauf vacances scolaires"', FRI_10, True),
    # School holidays are not evaluated (no calendar): an "SH off" rule never applies,
    # so mid-July (summer holidays) counts as open. Documented in docs/api.md.
    ("Mo-Fr 09:00-12:00; SH off", JULY_WED, True),
]

UNREADABLE = [
    "lundi au vendredi 9h-12h",
    "9h-12h / 14h-17h",
    "Du lundi au vendredi de 9 h à 12 h",
    "Mo-Fr 09h00-12h00",
    "sur rendez-vous",
    "Mo-Fr 09:00-12:00 ; Sa 9:00-",
    "Lu-Ve 09:00-12:00",
    "Mo-Fr 09:00-12:00 Sa 10:00-12:00",
]


def test_at_least_thirty_distinct_real_world_hours() -> None:
    assert len({hours for hours, _, _ in CASES}) >= 30


@pytest.mark.parametrize(("hours", "at", "expected"), CASES)
def test_open_at_a_fixed_instant(hours: str, at: datetime, expected: bool | None) -> None:
    status = status_at(hours, at)
    assert status.open is expected, (hours, at.isoformat(), status.state)
    assert readable(hours)


@pytest.mark.parametrize("hours", UNREADABLE)
def test_unreadable_hours_are_null_never_an_error(hours: str) -> None:
    status = status_at(hours, FRI_10, with_next_change=True)
    assert (status.state, status.open, status.next_change) == ("unreadable", None, None)
    assert not readable(hours)
    assert describe_hours(hours, "fr") is None
    assert status_phrase(status, FRI_10, language="fr") == "Horaires non lisibles"


@pytest.mark.parametrize("hours", [None, "", "   "])
def test_absent_hours(hours: str | None) -> None:
    status = status_at(hours, FRI_10)
    assert (status.state, status.open) == ("absent", None)
    assert status_phrase(status, FRI_10, language="fr") == "Horaires non renseignés"


def test_instants_are_converted_to_paris_time_across_daylight_saving() -> None:
    hours = "Mo 09:00-12:00"
    # Summer (UTC+2): 07:30Z is 09:30 in Paris; winter (UTC+1): 07:30Z is 08:30.
    assert status_at(hours, datetime(2026, 3, 30, 7, 30, tzinfo=UTC)).open is True
    assert status_at(hours, datetime(2026, 3, 30, 6, 30, tzinfo=UTC)).open is False
    assert status_at(hours, datetime(2026, 11, 30, 7, 30, tzinfo=UTC)).open is False
    assert status_at(hours, datetime(2026, 11, 30, 8, 30, tzinfo=UTC)).open is True


def test_next_change_in_words() -> None:
    def phrase(hours: str, at: datetime) -> str:
        return status_phrase(status_at(hours, at, with_next_change=True), at, language="fr")

    example = "Mo-Fr 09:00-12:00,14:00-17:30; PH off"
    assert phrase(example, FRI_10) == "Ouvert, jusqu'à 12 h"
    assert phrase(example, FRI_13) == "Fermé, ouvre à 14 h"
    assert phrase(example, FRI_1745) == "Fermé, ouvre lundi à 9 h"
    assert phrase(example, paris("2026-07-13 18:00")) == "Fermé, ouvre mercredi à 9 h"
    assert phrase("Fr 20:00-24:00", paris("2026-11-27 21:00")) == "Ouvert, jusqu'à minuit"
    assert phrase("Dec 25 10:00-12:00", FRI_10) == "Fermé, ouvre vendredi 25 décembre à 10 h"
    assert phrase("24/7", FRI_10) == "Ouvert"
    assert phrase('Mo-Fr 09:00-12:00; Sa unknown "sur rendez-vous"', SAT_09) == (
        "Ouverture à vérifier (sur rendez-vous)"
    )
    assert phrase("Mo 09:00-12:00", FRI_10) == "Fermé, ouvre lundi à 9 h"


@pytest.mark.parametrize(
    ("hours", "sentences"),
    [
        (
            "Mo-Fr 09:00-12:00,14:00-17:30; PH off",
            ["Du lundi au vendredi de 9 h à 12 h et de 14 h à 17 h 30", "Fermé les jours fériés"],
        ),
        (
            LAMEDNUM_EXAMPLE,
            [
                "Du lundi au vendredi de 9 h à 12 h et de 14 h à 18 h 30",
                "Le samedi de 8 h 30 à 12 h",
            ],
        ),
        ("Mo,We,Fr 09:00-12:00", ["Le lundi, le mercredi et le vendredi de 9 h à 12 h"]),
        ("Mo-We,Fr 09:00-12:00", ["Du lundi au mercredi et le vendredi de 9 h à 12 h"]),
        ("Sa,Su 10:00-18:00", ["Le samedi et le dimanche de 10 h à 18 h"]),
        ("Sa-Mo 10:00-12:00", ["Du samedi au lundi de 10 h à 12 h"]),
        (
            'Tu,Th 14:00-17:00 "sur rendez-vous"',
            ["Le mardi et le jeudi de 14 h à 17 h (sur rendez-vous)"],
        ),
        (
            "Mo-Fr 08:30-12:00, 13:30-17:00",
            ["Du lundi au vendredi de 8 h 30 à 12 h et de 13 h 30 à 17 h"],
        ),
        ("Mo-Fr 09:00-18:00; Aug off", ["Du lundi au vendredi de 9 h à 18 h", "Fermé en août"]),
        (
            "Sep-Jun Mo-Fr 09:00-12:00; Jul-Aug Mo-Fr 10:00-12:00",
            [
                "De septembre à juin, du lundi au vendredi de 9 h à 12 h",
                "De juillet à août, du lundi au vendredi de 10 h à 12 h",
            ],
        ),
        (
            "Mo-Sa 10:00-18:00; Su,PH off",
            ["Du lundi au samedi de 10 h à 18 h", "Fermé le dimanche et les jours fériés"],
        ),
        (
            "Mo-Fr 09:00-17:00; Dec 25 off",
            ["Du lundi au vendredi de 9 h à 17 h", "Fermé le 25 décembre"],
        ),
        ("Jan 1 off", ["Fermé le 1er janvier"]),
        ("24/7", ["Ouvert 24 h sur 24, 7 jours sur 7"]),
        ("Mo-Su 08:00-20:00", ["Tous les jours de 8 h à 20 h"]),
        ("Fr 20:00-24:00", ["Le vendredi de 20 h à minuit"]),
        ("Mo 00:00-24:00", ["Le lundi toute la journée"]),
        # A later rule replacing an earlier one: described as the library normalises it.
        (
            "Mo-Fr 09:00-12:00; We 14:00-17:00",
            [
                "Le lundi, le mardi, le jeudi et le vendredi de 9 h à 12 h",
                "Le mercredi de 14 h à 17 h",
            ],
        ),
        ("Mo-Fr 09:00-12:00; Mo-Fr 14:00-17:00", ["Du lundi au vendredi de 14 h à 17 h"]),
        # A rule joined by a comma adds to the previous one.
        (
            "Mo-Fr 09:00-12:00, We 14:00-17:00",
            ["Du lundi au vendredi de 9 h à 12 h", "Le mercredi de 14 h à 17 h"],
        ),
    ],
)
def test_hours_in_plain_french(hours: str, sentences: list[str]) -> None:
    assert describe_hours(hours, "fr") == sentences


def test_hours_in_english_for_the_english_interface() -> None:
    assert describe_hours("Mo-Fr 09:00-12:00,14:00-17:30; PH off", "en") == [
        "From Monday to Friday 9:00 to 12:00 and 14:00 to 17:30",
        "Closed on public holidays",
    ]


@pytest.mark.parametrize(
    "hours",
    [
        "sunrise-sunset",
        'Mo-Fr 09:00-12:00 || "sur rendez-vous"',
        "week 1-53/2 Mo 10:00-12:00",
        "Mo[1] 10:00-12:00",
    ],
)
def test_valid_but_uncommon_hours_are_shown_as_written(hours: str) -> None:
    assert readable(hours)
    assert describe_hours(hours, "fr") is None


def test_school_holidays_are_flagged_as_not_evaluated() -> None:
    assert uses_school_holidays("Mo-Fr 09:00-12:00; SH off")
    assert not uses_school_holidays("Mo-Fr 09:00-12:00; PH off")


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list('MoTuWeFrSaSuPH0123456789:-,; "offJanAug/|+[]')), max_size=60
    )
)
def test_any_text_gives_an_answer_never_an_error(hours: str) -> None:
    status = status_at(hours, FRI_10, with_next_change=True)
    assert status.state in ("open", "closed", "unknown", "absent", "unreadable")
    lines = describe_hours(hours, "fr")
    assert lines is None or all(isinstance(line, str) and line for line in lines)
    assert status_phrase(status, FRI_10, language="fr")
