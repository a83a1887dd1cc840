"""Route each event only to the rules that can match it.

Every compiled rule knows the literal values its condition requires for some fields
(:func:`keibi.engine.ir.requirements`). The index files a rule under the FIRST of
:data:`INDEX_FIELDS` it has a requirement for (``event.action`` is the most selective,
then ``event.dataset``, ``process.name``, and the list field ``event.category``: rules
about process starts often name only a category and a program); rules with none of them
are "unindexed" and meet every event. An event's candidates are the rules filed under
its own values (any element, for a list field) that it also holds a required value of
every other index field for (a rule filed under its action may require its dataset and
category too), plus the unindexed ones, in rule order. Candidate lists are memoised per
distinct combination of those values, so an event that no rule can match costs one
tuple and one dict lookup. :attr:`RuleIndex.candidates` is a generated function reading
the key's fields as plain attribute reads (an ``attrgetter`` call costs more than the
whole memo lookup); a key with an unhashable value (a list where events hold a tuple)
is computed each time, never remembered.

Values are compared as the predicates compare them (:func:`keibi.engine.values.as_text`,
lower-cased), so the index never hides a rule from an event it could match.

Within a candidate list, rules with a literal gate (:mod:`keibi.engine.literals`: strings
one of which every matching event holds, e.g. ``Image`` ending in ``/curl``, or several
such conditions ANDed) sit behind a selector of the index's one
:class:`~keibi.engine.literals.LiteralFilter`, generated for the fields that list's
gates read: an event meets a gated rule only when the rule's gate holds (for lists with
at least :data:`GATED_MIN` gated rules; a few rules are cheaper to test than to filter).
Every selector shares the filter's per-field answers, and remembers the candidates per
set of clauses that hold; a key's selector is bound to the answer of the key's own fields
(:meth:`~keibi.engine.literals.LiteralFilter.bind`), and where it reads attribute texts
only (an auth or syslog event's message) remembers its answer per tuple of their values.
This is what keeps the per-event cost nearly flat as SigmaHQ-style rules (same category,
different programs and command lines) are added.

A key fixes the values of all index fields for its events, so a candidate every event
of the key meets (ungated, or gated on the key's fields only: keibi's chain steps such as
"any process started", the sshd login rules) is worth specialising to them: the index
hands it to ``specialize`` once per key (the engine's
:class:`~keibi.engine.specialize.Specializer`: its tests of those fields answered and
folded away, or the rule dropped from the key when they fail). When such a rule tests
``event.outcome`` or ``event.type`` (:data:`SPECIALIZED_FIELDS`), those join the key:
no rule is filed under them, but they split a login key into its successes and
failures, so "SSH failed login" is not even tried on a success, and "any process
started" (not a failure) runs as a constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

from keibi.engine.ir import Requirements
from keibi.engine.literals import Clauses, Gate, LiteralFilter
from keibi.engine.values import as_text
from keibi.events.model import FIELD_ATTRS, Event

T = TypeVar("T")
#: an event -> the candidates to test (a candidate list behind its literal gates)
Selector = Callable[..., tuple[T, ...]]
#: what a key routes to: (its selector, None), or (None, its candidates)
Routed = tuple[Selector[T], None] | tuple[None, tuple[T, ...]]


class Specializer(Protocol[T]):
    """Items specialised to the values of a key's fields (index fields, and the
    :data:`SPECIALIZED_FIELDS` where the item tests them)."""

    def __call__(self, item: T, known: dict[str, Any], /) -> T | None:
        """``item`` for the events whose fields ``known`` hold those values (None: it
        matches none of them)."""

    def tests(self, item: T, /) -> frozenset[str]:
        """The fields ``item`` tests (those worth knowing)."""

INDEX_FIELDS: tuple[str, ...] = ("event.action", "event.dataset", "process.name",
                                 "event.category")
#: fields a key holds besides the index fields when candidates are specialised: no rule
#: is filed by them, but they are fixed per key
SPECIALIZED_FIELDS: tuple[str, ...] = ("event.outcome", "event.type")
MEMO_LIMIT = 4096
#: distinct candidate lists with a selector kept (each one is a generated function)
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


#: the index fields a rule requires values of: (position in the key, values), ...
Required = tuple[tuple[int, frozenset[str]], ...]


def _meets(required: Required, texts: Sequence[set[str] | None]) -> bool:
    """Whether an event whose key has ``texts`` (per index field; None: no value) holds
    one required value of every required field."""
    for i, values in required:
        text = texts[i]
        if text is None or text.isdisjoint(values):
            return False
    return True


class RuleIndex(Generic[T]):
    """Items (rules, or whatever runs them) filed by the values their rules require.

    ``entries`` pairs each item with its rule's requirements
    (:attr:`keibi.engine.compile.CompiledRule.requires`); :attr:`candidates` (``event``
    -> the items it must be tested against, possibly none) keeps entry order.
    ``gates``, when given, holds each entry's literal gate
    (:attr:`keibi.engine.compile.CompiledRule.gate`, None: ungated) or clauses
    (:attr:`keibi.engine.compile.CompiledRule.clauses`, empty: ungated).
    """

    def __init__(self, entries: Sequence[tuple[Requirements, T]],
                 fields: tuple[str, ...] = INDEX_FIELDS,
                 gates: Sequence[Gate | Clauses] | None = None,
                 specialize: Specializer[T] | None = None) -> None:
        if not fields or any(f not in FIELD_ATTRS for f in fields):
            raise ValueError("index fields must be Event attribute fields")
        self.fields = fields
        self._by_value: list[dict[str, list[int]]] = [{} for _ in fields]
        self._items = [item for _, item in entries]
        self.unindexed: list[int] = []
        #: per entry: every index field it requires values of (position, the values)
        self._requires: list[Required] = []
        for n, (requires, _) in enumerate(entries):
            required = tuple((i, frozenset(requires[f])) for i, f in enumerate(fields)
                             if f in requires)
            self._requires.append(required)
            if required:
                i, values = required[0]
                for v in values:
                    self._by_value[i].setdefault(v, []).append(n)
            else:
                self.unindexed.append(n)
        if gates is not None and len(gates) != len(entries):
            raise ValueError("one gate per entry")
        self._gated_entries = [bool(g) for g in gates] if gates is not None else [
            False] * len(entries)
        # one filter over every gate: its per-field answers serve every candidate list
        self._filter = LiteralFilter(gates if gates is not None else [None] * len(entries),
                                     routed=fields)
        # the entries every event of a key meets (ungated, or gated by the key's own
        # fields only): worth an item specialised to the key (``specialize``)
        self._specialize = specialize
        own = set(fields)
        self._steady = frozenset(n for n in range(len(entries)) if not self._gated_entries[n]
                                 or self._filter.reads(n) <= own)
        #: the fields of a key: the index fields, then those of :data:`SPECIALIZED_FIELDS`
        #: a steady entry tests (reading them costs every event; only then is it worth it)
        tested = set().union(*(specialize.tests(self._items[n]) for n in self._steady)
                             ) if specialize is not None else set()
        self.key_fields = (*fields, *(f for f in SPECIALIZED_FIELDS
                                      if f in tested and f not in fields))
        # a candidate list's selector, shared by the keys that have that list (by the
        # identity of its items: a specialised item is another object)
        self._gated: dict[tuple[tuple[int, ...], tuple[int, ...]], Selector[T]] = {}
        #: key -> (its selector, None) or (None, its candidates)
        self._memo: dict[Any, Routed[T]] = {}
        self.candidates: Callable[[Event], tuple[T, ...]] = self._candidates_function()

    def _candidates_function(self) -> Callable[[Event], tuple[T, ...]]:
        """The function behind :attr:`candidates`: the key read attribute by attribute
        (plain attribute reads: an ``attrgetter`` costs more than the rest of the lookup),
        then the memo; a missing key is computed (and remembered), an unhashable one (a
        list where a tuple belongs) computed each time."""
        attrs = [FIELD_ATTRS[f] for f in self.key_fields]
        assert all(a.isidentifier() for a in attrs)
        lines = ["def candidates(e):",
                 f"    k = ({', '.join(f'e.{a}' for a in attrs)},)",
                 "    try:",
                 "        s, r = MEMO[k]",
                 "    except KeyError:",
                 "        s, r = REMEMBER(k)",
                 "    except TypeError:  # an unhashable value",
                 "        s, r = COMPUTE(k)",
                 "    if s is None:",
                 "        return r",
                 "    return s(e)"]
        ns: dict[str, Any] = {"MEMO": self._memo, "REMEMBER": self._remember,
                              "COMPUTE": self._compute}
        exec(compile("\n".join(lines), "<keibi-index>", "exec"), ns)
        fn: Callable[[Event], tuple[T, ...]] = ns["candidates"]
        fn.__doc__ = "The rules ``e`` must be tested against (possibly none)."
        return fn

    def _remember(self, key: tuple[Any, ...]) -> Routed[T]:
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        found = self._memo[key] = self._compute(key, remembered=True)
        return found

    def _items_for(self, nums: tuple[int, ...], key: tuple[Any, ...],
                   ) -> tuple[tuple[int, ...], list[T]]:
        """Candidates ``nums`` of a remembered ``key``, each steady one specialised to
        its values (dropped, when it cannot match them)."""
        specialize = self._specialize
        if specialize is None:
            return nums, [self._items[n] for n in nums]
        known = dict(zip(self.key_fields, key, strict=True))
        kept: list[int] = []
        items: list[T] = []
        for n in nums:
            item = self._items[n]
            if n in self._steady:
                special = specialize(item, known)
                if special is None:  # it cannot match this key's events
                    continue
                item = special
            kept.append(n)
            items.append(item)
        return tuple(kept), items

    def _compute(self, key: tuple[Any, ...], remembered: bool = False) -> Routed[T]:
        values = key[:len(self.fields)]  # the index fields'
        texts = [None if v is None else _texts(v) for v in values]
        found = set(self.unindexed)
        for table, text in zip(self._by_value, texts, strict=True):
            if text is not None and table:
                for t in text:
                    found.update(table.get(t, ()))
        # a rule filed under one value may require others, of other index fields
        requires = self._requires
        nums = tuple(sorted(n for n in found if _meets(requires[n], texts)))
        # a key computed each time (unhashable) is not worth specialising for
        if remembered:
            nums, items = self._items_for(nums, key)
        else:
            items = [self._items[n] for n in nums]
        if sum(self._gated_entries[n] for n in nums) < GATED_MIN:
            return None, tuple(items)
        ids = (nums, tuple(map(id, items)))  # the cached selector keeps its items alive
        gated = self._gated.get(ids)
        if gated is None:
            if len(self._gated) >= GATED_LIMIT:
                self._gated.clear()
            gated = self._gated[ids] = self._filter.selector(items, nums, known=self.fields)
        # the key's own fields are the same for all its events: their answer once, here
        known = 0
        for f, v in zip(self.fields, values, strict=True):
            known |= self._filter.value_mask(f, v)
        return self._filter.bind(gated, known), None

    def prefilter(self) -> Prefilter:
        """The test "can any rule match this event", as a plain picklable value."""
        return Prefilter(tuple(FIELD_ATTRS[f] for f in self.fields),
                         tuple(frozenset(t) for t in self._by_value), bool(self.unindexed),
                         tuple(sorted({r for r in self._requires if r}, key=repr)))

    def stats(self) -> dict[str, int]:
        return {
            "indexed_values": sum(len(t) for t in self._by_value),
            "unindexed_rules": len(self.unindexed),
            "gated_rules": sum(self._gated_entries),
            "literal_filters": len(self._gated),
            "memo": len(self._memo),
        }


class Prefilter:
    """Whether an event has candidate rules in a :class:`RuleIndex` (the same test as
    :meth:`RuleIndex.candidates` being non-empty, before specialising: a specialised
    index may still drop every candidate of a key), without the rules: a plain value that
    parser processes use to send on only the events the engine can use.

    ``values`` holds, per index field, the values rules are filed under; ``requires``
    (when given) every indexed rule's required values of all index fields, which makes
    the test exact. Without it an event is wanted when it has one value some rule is
    filed under (a superset: never an event a rule could match is left out).
    """

    __slots__ = ("attrs", "everything", "key", "memo", "requires", "values")

    def __init__(self, attrs: tuple[str, ...], values: tuple[frozenset[str], ...],
                 everything: bool, requires: tuple[Required, ...] | None = None) -> None:
        self.attrs = attrs
        self.values = values
        self.everything = everything  # an unindexed rule meets every event
        self.requires = requires
        #: an event's key, and the answers known per key (for callers that inline
        #: :meth:`wants`: a missing key means "ask wants()")
        self.key = attrgetter(*attrs)
        self.memo: dict[Any, bool] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (Prefilter, (self.attrs, self.values, self.everything, self.requires))

    def _compute(self, key: Any) -> bool:
        if self.everything:
            return True
        values = key if len(self.attrs) > 1 else (key,)
        texts = [None if v is None else _texts(v) for v in values]
        if self.requires is not None:
            return any(_meets(r, texts) for r in self.requires)
        for table, text in zip(self.values, texts, strict=True):
            if text is not None and table and not table.isdisjoint(text):
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
