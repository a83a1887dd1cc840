"""keibi's own extension of a Sigma rule: the ``keibi:`` mapping.

.. code-block:: yaml

    keibi:
      alert: true               # false: a building block that never alerts by itself
      group_by: [source.ip]     # single-event rules: the alert's group key fields
      group_window: 1h          # dedup: matches within this time after the last merge
      severity: 60              # event.severity override (0-100 or a Sigma level name)
      message: "SSH brute force from {source.ip}: {count} failed logins in {duration}"
      tests:
        match: [...]            # events (single-event rules) or event lists (correlations)
        no_match: [...]

Test events are flat mappings of dotted ECS names. ``@timestamp`` is RFC 3339 or epoch
seconds; when absent, the n-th event of a list gets 2025-01-01T00:00:00Z plus n seconds.
Message placeholders: any dotted ECS field of the alert (else of its latest event),
``{count}``, ``{duration}``, ``{distinct}``, ``{title}``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

from keibi.events.encoding import parse_time
from keibi.events.model import FIELD_ATTRS, SEVERITY_SCORES, TIME_FIELDS, Event

KEYS = frozenset({"alert", "group_by", "group_window", "severity", "message", "tests"})
TEST_KEYS = frozenset({"match", "no_match"})
DEFAULT_GROUP_WINDOW = 3600.0
DEFAULT_GROUP_BY = ("source.ip", "user.name", "host.name")
TEST_EPOCH = 1735689600.0  # 2025-01-01T00:00:00Z

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_@.]+)\}")


class RuleTests(msgspec.Struct, frozen=True):
    """Embedded tests: each case is a sequence of events (one event for simple rules)."""

    match: tuple[tuple[Event, ...], ...] = ()
    no_match: tuple[tuple[Event, ...], ...] = ()


class KeibiOptions(msgspec.Struct, frozen=True):
    """The validated ``keibi:`` mapping of one rule (defaults when the rule has none)."""

    alert: bool = True
    group_by: tuple[str, ...] | None = None
    group_window: float = DEFAULT_GROUP_WINDOW
    severity: int | None = None
    message: str | None = None
    tests: RuleTests = RuleTests()


class OptionError(ValueError):
    """A bad ``keibi:`` value; ``path`` is the key path inside the ``keibi`` mapping."""

    def __init__(self, path: tuple[str | int, ...], message: str, *, test: bool = False):
        super().__init__(message)
        self.path = path
        self.test = test


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"10m"``, ``"1h"``, ``"2d"`` -> seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 1h)")
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {value!r}")
    return seconds


def _time(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    if isinstance(value, str):
        return parse_time(value)
    raise ValueError(f"not a time: {value!r}")


def _tuple_fields() -> frozenset[str]:
    info = msgspec.inspect.type_info(Event)
    assert isinstance(info, msgspec.inspect.StructType)
    out = set()
    for f in info.fields:
        t = f.type
        if isinstance(t, msgspec.inspect.UnionType):
            t = next((x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)), t)
        if isinstance(t, msgspec.inspect.VarTupleType) and f.name != "alert_evidence":
            out.add(f.encode_name)
    return frozenset(out)


_TUPLE_FIELDS = _tuple_fields()


def event_from_flat(flat: dict[str, Any], default_time: float) -> Event:
    """An :class:`Event` from a flat mapping of dotted ECS names (test events)."""
    known: dict[str, Any] = {"@timestamp": default_time}
    extra: dict[str, Any] = {}
    for key, value in flat.items():
        key = str(key)
        if key in TIME_FIELDS:
            known[key] = _time(value)
        elif key in FIELD_ATTRS:
            if key in _TUPLE_FIELDS and not isinstance(value, list | tuple):
                value = (value,)
            known[key] = value
        else:
            extra[key] = value
    if extra:
        known["keibi.extra"] = extra
    return msgspec.convert(known, Event)


def _cases(raw: Any, key: str, correlation: bool) -> tuple[tuple[Event, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise OptionError(("tests", key), f"tests.{key} must be a list")
    cases: list[tuple[Event, ...]] = []
    for i, case in enumerate(raw):
        seq = case if correlation else [case]
        if correlation and not isinstance(case, list):
            raise OptionError(("tests", key, i),
                              "a correlation rule's test case is a list of events", test=True)
        events: list[Event] = []
        for j, flat in enumerate(seq):
            where: tuple[str | int, ...] = ("tests", key, i, j) if correlation else (
                "tests", key, i)
            if not isinstance(flat, dict):
                raise OptionError(where, "a test event is a mapping of ECS fields", test=True)
            try:
                events.append(event_from_flat(flat, TEST_EPOCH + j))
            except (ValueError, TypeError, msgspec.ValidationError) as exc:
                raise OptionError(where, f"invalid test event: {exc}", test=True) from None
        cases.append(tuple(events))
    return tuple(cases)


def _severity(value: Any) -> int:
    if isinstance(value, str) and value.lower() in SEVERITY_SCORES:
        return SEVERITY_SCORES[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return value
    raise OptionError(("severity",), f"severity must be 0-100 or a Sigma level: {value!r}")


def parse_options(raw: Any, *, correlation: bool) -> KeibiOptions:
    """Validate the ``keibi:`` mapping; raises :class:`OptionError` on the first problem.

    Unknown keys are reported separately by the loader (code K001) with their lines.
    """
    if raw is None:
        return KeibiOptions()
    if not isinstance(raw, dict):
        raise OptionError((), "keibi: must be a mapping")
    kw: dict[str, Any] = {}
    if "alert" in raw:
        if not isinstance(raw["alert"], bool):
            raise OptionError(("alert",), "alert must be true or false")
        kw["alert"] = raw["alert"]
    if "group_by" in raw:
        gb = raw["group_by"]
        gb = [gb] if isinstance(gb, str) else gb
        if not isinstance(gb, list) or not all(isinstance(f, str) and f for f in gb):
            raise OptionError(("group_by",), "group_by must be a field name or a list of them")
        kw["group_by"] = tuple(gb)
    if "group_window" in raw:
        try:
            kw["group_window"] = parse_duration(raw["group_window"])
        except ValueError as exc:
            raise OptionError(("group_window",), str(exc)) from None
    if "severity" in raw:
        kw["severity"] = _severity(raw["severity"])
    if "message" in raw:
        msg = raw["message"]
        if not isinstance(msg, str) or not msg.strip():
            raise OptionError(("message",), "message must be a non-empty string")
        kw["message"] = msg
    tests = raw.get("tests")
    if tests is not None:
        if not isinstance(tests, dict):
            raise OptionError(("tests",), "tests must be a mapping with match / no_match")
        kw["tests"] = RuleTests(
            match=_cases(tests.get("match"), "match", correlation),
            no_match=_cases(tests.get("no_match"), "no_match", correlation),
        )
    return KeibiOptions(**kw)
