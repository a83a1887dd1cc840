"""Literal prefilters: skip the rules whose required strings an event does not contain.

Most Sigma rules cannot match unless some field holds one of a few literals: ``Image``
ending in ``/curl``, a command line containing ``base64``, a keyword in the message.
:func:`gate` reads that from a rule's IR (:mod:`keibi.engine.ir`): a set of *atoms*
``(kind, field, literal)``, at least one of which holds in every event the rule matches
(a necessary condition, never a sufficient one). ``None`` means the rule has no such
condition (it must always be tried).

:class:`LiteralFilter` holds the gates of many rules and answers, per event, which of
them pass, looking at each field once for all rules: exact values by hash, prefixes and
suffixes by hashed slices, substrings by hashed 3-grams (so the cost grows with the
length of the event's values, not with the number of rules). Per-field answers are
memoised by value, so repeated executables and parents cost one lookup.

How a gate is derived (all literals lower-cased, as the predicates compare):

* a string test gives one atom per exact value / prefix / suffix / substring; a
  wildcard pattern gives its leading literal (prefix), else its trailing one (suffix),
  else its longest one (substring); a ``|re`` gives the longest literal every match
  must contain, when its parse tree has one;
* AND: the cheapest gated argument's gate (any one of them is necessary);
* OR: the union of the arguments' gates (none if any argument has none);
* NOT, numbers, CIDRs, null/exists, field references: no gate.

Atoms on the coarse routing fields (``event.category``, ``event.dataset``...) are left
out: the index already routes by them, so nearly every candidate event would pass them.
``event.action`` stays: a rule filed under its dataset may still name actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import attrgetter
from re import _parser as sre  # type: ignore[attr-defined]
from typing import Any, Generic, TypeVar

import msgspec

from keibi.engine.fields import KEYWORD_FIELDS
from keibi.engine.ir import And, FieldTest, Keyword, Node, Or
from keibi.engine.values import (
    NumTest,
    RegexTest,
    StrTest,
    as_text,
    literal_runs,
    wildcard_tokens,
)
from keibi.events.model import FIELD_ATTRS, Event

__all__ = ["Atom", "Gate", "Gated", "LiteralFilter", "gate"]

Atom = tuple[str, str, str]  # (kind: exact|prefix|suffix|contains, field, literal)
Gate = frozenset[Atom] | None

#: fields the index routes by: no gate atoms on them
ROUTING_FIELDS = frozenset({"event.category", "event.type", "event.dataset", "event.kind",
                            "event.module", "event.outcome"})
#: fields whose values most events of their source share (a weak gate: last resort)
WEAK_FIELDS = frozenset({"auditd.record_types", "auditd.data.arch",
                         "user.name", "user.id", "network.transport", "network.direction"})
_KIND_COST = {"exact": 1, "prefix": 2, "suffix": 2, "contains": 3}
GRAM = 3
#: per field: answers remembered, for values up to MEMO_TEXT characters (executables,
#: names, paths repeat; long command lines rarely do): memory stays bounded
MEMO_LIMIT = 2048
MEMO_TEXT = 160


# -- gates ------------------------------------------------------------------------------

def _pattern_atom(pattern: str) -> tuple[str, str] | None:
    tokens = wildcard_tokens(pattern)
    runs = literal_runs(tokens)
    if not runs:
        return None
    if tokens and tokens[0]:
        return "prefix", runs[0]
    if tokens and tokens[-1]:
        return "suffix", runs[-1]
    return "contains", max(runs, key=len)


MAX_ALTERNATIVES = 16


def _alternatives(op: str, arg: Any) -> list[str] | None:
    """The literal strings a regex item can match, when it is a small set of them."""
    if op == "LITERAL":
        return [chr(arg)]
    if op == "IN":
        if all(str(o) == "LITERAL" for o, _ in arg) and len(arg) <= 4:
            return [chr(a) for _, a in arg]
        return None
    if op == "SUBPATTERN":
        return _sequence_strings(arg[-1])
    if op == "BRANCH":
        out: list[str] = []
        for alt in arg[1]:
            strings = _sequence_strings(alt)
            if strings is None:
                return None
            out += strings
        return out if len(out) <= MAX_ALTERNATIVES else None
    return None


def _sequence_strings(items: Any) -> list[str] | None:
    """Every string a pure-literal regex sequence can match (None: not such a sequence)."""
    out = [""]
    for op, arg in items:
        alts = _alternatives(str(op), arg)
        if alts is None:
            return None
        out = [a + b for a in out for b in alts]
        if len(out) > MAX_ALTERNATIVES:
            return None
    return out


def _score(strings: frozenset[str]) -> tuple[int, int]:
    return (min(map(len, strings)), -len(strings)) if strings else (0, 0)


def _regex_literals(items: Any) -> frozenset[str] | None:
    """Strings one of which every match of a regex (parse tree) contains, or None."""
    best: frozenset[str] = frozenset()
    cur = [""]

    def settle() -> None:
        nonlocal best, cur
        done = frozenset(cur)
        if _score(done) > _score(best):
            best = done
        cur = [""]

    for op, arg in items:
        name = str(op)
        alts = _alternatives(name, arg)
        if alts is not None and len(cur) * len(alts) <= MAX_ALTERNATIVES:
            cur = [a + b for a in cur for b in alts]
            continue
        settle()
        inner: frozenset[str] | None = None
        if name == "SUBPATTERN":  # a group must match as a whole
            inner = _regex_literals(arg[-1])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            inner = _regex_literals(arg[2])
        elif name == "BRANCH":  # one of the alternatives matches: the union of theirs
            inners = [_regex_literals(alt) for alt in arg[1]]
            if all(inners):
                inner = frozenset().union(*(i for i in inners if i))
        if inner and _score(inner) > _score(best):
            best = inner
    settle()
    return best if best and min(map(len, best)) > 0 else None


def _int_fields() -> frozenset[str]:
    """Event attributes that only ever hold integers (their text form is canonical)."""
    info = msgspec.inspect.type_info(Event)
    assert isinstance(info, msgspec.inspect.StructType)
    out = set()
    for f in info.fields:
        types = f.type.types if isinstance(f.type, msgspec.inspect.UnionType) else (f.type,)
        kinds = {type(t) for t in types} - {msgspec.inspect.NoneType}
        if kinds == {msgspec.inspect.IntType}:
            out.add(f.encode_name)
    return frozenset(out)


INT_FIELDS = _int_fields()


def _test_atoms(field: str, test: Any) -> Gate:
    if isinstance(test, NumTest):
        # an integer field's value is written one way only: its number is its text
        if field in INT_FIELDS and all(float(v).is_integer() for v in test.values):
            return frozenset(("exact", field, str(int(v))) for v in test.values)
        return None
    if isinstance(test, StrTest):
        atoms: set[Atom] = set()
        cased = test.cased
        for kind, values in (("exact", test.exact), ("prefix", test.prefixes),
                             ("suffix", test.suffixes), ("contains", test.contains)):
            for v in values:
                if not v and kind != "exact":
                    return None  # "" is in every text
                if cased and not v.isascii():
                    return None  # lower() of a fragment may differ from the text's
                atoms.add((kind, field, v.lower()))
        for p in test.patterns:
            found = _pattern_atom(p)
            if found is None or (cased and not found[1].isascii()):
                return None
            atoms.add((found[0], field, found[1].lower()))
        return frozenset(atoms) or None
    if isinstance(test, RegexTest):
        try:
            lits = _regex_literals(sre.parse(test.pattern, test.flags))
        except (re.error, TypeError, ValueError, RecursionError):
            return None
        if lits is None or not all(lit.isascii() for lit in lits):
            return None
        return frozenset(("contains", field, lit.lower()) for lit in lits)
    return None


def _cost(g: frozenset[Atom]) -> float:
    """How often a gate lets events through (a guess from the kinds of its atoms)."""
    return sum(_KIND_COST[k] + (4 if len(lit) < GRAM else 0) + (50 if f in WEAK_FIELDS else 0)
               for k, f, lit in g)


def gate(node: Node) -> Gate:
    """The literal gate of an IR node (see the module doc); None: no gate."""
    if isinstance(node, FieldTest):
        if node.field in ROUTING_FIELDS:
            return None
        return _test_atoms(node.field, node.test)
    if isinstance(node, Keyword):
        parts = [_test_atoms(f, node.test) for f in KEYWORD_FIELDS]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    if isinstance(node, And):
        gates = [g for g in (gate(a) for a in node.args) if g is not None]
        return min(gates, key=_cost) if gates else None
    if isinstance(node, Or):
        out: set[Atom] = set()
        for a in node.args:
            g = gate(a)
            if g is None:
                return None
            out |= g
        return frozenset(out)
    return None


# -- the filter -------------------------------------------------------------------------

def _texts(value: Any) -> list[str]:
    if isinstance(value, tuple | list):
        return [(v if type(v) is str else as_text(v)).lower() for v in value]
    return [(value if type(value) is str else as_text(value)).lower()]


class _Field:
    """Every atom on one field, indexed; answers "which rules pass on this value"."""

    def __init__(self, name: str, atoms: list[tuple[str, str, int]]) -> None:
        self.name = name
        self.exact: dict[str, frozenset[int]] = {}
        affix: dict[str, dict[int, dict[str, list[tuple[str, int]]]]] = {
            "prefix": {}, "suffix": {}}
        self.grams: dict[tuple[str, ...], list[tuple[str, int]]] = {}
        self.short: list[tuple[str, int]] = []  # substrings shorter than a gram
        self.memo: dict[Any, frozenset[int]] = {}
        counts: dict[str, int] = {}
        subs = [lit for kind, lit, _ in atoms if kind == "contains"]
        for lit in subs:
            for i in range(len(lit) - GRAM + 1):
                counts[lit[i:i + GRAM]] = counts.get(lit[i:i + GRAM], 0) + 1
        exact: dict[str, set[int]] = {}
        for kind, lit, n in atoms:
            if kind == "exact":
                exact.setdefault(lit, set()).add(n)
            elif kind in affix:
                size = min(len(lit), 8)
                key = lit[:size] if kind == "prefix" else lit[-size:]
                affix[kind].setdefault(size, {}).setdefault(key, []).append((lit, n))
            elif len(lit) < GRAM:
                self.short.append((lit, n))
            else:  # filed under its rarest 3-gram
                grams = [lit[i:i + GRAM] for i in range(len(lit) - GRAM + 1)]
                rare = min(grams, key=lambda g: counts[g])
                self.grams.setdefault(tuple(rare), []).append((lit, n))
        self.exact = {k: frozenset(v) for k, v in exact.items()}
        self.prefixes = sorted(affix["prefix"].items())
        self.suffixes = sorted(affix["suffix"].items())
        self.substrings = bool(self.grams or self.short)
        self.gram_keys = frozenset(self.grams)

    def _compute(self, value: Any) -> frozenset[int]:
        out: set[int] = set()
        if type(value) is str:
            texts = [value.lower()]
        elif isinstance(value, tuple | list):
            texts = [(v if type(v) is str else as_text(v)).lower() for v in value]
        else:
            texts = [as_text(value).lower()]
        exact = self.exact
        for s in texts:
            if exact:
                hit = exact.get(s)
                if hit:
                    out |= hit
            for size, table in self.prefixes:
                for lit, n in table.get(s[:size], ()):
                    if s.startswith(lit):
                        out.add(n)
            for size, table in self.suffixes:
                for lit, n in table.get(s[-size:], ()):
                    if s.endswith(lit):
                        out.add(n)
        if self.substrings:
            # a literal never holds the separator, so it is found in the joined text
            # exactly when it is in one of the elements
            joined = texts[0] if len(texts) == 1 else "\x00".join(texts)
            for lit, n in self.short:
                if lit in joined:
                    out.add(n)
            grams = self.grams
            if grams and len(joined) >= GRAM:
                found = self.gram_keys.intersection(zip(joined, joined[1:], joined[2:]))  # noqa: B905
                for g in found:
                    for lit, n in grams[g]:
                        if lit in joined:
                            out.add(n)
        return frozenset(out)

    def lookup(self, value: Any) -> frozenset[int]:
        """The rules passing on ``value`` (not None), memoised."""
        key = value if type(value) is str else (
            tuple(value) if isinstance(value, tuple | list) else as_text(value))
        found = self.memo.get(key)
        if found is None:
            found = self._compute(value)
            if len(key) <= MEMO_TEXT:
                if len(self.memo) >= MEMO_LIMIT:
                    self.memo.clear()
                self.memo[key] = found
        return found


def _field_of(name: str) -> str:
    """``process.args[2]`` -> ``process.args``: a literal in one element is in some
    element (one scan of the list serves every position)."""
    m = _INDEXED.fullmatch(name)
    return m.group(1) if m is not None else name


_INDEXED = re.compile(r"(.+)\[\d+\]")


class LiteralFilter:
    """The gates of rules numbered 0..n-1 (None: ungated), checked per event at once."""

    def __init__(self, gates: Sequence[Gate]) -> None:
        by_field: dict[str, list[tuple[str, str, int]]] = {}
        self.ungated = frozenset(n for n, g in enumerate(gates) if g is None)
        for n, g in enumerate(gates):
            for kind, field, lit in g or ():
                by_field.setdefault(_field_of(field), []).append((kind, lit, n))
        self.fields = [_Field(name, atoms) for name, atoms in sorted(by_field.items())]
        # attribute fields read in one call; the others from ``extra``, one lookup each
        attrs = [(FIELD_ATTRS[f.name], f) for f in self.fields if f.name in FIELD_ATTRS]
        self._attrs: Callable[[Any], tuple[Any, ...]] | None = None
        if len(attrs) == 1:  # attrgetter of one name returns the value, not a tuple
            one = attrgetter(attrs[0][0])
            self._attrs = lambda e: (one(e),)
        elif attrs:
            self._attrs = attrgetter(*(a for a, _ in attrs))
        self._attr_plan = [(f.memo, f.lookup) for _, f in attrs]
        self._extra_plan = [(f.name, f.memo, f.lookup) for f in self.fields
                            if f.name not in FIELD_ATTRS]

    def passing(self, event: Any) -> set[int]:
        """Numbers of the gated rules whose gate holds for ``event``."""
        out: set[int] = set()
        if self._attrs is not None:
            for v, (memo, lookup) in zip(self._attrs(event), self._attr_plan):  # noqa: B905
                if v is not None:
                    found = memo.get(v) if type(v) is str else None
                    if found is None:
                        found = lookup(v)
                    if found:
                        out |= found
        extra = event.extra
        if extra:
            for name, memo, lookup in self._extra_plan:
                v = extra.get(name)
                if v is not None:
                    found = memo.get(v) if type(v) is str else None
                    if found is None:
                        found = lookup(v)
                    if found:
                        out |= found
        return out


T = TypeVar("T")


class Gated(Generic[T]):
    """One index entry's candidate rules, the gated ones behind a :class:`LiteralFilter`.

    :meth:`select` returns the rules an event must be tested against, in the order of
    ``items``: the ungated ones always, a gated one when its gate holds.
    """

    __slots__ = ("always", "filter", "items", "order")

    def __init__(self, items: Sequence[T], gates: Sequence[Gate]) -> None:
        self.items = tuple(items)
        self.filter = LiteralFilter(gates)
        self.order = sorted(self.filter.ungated)
        self.always = tuple(self.items[i] for i in self.order)

    def select(self, event: Any) -> tuple[T, ...]:
        passing = self.filter.passing(event)
        if not passing:
            return self.always
        items = self.items
        return tuple(items[i] for i in sorted(passing.union(self.order)))
