"""Value tests: what one Sigma value asks of one event value, and its fast checker.

Each test is a frozen description (so rules can be inspected, merged and indexed) with a
``checker()`` that returns a function of one scalar event value. Sigma string matching
is case-insensitive unless ``|cased``: both sides are lower-cased. Plain wildcard shapes
(``abc``, ``abc*``, ``*abc``, ``*abc*``) become ``==``/``startswith``/``endswith``/``in``
checks; any other wildcard pattern becomes one compiled regex. Event values that are
not strings are compared as text (``True`` -> ``"true"``, ``22`` -> ``"22"``).

Tests that need the whole event (null, exists, field references) are handled by the
predicate builder in :mod:`keibi.engine.compile`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any, Union

from keibi.engine.substrings import LOOP_MAX, Substrings
from keibi.events.encoding import parse_time

Checker = Callable[[Any], bool]
#: answers a numeric test remembers per text
TEXT_ANSWERS = 4096


def as_text(value: Any) -> str:
    """The text form of an event value used for string matching."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: Any) -> float | None:
    """An event value as a number, or None (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            n = float(value.strip())
        except ValueError:
            return None
        return n if math.isfinite(n) else None
    return None


@dataclass(frozen=True, slots=True)
class StrTest:
    """String equality / prefix / suffix / substring / wildcard-regex, any of them."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # regex sources from complex wildcards (fullmatch)
    cased: bool = False

    @property
    def exact_only(self) -> bool:
        return bool(self.exact) and not (
            self.prefixes or self.suffixes or self.contains or self.patterns)

    def merge(self, other: StrTest) -> StrTest:
        return StrTest(self.exact | other.exact, self.prefixes + other.prefixes,
                       self.suffixes + other.suffixes, self.contains + other.contains,
                       self.patterns + other.patterns, self.cased)

    def pattern_checker(self) -> Callable[[str], bool] | None:
        """Whether a text, lower-cased unless cased, matches one of the wildcard
        patterns (None: there are none)."""
        # both sides are lower-cased unless cased: the regexes need no IGNORECASE
        searches = self._searches()
        if not searches:
            return None

        def regex(s: str) -> bool:
            for lit, search in searches:  # noqa: SIM110 (a loop: faster than any())
                if lit in s and search(s) is not None:  # the literal first: cheap
                    return True
            return False

        return regex

    def _searches(self) -> tuple[tuple[str, Callable[[str], Any]], ...]:
        """Per wildcard pattern: a literal every match contains, and its regex search."""
        forms = [wildcard_form(p) for p in self.patterns]
        return tuple((lit, re.compile(rx, re.DOTALL).search) for rx, lit in forms)

    @property
    def few_substrings(self) -> bool:
        """Whether substrings and patterns are few enough to look for one by one (more:
        :meth:`substring_checker` searches the text once for all their literals)."""
        return len(self.contains) + len(self.patterns) <= LOOP_MAX

    def substring_checker(self) -> Callable[[str], bool] | None:
        """Whether a text, lower-cased unless cased, contains one of the substrings or
        matches one of the wildcard patterns (None: there are none). Many of them: one
        native search (:class:`~keibi.engine.substrings.Substrings`) of the substrings
        and of a literal of each pattern, then the regexes of the patterns whose literal
        the text holds."""
        contains = self.contains
        if self.few_substrings:
            regex = self.pattern_checker()
            if not contains:
                return regex

            def few(s: str) -> bool:
                for c in contains:
                    if c in s:
                        return True
                return regex is not None and regex(s)

            return few
        searches = self._searches()
        subs = Substrings([*contains, *(lit for lit, _ in searches)])
        found, any_of = subs.found, subs.any
        wanted = frozenset(contains)

        def many(s: str) -> bool:
            if not any_of(s):  # most texts: one quick search
                return False
            present = found(s)
            if not wanted.isdisjoint(present):
                return True
            for lit, search in searches:  # noqa: SIM110
                if lit in present and search(s) is not None:
                    return True
            return False

        return many

    def checker(self) -> Checker:
        exact, prefixes, suffixes = self.exact, self.prefixes, self.suffixes
        substrings = self.substring_checker()
        lower = not self.cased
        if self.exact_only:
            if lower:
                return lambda v: (v if type(v) is str else as_text(v)).lower() in exact
            return lambda v: (v if type(v) is str else as_text(v)) in exact
        if suffixes and not (exact or prefixes or substrings) and lower:
            return lambda v: (v if type(v) is str else as_text(v)).lower().endswith(suffixes)

        def check(v: Any) -> bool:
            s = v if type(v) is str else as_text(v)
            if lower:
                s = s.lower()
            if s in exact:
                return True
            if prefixes and s.startswith(prefixes):
                return True
            if suffixes and s.endswith(suffixes):
                return True
            return substrings is not None and substrings(s)

        return check


def wildcard_tokens(pattern: str) -> list[str | None]:
    """A wildcard regex of :class:`StrTest` (escaped literals, ``.*`` and ``.``) as
    tokens: literal characters, ``None`` for ``.*`` and ``""`` for ``.``."""
    out: list[str | None] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        elif c == "." and pattern[i + 1:i + 2] == "*":
            out.append(None)
            i += 2
        elif c == ".":
            out.append("")
            i += 1
        else:
            out.append(c)
            i += 1
    return out


def literal_runs(tokens: list[str | None]) -> list[str]:
    """The literal runs of wildcard tokens, in order (empty runs dropped)."""
    runs, cur = [], ""
    for t in tokens:
        if t:
            cur += t
        else:
            if cur:
                runs.append(cur)
            cur = ""
    if cur:
        runs.append(cur)
    return runs


def wildcard_form(pattern: str) -> tuple[str, str]:
    """(regex to ``search`` with, longest literal every match contains) for a wildcard
    pattern that must match a whole text: leading and trailing ``.*`` become an
    unanchored search instead of a full match, which the regex engine does in one pass."""
    tokens = wildcard_tokens(pattern)
    head = tail = ""
    if tokens and tokens[0] is None:
        while tokens and tokens[0] is None:
            tokens.pop(0)
    else:
        head = r"\A"
    if tokens and tokens[-1] is None:
        while tokens and tokens[-1] is None:
            tokens.pop()
    else:
        tail = r"\Z"
    body = "".join(".*" if t is None else "." if t == "" else re.escape(t) for t in tokens)
    runs = literal_runs(tokens)
    return head + body + tail, max(runs, key=len) if runs else ""


@dataclass(frozen=True, slots=True)
class NumTest:
    """Numeric equality (event numbers, or strings that parse as numbers)."""

    values: frozenset[float]

    def merge(self, other: NumTest) -> NumTest:
        return NumTest(self.values | other.values)

    def checker(self) -> Checker:
        values = self.values
        #: a text's answer (ids, ports and codes repeat: "0", "1000", "33")
        texts: dict[str, bool] = {}

        def check(v: Any) -> bool:
            if type(v) is str:
                found = texts.get(v)
                if found is None:
                    n = as_number(v)
                    found = n is not None and n in values
                    if len(texts) >= TEXT_ANSWERS:
                        texts.clear()
                    texts[v] = found
                return found
            n = as_number(v)
            return n is not None and n in values

        return check


@dataclass(frozen=True, slots=True)
class BoolTest:
    value: bool

    def checker(self) -> Checker:
        want = self.value
        text = "true" if want else "false"

        def check(v: Any) -> bool:
            if isinstance(v, bool):
                return v is want
            return isinstance(v, str) and v.lower() == text

        return check


@dataclass(frozen=True, slots=True)
class RegexTest:
    """A Sigma ``|re`` value: Python regex, searched anywhere (anchors are explicit)."""

    pattern: str
    flags: int = 0

    def checker(self) -> Checker:
        search = re.compile(self.pattern, self.flags).search
        return lambda v: search(v if type(v) is str else as_text(v)) is not None


@lru_cache(maxsize=8192)
def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


_ADDRESS_CHARS = re.compile(r"[0-9A-Fa-f:.]+").fullmatch


@lru_cache(maxsize=8192)
def ip_number(text: str) -> tuple[int, int] | None:
    """``(version, address as an integer)`` of an IP address text (None: not one), as
    :func:`ipaddress.ip_address` reads it after stripping blanks and ``[]``. The C parser
    (``inet_pton``, strict dotted quads: no leading zeros, as ``ipaddress``) reads
    nearly every address; what it refuses (a scoped ``fe80::1%eth0``) goes to
    :mod:`ipaddress`, ten times slower."""
    t = text.strip().strip("[]")
    if _ADDRESS_CHARS(t) is not None:  # inet_pton takes blanks ipaddress refuses
        for family, version in ((AF_INET, 4), (AF_INET6, 6)):
            try:
                return version, int.from_bytes(inet_pton(family, t), "big")
            except OSError:  # not this family
                pass
    ip = _ip(text)
    return None if ip is None else (ip.version, int(ip))


@dataclass(frozen=True, slots=True)
class CidrTest:
    networks: tuple[IPv4Network | IPv6Network, ...]

    def checker(self) -> Checker:
        nets = tuple((n.version, int(n.network_address), int(n.netmask))
                     for n in self.networks)

        def check(v: Any) -> bool:
            found = ip_number(v if type(v) is str else as_text(v))
            if found is None:
                return False
            version, number = found
            for net_version, network, mask in nets:
                if version == net_version and number & mask == network:
                    return True
            return False

        return check


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "neq": lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class CompareTest:
    op: str  # lt, lte, gt, gte, neq
    number: float

    def checker(self) -> Checker:
        cmp, number = _COMPARE[self.op], self.number

        def check(v: Any) -> bool:
            n = as_number(v)
            return n is not None and cmp(n, number)

        return check


_TIME_PARTS: dict[str, Callable[[datetime], int]] = {
    "minute": lambda d: d.minute,
    "hour": lambda d: d.hour,
    "day": lambda d: d.day,
    "week": lambda d: d.isocalendar()[1],
    "month": lambda d: d.month,
    "year": lambda d: d.year,
}


@dataclass(frozen=True, slots=True)
class TimePartTest:
    """``|minute``..``|year``: a part of a time value (epoch seconds or RFC 3339), UTC."""

    part: str
    number: int

    def checker(self) -> Checker:
        part, number = _TIME_PARTS[self.part], self.number

        def check(v: Any) -> bool:
            try:
                ts = parse_time(v) if isinstance(v, str) else float(v)
                return part(datetime.fromtimestamp(ts, UTC)) == number
            except (TypeError, ValueError, OverflowError, OSError):
                return False

        return check


@dataclass(frozen=True, slots=True)
class NullTest:
    """The field is absent (None) or an empty list."""


@dataclass(frozen=True, slots=True)
class ExistsTest:
    exists: bool


@dataclass(frozen=True, slots=True)
class FieldRefTest:
    """The field equals (starts with / ends with / contains) another field of the same
    event, case-insensitively like every Sigma string match."""

    other: str
    starts: bool = False
    ends: bool = False


ScalarTest = Union[StrTest, NumTest, BoolTest, RegexTest, CidrTest, CompareTest,  # noqa: UP007
                   TimePartTest]
ValueTest = Union[ScalarTest, NullTest, ExistsTest, FieldRefTest]  # noqa: UP007


def merge_tests(a: ValueTest, b: ValueTest) -> ValueTest | None:
    """One test equivalent to ``a OR b`` on the same field, when there is one."""
    if isinstance(a, StrTest) and isinstance(b, StrTest) and a.cased == b.cased:
        return a.merge(b)
    if isinstance(a, NumTest) and isinstance(b, NumTest):
        return a.merge(b)
    return None
