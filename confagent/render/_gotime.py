"""Go's ``time.Time`` as far as templates use it: ``datetime().Format("2006-01-02")``.

confd's ``datetime`` returns Go's ``time.Time``, and templates format it with
Go's *reference layout* (``Mon Jan 2 15:04:05 MST 2006``). ``GoTime`` wraps a
timezone-aware ``datetime`` and formats those layouts; it also offers the
Python spellings (``strftime``, ``isoformat``). Nanoseconds beyond the
microseconds Python keeps are zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["GoTime"]

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_GO_STRING_LAYOUT = "2006-01-02 15:04:05.999999999 -0700 MST"

# Longer elements first where one starts another (Go's nextStdChunk order).
_LAYOUT_ELEMENT = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|_2006|__2|_2|002|01|02|03|04|05|06|15|1|2|3|4|5|PM|pm"
    r"|Z07:00:00|Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|-07:00|-0700|-07"
    r"|[.,](?:0+|9+)(?![0-9])"
)


@dataclass(frozen=True, slots=True)
class GoTime:
    """A point in time with Go's ``time.Time`` method names."""

    moment: datetime

    def __post_init__(self) -> None:
        assert self.moment.tzinfo is not None, "a render host's now() must be timezone-aware"

    def format(self, layout: str) -> str:
        """The time written in Go's reference ``layout``, e.g. ``"Jan 2, 2006 at 3:04pm (MST)"``."""
        return _LAYOUT_ELEMENT.sub(lambda match: _element(self.moment, match.group()), layout)

    def unix(self) -> int:
        """Seconds since 1970-01-01 UTC."""
        return int(self.moment.timestamp())

    def utc(self) -> GoTime:
        return GoTime(self.moment.astimezone(UTC))

    def strftime(self, python_format: str) -> str:
        return self.moment.strftime(python_format)

    def isoformat(self) -> str:
        return self.moment.isoformat()

    def __str__(self) -> str:
        return self.format(_GO_STRING_LAYOUT)

    def year(self) -> int:
        return self.moment.year

    def month(self) -> str:
        """The month's English name, as Go prints a ``time.Month``."""
        return _MONTHS[self.moment.month - 1]

    def day(self) -> int:
        return self.moment.day

    def hour(self) -> int:
        return self.moment.hour

    def minute(self) -> int:
        return self.moment.minute

    def second(self) -> int:
        return self.moment.second

    def weekday(self) -> str:
        """The weekday's English name, as Go prints a ``time.Weekday``."""
        return _WEEKDAYS[self.moment.weekday()]

    # Go's names, as templates written for confd call them.
    Format = format
    Unix = unix
    UTC = utc
    String = __str__
    Year = year
    Month = month
    Day = day
    Hour = hour
    Minute = minute
    Second = second
    Weekday = weekday


def _element(moment: datetime, element: str) -> str:
    """One element of a Go layout, written for ``moment``."""
    if element[0] in ".,":
        return _fraction(moment, element)
    if element[0] in "Z-":
        return _offset(moment, element)
    if element == "_2006":
        return f"_{moment.year}"
    return _FIELDS[element](moment)


_FIELDS: dict[str, Callable[[datetime], str]] = {
    "January": lambda t: _MONTHS[t.month - 1],
    "Jan": lambda t: _MONTHS[t.month - 1][:3],
    "Monday": lambda t: _WEEKDAYS[t.weekday()],
    "Mon": lambda t: _WEEKDAYS[t.weekday()][:3],
    "MST": lambda t: t.tzname() or "",
    "2006": lambda t: f"{t.year:04d}",
    "06": lambda t: f"{t.year % 100:02d}",
    "1": lambda t: str(t.month),
    "01": lambda t: f"{t.month:02d}",
    "2": lambda t: str(t.day),
    "02": lambda t: f"{t.day:02d}",
    "_2": lambda t: f"{t.day:>2}",
    "002": lambda t: f"{t.timetuple().tm_yday:03d}",
    "__2": lambda t: f"{t.timetuple().tm_yday:>3}",
    "15": lambda t: f"{t.hour:02d}",
    "3": lambda t: str(t.hour % 12 or 12),
    "03": lambda t: f"{t.hour % 12 or 12:02d}",
    "4": lambda t: str(t.minute),
    "04": lambda t: f"{t.minute:02d}",
    "5": lambda t: str(t.second),
    "05": lambda t: f"{t.second:02d}",
    "PM": lambda t: "PM" if t.hour >= 12 else "AM",
    "pm": lambda t: "pm" if t.hour >= 12 else "am",
}


def _fraction(moment: datetime, element: str) -> str:
    digits = f"{moment.microsecond:06d}000"[: len(element) - 1]
    if element[1] == "0":
        return element[0] + digits
    digits = digits.rstrip("0")
    return element[0] + digits if digits else ""


def _offset(moment: datetime, element: str) -> str:
    offset = moment.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    if element[0] == "Z" and seconds == 0:
        return "Z"
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    colon = ":" if ":" in element else ""
    digits = len(element.replace(":", "")) - 1
    text = f"{sign}{hours:02d}"
    if digits >= 4:
        text += f"{colon}{minutes:02d}"
    if digits >= 6:
        text += f"{colon}{secs:02d}"
    return text
