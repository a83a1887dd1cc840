"""Sigma v2 correlation rules: what a correlation asks for, and the shared machinery.

A correlation rule (``event_count``, ``value_count``, ``temporal``,
``temporal_ordered``) watches the matches of the rules it refers to, per group (the
``group-by`` values), over a sliding window of ``timespan`` in EVENT time. Referenced
rules may be correlations themselves. This module turns a rule into a
:class:`CorrelationSpec` and holds the base :class:`Correlator` (groups, the cap on
their number with counted evictions, keys); :mod:`keibi.engine.counting` and
:mod:`keibi.engine.temporal` hold the two kinds of state.

Semantics shared by all kinds (documented once, here):

* a window holds events whose time is > (latest time - timespan): events exactly one
  timespan apart are NOT in the same window;
* an event missing any group-by field is not counted (no "null" group);
* a late event (older than the newest one of its group) counts at the newest time;
* at most ``max_groups`` groups per rule; the least recently updated is evicted first,
  and every eviction is counted (``stats()["evictions"]``).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.rule import SigmaRule

from keibi.engine.compile import NotEvaluable
from keibi.engine.fields import Unmapped, getter, log_source, map_field
from keibi.engine.match import EventTable, Match, hashable
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule

SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")
DEFAULT_MAX_GROUPS = 100_000

OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}
#: conditions decided as soon as they hold; the others only when a window closes
MONOTONE = frozenset({"gt", "gte"})


@dataclass(frozen=True, eq=False)
class CorrelationSpec:
    """A correlation rule, checked and with its field names resolved per referenced rule."""

    rule: LoadedRule
    kind: str
    refs: tuple[str, ...]  # referenced rule ids, in order
    group_by: tuple[str, ...]  # group-by names as the rule writes them
    # per referenced rule: (name to look up in a nested correlation's group, event field)
    group_fields: tuple[tuple[tuple[str, str], ...], ...]
    value_fields: tuple[str | None, ...]  # value_count: the event field, per ref
    timespan: float
    op: str
    threshold: float

    @property
    def id(self) -> str:
        return self.rule.id

    def condition(self) -> Callable[[float], bool]:
        cmp, threshold = OPS[self.op], self.threshold
        return lambda n: cmp(n, threshold)


def _event_field(ref: LoadedRule, name: str) -> str:
    if isinstance(ref.sigma, SigmaRule):
        ls = ref.sigma.logsource
        try:
            return map_field(log_source(ls.category, ls.product, ls.service), name).target
        except Unmapped as exc:
            raise NotEvaluable(f"group-by/field of {ref.id}: {exc}") from None
    return name


def _alias(rule: SigmaCorrelationRule, name: str, ref: LoadedRule) -> str:
    alias = rule.aliases.aliases.get(name)
    if alias is None:
        return name
    for reference, field in alias.mapping.items():
        if reference.reference in (ref.id, ref.name):
            return field
    raise NotEvaluable(f"alias '{name}' has no field for rule {ref.id}")


def compile_correlation(rule: LoadedRule) -> CorrelationSpec:
    """Check a correlation rule; raises :class:`NotEvaluable` with the reason."""
    s = rule.sigma
    if not isinstance(s, SigmaCorrelationRule):
        raise NotEvaluable("not a correlation rule")
    kind = s.type.name.lower()
    if kind not in SUPPORTED:
        raise NotEvaluable(f"correlation type '{kind}' not supported")
    cond = s.condition
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        raise NotEvaluable("boolean (extended) correlation conditions not supported")
    op, threshold = cond.op.name.lower(), float(cond.count)
    if op not in OPS:
        raise NotEvaluable(f"correlation condition '{op}' not supported")
    if not rule.refs:
        raise NotEvaluable("correlation without referenced rules")
    if kind.startswith("temporal"):
        n = len(rule.refs)
        if op != "gte" or not 1 <= threshold <= n or (kind == "temporal_ordered"
                                                       and threshold != n):
            raise NotEvaluable(f"{kind} condition must be 'gte' up to the number of rules")
    group_by = tuple(s.group_by or ())
    group_fields = []
    value_fields: list[str | None] = []
    fieldref = cond.fieldref
    if kind == "value_count" and not isinstance(fieldref, str):
        raise NotEvaluable("value_count needs exactly one field")
    for ref in rule.refs:
        names = [_alias(s, g, ref) for g in group_by]
        group_fields.append(tuple((n, _event_field(ref, n)) for n in names))
        value_fields.append(_event_field(ref, _alias(s, fieldref, ref))
                            if isinstance(fieldref, str) else None)
    return CorrelationSpec(
        rule=rule, kind=kind, refs=tuple(r.id for r in rule.refs), group_by=group_by,
        group_fields=tuple(group_fields), value_fields=tuple(value_fields),
        timespan=float(s.timespan.seconds), op=op, threshold=threshold)


NO_MATCHES: tuple[Match, ...] = ()


class Correlator:
    """Base: per-group state in a dict kept in least-recently-updated order."""

    def __init__(self, spec: CorrelationSpec, max_groups: int = DEFAULT_MAX_GROUPS) -> None:
        self.spec = spec
        self.id = spec.id
        self.span = spec.timespan
        self.max_groups = max(1, max_groups)
        self.evictions = 0
        # OrderedDict, not dict: popping the oldest and moving to the end stay O(1)
        # (a plain dict used as a queue rescans its deleted slots on every pop)
        self.groups: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._fields = [[(name, getter(f)) for name, f in fields]
                        for fields in spec.group_fields]
        self._single = [fields[0][1] if len(fields) == 1 else None for fields in self._fields]
        # the one group-by name per reference (else None): the key of a correlation's
        # match (which carries its group) is then that group value alone
        self._single_name = [fields[0][0] if len(fields) == 1 else None
                             for fields in self._fields]

    def key(self, ref: int, match: Match) -> tuple[Any, ...] | None:
        """The group key of ``match`` from referenced rule ``ref`` (None: not counted)."""
        group = match.group
        if group is None:
            get1 = self._single[ref]
            if get1 is not None:  # the common case: one field of a single event
                events = match.events
                if not events:
                    return None
                v = get1(events[-1])
                if v is None:
                    return None
                return (v,) if type(v) is str else (hashable(v),)
        else:
            name1 = self._single_name[ref]
            if name1 is not None and name1 in group:  # one field, from the group
                v = group[name1]
                if v is None:
                    return None
                return (v,) if type(v) is str else (hashable(v),)
        event = match.events[-1] if match.events else None
        out = []
        for name, get in self._fields[ref]:
            if group is not None and name in group:
                v = group[name]
            elif event is not None:
                v = get(event)
            else:
                return None
            if v is None:
                return None
            out.append(v if type(v) is str else hashable(v))
        return tuple(out)

    def group_values(self, key: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self.spec.group_by, key, strict=True))

    def group_of(self, key: tuple[Any, ...]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
        """The group-by values of ``key`` and their alert key (see ``Match.group_key``),
        computed once per group: matches of one group share them (read-only)."""
        group = self.group_values(key)
        return group, tuple((k, hashable(v)) for k, v in group.items())

    def make_room(self) -> None:
        """Evict the least recently updated group when at the cap."""
        while len(self.groups) >= self.max_groups:
            self.groups.popitem(last=False)
            self.evictions += 1

    def only_continues(self, steps: tuple[int, ...]) -> bool:
        """Whether matches fed at ``steps`` can only continue state this correlation
        already holds: while it holds no group, such a match changes nothing."""
        return False

    def passes_through(self, steps: tuple[int, ...]) -> bool:
        """Whether a match fed at ``steps`` fires this correlation at once, alone, and
        leaves no state (:meth:`fires_for` tells whether it fires)."""
        return False

    def fires_for(self, step: int, event: Event) -> bool:
        """For a pass-through correlation: whether a single-event match of ``event`` at
        ``step`` fires it (it has every group-by field)."""
        get1 = self._single[step]
        if get1 is not None:  # :meth:`key`, for one field
            return get1(event) is not None
        return self.key(step, Match.single("", event)) is not None

    def feeder(self, steps: tuple[int, ...]) -> Callable[[Match], Sequence[Match]]:
        """:meth:`feed` for matches at ``steps`` as one function of the match: the most
        direct path for those steps, chosen once (the engine calls it per match)."""
        return partial(self.feed, steps)

    # -- the interface every kind implements ------------------------------------------
    def feed(self, refs: Sequence[int], match: Match) -> Sequence[Match]:
        raise NotImplementedError

    def expire(self, horizon: float) -> Sequence[Match]:
        """Drop state that can no longer matter at event time ``horizon``."""
        raise NotImplementedError

    def close_all(self) -> Sequence[Match]:
        """End of input: decide every open window, drop all state."""
        raise NotImplementedError

    def snapshot(self, table: EventTable) -> Any:
        """All state as msgspec structs; events go into ``table``."""
        raise NotImplementedError

    def restore(self, state: Any, table: EventTable) -> None:
        raise NotImplementedError


def make_correlator(spec: CorrelationSpec, max_groups: int = DEFAULT_MAX_GROUPS) -> Correlator:
    """The correlator for a spec."""
    from keibi.engine.counting import CountCorrelator
    from keibi.engine.temporal import TemporalCorrelator

    if spec.kind in ("event_count", "value_count"):
        return CountCorrelator(spec, max_groups)
    return TemporalCorrelator(spec, max_groups)
