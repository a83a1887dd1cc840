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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
    """An entity field whose events disagree: equal to any value, so that a tuple of
    an alert's entity values equals an event's values whenever merging that event
    would change nothing (one comparison in C instead of a loop)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<varies>"


_VARIES = _Varies()
_ENTITY_ATTRS = tuple(FIELD_ATTRS[f] for f in ENTITY_FIELDS)


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
_ENTITY_MEMO: list[Any] = [None, None]  # (event, its entity values), the latest


def _entity_values_of(event: Event) -> tuple[Any, ...]:
    """An event's entity values; one event is merged into several alerts in a row
    (brute force and spraying), so the latest is remembered."""
    memo = _ENTITY_MEMO
    if memo[0] is event:
        values: tuple[Any, ...] = memo[1]
        return values
    values = _entity_values(event)
    memo[0], memo[1] = event, values
    return values


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
    """An open alert frozen at one moment: all an alert Event is built from."""

    __slots__ = ("count", "distinct", "end", "entity_kw", "evidence", "group_text", "rule",
                 "start", "static")

    def __init__(self, st: _Open) -> None:
        self.rule: AlertRule = st.rule
        self.static: dict[str, Any] = st.static  # never changes
        self.entity_kw: dict[str, Any] = st.entity_kw  # replaced, never changed in place
        self.group_text: str = st.group_text
        self.count: int = st.count
        self.start: float = st.start
        self.end: float = st.end
        self.distinct: int | None = st.distinct
        self.evidence: tuple[Event, ...] = (*st.head, *st.tail)

    def build(self) -> Event:
        rule = self.rule
        if rule.message is not None:
            message = rule.message(self)
        else:
            message = default_message(rule.name, self.group_text, self.count,
                                      self.end - self.start)
        return Event(**self.entity_kw, **self.static, start=self.start, end=self.end,
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
            return str(self._view.static["alert_id"])
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_of", _group_key_getter(self.group_by))

    @classmethod
    def of(cls, rule: LoadedRule) -> AlertRule:
        template = rule.options.message
        return cls(rule.id, rule.title, rule.sigma.description, rule.ruleset, rule.severity,
                   rule.techniques, rule.tactics, rule.options.group_window,
                   rule.options.group_by or DEFAULT_GROUP_BY,
                   None if template is None else compile_template(template, _resolve))


class _Open:
    __slots__ = ("alert_id", "count", "distinct", "end", "entities", "entity_kw", "first",
                 "group_text", "head", "held", "key", "last", "last_values", "rule", "start",
                 "static", "tail")

    def __init__(self, rule: AlertRule, key: tuple[tuple[str, Any], ...], first: float,
                 start: float) -> None:
        self.rule = rule
        self.key = key
        self.alert_id = alert_id(rule.id, key, first)
        self.first = first
        self.start = start
        self.end = start
        self.last = first
        self.count = 0
        self.distinct: int | None = None
        self.head: list[Event] = []
        self.tail: deque[Event] = deque(maxlen=EVIDENCE_LATEST)
        # entity values aligned with ENTITY_FIELDS (None: not seen, _VARIES: differ)
        self.entities: list[Any] = [None] * len(ENTITY_FIELDS)
        self.held: tuple[Any, ...] = (None,) * len(ENTITY_FIELDS)  # ``entities`` as a tuple
        self.last_values: tuple[Any, ...] | None = None  # the previous event's values
        self.group_text = ", ".join(f"{f}={v}" for f, v in key)
        self.static = _static_fields(rule, key, first, self.alert_id, self.group_text)
        # the entity values as Event keyword arguments (those the group does not fix)
        self.entity_kw: dict[str, Any] = {}

    def add_evidence(self, e: Event) -> None:
        if e.timestamp > self.end:
            self.end = e.timestamp
        if len(self.head) < EVIDENCE_FIRST:
            self.head.append(e)
        else:
            self.tail.append(e)

    def merge_values(self, values: tuple[Any, ...]) -> None:
        """Fold an event's entity ``values`` in: a value seen first is kept, a second
        different one makes the field vary (:data:`_VARIES`, equal to anything). The
        caller skips events whose values equal ``held`` or ``last_values`` (nothing
        would change: :meth:`AlertGrouper.add`)."""
        self.last_values = values
        ent = self.entities
        changed = False
        for i, v in enumerate(values):
            if v is not None:
                prev = ent[i]
                if prev is None:
                    ent[i] = v
                    changed = True
                elif prev is not _VARIES and prev != v:
                    ent[i] = _VARIES
                    changed = True
        if changed:
            self.held = tuple(ent)
            self.refresh_entity_kw()

    def refresh_entity_kw(self) -> None:
        static = self.static
        self.entity_kw = {
            attr: v for attr, v in zip(_ENTITY_ATTRS, self.entities, strict=True)
            if v is not None and v is not _VARIES and attr not in static}


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
        if attr is not None:
            v = view.static.get(attr)
            if v is None:
                v = view.entity_kw.get(attr)
        else:
            v = (view.static.get("extra") or {}).get(name)
        if v is None and view.evidence:
            v = view.evidence[-1].get(name)
        return v

    return field


def _static_fields(rule: AlertRule, key: tuple[tuple[str, Any], ...], first: float,
                   aid: str, group_text: str) -> dict[str, Any]:
    """The Event keyword arguments of an alert that never change while it is open."""
    kw: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for f, v in key:
        attr = FIELD_ATTRS.get(f)
        if attr is None:
            extra[f] = list(v) if isinstance(v, tuple) else v
        else:
            kw[attr] = v
    kw.update(
        timestamp=first, kind="alert", severity=rule.severity,
        alert_severity=severity_name(rule.severity), alert_id=aid,
        alert_group=group_text or None, rule_id=rule.id, rule_name=rule.name,
        rule_ruleset=rule.ruleset, rule_description=rule.description,
        threat_framework=FRAMEWORK if rule.techniques or rule.tactics else None,
        threat_technique_id=rule.techniques or None, threat_tactic_name=rule.tactics or None,
        extra=extra or None)
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
    blob = msgspec.json.encode([rule_id, [list(kv) for kv in key], round(first * 1e6)])
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
        for e in match.events:  # add_evidence, inline
            if e.timestamp > end:
                end = e.timestamp
            if len(head) < EVIDENCE_FIRST:
                head.append(e)
            else:
                st.tail.append(e)
            # the common case, one tuple comparison: the event agrees with what the
            # alert holds (varying fields compare equal to anything), or with the
            # previous event merged
            values = _entity_values_of(e)
            if values != st.held and values != st.last_values:
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
                      {ENTITY_FIELDS[i]: v for i, v in enumerate(st.entities)
                       if v is not None and v is not _VARIES},
                      [ENTITY_FIELDS[i] for i, v in enumerate(st.entities) if v is _VARIES])
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
            for i, f in enumerate(ENTITY_FIELDS):
                if f in s.varied:
                    st.entities[i] = _VARIES
                elif f in s.entities:
                    st.entities[i] = s.entities[f]
            st.held = tuple(st.entities)
            st.refresh_entity_kw()
            self._open[(rule.id, key)] = st
