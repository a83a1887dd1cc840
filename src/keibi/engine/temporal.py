"""``temporal`` and ``temporal_ordered`` correlations.

Per group and per referenced rule ("step"): the time of its latest match, and the units
and evidence it contributed since the rule last fired. ``temporal`` fires when at least
N steps (default: all) matched within one timespan, in any order. ``temporal_ordered``
fires when step 0, then step 1, ... then the last step matched in that order, the last
one less than one timespan after the step-0 match that starts the chain; the chain
start kept per step is the latest possible one, so a later step-0 match only widens the
chances. A match of a later step for a group with no chain creates no state. After a
firing, further matches of the last step in the window fire again (the alert layer
merges them); each firing reports only units not reported before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import msgspec

from keibi.engine.correlation import NO_MATCHES, CorrelationSpec, Correlator
from keibi.engine.match import EVIDENCE_KEEP, EventTable, Match, hashable
from keibi.events.model import Event


class _Step:
    __slots__ = ("events", "first", "last", "units")

    def __init__(self, time: float) -> None:
        self.last = time
        self.first: float | None = None  # earliest unreported contribution
        self.units = 0
        self.events: deque[Event] = deque(maxlen=EVIDENCE_KEEP)


class _Group:
    __slots__ = ("chain", "steps")

    def __init__(self, n: int) -> None:
        self.steps: list[_Step | None] = [None] * n
        self.chain: list[float | None] = [None] * n  # ordered: latest chain start per step


class StepState(msgspec.Struct, array_like=True):
    last: float
    first: float | None
    units: int
    events: list[int]  # event refs


class TemporalGroupState(msgspec.Struct, array_like=True):
    key: list[Any]
    steps: list[StepState | None]
    chain: list[float | None]


class TemporalState(msgspec.Struct, tag="temporal"):
    groups: list[TemporalGroupState]
    evictions: int


class TemporalCorrelator(Correlator):
    def __init__(self, spec: CorrelationSpec, max_groups: int) -> None:
        super().__init__(spec, max_groups)
        self.ordered = spec.kind == "temporal_ordered"
        self.n = len(spec.refs)
        self.need = int(spec.threshold)

    def _group(self, key: tuple[Any, ...], create: bool) -> _Group | None:
        groups = self.groups
        g = groups.get(key)
        if g is None:
            if not create:
                return None
            self.make_room()
            g = groups[key] = _Group(self.n)
        else:
            groups.move_to_end(key)
        return g

    def _add(self, g: _Group, i: int, match: Match) -> None:
        t = match.time
        st = g.steps[i]
        if st is None or t - st.last >= self.span:
            st = g.steps[i] = _Step(t)
        st.last = max(st.last, t)
        if st.first is None or match.start < st.first:
            st.first = match.start
        st.units += match.count
        st.events.extend(match.events)

    def _emit(self, key: tuple[Any, ...], steps: list[_Step], trigger: _Step,
              time: float) -> Match:
        """A firing: the triggering step's new events count; the other steps' new
        events come along as context (the brute force before the login)."""
        firsts = [s.first for s in steps if s.first is not None]
        events = tuple(trigger.events)
        context = sorted((e for s in steps if s is not trigger for e in s.events),
                         key=lambda e: e.timestamp)
        m = Match(self.id, time, min(firsts, default=time), trigger.units, events,
                  self.group_values(key), context=tuple(context[-EVIDENCE_KEEP:]))
        for s in steps:
            s.units, s.first = 0, None
            s.events.clear()
        return m

    def _feed_unordered(self, key: tuple[Any, ...], i: int, match: Match) -> Match | None:
        g = self._group(key, True)
        assert g is not None
        self._add(g, i, match)
        t = match.time
        present = [s for s in g.steps if s is not None and t - s.last < self.span]
        trigger = g.steps[i]
        if len(present) >= self.need and trigger is not None:
            return self._emit(key, present, trigger, t)
        return None

    def _feed_ordered(self, key: tuple[Any, ...], i: int, match: Match) -> Match | None:
        t = match.time
        g = self._group(key, i == 0)
        if g is None:
            return None
        if i == 0:
            self._add(g, 0, match)
            g.chain[0] = t
        else:
            start = g.chain[i - 1]
            if start is None or t - start >= self.span:
                return None
            self._add(g, i, match)
            prev = g.chain[i]
            g.chain[i] = start if prev is None else max(prev, start)
        if i == self.n - 1:
            chain_start = g.chain[i]
            trigger = g.steps[i]
            assert chain_start is not None and trigger is not None
            steps = [s for s in g.steps if s is not None and s.last >= chain_start]
            return self._emit(key, steps, trigger, t)
        return None

    def only_continues(self, steps: tuple[int, ...]) -> bool:
        # an ordered chain creates no state for a later step of a group it does not hold
        # (:meth:`_feed_ordered`)
        return self.ordered and min(steps) > 0

    def passes_through(self, steps: tuple[int, ...]) -> bool:
        return self.need == 1 and not self.ordered and len(steps) == 1  # _feed_union

    def feeder(self, steps: tuple[int, ...]) -> Callable[[Match], Sequence[Match]]:
        if len(steps) == 1:
            if self.passes_through(steps):
                return partial(self._feed_union, steps[0])
            if self.ordered:
                if steps[0] == 0 and self.n > 1:
                    return self._feed_first
                return partial(self._feed_one_ordered, steps[0])
        return partial(self._feed_steps, steps)

    def _feed_one_ordered(self, i: int, match: Match) -> Sequence[Match]:
        """:meth:`_feed_steps` for one step of an ordered chain."""
        key = self.key(i, match)
        if key is None:
            return NO_MATCHES
        m = self._feed_ordered(key, i, match)
        return NO_MATCHES if m is None else (m,)

    def _feed_first(self, match: Match) -> Sequence[Match]:
        """:meth:`_feed_one_ordered` for the first step of a chain of several, inline:
        it starts (or restarts) the group's chain and never fires."""
        key = self.key(0, match)
        if key is None:
            return NO_MATCHES
        groups = self.groups
        g = groups.get(key)
        if g is None:
            self.make_room()
            g = groups[key] = _Group(self.n)
        else:
            groups.move_to_end(key)
        self._add(g, 0, match)
        g.chain[0] = match.time
        return NO_MATCHES

    def feed(self, refs: Sequence[int], match: Match) -> Sequence[Match]:
        if self.need == 1 and not self.ordered and len(refs) == 1:
            return self._feed_union(refs[0], match)
        return self._feed_steps(refs, match)

    def _feed_steps(self, refs: Sequence[int], match: Match) -> Sequence[Match]:
        out: list[Match] = []
        # later steps first, so one match never completes two steps of one chain
        for i in (refs if len(refs) == 1 else sorted(refs, reverse=True)):
            key = self.key(i, match)
            if key is None:
                continue
            m = (self._feed_ordered if self.ordered else self._feed_unordered)(key, i, match)
            if m is not None:
                out.append(m)
        return out or NO_MATCHES

    def _feed_union(self, ref: int, match: Match) -> Sequence[Match]:
        """``temporal`` with at least 1 step (a union of rules under one group name, as
        aliases give): every match fires alone, as :meth:`_feed_unordered` would fire it.
        There, each firing resets every step's units, start and evidence, so no step
        ever brings context to the next one and the group state changes nothing: none is
        kept."""
        key = self.key(ref, match)
        if key is None:
            return NO_MATCHES
        events = match.events
        return (Match(self.id, match.time, match.start, match.count,
                      tuple(events[-EVIDENCE_KEEP:]) if len(events) > EVIDENCE_KEEP
                      else events, self.group_values(key)),)

    def expire(self, horizon: float) -> Sequence[Match]:
        groups, cutoff = self.groups, horizon - self.span
        while groups:
            key = next(iter(groups))
            if any(s is not None and s.last > cutoff for s in groups[key].steps):
                break
            del groups[key]
        return NO_MATCHES

    def close_all(self) -> Sequence[Match]:
        self.groups.clear()
        return NO_MATCHES

    def snapshot(self, table: EventTable) -> TemporalState:
        return TemporalState([
            TemporalGroupState(
                list(k),
                [None if s is None else StepState(s.last, s.first, s.units,
                                                  table.refs(s.events))
                 for s in g.steps],
                list(g.chain))
            for k, g in self.groups.items()], self.evictions)

    def restore(self, state: Any, table: EventTable) -> None:
        if not isinstance(state, TemporalState):
            return
        self.groups.clear()
        self.evictions = state.evictions
        for gs in state.groups:
            if len(gs.steps) != self.n:
                continue
            g = self._group(hashable(gs.key), True)
            assert g is not None
            for i, ss in enumerate(gs.steps):
                if ss is not None:
                    st = g.steps[i] = _Step(ss.last)
                    st.first, st.units = ss.first, ss.units
                    st.events.extend(table.get(ss.events))
            g.chain = list(gs.chain)
