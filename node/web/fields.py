"""Which fields each admin form has. Closed lists come from the payload schemas
(``schemas/payload/*.schema.json``), so the checkboxes and lists always offer exactly what
the schema accepts. Labels and help texts are msgids (English), translated when shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from federation import schema

from ..services.export import required_fields
from ..services.typologies import label, typologies
from .i18n import N_


@dataclass(frozen=True)
class FieldError:
    message: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    #: text, textarea, select, checkboxes, integer, decimal, datetime, tel, lines, codes,
    #: recurrence (the event's repetition editor: recurrence_form.py)
    #: compact (a code typed with spaces: they are removed); the place form's own:
    #: commune (with suggestions), derived (filled from the commune), hours (the opening
    #: hours editor, web/hours_form.py), typologie (labelled codes)
    widget: str = "text"
    required: bool = False
    #: Required by the national open data standard (the export leaves the place out
    #: without it), though the network accepts a profile without it.
    open_data: bool = False
    help: str = ""
    maxlength: int | None = None
    #: (value, label); labels are msgids when ``translate_choices``, data otherwise.
    choices: tuple[tuple[str, str], ...] = ()
    translate_choices: bool = False
    #: Shown when the value does not have the expected format.
    format_hint: str = ""
    autocomplete: str = ""


@dataclass
class FormResult:
    payload: dict[str, Any]
    values: dict[str, Any]
    errors: dict[str, FieldError]


@cache
def _schema_properties(kind: str) -> dict[str, Any]:
    properties: dict[str, Any] = schema.document(f"urn:papi:payload/{kind}")["properties"]
    return properties


def _enum(kind: str, name: str) -> tuple[tuple[str, str], ...]:
    spec = _schema_properties(kind)[name]
    values = spec["items"]["enum"] if spec.get("type") == "array" else spec["enum"]
    return tuple((str(value), str(value)) for value in values)


def _max(kind: str, name: str) -> int | None:
    value = _schema_properties(kind)[name].get("maxLength")
    return int(value) if value is not None else None


HORAIRES_EXAMPLE = "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00; PH off"

_TITLE = N_("Title")
_DESCRIPTION = N_("Description")
_DESCRIPTION_HELP = N_(
    "Plain text; Markdown is accepted (**bold**, lists, links). At most 20,000 characters."
)


@cache
def place_fields() -> tuple[Field, ...]:
    needed = set(required_fields())
    return tuple(
        replace(spec, open_data=spec.name in needed and not spec.required)
        for spec in _place_fields()
    )


def _place_fields() -> tuple[Field, ...]:
    k = "place"
    return (
        Field(
            "nom",
            N_("Name of the place"),
            required=True,
            maxlength=_max(k, "nom"),
            autocomplete="organization",
        ),
        Field("adresse", N_("Address"), maxlength=_max(k, "adresse"), autocomplete="address-line1"),
        Field(
            "complement_adresse",
            N_("Address complement"),
            maxlength=_max(k, "complement_adresse"),
            autocomplete="address-line2",
        ),
        Field(
            "commune",
            N_("Commune"),
            widget="commune",
            maxlength=_max(k, "commune"),
            autocomplete="off",
            help=N_(
                "Type its name and choose it in the list: the postcode, the INSEE code and "
                "the position on the map are filled in."
            ),
        ),
        Field(
            "code_postal",
            N_("Postcode"),
            format_hint=N_("Five digits, for example 29200."),
            autocomplete="postal-code",
        ),
        Field(
            "code_insee",
            N_("INSEE code of the commune"),
            widget="derived",
            format_hint=N_("Five characters, for example 29019 for Brest."),
        ),
        Field(
            "latitude",
            N_("Latitude"),
            widget="decimal",
            help=N_("In decimal degrees, for example 48.3904."),
        ),
        Field(
            "longitude",
            N_("Longitude"),
            widget="decimal",
            help=N_("In decimal degrees, for example -4.4861."),
        ),
        Field(
            "horaires",
            N_("Opening hours"),
            widget="hours",
            maxlength=_max(k, "horaires"),
            help=N_("In OpenStreetMap syntax, for example: %(example)s"),
            format_hint=N_("Use the OpenStreetMap syntax."),
        ),
        Field(
            "telephone",
            N_("Telephone"),
            widget="tel",
            help=N_("For example 02 98 00 00 00 or +33298000000."),
            format_hint=N_("A French number, for example 02 98 00 00 00."),
            autocomplete="tel",
        ),
        Field(
            "courriels",
            N_("Contact e-mail addresses"),
            widget="lines",
            help=N_("One per line."),
            format_hint=N_("Each line must be an e-mail address, such as contact@exemple.fr."),
            autocomplete="email",
        ),
        Field(
            "site_web",
            N_("Web sites"),
            widget="lines",
            help=N_("One address per line, beginning with https://."),
            format_hint=N_("Each line must be an address beginning with https:// or http://."),
            autocomplete="url",
        ),
        Field(
            "presentation_resume",
            N_("Short presentation"),
            widget="textarea",
            maxlength=_max(k, "presentation_resume"),
            help=N_("At most 280 characters."),
        ),
        Field(
            "presentation_detail",
            N_("Detailed presentation"),
            widget="textarea",
            maxlength=_max(k, "presentation_detail"),
        ),
        Field("services", N_("Services"), widget="checkboxes", choices=_enum(k, "services")),
        Field(
            "publics_specifiquement_adresses",
            N_("Specific publics"),
            widget="checkboxes",
            choices=_enum(k, "publics_specifiquement_adresses"),
        ),
        Field(
            "prise_en_charge_specifique",
            N_("Specific support"),
            widget="checkboxes",
            choices=_enum(k, "prise_en_charge_specifique"),
        ),
        Field(
            "frais_a_charge", N_("Fees"), widget="checkboxes", choices=_enum(k, "frais_a_charge")
        ),
        Field(
            "modalites_acces",
            N_("How to come"),
            widget="checkboxes",
            choices=_enum(k, "modalites_acces"),
        ),
        Field(
            "modalites_accompagnement",
            N_("Kinds of support"),
            widget="checkboxes",
            choices=_enum(k, "modalites_accompagnement"),
        ),
        Field("itinerance", N_("Itinerancy"), widget="checkboxes", choices=_enum(k, "itinerance")),
        Field(
            "dispositif_programmes_nationaux",
            N_("National programmes"),
            widget="checkboxes",
            choices=_enum(k, "dispositif_programmes_nationaux"),
        ),
        Field(
            "formations_labels",
            N_("Trainings and labels"),
            widget="checkboxes",
            choices=_enum(k, "formations_labels"),
        ),
        Field(
            "typologie",
            N_("Type of structure"),
            widget="typologie",
            choices=tuple((code, label(code)) for code in typologies()),
            help=N_("As many as fit, from the national list of types of structures."),
            format_hint=N_("Capital letters and underscores only, for example TIERS_LIEUX."),
        ),
        Field(
            "pivot",
            N_("SIRET or RNA number"),
            widget="compact",
            help=N_(
                "The national open data identifies each place by the SIRET number of its "
                "structure (14 digits; search its name on annuaire-entreprises.data.gouv.fr) "
                "or, for an association without SIRET, its RNA number (W and 9 digits; "
                "journal-officiel.gouv.fr/pages/associations-recherche). A town hall or a "
                "library gives the SIRET of its commune."
            ),
            format_hint=N_(
                "A SIRET has 14 digits, an RNA number a W and 9 digits, for example "
                "21290019700017 or W291000123."
            ),
        ),
    )


@cache
def object_fields(kind: str) -> tuple[Field, ...]:
    common = (
        Field("title", _TITLE, required=True, maxlength=200),
        Field(
            "description", _DESCRIPTION, widget="textarea", maxlength=20000, help=_DESCRIPTION_HELP
        ),
    )
    if kind == "skill":
        return (
            *common,
            Field("theme", N_("Theme"), widget="select", choices=_enum(kind, "theme")),
            Field("level", N_("Level"), widget="select", choices=_enum(kind, "level")),
        )
    if kind == "equipment":
        return (
            *common,
            Field(
                "category",
                N_("Category"),
                maxlength=100,
                help=N_("For example: Vidéoprojection, Photo, Tablettes."),
            ),
            Field(
                "quantity", N_("Quantity"), widget="integer", help=N_("Number of identical items.")
            ),
            Field("condition", N_("Condition"), maxlength=200),
            Field(
                "loan_conditions",
                N_("Loan conditions"),
                widget="textarea",
                maxlength=2000,
                help=N_("Deposit, duration, who may borrow..."),
            ),
        )
    if kind == "event":
        return (
            *common,
            Field(
                "start",
                N_("Start"),
                widget="datetime",
                required=True,
                help=N_("Local time, for example 05/12/2026 14:00."),
            ),
            Field("end", N_("End"), widget="datetime", help=N_("Local time; after the start.")),
            Field(
                "location",
                N_("Location"),
                maxlength=300,
                help=N_("Only if it is not at the place itself."),
            ),
            Field(
                "capacity",
                N_("Number of seats"),
                widget="integer",
                help=N_("Leave empty when unlimited or unknown."),
            ),
            Field(
                "audience",
                N_("Audience"),
                widget="select",
                translate_choices=True,
                choices=(("public", N_("Everyone")), ("animateurs", N_("Mediators (training)"))),
            ),
            Field(
                "recurrence",
                N_("Repeat"),
                widget="recurrence",
                help=N_(
                    "For a workshop that comes back every week or every month: one event, "
                    "whose start and end above are those of the first session."
                ),
            ),
        )
    raise LookupError(f"no form for kind {kind!r}")
