"""The opening hours editor of the place form: a week of days, each with up to two time
ranges (morning, afternoon), and the public holidays closed or not. It writes the
``opening_hours`` text (OpenStreetMap syntax, as the standard asks) and reads the common
forms back into the grid; anything the grid cannot show stays as written, to be edited in
the raw syntax (an advanced field of the form).

Which one wins on saving: the raw text when it was changed since the page was shown (its
value then is sent back in ``horaires_shown``), or when the grid could not show the hours
and is left empty; the grid otherwise (an emptied grid removes the hours)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..services.opening_hours import readable
from .fields import FieldError
from .hours import _parse, _runs
from .i18n import N_

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
#: Time ranges a day can have in the grid.
SLOTS = 2
_TIME = re.compile(r"^([01]?\d|2[0-4])(?:[:hH.]?([0-5]\d))?[hH]?$")
#: What the public holidays do: closed (``PH off``) or as on the other days.
HOLIDAYS_CLOSED, HOLIDAYS_AS_USUAL = "closed", "usual"


@dataclass
class Grid:
    #: Per day (``Mo``...), its ranges as ``("09:00", "12:00")``.
    days: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    holidays: str = HOLIDAYS_AS_USUAL

    def empty(self) -> bool:
        return not any(self.days.values()) and self.holidays == HOLIDAYS_AS_USUAL


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def grid_of(text: str | None) -> Grid | None:
    """The grid that writes ``text`` (an empty grid for no hours), or None when the
    hours use more than the grid shows (months, dates, comments, more ranges...)."""
    if not isinstance(text, str) or not text.strip():
        return Grid()
    if not readable(text):
        return None
    rules = _parse(text.strip())
    if rules is None:
        return None
    grid = Grid(days={day: [] for day in DAYS})
    for rule in rules:
        if rule.months or rule.date or rule.comment or rule.always:
            return None
        if rule.holidays and rule.state == "closed" and not rule.days and not rule.spans:
            grid.holidays = HOLIDAYS_CLOSED
            continue
        if rule.holidays or rule.state != "open" or not rule.days or not rule.spans:
            return None
        for index in rule.days:
            ranges = grid.days[DAYS[index]]
            if ranges and not rule.additive:
                return None  # a rule that replaces an earlier one: beyond the grid
            ranges.extend((_clock(start), _clock(end)) for start, end in rule.spans)
            if len(ranges) > SLOTS:
                return None
    return grid


def hours_of(grid: Grid) -> str:
    """The ``opening_hours`` text of the grid: days with the same ranges share one rule
    (``Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00; PH off``)."""
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for index, day in enumerate(DAYS):
        ranges = tuple(sorted(grid.days.get(day, [])))
        if ranges:
            groups.setdefault(ranges, []).append(index)
    rules = []
    for ranges, days in groups.items():
        selector = ",".join(
            DAYS[first] if first == last else
            f"{DAYS[first]},{DAYS[last]}" if (last - first) % 7 == 1 else
            f"{DAYS[first]}-{DAYS[last]}"
            for first, last in _runs(tuple(days), 7)
        )  # fmt: skip
        rules.append(f"{selector} " + ",".join(f"{start}-{end}" for start, end in ranges))
    if grid.holidays == HOLIDAYS_CLOSED:
        rules.append("PH off")
    return "; ".join(rules)


def _time(text: str) -> str | None:
    """``9:30``, ``09h30``, ``0930``, ``9h``, ``9`` -> ``09:30``, ``09:00``; None if
    not a time."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute:
        return None
    return f"{hour:02d}:{minute:02d}"


def field_name(day: str, slot: int, end: str) -> str:
    """``h_Mo_1_start``: the input of a range's start or end."""
    return f"h_{day}_{slot}_{end}"


def grid_values(grid: Grid | None) -> dict[str, str]:
    """What the grid's inputs show."""
    values = {
        field_name(day, slot, end): ""
        for day in DAYS
        for slot in range(1, SLOTS + 1)
        for end in ("start", "end")
    }
    values["h_holidays"] = HOLIDAYS_AS_USUAL
    if grid is None:
        return values
    for day, ranges in grid.days.items():
        for slot, (start, end) in enumerate(ranges, 1):
            values[field_name(day, slot, "start")] = start
            values[field_name(day, slot, "end")] = end
    values["h_holidays"] = grid.holidays
    return values


@dataclass
class HoursInput:
    #: The ``horaires`` to publish ("" for none), unless there are errors.
    text: str
    #: The grid's inputs as typed, to show again.
    values: dict[str, str]
    #: Errors by input name ("horaires" for the whole).
    errors: dict[str, FieldError]


def read_hours(form: Mapping[str, Any]) -> HoursInput:
    """The hours a submitted place form gives (see the module's doc for which wins)."""
    values = {name: str(form.get(name) or "").strip() for name in grid_values(None)}
    raw = str(form.get("horaires") or "").replace("\r\n", "\n").strip()
    shown = str(form.get("horaires_shown") or "").replace("\r\n", "\n").strip()
    errors: dict[str, FieldError] = {}
    grid = Grid(
        holidays=HOLIDAYS_CLOSED if values["h_holidays"] == HOLIDAYS_CLOSED else HOLIDAYS_AS_USUAL
    )
    for day in DAYS:
        ranges = []
        for slot in range(1, SLOTS + 1):
            start_name, end_name = field_name(day, slot, "start"), field_name(day, slot, "end")
            start_text, end_text = values[start_name], values[end_name]
            if not start_text and not end_text:
                continue
            start, end = _time(start_text), _time(end_text)
            if start is None:
                errors[start_name] = FieldError(N_("Give the opening time, for example 09:00."))
            if end is None:
                errors[end_name] = FieldError(N_("Give the closing time, for example 12:30."))
            if start and end:
                if end <= start:
                    errors[end_name] = FieldError(
                        N_("The closing time must be after the opening time.")
                    )
                else:
                    ranges.append((start, end))
        if len(ranges) == SLOTS and ranges[1][0] < ranges[0][1]:
            errors[field_name(day, 2, "start")] = FieldError(
                N_("The second range must begin after the first one ends.")
            )
        grid.days[day] = ranges
    # The raw text wins when it was edited, or when the grid could not show the hours
    # (then an untouched empty grid must not erase them).
    keep_raw = raw != shown or (grid.empty() and grid_of(shown) is None)
    text = raw if keep_raw else hours_of(grid)
    if text and not errors and not readable(text):
        errors["horaires"] = FieldError(
            N_("These hours are not in the OpenStreetMap syntax, for example: %(example)s"),
            {"example": "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00; PH off"},
        )
    return HoursInput(text, values, errors)
