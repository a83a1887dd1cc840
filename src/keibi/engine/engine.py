"""The detection engine: events in, alert updates out.

``Engine(rules)`` compiles the rules it can evaluate (the others are listed in
:attr:`Engine.not_evaluable` with the reason), files the single-event rules in an index,
wires each rule to the correlations that refer to it, and turns matches of alerting
rules into alerts (:mod:`keibi.alerts.grouping`).

Time: correlation windows run on event time. Every ``housekeeping`` seconds of event
time, state older than ``min(clock.now(), newest event time)`` is expired (amortised:
oldest groups first, stopping at the first live one). :meth:`advance` does the same on
demand; when no event arrived since the previous call it expires up to ``now`` itself,
which is how the live agent closes windows while the host is quiet.

:meth:`snapshot` / :meth:`restore` carry all of it (correlation groups, open alerts,
counters) as msgpack bytes, so the agent can commit engine state together with source
offsets and replay after a crash into identical alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from keibi.alerts.grouping import AlertGrouper, AlertRule, AlertUpdate, GrouperState
from keibi.engine.clock import Clock, EventClock
from keibi.engine.compile import CompiledRule, NotEvaluable, compile_rule
from keibi.engine.correlation import (
    DEFAULT_MAX_GROUPS,
    Correlator,
    compile_correlation,
    make_correlator,
)
from keibi.engine.counting import CountState
from keibi.engine.index import Prefilter, RuleIndex
from keibi.engine.match import EventTable, Match
from keibi.engine.specialize import Specializer
from keibi.engine.temporal import TemporalState
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule

__all__ = ["AlertUpdate", "Engine"]

STATE_VERSION = 2
#: a correlation's feed for matches at some steps (:meth:`Correlator.feeder`)
Feed = Callable[[Match], Sequence[Match]]
DEFAULT_HOUSEKEEPING = 60.0


class _Node:
    """A runnable rule: counters, alerting, and the correlations fed by its matches.

    ``consumers`` holds, per correlation fed: the correlation, the steps this rule is in
    it, whether it only continues chains (a ``temporal_ordered`` correlation that
    this rule feeds at later steps only: while it holds no group at all, a match changes
    nothing there), and the function that feeds it a match at those steps
    (:meth:`Correlator.feeder`). ``waits`` (None unless this rule does not alert and every consumer
    only continues chains, directly or through a pass-through correlation) lists those
    correlations: while none holds a group, a match of this rule only counts. A
    pass-through correlation (:meth:`Correlator.passes_through`: a stateless union
    such as ``temporal`` with one step needed) fires once for each match it can group,
    so when its own rule does not alert and only continues chains, feeding it changes
    nothing either; ``passes`` lists (correlation, step, its node) for those, whose
    match counters move as feeding them would have moved them.
    """

    __slots__ = ("alert", "consumers", "id", "matches", "passes", "waits")

    def __init__(self, rule_id: str, alert: AlertRule | None) -> None:
        self.id = rule_id
        self.alert = alert
        self.consumers: list[tuple[Correlator, tuple[int, ...], bool, Feed]] = []
        self.matches = 0
        self.waits: tuple[Correlator, ...] | None = None
        self.passes: tuple[tuple[Correlator, int, _Node], ...] = ()

    def settle(self) -> None:
        """Mark the consumers that only continue chains (once every rule is wired)."""
        self.consumers = [(c, steps, c.only_continues(steps), c.feeder(steps))
                          for c, steps, _, _ in self.consumers]
        if self.alert is None and all(only for _, _, only, _ in self.consumers):
            self.waits = tuple(c for c, _, _, _ in self.consumers)

    def settle_passes(self, nodes: dict[str, _Node]) -> None:
        """Wait through pass-through correlations too (after every node's :meth:`settle`):
        one level deep, onto rules that wait themselves."""
        if self.alert is not None or self.waits is not None or not self.consumers:
            return
        waits: list[Correlator] = []
        passes: list[tuple[Correlator, int, _Node]] = []
        for corr, steps, only, _ in self.consumers:
            if only:
                waits.append(corr)
                continue
            target = nodes[corr.id]
            if (len(steps) != 1 or not corr.passes_through(steps) or target.waits is None
                    or target.passes):
                return
            waits.extend(target.waits)
            passes.append((corr, steps[0], target))
        self.waits, self.passes = tuple(waits), tuple(passes)


class EngineState(msgspec.Struct):
    version: int
    watermark: float
    next_housekeeping: float
    events: int
    matches: dict[str, int]
    correlations: dict[str, CountState | TemporalState]
    alerts: GrouperState
    evidence: list[Event]  # every event the state holds, once; the rest refer by index


def _closure(rules: Iterable[LoadedRule]) -> list[LoadedRule]:
    out: list[LoadedRule] = []
    seen: set[int] = set()
    for rule in rules:
        for r in rule.closure():
            if id(r) not in seen:
                seen.add(id(r))
                out.append(r)
    return out


class Engine:
    """Single-event rules, correlations and alert grouping over a stream of events.

    ``specialize`` (on by default) lets the index hand the engine each rule that every
    event of an index key meets with its tests of the key's fields answered
    (:mod:`keibi.engine.specialize`); off, every candidate runs its own predicate (the
    reference the specialised engine is tested against).
    """

    def __init__(self, rules: Iterable[LoadedRule], clock: Clock | None = None, *,
                 max_groups: int = DEFAULT_MAX_GROUPS,
                 max_closed_alerts: int | None = None,
                 housekeeping: float = DEFAULT_HOUSEKEEPING,
                 updates: bool = True, specialize: bool = True) -> None:
        self.clock: Clock = clock or EventClock()
        self.housekeeping = housekeeping
        #: rule id -> why it cannot be evaluated
        self.not_evaluable: dict[str, str] = {}
        self.rules: list[LoadedRule] = []
        self._nodes: dict[str, _Node] = {}
        self._correlators: dict[str, Correlator] = {}
        compiled: list[tuple[CompiledRule, _Node]] = []
        alert_rules: list[AlertRule] = []
        for rule in _closure(rules):
            if rule.id in self._nodes or rule.id in self.not_evaluable:
                continue
            try:
                runnable = self._compile(rule, max_groups)
            except NotEvaluable as exc:
                self.not_evaluable[rule.id] = str(exc)
                continue
            alert = AlertRule.of(rule) if rule.alerts else None
            if alert is not None:
                alert_rules.append(alert)
            node = self._nodes[rule.id] = _Node(rule.id, alert)
            if isinstance(runnable, CompiledRule):
                compiled.append((runnable, node))
            else:
                self._correlators[rule.id] = runnable
                for step, ref in enumerate(rule.refs):
                    self._wire(ref.id, runnable, step)
            self.rules.append(rule)
        for node in self._nodes.values():
            node.settle()
        for node in self._nodes.values():
            node.settle_passes(self._nodes)
        self._index = RuleIndex([(cr.requires, (cr.predicate, node)) for cr, node in compiled],
                                gates=[cr.clauses for cr, _ in compiled],
                                specialize=Specializer({node: cr.ir for cr, node in compiled})
                                if specialize else None)
        self._candidates = self._index.candidates
        kw = {} if max_closed_alerts is None else {"max_closed": max_closed_alerts}
        self._grouper = AlertGrouper(alert_rules, **kw, updates=updates)
        self._watermark = -math.inf
        self._next_hk = -math.inf
        self._busy = False
        self._events = 0

    def _compile(self, rule: LoadedRule, max_groups: int) -> CompiledRule | Correlator:
        """The runnable form of ``rule`` (its references are compiled before it)."""
        bad = [r.id for r in rule.refs if r.id not in self._nodes]
        if bad:
            why = self.not_evaluable.get(bad[0], "not loaded")
            raise NotEvaluable(f"refers to {bad[0]}, which is not evaluable: {why}")
        if rule.is_correlation:
            return make_correlator(compile_correlation(rule), max_groups)
        return compile_rule(rule)

    def _wire(self, ref_id: str, corr: Correlator, step: int) -> None:
        node = self._nodes[ref_id]
        for i, (c, steps, _, feed) in enumerate(node.consumers):
            if c is corr:
                node.consumers[i] = (c, (*steps, step), False, feed)
                return
        node.consumers.append((corr, (step,), False, corr.feeder((step,))))

    # -- the data path ----------------------------------------------------------------
    def process(self, event: Event) -> list[AlertUpdate]:
        """Run ``event`` through every rule that can match it."""
        self._events += 1
        self._busy = True
        out: list[AlertUpdate] = []
        ts = event.timestamp
        if ts > self._watermark:
            self._watermark = ts
            if ts >= self._next_hk:
                self._housekeep(min(self.clock.now(), ts), out)
        for predicate, node in self._candidates(event):
            if predicate(event):
                waits = node.waits
                if waits is not None:
                    for corr in waits:
                        if corr.groups:
                            break
                    else:  # no chain to continue: the match only counts
                        node.matches += 1
                        for corr, step, target in node.passes:
                            if corr.fires_for(step, event):
                                target.matches += 1
                        continue
                self._matched(node, Match(node.id, ts, ts, 1, (event,)), out)
        return out

    def observe(self, ts: float) -> list[AlertUpdate]:
        """Time passes as an event at ``ts`` tells it, for an event no rule can match:
        exactly what :meth:`process` does with such an event, without the event."""
        self._events += 1
        self._busy = True
        out: list[AlertUpdate] = []
        if ts > self._watermark:
            self._watermark = ts
            if ts >= self._next_hk:
                self._housekeep(min(self.clock.now(), ts), out)
        return out

    def observe_times(self, times: Iterable[float]) -> list[AlertUpdate]:
        """:meth:`observe` for each of ``times`` in order."""
        out: list[AlertUpdate] = []
        n = 0
        for ts in times:
            n += 1
            if ts > self._watermark:
                self._watermark = ts
                if ts >= self._next_hk:
                    self._housekeep(min(self.clock.now(), ts), out)
        if n:
            self._events += n
            self._busy = True
        return out

    def process_batch(self, events: Sequence[Event], ticks: Sequence[float] | None = None,
                      cuts: Sequence[int] | None = None) -> list[AlertUpdate]:
        """:meth:`process` for each of ``events``; with ``ticks``, ``cuts[i]`` of them are
        passed to :meth:`observe` before ``events[i]`` (in order; the rest after the last):
        what an offline reader sends for the events no rule can match."""
        out: list[AlertUpdate] = []
        process = self.process
        if ticks is None or cuts is None:
            for ev in events:
                out += process(ev)
            return out
        j = 0
        for ev, cut in zip(events, cuts, strict=True):
            if cut > j:
                wm = self._watermark
                while j < cut:
                    ts = ticks[j]
                    j += 1
                    if ts > wm:
                        wm = self._watermark = ts
                        if ts >= self._next_hk:
                            self._housekeep(min(self.clock.now(), ts), out)
            out += process(ev)
        self._events += j
        if j < len(ticks):
            out += self.observe_times(ticks[j:])
        return out

    def prefilter(self) -> Prefilter:
        """Which events some rule can match (a plain value: it travels to other processes);
        any other event only tells the time (:meth:`observe`)."""
        return self._index.prefilter()

    def _matched(self, node: _Node, match: Match, out: list[AlertUpdate]) -> None:
        node.matches += 1
        if node.alert is not None:
            update = self._grouper.add(node.alert, match)
            if update is not None:
                out.append(update)
        for corr, _, continues, feed in node.consumers:
            if continues and not corr.groups:
                continue  # no chain to continue
            matches = feed(match)
            if matches:
                target = self._nodes[corr.id]
                for m in matches:
                    self._matched(target, m, out)

    def _housekeep(self, horizon: float, out: list[AlertUpdate]) -> None:
        self._next_hk = horizon + self.housekeeping
        for corr in self._correlators.values():
            if corr.groups:  # expiring no state gives nothing, whatever the kind
                for m in corr.expire(horizon):
                    self._matched(self._nodes[corr.id], m, out)
        self._grouper.expire(horizon)

    def advance(self, now: float | None = None) -> list[AlertUpdate]:
        """Let time pass: close windows and expire state up to ``now`` (see module doc)."""
        if now is None:
            now = self.clock.now()
        if not math.isfinite(now):
            now = self._watermark
        horizon = min(now, self._watermark) if self._busy else now
        self._busy = False
        out: list[AlertUpdate] = []
        if math.isfinite(horizon):
            self._housekeep(horizon, out)
        return out

    def finish(self) -> list[AlertUpdate]:
        """End of input: decide every open window and close every alert."""
        out: list[AlertUpdate] = []
        for corr in self._correlators.values():
            for m in corr.close_all():
                self._matched(self._nodes[corr.id], m, out)
        self._grouper.close_all()
        return out

    def match_count(self, rule_id: str) -> int:
        """How often rule ``rule_id`` fired (0 for unknown rules)."""
        node = self._nodes.get(rule_id)
        return 0 if node is None else node.matches

    def alerts(self) -> list[Event]:
        """Every alert of this run as it stands (closed ones first, bounded), except
        those :meth:`drain_closed` handed over."""
        return self._grouper.alerts()

    def drain_closed(self) -> list[Event]:
        """The alerts closed (final) since the previous call, in closing order, handed
        over: the engine no longer holds them. After :meth:`finish` that is all of them."""
        return self._grouper.drain()

    # -- state ------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """All engine state as bytes (msgpack)."""
        table = EventTable()
        correlations = {cid: c.snapshot(table) for cid, c in self._correlators.items()}
        alerts = self._grouper.snapshot(table)
        return msgspec.msgpack.encode(EngineState(
            STATE_VERSION, self._watermark, self._next_hk, self._events,
            {n.id: n.matches for n in self._nodes.values() if n.matches},
            correlations, alerts, table.events))

    def restore(self, data: bytes) -> None:
        """Replace all state by a :meth:`snapshot`; state of unknown rules is ignored.

        Raises ValueError when ``data`` is not an engine snapshot of this version.
        """
        try:
            state = msgspec.msgpack.decode(data, type=EngineState)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"unreadable engine state: {exc}") from None
        if state.version != STATE_VERSION:
            raise ValueError(f"engine state version {state.version}, expected {STATE_VERSION}")
        self._watermark = state.watermark
        self._next_hk = state.next_housekeeping
        self._events = state.events
        for node in self._nodes.values():
            node.matches = state.matches.get(node.id, 0)
        table = EventTable(state.evidence)
        for cid, corr in self._correlators.items():
            cs = state.correlations.get(cid)
            if cs is not None:
                corr.restore(cs, table)
            else:
                corr.close_all()
        self._grouper.restore(state.alerts, table)

    def stats(self) -> dict[str, Any]:
        """Counters and state sizes (plain data, JSON-ready)."""
        return {
            "events": self._events,
            "rules": len(self.rules),
            "not_evaluable": len(self.not_evaluable),
            "matches": {n.id: n.matches for n in self._nodes.values() if n.matches},
            "correlation_groups": {cid: len(c.groups) for cid, c in self._correlators.items()},
            "evictions": {cid: c.evictions for cid, c in self._correlators.items()},
            "alerts_open": self._grouper.open_count,
            "alerts_closed": self._grouper.closed_count,
            "alerts_dropped": self._grouper.closed_dropped,
            "index": self._index.stats(),
            "watermark": self._watermark if math.isfinite(self._watermark) else None,
        }
