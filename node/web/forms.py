"""The admin forms: which fields each kind has, turning a submitted form into a payload
(with French errors next to the fields), and a payload back into form values.

Closed lists come from the payload schemas (``schemas/payload/*.schema.json``), so the
checkboxes always offer exactly what the schema accepts. Messages are msgids (English),
translated when shown; ``FieldError`` keeps the values to put into them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from starlette.datastructures import FormData

from federation import schema

from .formatting import LOCAL_TZ, parse_moment
from .i18n import N_


@dataclass(frozen=True)
class FieldError:
    message: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    #: text, textarea, select, checkboxes, integer, decimal, datetime, tel, lines, codes
    widget: str = "text"
    required: bool = False
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
    properties: dict[str, Any] = schema.validator(f"urn:papi:payload/{kind}").schema["properties"]
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
    k = "place"
    return (
        Field("nom", N_("Name of the place"), required=True, maxlength=_max(k, "nom"),
              autocomplete="organization"),
        Field("adresse", N_("Address"), maxlength=_max(k, "adresse"),
              autocomplete="address-line1"),
        Field("complement_adresse", N_("Address complement"),
              maxlength=_max(k, "complement_adresse"), autocomplete="address-line2"),
        Field("code_postal", N_("Postcode"), format_hint=N_("Five digits, for example 29200."),
              autocomplete="postal-code"),
        Field("commune", N_("Commune"), maxlength=_max(k, "commune"),
              autocomplete="address-level2"),
        Field("code_insee", N_("INSEE code of the commune"),
              format_hint=N_("Five characters, for example 29019 for Brest.")),
        Field("latitude", N_("Latitude"), widget="decimal",
              help=N_("In decimal degrees, for example 48.3904.")),
        Field("longitude", N_("Longitude"), widget="decimal",
              help=N_("In decimal degrees, for example -4.4861.")),
        Field("horaires", N_("Opening hours"), widget="textarea", maxlength=_max(k, "horaires"),
              help=N_("In OpenStreetMap syntax, for example: %(example)s"),
              format_hint=N_("Use the OpenStreetMap syntax.")),
        Field("telephone", N_("Telephone"), widget="tel",
              help=N_("For example 02 98 00 00 00 or +33298000000."),
              format_hint=N_("A French number, for example 02 98 00 00 00."),
              autocomplete="tel"),
        Field("courriels", N_("Contact e-mail addresses"), widget="lines",
              help=N_("One per line."),
              format_hint=N_("Each line must be an e-mail address, such as contact@exemple.fr."),
              autocomplete="email"),
        Field("site_web", N_("Web sites"), widget="lines",
              help=N_("One address per line, beginning with https://."),
              format_hint=N_("Each line must be an address beginning with https:// or http://."),
              autocomplete="url"),
        Field("presentation_resume", N_("Short presentation"), widget="textarea",
              maxlength=_max(k, "presentation_resume"),
              help=N_("At most 280 characters.")),
        Field("presentation_detail", N_("Detailed presentation"), widget="textarea",
              maxlength=_max(k, "presentation_detail")),
        Field("services", N_("Services"), widget="checkboxes", choices=_enum(k, "services")),
        Field("publics_specifiquement_adresses", N_("Specific publics"), widget="checkboxes",
              choices=_enum(k, "publics_specifiquement_adresses")),
        Field("prise_en_charge_specifique", N_("Specific support"), widget="checkboxes",
              choices=_enum(k, "prise_en_charge_specifique")),
        Field("frais_a_charge", N_("Fees"), widget="checkboxes",
              choices=_enum(k, "frais_a_charge")),
        Field("modalites_acces", N_("How to come"), widget="checkboxes",
              choices=_enum(k, "modalites_acces")),
        Field("modalites_accompagnement", N_("Kinds of support"), widget="checkboxes",
              choices=_enum(k, "modalites_accompagnement")),
        Field("itinerance", N_("Itinerancy"), widget="checkboxes",
              choices=_enum(k, "itinerance")),
        Field("dispositif_programmes_nationaux", N_("National programmes"),
              widget="checkboxes", choices=_enum(k, "dispositif_programmes_nationaux")),
        Field("formations_labels", N_("Trainings and labels"), widget="checkboxes",
              choices=_enum(k, "formations_labels")),
        Field("typologie", N_("Type of structure"), widget="codes",
              help=N_("Codes of the data.inclusion typology, separated by commas, "
                      "for example MUNI, BIB."),
              format_hint=N_("Capital letters and underscores only, for example TIERS_LIEUX.")),
        Field("pivot", N_("SIRET or RNA number"),
              format_hint=N_("9 to 14 letters or digits, without spaces.")),
    )  # fmt: skip


@cache
def object_fields(kind: str) -> tuple[Field, ...]:
    common = (
        Field("title", _TITLE, required=True, maxlength=200),
        Field("description", _DESCRIPTION, widget="textarea", maxlength=20000,
              help=_DESCRIPTION_HELP),
    )  # fmt: skip
    if kind == "skill":
        return (
            *common,
            Field("theme", N_("Theme"), widget="select", choices=_enum(kind, "theme")),
            Field("level", N_("Level"), widget="select", choices=_enum(kind, "level")),
        )
    if kind == "equipment":
        return (
            *common,
            Field("category", N_("Category"), maxlength=100,
                  help=N_("For example: Vidéoprojection, Photo, Tablettes.")),
            Field("quantity", N_("Quantity"), widget="integer",
                  help=N_("Number of identical items.")),
            Field("condition", N_("Condition"), maxlength=200),
            Field("loan_conditions", N_("Loan conditions"), widget="textarea", maxlength=2000,
                  help=N_("Deposit, duration, who may borrow...")),
        )  # fmt: skip
    if kind == "event":
        return (
            *common,
            Field("start", N_("Start"), widget="datetime", required=True,
                  help=N_("Local time, for example 05/12/2026 14:00.")),
            Field("end", N_("End"), widget="datetime",
                  help=N_("Local time; after the start.")),
            Field("location", N_("Location"), maxlength=300,
                  help=N_("Only if it is not at the place itself.")),
            Field("capacity", N_("Number of seats"), widget="integer",
                  help=N_("Leave empty when unlimited or unknown.")),
            Field("audience", N_("Audience"), widget="select", translate_choices=True,
                  choices=(("public", N_("Everyone")),
                           ("animateurs", N_("Mediators (training)")))),
        )  # fmt: skip
    raise LookupError(f"no form for kind {kind!r}")


# -- form -> payload ----------------------------------------------------------------------

_SPLIT_LINES = re.compile(r"[\s,;]+")
_DATE_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                      "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d/%m/%Y %Hh", "%d/%m/%Y")  # fmt: skip
REQUIRED = N_("This field is required.")


def parse_local_datetime(text: str) -> str | None:
    """RFC 3339 (with the Paris offset of that day) from what a person typed."""
    cleaned = " ".join(text.strip().split())
    for pattern in _DATE_TIME_FORMATS:
        try:
            moment = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        return moment.replace(tzinfo=LOCAL_TZ).isoformat(timespec="minutes")
    if parse_moment(cleaned) is not None:
        return cleaned
    return None


def normalise_phone(text: str) -> str:
    compact = re.sub(r"[\s.\-()]", "", text)
    if re.fullmatch(r"0\d{9}", compact):
        return "+33" + compact[1:]
    if compact.startswith("0033"):
        return "+" + compact[2:]
    return compact


def _parse_one(spec: Field, form: FormData) -> tuple[Any, Any, FieldError | None]:
    """(payload value or None, value to show again, error)."""
    if spec.widget == "checkboxes":
        chosen = set(form.getlist(spec.name))
        values = [value for value, _ in spec.choices if value in chosen]
        return (values or None), values, None
    raw = form.get(spec.name)
    text = raw if isinstance(raw, str) else ""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return None, "", (FieldError(REQUIRED) if spec.required else None)
    if spec.widget == "integer":
        try:
            return int(text.replace(" ", "")), text, None
        except ValueError:
            return None, text, FieldError(N_("Enter a whole number, for example 4."))
    if spec.widget == "decimal":
        try:
            return float(text.replace(",", ".")), text, None
        except ValueError:
            return None, text, FieldError(N_("Enter a number, for example 48.39."))
    if spec.widget == "datetime":
        value = parse_local_datetime(text)
        if value is None:
            return None, text, FieldError(
                N_("Enter a date and time, for example 05/12/2026 14:00.")
            )
        return value, text, None
    if spec.widget == "select":
        if text not in {value for value, _ in spec.choices}:
            return None, text, FieldError(N_("Choose a value from the list."))
        return text, text, None
    if spec.widget == "tel":
        return normalise_phone(text), text, None
    if spec.widget == "lines":
        items = list(dict.fromkeys(item for item in _SPLIT_LINES.split(text) if item))
        return (items or None), text, None
    if spec.widget == "codes":
        codes = list(dict.fromkeys(c.upper() for c in _SPLIT_LINES.split(text) if c))
        return (codes or None), text, None
    return text, text, None


def parse_form(fields: tuple[Field, ...], form: FormData) -> FormResult:
    """The payload fields a form sets (absent when left empty), the values to show again
    and the errors found before the schema is even asked."""
    result = FormResult({}, {}, {})
    for spec in fields:
        value, shown, error = _parse_one(spec, form)
        result.values[spec.name] = shown
        if error is not None:
            result.errors[spec.name] = error
        elif value is not None:
            result.payload[spec.name] = value
    return result


def merge_payload(
    fields: tuple[Field, ...], current: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """The current payload with the form's fields replaced (emptied ones removed); fields
    the form does not show (e.g. the place's endpoints) are kept."""
    names = {spec.name for spec in fields}
    merged = {key: value for key, value in current.items() if key not in names}
    merged.update(changes)
    return merged


# -- payload -> form ----------------------------------------------------------------------


def form_values(fields: tuple[Field, ...], payload: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in fields:
        value = payload.get(spec.name)
        if value is None:
            values[spec.name] = [] if spec.widget == "checkboxes" else ""
        elif spec.widget == "checkboxes":
            values[spec.name] = list(value)
        elif spec.widget == "datetime":
            moment = parse_moment(str(value))
            values[spec.name] = (
                moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M") if moment else value
            )
        elif spec.widget == "tel" and isinstance(value, str) and value.startswith("+33"):
            digits = "0" + value[3:]
            values[spec.name] = " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
        elif spec.widget == "lines":
            values[spec.name] = "\n".join(value)
        elif spec.widget == "codes":
            values[spec.name] = ", ".join(value)
        else:
            values[spec.name] = str(value)
    return values


# -- schema errors -> field errors -------------------------------------------------------

_BOUND = re.compile(r"(?:minimum|maximum) of (-?[\d.]+)")


def schema_error(fields: tuple[Field, ...], path: str, message: str) -> tuple[str, FieldError]:
    """The form field a ``SchemaError`` is about ("" if none) and its French explanation."""
    name = path.split(".", 1)[0]
    spec = next((f for f in fields if f.name == name), None)
    if spec is None:
        return "", FieldError(N_("The server refused the form: %(detail)s"), {"detail": message})
    bound = _BOUND.search(message)
    if "missing required field" in message or ("is too short" in message and spec.required):
        error = FieldError(REQUIRED)
    elif "must be after" in message:
        error = FieldError(N_("The end must be after the start."))
    elif "is too long" in message and spec.maxlength and spec.widget not in ("lines", "codes"):
        error = FieldError(N_("At most %(count)s characters."), {"count": spec.maxlength})
    elif "is too long" in message:
        error = FieldError(N_("Too many values."))
    elif "non-unique" in message:
        error = FieldError(N_("Give each value only once."))
    elif "does not match" in message and spec.format_hint:
        error = FieldError(spec.format_hint)
    elif "is not one of" in message:
        error = FieldError(N_("Choose a value from the list."))
    elif "less than the minimum" in message and bound:
        error = FieldError(N_("At least %(count)s."), {"count": bound.group(1)})
    elif "greater than the maximum" in message and bound:
        error = FieldError(N_("At most %(count)s."), {"count": bound.group(1)})
    else:
        error = FieldError(N_("This value is not accepted: %(detail)s"), {"detail": message})
    return spec.name, error
