"""Suppression and allow-listing: alerts an operator decided not to be told about again.

A :class:`Suppression` names a rule (``rule.id`` or ``rule.name``), field conditions
(``FIELD=VALUE``, all of them must hold), or both; it has a reason, who made it, an
expiry (or explicitly none) and a hit count. It never drops anything silently: every
alert it holds back is counted against it (``hits``, ``last_hit``, ``last_alert``),
and ``keibi suppress list`` and ``keibi status`` show the counts.

Value matching, on the alert's own field (the value its events share, or its group):

* ``VALUE`` with ``*`` or ``?``: a shell-style pattern (``/opt/backup/*``);
* ``VALUE`` with ``/`` on an address field (``*.ip``): a network (``10.0.0.0/8``);
* otherwise equality with the field's text (case-sensitive: Linux names are);
* a list field (``related.user``, ``threat.technique.id``) matches when any element does.

:class:`Suppressor` applies a set of suppressions to alerts (the agent before its sinks,
``keibi hunt`` before printing) and collects the hits to record in the store.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from keibi.events.model import FIELD_ATTRS, Event

__all__ = [
    "Hit",
    "Suppression",
    "SuppressionError",
    "Suppressor",
    "alert_summary",
    "parse_condition",
    "validate",
]

_FIELD = re.compile(r"[A-Za-z@_][A-Za-z0-9_@.\[\]-]{0,127}")
_REMEMBERED = 10_000  # alert ids remembered so one alert's updates count once


class SuppressionError(ValueError):
    """A suppression that cannot be made (the message says why, one line)."""


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    """One suppression as stored."""

    id: int
    reason: str
    created: float
    rule: str | None = None
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    expires: float | None = None  # None: never (made with --forever)
    created_by: str | None = None
    removed: float | None = None
    hits: int = 0
    last_hit: float | None = None
    last_alert: str | None = None  # "<alert id> <rule name>: <message>" of the latest hit

    def active(self, now: float) -> bool:
        return self.removed is None and (self.expires is None or now < self.expires)

    def state(self, now: float) -> str:
        if self.removed is not None:
            return "removed"
        return "active" if self.active(now) else "expired"

    def describe(self) -> str:
        parts = [f"rule={self.rule}"] if self.rule else []
        parts += [f"{k}={v}" for k, v in sorted(self.fields.items())]
        return " ".join(parts)

    def matches(self, alert: Event) -> bool:
        """Whether this suppression covers ``alert`` (regardless of expiry)."""
        if self.rule is not None and self.rule not in (alert.rule_id, alert.rule_name):
            return False
        return all(_value_matches(name, alert.get(name), want)
                   for name, want in self.fields.items())


class Hit(msgspec.Struct, kw_only=True):
    """What one suppression held back since the hits were last taken."""

    count: int = 0
    last: float = 0.0
    last_alert: str | None = None


def _value_matches(name: str, value: Any, want: str) -> bool:
    if value is None:
        return False
    if isinstance(value, list | tuple):
        return any(_value_matches(name, v, want) for v in value)
    text = value if isinstance(value, str) else str(value)
    if "/" in want and name.endswith(".ip"):
        try:
            return ipaddress.ip_address(text) in ipaddress.ip_network(want, strict=False)
        except ValueError:
            return False
    if "*" in want or "?" in want:
        return fnmatch.fnmatchcase(text, want)
    return text == want


def parse_condition(text: str) -> tuple[str, str]:
    """``FIELD=VALUE`` -> (field, value); raises :class:`SuppressionError`."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise SuppressionError(f"{text!r}: expected FIELD=VALUE (e.g. source.ip=10.0.0.0/8)")
    if _FIELD.fullmatch(name) is None or (name not in FIELD_ATTRS and "." not in name):
        raise SuppressionError(f"{name!r} is not an ECS field name (e.g. user.name)")
    if "/" in value and name.endswith(".ip"):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise SuppressionError(f"{value!r} is not a network (e.g. 10.0.0.0/8)") from None
    return name, value


def validate(rule: str | None, fields: Mapping[str, str], reason: str,
             expires: float | None, now: float) -> None:
    """Raise :class:`SuppressionError` unless these make a sound suppression."""
    if not rule and not fields:
        raise SuppressionError("a suppression needs --rule or at least one --field")
    if not reason.strip():
        raise SuppressionError("a suppression needs a --reason")
    if expires is not None and expires <= now:
        raise SuppressionError("the expiry is in the past")
    for name, value in fields.items():
        parse_condition(f"{name}={value}")


def alert_summary(alert: Event) -> str:
    """One line naming a suppressed alert (kept with the suppression's hit count)."""
    text = f"{alert.alert_id or '?'} {alert.rule_name or alert.rule_id or '?'}"
    if alert.message:
        text += f": {alert.message}"
    return text[:500]


class Suppressor:
    """Applies suppressions to alerts, counting each alert held back once per id."""

    def __init__(self, suppressions: Iterable[Suppression] = ()) -> None:
        self.suppressions: list[Suppression] = list(suppressions)
        self._by_rule: dict[str, list[Suppression]] = {}
        self._any_rule: list[Suppression] = []
        self._index()
        self._seen: OrderedDict[str, int] = OrderedDict()  # alert id -> suppression id
        self.hits: dict[int, Hit] = {}
        self.total = 0  # alerts held back since this suppressor was made

    def _index(self) -> None:
        self._by_rule.clear()
        self._any_rule.clear()
        for s in self.suppressions:
            if s.rule is None:
                self._any_rule.append(s)
            else:
                self._by_rule.setdefault(s.rule, []).append(s)

    def replace(self, suppressions: Iterable[Suppression]) -> None:
        """Use a new set (e.g. re-read from the store); pending hits are kept."""
        self.suppressions = list(suppressions)
        self._index()

    def __bool__(self) -> bool:
        return bool(self.suppressions)

    @property
    def holding(self) -> bool:
        """Whether some alert held back earlier is remembered (see :meth:`released`)."""
        return bool(self._seen)

    def match(self, alert: Event, now: float) -> Suppression | None:
        """The first active suppression covering ``alert``, or None."""
        if not self.suppressions:
            return None
        none: list[Suppression] = []
        candidates = [*self._by_rule.get(alert.rule_id or "", none),
                      *self._by_rule.get(alert.rule_name or "", none), *self._any_rule]
        for s in candidates:
            if s.active(now) and s.matches(alert):
                return s
        return None

    def check(self, alert: Event, now: float) -> bool:
        """True when ``alert`` is held back (and counted, once per alert id)."""
        s = self.match(alert, now)
        if s is None:
            return False
        aid = alert.alert_id or ""
        seen = self._seen
        if aid and aid in seen:
            seen.move_to_end(aid)
            return True
        if aid:
            seen[aid] = s.id
            while len(seen) > _REMEMBERED:
                seen.popitem(last=False)
        hit = self.hits.setdefault(s.id, Hit())
        hit.count += 1
        hit.last = max(hit.last, alert.timestamp if alert.end is None else alert.end)
        hit.last_alert = alert_summary(alert)
        self.total += 1
        return True

    def released(self, alert_id: str) -> bool:
        """Whether ``alert_id`` was held back before (now passing: its suppression ended);
        forgets it, so this is True once."""
        return self._seen.pop(alert_id, None) is not None

    def split(self, alerts: Sequence[Event], now: float) -> tuple[list[Event], list[Event]]:
        """(alerts to pass on, alerts held back); the held back ones are counted."""
        kept: list[Event] = []
        held: list[Event] = []
        for a in alerts:
            (held if self.check(a, now) else kept).append(a)
        return kept, held

    def take_hits(self) -> dict[int, Hit]:
        """The hits counted since the previous call (to record in the store)."""
        hits, self.hits = self.hits, {}
        return hits
