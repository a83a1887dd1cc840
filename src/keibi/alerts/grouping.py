"""Turn rule matches into alerts: one alert per rule, group and dedup window.

The group of a match is its correlation's group-by values, or for a single-event rule
the values of the rule's ``keibi.group_by`` fields (default ``source.ip``,
``user.name``, ``host.name``, those the event has). A match joins the open alert of its
(rule, group) when it comes less than ``group_window`` (default 1h) after that alert's
previous match, which extends the window; otherwise it opens a new alert.

An alert carries ``keibi.alert.count`` (events merged in), ``keibi.alert.evidence`` (the
first 5 and the latest 5 of them), ``event.start``/``event.end``, severity, rule and
ATT&CK fields, the entity fields shared by all its events, a sentence in ``message``,
and ``@timestamp`` = the time of its first match. ``keibi.alert.id`` is a hash of rule
id, group and that time: replaying the same events gives the same ids.

A match's ``context`` events (a temporal correlation's earlier steps: the brute force
before the login) join the evidence without being counted or deciding entity fields.

Every merge yields an :class:`AlertUpdate` (``new`` on the first), for sinks that print
new alerts once and stores that upsert counts; its alert Event is built when first read
(a grouper made with ``updates=False`` yields none: ``keibi hunt`` reads closed alerts).
Closing an alert (its window passed) builds its final Event: it stays listed by
:meth:`AlertGrouper.alerts` until :meth:`AlertGrouper.drain` hands it over, so that a
long offline run holds only the alerts still open.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import msgspec

from keibi.alerts.message import Renderer, compile_template, default_message, format_duration
from keibi.engine.match import EventTable, Match, hashable
from keibi.events.model import FIELD_ATTRS, Event, severity_name
from keibi.rules.loader import LoadedRule
from keibi.rules.options import DEFAULT_GROUP_BY

EVIDENCE_FIRST = 5
EVIDENCE_LATEST = 5
DEFAULT_MAX_CLOSED = 100_000
FRAMEWORK = "MITRE ATT&CK"

#: fields copied onto an alert when every event merged into it has the same value
ENTITY_FIELDS = (
    "host.name", "source.ip", "destination.ip", "destination.port", "user.name",
    "user.target.name", "user.effective.name", "user.audit.name", "group.name",
    "process.pid", "process.name", "process.executable", "process.command_line",
    "process.parent.pid", "process.parent.executable", "process.parent.command_line",
    "file.path", "service.name",
)


class _Varies:
    """The entity value of a field whose events disagree (a marker: compared by
    identity, never by value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<varies>"


_VARIES = _Varies()
_ENTITY_ATTRS = tuple(FIELD_ATTRS[f] for f in ENTITY_FIELDS)
#: the entity values of an alert before its first event: none seen
_NO_VALUES: tuple[Any, ...] = (None,) * len(ENTITY_FIELDS)


def _attrs_getter(attrs: tuple[str, ...]) -> Callable[[Event], tuple[Any, ...]]:
    """``attrgetter(*attrs)`` as a generated function: attribute reads in Python code
    are specialised by the interpreter, about twice as fast for a long list."""
    assert all(a.isidentifier() for a in attrs)
    scope: dict[str, Any] = {}
    body = ", ".join(f"e.{a}" for a in attrs)
    exec(compile(f"def get(e):\n    return ({body},)", "<keibi-entity-getter>", "exec"), scope)
    get: Callable[[Event], tuple[Any, ...]] = scope["get"]
    return get


_entity_values = _attrs_getter(_ENTITY_ATTRS)
#: (event, its entity values), the latest: one event is merged into several alerts in
#: a row (brute force and spraying), so :meth:`AlertGrouper.add` reads them once
_ENTITY_MEMO: list[Any] = [None, None]


def _nothing(values: tuple[Any, ...]) -> tuple[()]:
    """The stable part of entity values when every field varies: nothing."""
    return ()


def _stable_picker(held: Sequence[Any]) -> Callable[[tuple[Any, ...]], Any]:
    """A function of entity values: those at the positions where ``held`` does not vary
    -- ``tuple`` itself (the values as they are, not copied) while none varies, else an
    ``itemgetter`` (a bare value when one position is left). Comparing its result for
    an event with its result for ``held`` is one comparison in C."""
    keep = [i for i, v in enumerate(held) if v is not _VARIES]
    if len(keep) == len(held):
        return tuple
    if not keep:
        return _nothing
    return itemgetter(*keep)


def _group_key_getter(fields: tuple[str, ...]) -> Callable[[Event], tuple[tuple[str, Any], ...]]:
    """A function of an event: ``((field, hashable(value)), ...)`` for those of
    ``fields`` it has, in order. Attribute fields are read directly, strings kept as
    they are; other values and ``extra`` fields go through :func:`hashable`."""
    scope: dict[str, Any] = {"hashable": hashable}
    lines = ["def key_of(e):", "    out = []"]
    for n, name in enumerate(fields):
        scope[f"F{n}"] = name
        attr = FIELD_ATTRS.get(name)
        if attr is not None:
            assert attr.isidentifier()
            lines.append(f"    v = e.{attr}")
        else:
            lines.append(f"    v = e.get(F{n})")
        lines += ["    if v is not None:",
                  f"        out.append((F{n}, v if type(v) is str else hashable(v)))"]
    lines.append("    return tuple(out)")
    exec(compile("\n".join(lines), "<keibi-group-key>", "exec"), scope)
    key_of: Callable[[Event], tuple[tuple[str, Any], ...]] = scope["key_of"]
    return key_of


class _View:
    """An open alert frozen at one moment: what changes while it is open (the fields
    fixed at its first match are read from the open alert, which never changes them).
    Message templates read it (:func:`_resolve`)."""

    __slots__ = ("count", "distinct", "end", "evidence", "held", "open", "start")

    def __init__(self, st: _Open) -> None:
        self.open = st
        self.count: int = st.count
        self.start: float = st.start
        self.end: float = st.end
        self.distinct: int | None = st.distinct
        self.held: tuple[Any, ...] = st.held
        self.evidence: tuple[Event, ...] = (*st.head, *st.tail)

    @property
    def rule(self) -> AlertRule:
        return self.open.rule

    def build(self) -> Event:
        st = self.open
        rule = st.rule
        static = st.static
        if rule.message is not None:
            message = rule.message(self)
        else:
            message = default_message(rule.name, static["alert_group"] or "", self.count,
                                      self.end - self.start)
        return Event(**st.entity_kw(self.held), **static, start=self.start, end=self.end,
                     alert_count=self.count, alert_evidence=self.evidence, message=message)


class AlertUpdate:
    """An alert as it stands after a merge; ``new`` only for its first match.

    The alert Event is built on first access of :attr:`alert` (from state frozen at the
    merge), so callers that never look at updates -- ``keibi hunt`` -- never pay for it.
    """

    __slots__ = ("_alert", "_view", "new")

    def __init__(self, alert: Event | None, new: bool, view: _View | None = None) -> None:
        if alert is None and view is None:
            raise ValueError("an AlertUpdate needs an alert")
        self._alert = alert
        self._view = view
        self.new = new

    @property
    def alert(self) -> Event:
        if self._alert is None:
            assert self._view is not None
            self._alert = self._view.build()
            self._view = None
        return self._alert

    @property
    def alert_id(self) -> str:
        """The alert's id, without building the alert."""
        if self._view is not None:
            return self._view.open.alert_id
        return self.alert.alert_id or ""

    def __repr__(self) -> str:
        return f"AlertUpdate(alert_id={self.alert_id!r}, new={self.new})"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """What the alert layer needs to know about a rule."""

    id: str
    name: str
    description: str | None
    ruleset: str
    severity: int
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    group_window: float
    group_by: tuple[str, ...]
    message: Renderer | None
    #: the alert key of a single-event match: ``((field, value), ...)`` of the
    #: ``group_by`` fields the event has (set from ``group_by``)
    key_of: Callable[[Event], tuple[tuple[str, Any], ...]] = field(init=False, repr=False,
                                                                   compare=False)
    #: the Event keyword arguments every alert of the rule has (set from the above)
    fields: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_of", _group_key_getter(self.group_by))
        object.__setattr__(self, "fields", {
            "kind": "alert", "severity": self.severity,
            "alert_severity": severity_name(self.severity), "rule_id": self.id,
            "rule_name": self.name, "rule_ruleset": self.ruleset,
            "rule_description": self.description,
            "threat_framework": FRAMEWORK if self.techniques or self.tactics else None,
            "threat_technique_id": self.techniques or None,
            "threat_tactic_name": self.tactics or None})

    @classmethod
    def of(cls, rule: LoadedRule) -> AlertRule:
        template = rule.options.message
        return cls(rule.id, rule.title, rule.sigma.description, rule.ruleset, rule.severity,
                   rule.techniques, rule.tactics, rule.options.group_window,
                   rule.options.group_by or DEFAULT_GROUP_BY,
                   None if template is None else compile_template(template, _resolve))


class _Open:
    """One open alert: the state its matches have built so far.

    ``held`` holds its entity values aligned with ENTITY_FIELDS (None: not seen,
    :data:`_VARIES`: its events differ), replaced (never changed in place) when a merge
    changes it; ``pick`` reads, of an event's entity values, the positions where
    ``held`` does not vary and ``stable`` is ``pick(held)``: an event whose picked values
    equal ``stable`` changes nothing (:meth:`AlertGrouper.add`). The fields fixed at the
    first match (id, group text, rule fields: :attr:`static`) are computed when first
    read -- closing, building, a snapshot -- so that opening an alert costs little.
    """

    __slots__ = ("_kw", "_kw_of", "_static", "count", "distinct", "end", "first", "head",
                 "held", "key", "last", "last_values", "pick", "rule", "stable", "start",
                 "tail")

    def __init__(self, rule: AlertRule, key: tuple[tuple[str, Any], ...], first: float,
                 start: float) -> None:
        self.rule = rule
        self.key = key
        self.first = first
        self.start = start
        self.end = start
        self.last = first
        self.count = 0
        self.distinct: int | None = None
        self.head: list[Event] = []
        self.tail: deque[Event] = deque(maxlen=EVIDENCE_LATEST)
        self.held = self.stable = _NO_VALUES
        self.pick: Callable[[tuple[Any, ...]], Any] = tuple
        self.last_values: tuple[Any, ...] | None = None  # the previous event's values
        self._static: dict[str, Any] | None = None
        self._kw: dict[str, Any] = {}
        self._kw_of: tuple[Any, ...] | None = None  # the ``held`` that ``_kw`` is of

    @property
    def static(self) -> dict[str, Any]:
        """The Event keyword arguments of the alert that never change while it is open
        (computed on first read)."""
        static = self._static
        if static is None:
            static = self._static = _static_fields(self.rule, self.key, self.first)
        return static

    @property
    def alert_id(self) -> str:
        aid: str = self.static["alert_id"]
        return aid

    def entity_kw(self, held: tuple[Any, ...]) -> dict[str, Any]:
        """The entity values ``held`` as Event keyword arguments (those the group does
        not fix); the latest is remembered, for the views that share it. Read only."""
        if self._kw_of is not held:
            static = self.static
            self._kw = {attr: v for attr, v in zip(_ENTITY_ATTRS, held, strict=True)
                        if v is not None and v is not _VARIES and attr not in static}
            self._kw_of = held
        return self._kw

    def add_evidence(self, e: Event) -> None:
        if e.timestamp > self.end:
            self.end = e.timestamp
        if len(self.head) < EVIDENCE_FIRST:
            self.head.append(e)
        else:
            self.tail.append(e)

    def merge_values(self, values: tuple[Any, ...]) -> None:
        """Fold an event's entity ``values`` in: a value seen first is kept, a second
        different one makes the field vary (:data:`_VARIES`). The caller skips events
        whose stable values equal ``stable`` or whose values equal ``last_values``
        (nothing would change: :meth:`AlertGrouper.add`)."""
        self.last_values = values
        held = self.held
        if held is _NO_VALUES:  # the first event: its values are all the alert holds
            self.held = self.stable = values
            return
        ent = list(held)
        changed = varied = False
        for i, v in enumerate(values):
            if v is not None:
                prev = ent[i]
                if prev is None:
                    ent[i] = v
                    changed = True
                elif prev is not _VARIES and prev != v:
                    ent[i] = _VARIES
                    varied = True
        if changed or varied:
            self.hold(tuple(ent), varied)

    def hold(self, held: tuple[Any, ...], varied: bool = True) -> None:
        """Make ``held`` the entity values (``varied``: its varying fields may differ
        from the previous ones)."""
        if varied:
            self.pick = _stable_picker(held)
        self.held = held
        self.stable = self.pick(held)


_SPECIALS: dict[str, Callable[[_View], Any]] = {
    "count": lambda v: v.count,
    "duration": lambda v: format_duration(v.end - v.start),
    "distinct": lambda v: v.distinct,
    "title": lambda v: v.rule.name,
}


def _resolve(name: str) -> Callable[[_View], Any]:
    """How a message placeholder reads an alert: special, own field, latest event."""
    special = _SPECIALS.get(name)
    if special is not None:
        return special
    attr = FIELD_ATTRS.get(name)

    def field(view: _View) -> Any:
        st = view.open
        if attr is not None:
            v = st.static.get(attr)
            if v is None:
                v = st.entity_kw(view.held).get(attr)
        else:
            v = (st.static.get("extra") or {}).get(name)
        if v is None and view.evidence:
            v = view.evidence[-1].get(name)
        return v

    return field


def _static_fields(rule: AlertRule, key: tuple[tuple[str, Any], ...], first: float
                   ) -> dict[str, Any]:
    """The Event keyword arguments of an alert that never change while it is open:
    its group's fields, then (overriding them) the rule's, its time, id and group."""
    kw: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for f, v in key:
        attr = FIELD_ATTRS.get(f)
        if attr is None:
            extra[f] = list(v) if isinstance(v, tuple) else v
        else:
            kw[attr] = v
    kw.update(rule.fields)
    group_text = ", ".join([f"{f}={v}" for f, v in key])
    kw["timestamp"] = first
    kw["alert_id"] = alert_id(rule.id, key, first)
    kw["alert_group"] = group_text or None
    kw["extra"] = extra or None
    return kw


class OpenState(msgspec.Struct, array_like=True):
    rule_id: str
    key: list[tuple[str, Any]]
    first: float
    start: float
    end: float
    last: float
    count: int
    distinct: int | None
    head: list[int]  # event refs
    tail: list[int]
    entities: dict[str, Any]
    varied: list[str]


class GrouperState(msgspec.Struct):
    open: list[OpenState]


def alert_id(rule_id: str, key: Iterable[tuple[str, Any]], first: float) -> str:
    """Deterministic id: hash of rule id, group and the first match's time."""
    blob = msgspec.json.encode((rule_id, tuple(key), round(first * 1e6)))
    return hashlib.sha256(blob).hexdigest()[:32]


class AlertGrouper:
    """Open alerts per (rule, group), in least-recently-updated order, plus closed ones."""

    def __init__(self, rules: Iterable[AlertRule], max_closed: int = DEFAULT_MAX_CLOSED,
                 *, updates: bool = True):
        self.rules = {r.id: r for r in rules}
        self.max_closed = max_closed
        self.updates = updates
        # OrderedDicts: O(1) pops from the front and moves to the end
        self._open: OrderedDict[tuple[str, tuple[tuple[str, Any], ...]], _Open] = OrderedDict()
        self._closed: OrderedDict[str, Event] = OrderedDict()
        self.closed_dropped = 0

    # -- merging ----------------------------------------------------------------------
    def _key(self, rule: AlertRule, match: Match) -> tuple[tuple[str, Any], ...]:
        if match.group_key is not None:
            return match.group_key
        if match.group is not None:
            return tuple((k, hashable(v)) for k, v in match.group.items())
        return rule.key_of(match.events[-1])

    def add(self, rule: AlertRule, match: Match) -> AlertUpdate | None:
        """Merge ``match`` of ``rule`` into its alert; the alert as it now stands (None
        when this grouper yields no updates)."""
        key = match.group_key
        if key is None:
            key = rule.key_of(match.events[-1]) if match.group is None else self._key(rule,
                                                                                      match)
        k = (rule.id, key)
        opened = self._open
        st = opened.get(k)
        time = match.time
        if st is not None and time - st.last >= rule.group_window:
            del opened[k]
            self._close(st)
            st = None
        new = st is None
        if st is None:
            st = opened[k] = _Open(rule, key, time, match.start)
        else:
            opened.move_to_end(k)  # most recently updated last
        st.count += match.count
        if match.start < st.start:
            st.start = match.start
        if time > st.last:
            st.last = time
        if match.distinct is not None:
            st.distinct = match.distinct
        if match.context:
            if time > st.end:
                st.end = time
            for e in match.context:
                st.add_evidence(e)
        end = st.end
        if time > end:
            end = time
        head = st.head
        memo = _ENTITY_MEMO
        for e in match.events:  # add_evidence, inline
            if e.timestamp > end:
                end = e.timestamp
            if len(head) < EVIDENCE_FIRST:
                head.append(e)
            else:
                st.tail.append(e)
            if memo[0] is e:
                values = memo[1]
            else:
                values = memo[1] = _entity_values(e)
                memo[0] = e
            # the common case, one tuple comparison in C: the event agrees with what
            # the alert holds where it does not vary, or with the previous event merged
            if st.pick(values) != st.stable and values != st.last_values:
                st.merge_values(values)
        st.end = end
        return AlertUpdate(None, new, _View(st)) if self.updates else None

    # -- closing ----------------------------------------------------------------------
    def _close(self, st: _Open) -> None:
        if len(self._closed) >= self.max_closed:
            self._closed.popitem(last=False)
            self.closed_dropped += 1
        self._closed[st.alert_id] = _View(st).build()

    def expire(self, horizon: float) -> None:
        """Close alerts whose window ended before ``horizon`` (oldest first, amortised)."""
        opened = self._open
        while opened:
            k = next(iter(opened))
            st = opened[k]
            if horizon - st.last < st.rule.group_window:
                break
            del opened[k]
            self._close(st)

    def close_all(self) -> None:
        for st in self._open.values():
            self._close(st)
        self._open.clear()

    def alerts(self) -> list[Event]:
        """Every alert: closed ones still held (not drained), then the open ones as they
        stand."""
        return [*self._closed.values(), *(_View(st).build() for st in self._open.values())]

    def drain(self) -> list[Event]:
        """The alerts closed since the previous drain, in the order they closed; they are
        handed over (no longer held or listed)."""
        if not self._closed:
            return []
        out = list(self._closed.values())
        self._closed.clear()
        return out

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def closed_count(self) -> int:
        return len(self._closed)

    # -- state ------------------------------------------------------------------------
    def snapshot(self, table: EventTable) -> GrouperState:
        return GrouperState([
            OpenState(st.rule.id, [(f, v) for f, v in st.key], st.first, st.start, st.end,
                      st.last, st.count, st.distinct, table.refs(st.head),
                      table.refs(st.tail),
                      {ENTITY_FIELDS[i]: v for i, v in enumerate(st.held)
                       if v is not None and v is not _VARIES},
                      [ENTITY_FIELDS[i] for i, v in enumerate(st.held) if v is _VARIES])
            for st in self._open.values()])

    def restore(self, state: GrouperState, table: EventTable) -> None:
        self._open.clear()
        for s in state.open:
            rule = self.rules.get(s.rule_id)
            if rule is None:
                continue
            key = tuple((str(f), hashable(v)) for f, v in s.key)
            st = _Open(rule, key, s.first, s.start)
            st.end, st.last, st.count, st.distinct = s.end, s.last, s.count, s.distinct
            st.head = table.get(s.head)
            st.tail.extend(table.get(s.tail))
            varied = set(s.varied)
            st.hold(tuple(_VARIES if f in varied else s.entities.get(f)
                          for f in ENTITY_FIELDS))
            self._open[(rule.id, key)] = st
