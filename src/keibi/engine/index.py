"""Route each event only to the rules that can match it.

Every compiled rule knows the literal values its condition requires for some fields
(:func:`keibi.engine.ir.requirements`). The index files a rule under the FIRST of
:data:`INDEX_FIELDS` it has a requirement for (``event.action`` is the most selective,
then ``event.dataset``, ``process.name``, and the list field ``event.category``: rules
about process starts often name only a category and a program); rules with none of them
are "unindexed" and meet every event. An event's candidates are the rules filed under
its own values (any element, for a list field) plus the unindexed ones, in rule order.
Candidate lists are memoised per distinct combination of those values, so an event that
no rule can match costs one tuple and one dict lookup.

Values are compared as the predicates compare them (:func:`keibi.engine.values.as_text`,
lower-cased), so the index never hides a rule from an event it could match.

Within a candidate list, rules with a literal gate (:mod:`keibi.engine.literals`: strings
one of which every matching event holds, e.g. ``Image`` ending in ``/curl``) sit behind
one :class:`~keibi.engine.literals.Gated` filter that reads each field once for all of
them: an event meets a gated rule only when the rule's gate holds (for lists with at
least :data:`GATED_MIN` gated rules; a few rules are cheaper to test than to filter).
This is what keeps the per-event cost nearly flat as SigmaHQ-style rules (same category,
different programs and command lines) are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any, Generic, TypeVar

from keibi.engine.ir import Requirements
from keibi.engine.literals import Gate, Gated
from keibi.engine.values import as_text
from keibi.events.model import FIELD_ATTRS, Event

T = TypeVar("T")

INDEX_FIELDS: tuple[str, ...] = ("event.action", "event.dataset", "process.name",
                                 "event.category")
MEMO_LIMIT = 4096
#: distinct candidate lists with a literal filter kept (each filter memoises values)
GATED_LIMIT = 64
#: fewer gated candidates than this are cheaper to test than to filter
GATED_MIN = 8


def _texts(value: Any) -> set[str]:
    """The lower-cased texts a string test compares for ``value``: the value itself, and
    each element of a list (a superset of what any predicate looks at)."""
    out = {(value if type(value) is str else as_text(value)).lower()}
    if isinstance(value, tuple | list):
        out.update((v if type(v) is str else as_text(v)).lower() for v in value)
    return out


class RuleIndex(Generic[T]):
    """Items (rules, or whatever runs them) filed by the values their rules require.

    ``entries`` pairs each item with its rule's requirements
    (:attr:`keibi.engine.compile.CompiledRule.requires`); candidates keep entry order.
    ``gates``, when given, holds each entry's literal gate
    (:attr:`keibi.engine.compile.CompiledRule.gate`, None: ungated).
    """

    def __init__(self, entries: Sequence[tuple[Requirements, T]],
                 fields: tuple[str, ...] = INDEX_FIELDS,
                 gates: Sequence[Gate] | None = None) -> None:
        if not fields or any(f not in FIELD_ATTRS for f in fields):
            raise ValueError("index fields must be Event attribute fields")
        self.fields = fields
        self._key = attrgetter(*(FIELD_ATTRS[f] for f in fields))
        self._by_value: list[dict[str, list[int]]] = [{} for _ in fields]
        self._items = [item for _, item in entries]
        self.unindexed: list[int] = []
        for n, (requires, _) in enumerate(entries):
            for i, f in enumerate(fields):
                values = requires.get(f)
                if values is not None:
                    for v in values:
                        self._by_value[i].setdefault(v, []).append(n)
                    break
            else:
                self.unindexed.append(n)
        if gates is not None and len(gates) != len(entries):
            raise ValueError("one gate per entry")
        self._gates: list[Gate] = list(gates) if gates is not None else [None] * len(entries)
        # a candidate list and its literal filter, shared by the keys that have that list
        self._gated: dict[tuple[int, ...], Gated[T]] = {}
        self._memo: dict[Any, tuple[T, ...] | Gated[T]] = {}

    def _compute(self, key: Any) -> tuple[T, ...] | Gated[T]:
        values = key if len(self.fields) > 1 else (key,)
        found = set(self.unindexed)
        for table, value in zip(self._by_value, values, strict=True):
            if value is not None and table:
                for text in _texts(value):
                    found.update(table.get(text, ()))
        nums = tuple(sorted(found))
        gates = self._gates
        if sum(gates[n] is not None for n in nums) < GATED_MIN:
            return tuple(self._items[n] for n in nums)
        gated = self._gated.get(nums)
        if gated is None:
            if len(self._gated) >= GATED_LIMIT:
                self._gated.clear()
            gated = self._gated[nums] = Gated([self._items[n] for n in nums],
                                              [gates[n] for n in nums])
        return gated

    def candidates(self, event: Event) -> tuple[T, ...]:
        """The rules ``event`` must be tested against (possibly none)."""
        key = self._key(event)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[key] = self._compute(key)
        if type(found) is tuple:
            return found
        return found.select(event)  # type: ignore[union-attr]

    def prefilter(self) -> Prefilter:
        """The test "can any rule match this event", as a plain picklable value."""
        return Prefilter(tuple(FIELD_ATTRS[f] for f in self.fields),
                         tuple(frozenset(t) for t in self._by_value), bool(self.unindexed))

    def stats(self) -> dict[str, int]:
        return {
            "indexed_values": sum(len(t) for t in self._by_value),
            "unindexed_rules": len(self.unindexed),
            "gated_rules": sum(g is not None for g in self._gates),
            "literal_filters": len(self._gated),
            "memo": len(self._memo),
        }


class Prefilter:
    """Whether an event has candidate rules in a :class:`RuleIndex` (the same test as
    :meth:`RuleIndex.candidates` being non-empty), without the rules: a plain value that
    parser processes use to send on only the events the engine can use."""

    __slots__ = ("attrs", "everything", "key", "memo", "values")

    def __init__(self, attrs: tuple[str, ...], values: tuple[frozenset[str], ...],
                 everything: bool) -> None:
        self.attrs = attrs
        self.values = values
        self.everything = everything  # an unindexed rule meets every event
        #: an event's key, and the answers known per key (for callers that inline
        #: :meth:`wants`: a missing key means "ask wants()")
        self.key = attrgetter(*attrs)
        self.memo: dict[Any, bool] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (Prefilter, (self.attrs, self.values, self.everything))

    def _compute(self, key: Any) -> bool:
        if self.everything:
            return True
        values = key if len(self.attrs) > 1 else (key,)
        for table, value in zip(self.values, values, strict=True):
            if value is not None and table and not table.isdisjoint(_texts(value)):
                return True
        return False

    def wants(self, event: Event) -> bool:
        """Whether some rule may match ``event``."""
        key = self.key(event)
        found = self.memo.get(key)
        if found is None:
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            found = self.memo[key] = self._compute(key)
        return found
