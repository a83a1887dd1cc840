"""Parsing the time bounds of ``--since`` / ``--until`` (and time-valued search filters).

A time spec is one of:

- a duration meaning "that long before now": ``30s``, ``15m``, ``2h``, ``7d``, ``2w``, or a
  sum of them, ``1h30m``;
- an ISO 8601 date or time: ``2026-11-01`` (midnight), ``2026-11-01T10:00``,
  ``2026-11-01 10:00:00``, ``2026-11-01T10:00:00Z``, ``2026-11-01T12:00:00+02:00``;
  a time without an offset is read in ``zone`` (UTC unless the caller says otherwise,
  as every stored time stamp is UTC);
- ``@EPOCH`` (seconds, as ``date +%s`` prints them) or ``now``.

Everything is pure: the reference time ``now`` is passed in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

__all__ = ["TimeSpecError", "parse_absolute", "parse_duration", "parse_timespec"]

_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(?:\d{1,9}[smhdw])+")
_PART = re.compile(r"(\d{1,9})([smhdw])")
_EPOCH = re.compile(r"@-?\d{1,12}(?:\.\d{1,6})?")
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")
_HINT = "expected a duration (15m, 2h, 7d), a date (2026-11-01) or a time (2026-11-01T10:00:00Z)"


class TimeSpecError(ValueError):
    """A time spec that cannot be read; the message is one line for the user."""


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``15m`` or ``1h30m``."""
    spec = text.strip().lower()
    if not _DURATION.fullmatch(spec):
        raise TimeSpecError(f"bad duration {text!r}: {_HINT}")
    return float(sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(spec)))


def parse_absolute(text: str, zone: tzinfo = UTC) -> float:
    """Epoch seconds of an ISO 8601 date/time or ``@EPOCH``; naive times are in ``zone``."""
    spec = text.strip()
    if _EPOCH.fullmatch(spec):
        return float(spec[1:])
    if not _ISO_START.match(spec):
        raise TimeSpecError(f"bad time {text!r}: {_HINT}")
    if spec.endswith(("Z", "z")):
        spec = spec[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(spec)
    except ValueError:
        raise TimeSpecError(f"bad time {text!r}: {_HINT}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.timestamp()


def parse_timespec(text: str, now: float, zone: tzinfo = UTC) -> float:
    """Epoch seconds meant by ``text`` (module docstring), durations counted back from ``now``."""
    spec = text.strip()
    if not spec:
        raise TimeSpecError(f"empty time: {_HINT}")
    if spec.lower() == "now":
        return now
    if _DURATION.fullmatch(spec.lower()):
        return now - parse_duration(spec)
    return parse_absolute(spec, zone)
