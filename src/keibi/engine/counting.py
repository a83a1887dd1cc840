"""``event_count`` and ``value_count`` correlations.

Per group: a deque of ``(time, cumulative units, value)`` entries in the window, the
running totals, and the last :data:`EVIDENCE_KEEP` events. Adding a match is O(1);
sliding pops expired entries from the left (amortised O(1)); no operation scans other
groups. A sliding group's first match, when it cannot fire alone, is held as a small
tuple (:data:`_Single`) until a second one comes: most groups never get one.

* ``gt``/``gte`` (sliding window): the rule fires as soon as the window holds more than
  (at least) N events -- or N distinct values -- and then again on every further match
  while the condition holds; each firing reports only the events not reported before, so
  a burst of 12 failures with ``gt: 5`` yields firings carrying 6, 1, 1, 1, 1, 1 events.
* ``lt``/``lte``/``eq``/``neq`` (tumbling window from a group's first event): decided
  when the window closes (event time passes start + timespan, or at the end of input);
  a group with no event has no window, so "fewer than N" needs at least one event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import msgspec

from keibi.engine.correlation import (
    MONOTONE,
    NO_MATCHES,
    CorrelationSpec,
    Correlator,
)
from keibi.engine.fields import getter
from keibi.engine.match import EVIDENCE_KEEP, EventTable, Match, hashable
from keibi.events.model import Event


class _Group:
    """Window entries ``entries[lo:]`` (list with a moving head, compacted now and then)."""

    __slots__ = ("entries", "expired", "group", "group_key", "lo", "reported", "start", "tail",
                 "total", "values")

    def __init__(self, start: float, key: tuple[Any, ...]) -> None:
        self.entries: list[tuple[float, int, Any]] = []
        self.lo = 0
        self.total = 0  # units ever added
        self.expired = 0  # units that slid out of the window
        self.reported = 0  # units already reported in a firing
        self.start = start  # tumbling: window start
        self.tail: list[tuple[int, Event]] = []  # the latest events, trimmed lazily
        self.values: dict[Any, int] | None = None
        # group-by values and their alert key, shared by this group's matches: made at
        # its first firing (most groups never fire: one failed login per address...)
        self.group: dict[str, Any] | None = None
        self.group_key: tuple[tuple[str, Any], ...] | Any = key  # the group's key until then

    def window(self) -> list[tuple[float, int, Any]]:
        return self.entries[self.lo:]

    def keep(self, total: int, events: Sequence[Event]) -> None:
        """Keep ``events`` (counted up to ``total``) as the latest, trimmed lazily."""
        tail = self.tail
        if len(events) == 1:
            tail.append((total, events[0]))
        else:
            for e in events:
                tail.append((total, e))
        if len(tail) > 2 * EVIDENCE_KEEP:
            del tail[:-EVIDENCE_KEEP]


#: a group that holds one match so far, as ``(value, match)`` (``value``: the counted
#: value of a value_count, else None): most groups never see a second match (one failed
#: login per scanning address), so they cost one small tuple until
#: :meth:`CountCorrelator._promote` turns them into a :class:`_Group` on the second
_Single = tuple[Any, Match]


class GroupState(msgspec.Struct, array_like=True):
    key: list[Any]
    entries: list[tuple[float, int, Any]]
    total: int
    expired: int
    reported: int
    start: float
    tail: list[tuple[int, int]]  # (cumulative units, event ref)


class CountState(msgspec.Struct, tag="count"):
    groups: list[GroupState]
    evictions: int


class CountCorrelator(Correlator):
    """Counts events (or distinct values of a field) per group in a window."""

    def __init__(self, spec: CorrelationSpec, max_groups: int) -> None:
        super().__init__(spec, max_groups)
        self.sliding = spec.op in MONOTONE
        self.distinct = spec.kind == "value_count"
        self.cond = spec.condition()
        self._value_getters = [None if f is None else getter(f) for f in spec.value_fields]
        # sliding gt/gte on whole counts: the condition is "measure >= fires_at"
        self._fires_at: int | None = None
        if self.sliding:
            n = spec.threshold
            self._fires_at = (math.floor(n) + 1) if spec.op == "gt" else math.ceil(n)
        # whether a group's first match is held as a :data:`_Single`: only when it
        # cannot fire alone (a group of one match measures 1)
        self._singles = self._fires_at is not None and self._fires_at > 1

    # -- window bookkeeping -----------------------------------------------------------
    def _new(self, key: tuple[Any, ...], start: float) -> _Group:
        self.make_room()
        g = self.groups[key] = _Group(start, key)
        if self.distinct:
            g.values = {}
        return g

    def _promote(self, key: tuple[Any, ...], single: _Single) -> _Group:
        """The :class:`_Group` that ``single`` stands for: its match fed to a new group
        exactly as :meth:`_feed_sliding` feeds a first match that does not fire."""
        value, match = single
        t = match.time
        g = _Group(t, key)
        g.total = match.count
        g.entries.append((t, g.total, value))
        if self.distinct:
            g.values = {value: 1}
        g.keep(g.total, match.events)
        return g

    def _named(self, g: _Group) -> None:
        """Give ``g`` its group-by values and alert key (before its first firing)."""
        g.group, g.group_key = self.group_of(g.group_key)

    def _slide(self, g: _Group, cutoff: float) -> None:
        entries, values, lo = g.entries, g.values, g.lo
        n = len(entries)
        while lo < n and entries[lo][0] <= cutoff:
            _, g.expired, v = entries[lo]
            lo += 1
            if values is not None:
                c = values[v] - 1
                if c:
                    values[v] = c
                else:
                    del values[v]
        if lo > 64 and lo * 2 > n:
            del entries[:lo]
            lo = 0
        g.lo = lo

    def _measure(self, g: _Group) -> int:
        return len(g.values) if g.values is not None else len(g.entries) - g.lo

    def _emit(self, key: tuple[Any, ...], g: _Group, time: float) -> Match:
        since = g.reported if g.reported > g.expired else g.expired
        start = time
        entries = g.entries
        i = len(entries) - 1
        lo = g.lo
        while i >= lo:
            entry = entries[i]
            if entry[1] <= since:
                break
            start = entry[0]
            i -= 1
        tail = g.tail
        if not tail:
            events: tuple[Event, ...] = ()
        elif tail[0][0] > since:
            events = tuple([e for _, e in tail[-EVIDENCE_KEEP:]])
        else:
            events = tuple([e for cum, e in tail[-EVIDENCE_KEEP:] if cum > since])
        tail.clear()  # all reported now: keep neither memory nor snapshot for them
        values = g.values
        if g.group is None:
            self._named(g)
        m = Match(self.id, time, start, g.total - since, events, g.group,
                  len(values) if values is not None else None, (), g.group_key)
        g.reported = g.total
        return m

    # -- interface --------------------------------------------------------------------
    def feeder(self, steps: tuple[int, ...]) -> Callable[[Match], Sequence[Match]]:
        if len(steps) == 1 and self._fires_at is not None:
            get1 = self._single[steps[0]]
            if get1 is not None:
                return partial(self._feed_sliding, steps, get1, self._fires_at)
        return partial(self._feed, steps)

    def feed(self, refs: Sequence[int], match: Match) -> Sequence[Match]:
        if len(refs) == 1 and self._fires_at is not None:
            get1 = self._single[refs[0]]
            if get1 is not None:
                return self._feed_sliding(refs, get1, self._fires_at, match)
        return self._feed(refs, match)

    def _feed_sliding(self, refs: Sequence[int], get1: Any, fires_at: int, match: Match
                      ) -> Sequence[Match]:
        """:meth:`_feed` for the common case, inline: one reference, a sliding window,
        the group from one field of a single-event match (others: :meth:`_feed`)."""
        events = match.events
        if match.group is not None or not events:
            return self._feed(refs, match)
        ref = refs[0]
        v = get1(events[-1])
        if v is None:
            return NO_MATCHES
        key = (v,) if type(v) is str else (hashable(v),)
        value = None
        if self.distinct:  # _value, inline (a single-event match has no group)
            get = self._value_getters[ref]
            assert get is not None
            value = get(events[-1])
            if value is None:
                return NO_MATCHES
            if type(value) is not str:
                value = hashable(value)
        groups = self.groups
        g = groups.get(key)
        t = time = match.time
        if g is None:
            if self._singles:  # a first match that cannot fire: held as a _Single
                if len(groups) >= self.max_groups:
                    self.make_room()
                groups[key] = (value, match)
                return NO_MATCHES
            g = self._new(key, t)
        else:
            if type(g) is tuple:  # the group's second match
                g = groups[key] = self._promote(key, g)
            groups.move_to_end(key)  # most recently updated last
        entries = g.entries
        lo = g.lo
        if len(entries) > lo and t < entries[-1][0]:
            t = entries[-1][0]  # late event: counts at the group's newest time
        count = match.count
        since = g.total
        total = g.total = since + count
        entries.append((t, total, value))
        values = g.values
        if values is not None:
            values[value] = values.get(value, 0) + 1
        if entries[lo][0] <= t - self.span:
            self._slide(g, t - self.span)
        measure = len(values) if values is not None else len(entries) - g.lo
        fires = measure >= fires_at
        if fires and g.reported == since and since > g.expired:
            # only this match is new (the common case while an attack goes on): what
            # _emit gives, inline; the tail holds nothing unreported (every firing
            # empties it), and this match's events are reported at once
            if g.tail:
                g.tail.clear()
            g.reported = total
            if g.group is None:
                self._named(g)
            return (Match(self.id, time, t, count, events[-EVIDENCE_KEEP:], g.group,
                          len(values) if values is not None else None, (), g.group_key),)
        g.keep(total, events)
        if not fires:
            return NO_MATCHES
        return (self._emit(key, g, time),)

    def _feed(self, refs: Sequence[int], match: Match) -> Sequence[Match]:
        out: list[Match] | None = None
        groups = self.groups
        sliding, distinct = self.sliding, self.distinct
        time = match.time
        for ref in refs:
            key = self.key(ref, match)
            if key is None:
                continue
            value = None
            if distinct:
                value = self._value(ref, match)
                if value is None:
                    continue
            g = groups.get(key)
            if type(g) is tuple:
                g = groups[key] = self._promote(key, g)
            t = time
            if sliding:
                if g is None:
                    g = self._new(key, t)
                else:
                    groups.move_to_end(key)  # most recently updated last
            else:
                if g is not None and t >= g.start + self.span:
                    out = out or []
                    out.extend(self._close(key, g))
                    g = None
                if g is None:
                    g = self._new(key, t)
            entries = g.entries
            if len(entries) > g.lo and t < entries[-1][0]:
                t = entries[-1][0]  # late event: counts at the group's newest time
            total = g.total = g.total + match.count
            entries.append((t, total, value))
            values = g.values
            if values is not None:
                values[value] = values.get(value, 0) + 1
            g.keep(total, match.events)
            if sliding:
                if entries[g.lo][0] <= t - self.span:
                    self._slide(g, t - self.span)
                if self.cond(len(values) if values is not None else len(entries) - g.lo):
                    out = out or []
                    out.append(self._emit(key, g, time))
        return out or NO_MATCHES

    def _value(self, ref: int, match: Match) -> Any:
        get = self._value_getters[ref]
        assert get is not None
        name = self.spec.value_fields[ref]
        if match.group is not None and name in match.group:
            v = match.group[name]
        elif match.events:
            v = get(match.events[-1])
        else:
            return None
        return None if v is None else hashable(v)

    def _close(self, key: tuple[Any, ...], g: _Group) -> Sequence[Match]:
        del self.groups[key]
        if len(g.entries) > g.lo and self.cond(self._measure(g)):
            return (self._emit(key, g, g.entries[-1][0]),)
        return NO_MATCHES

    def expire(self, horizon: float) -> Sequence[Match]:
        out: list[Match] = []
        groups, span = self.groups, self.span
        while groups:
            key = next(iter(groups))
            g = groups[key]
            if self.sliding:
                if (g[1].time if type(g) is tuple else g.entries[-1][0]) > horizon - span:
                    break
                del groups[key]
            else:
                if g.start + span > horizon:
                    break
                out.extend(self._close(key, g))
        return out or NO_MATCHES

    def close_all(self) -> Sequence[Match]:
        out: list[Match] = []
        if not self.sliding:
            for key, g in list(self.groups.items()):
                out.extend(self._close(key, g))
        self.groups.clear()
        return out

    def snapshot(self, table: EventTable) -> CountState:
        return CountState([self._group_state(k, g, table) for k, g in self.groups.items()],
                          self.evictions)

    def _group_state(self, key: tuple[Any, ...], g: _Group | _Single,
                     table: EventTable) -> GroupState:
        """One group as a snapshot holds it (a :data:`_Single` as the group it stands
        for: restoring makes that group, which behaves the same)."""
        if type(g) is tuple:
            g = self._promote(key, g)
        assert isinstance(g, _Group)
        return GroupState(list(key), g.window(), g.total, g.expired, g.reported, g.start,
                          [(c, table.ref(e)) for c, e in g.tail[-EVIDENCE_KEEP:]
                           if c > g.expired])

    def restore(self, state: Any, table: EventTable) -> None:
        if not isinstance(state, CountState):
            return
        self.groups.clear()
        self.evictions = state.evictions
        for gs in state.groups:
            g = self._new(hashable(gs.key), gs.start)
            g.total, g.expired, g.reported = gs.total, gs.expired, gs.reported
            for ts, cum, v in gs.entries:
                v = hashable(v)
                g.entries.append((ts, cum, v))
                if g.values is not None:
                    g.values[v] = g.values.get(v, 0) + 1
            for cum, ref in gs.tail:
                g.tail.extend((cum, e) for e in table.get([ref]))
