"""The admin forms at work: a submitted form into a payload (with French errors next to
the fields), a payload back into form values, and the schema's verdict onto the field it
is about. Messages are msgids, translated when shown; ``FieldError`` keeps their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from federation.errors import SchemaError

from ..services.objects import raw_text
from .fields import Field, FieldError, FormResult
from .formatting import LOCAL_TZ, local_moment, parse_moment
from .i18n import N_
from .recurrence_form import parse_recurrence, recurrence_values

# -- form -> payload ----------------------------------------------------------------------

_SPLIT_LINES = re.compile(r"[\s,;]+")
_CODE = re.compile(r"[A-Z_]{2,40}")
_DATE_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %Hh%M",
    "%d/%m/%Y %Hh",
    "%d/%m/%Y",
)
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
    if spec.widget == "recurrence":
        return None, {}, None  # needs the start: parse_form reads it last
    if spec.widget == "checkboxes":
        chosen = set(form.getlist(spec.name))
        values = [value for value, _ in spec.choices if value in chosen]
        return (values or None), values, None
    if spec.widget == "typologie":
        # Codes of the list, and codes stored before that the list does not have (kept).
        codes = [str(v) for v in form.getlist(spec.name) if _CODE.fullmatch(str(v))]
        unique = list(dict.fromkeys(codes))
        return (unique or None), unique, None
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
            return (
                None,
                text,
                FieldError(N_("Enter a date and time, for example 05/12/2026 14:00.")),
            )
        return value, text, None
    if spec.widget == "select":
        if text not in {value for value, _ in spec.choices}:
            return None, text, FieldError(N_("Choose a value from the list."))
        return text, text, None
    if spec.widget == "tel":
        return normalise_phone(text), text, None
    if spec.widget == "compact":
        return "".join(text.split()), text, None
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
    start, end = parse_moment(result.payload.get("start")), parse_moment(result.payload.get("end"))
    if start and end and end <= start:
        result.errors["end"] = FieldError(N_("The end must be after the start."))
    for spec in fields:
        if spec.widget == "recurrence":
            parsed = parse_recurrence(form, result.payload.get("start"), result.payload.get("end"))
            result.values[spec.name] = parsed.values
            if parsed.error is not None:
                result.errors[spec.name] = parsed.error
            elif parsed.recurrence is not None:
                result.payload[spec.name] = parsed.recurrence
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


def _lines(value: Any, separator: str) -> str:
    if isinstance(value, list):
        return separator.join(raw_text(item) for item in value)
    return raw_text(value)


def form_values(fields: tuple[Field, ...], payload: Mapping[str, Any]) -> dict[str, Any]:
    """What the form shows for a stored payload. Values of an unexpected type (stored by
    an older version) are shown as their raw text, to be corrected by hand."""
    values: dict[str, Any] = {}
    for spec in fields:
        value = payload.get(spec.name)
        if spec.widget == "recurrence":
            values[spec.name] = recurrence_values(value)
        elif value is None:
            values[spec.name] = [] if spec.widget in ("checkboxes", "typologie") else ""
        elif spec.widget in ("checkboxes", "typologie"):
            values[spec.name] = value if isinstance(value, list) else [value]
        elif spec.widget == "datetime":
            moment = local_moment(value)
            values[spec.name] = moment.strftime("%Y-%m-%dT%H:%M") if moment else raw_text(value)
        elif spec.widget == "tel" and isinstance(value, str) and value.startswith("+33"):
            digits = "0" + value[3:]
            values[spec.name] = " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
        elif spec.widget == "lines":
            values[spec.name] = _lines(value, "\n")
        elif spec.widget == "codes":
            values[spec.name] = _lines(value, ", ")
        else:
            values[spec.name] = raw_text(value)
    return values


# -- schema errors -> field errors -------------------------------------------------------

#: What breaking a rule means to the person filling the form, by ``SchemaError.keyword``.
#: A message with ``%(count)s`` gets the rule's ``limit``.
_BY_KEYWORD = {
    "required": REQUIRED,
    "after": N_("The end must be after the start."),
    "maxItems": N_("Too many values."),
    "uniqueItems": N_("Give each value only once."),
    "enum": N_("Choose a value from the list."),
    "const": N_("Choose a value from the list."),
    "maxLength": N_("At most %(count)s characters."),
    "minLength": N_("At least %(count)s characters."),
    "minimum": N_("At least %(count)s."),
    "maximum": N_("At most %(count)s."),
}
#: The rules of a recurring event (federation/recurrence.py), by keyword; they are about
#: the repetition editor, or (``overlap``) the end of the sessions.
_SERIES_RULES = {
    "startInRule": N_("The first session (the start above) must be one of the days of the rule."),
    "notBefore": N_("The last session cannot be before the first one."),
    "maxOccurrences": N_("A series has at most %(count)s sessions."),
    "occurrence": N_("There is no session at that date and time."),
    "uniqueItems": N_("A date without a session is given twice."),
    "minOccurrences": N_("Every session would be cancelled."),
    "range": N_("The sessions go beyond the year 2199."),
    "overlap": N_("A session must end before the next one starts."),
}
#: ``type`` errors, by the type the schema expects.
_BY_TYPE = {
    "integer": N_("Enter a whole number, for example 4."),
    "number": N_("Enter a number, for example 48.39."),
}


def schema_error(fields: tuple[Field, ...], error: SchemaError) -> tuple[str, FieldError]:
    """The form field a ``SchemaError`` is about ("" if none) and its French explanation,
    chosen from the error's keyword and limit (its English message is only shown when no
    explanation fits)."""
    name = error.field.split(".", 1)[0]
    spec = next((f for f in fields if f.name == name), None)
    if spec is None:
        detail = {"detail": error.message}
        return "", FieldError(N_("The server refused the form: %(detail)s"), detail)
    keyword, limit = error.keyword, error.limit
    if (name == "recurrence" or keyword == "overlap") and keyword in _SERIES_RULES:
        message = _SERIES_RULES[keyword]
        return spec.name, FieldError(message, {"count": limit} if "%(count)s" in message else {})
    if keyword == "minLength" and limit == 1:  # an empty text
        return spec.name, FieldError(REQUIRED)
    if keyword == "pattern" and spec.format_hint:
        return spec.name, FieldError(spec.format_hint)
    if keyword == "type" and limit in _BY_TYPE:
        return spec.name, FieldError(_BY_TYPE[limit])
    if keyword in _BY_KEYWORD:
        message = _BY_KEYWORD[keyword]
        return spec.name, FieldError(message, {"count": limit} if "%(count)s" in message else {})
    return spec.name, FieldError(
        N_("This value is not accepted: %(detail)s"), {"detail": error.message}
    )
