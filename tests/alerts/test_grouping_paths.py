"""The alert grouper's fast paths against the definitions they shortcut.

The grouper skips folding an event's entity values in when one tuple comparison says
nothing would change (only the fields that do not vary yet are compared), computes an
alert's fixed fields (id, group, rule fields) when first read, and remembers the latest
entity keyword arguments. Each test drives random streams with hostile values (fields
that appear and vanish, ``1`` vs ``1.0`` vs ``True``, separators inside values, lists,
every field varying) through the grouper and compares every alert Event with one
computed from scratch, by definition.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import msgspec
import pytest

from keibi.alerts.grouping import (
    ENTITY_FIELDS,
    EVIDENCE_FIRST,
    EVIDENCE_LATEST,
    FRAMEWORK,
    AlertGrouper,
    AlertRule,
    AlertUpdate,
    alert_id,
)
from keibi.alerts.message import default_message
from keibi.engine.match import EventTable, Match, hashable
from keibi.events.model import FIELD_ATTRS, Event, severity_name

T0 = 1_790_000_000.0
WINDOW = 100.0

RULES = [
    AlertRule("a", "By user", None, "keibi", 50, ("T1110",), ("Credential Access",), WINDOW,
              ("user.name",), None),
    AlertRule("b", "By host", "d", "sigma", 73, (), (), WINDOW, ("host.name", "source.ip"),
              None),
    AlertRule("c", "By extra", None, "keibi", 21, (), ("Discovery",), WINDOW,
              ("auditd.data.key", "process.pid"), None),
    AlertRule("d", "Nothing", None, "keibi", 99, (), (), WINDOW, (), None),
]

VALUES: dict[str, list[Any]] = {
    "host_name": ["web01", "web02", "", "a=b, c=d", None],
    "source_ip": ["203.0.113.7", "203.0.113.7", "198.51.100.2", None, None],
    "destination_port": [22, 22.0, True, 1, None],
    "user_name": ["alice", "bob", "ünï", None],
    "user_target_name": ["x", None, None],
    "process_pid": [100, 100, 200, 1, 1.0, None],
    "process_name": ["sshd", "sshd", "sudo"],
    "process_command_line": ["sh -c 'a, b'", None],
    "file_path": [None, None, "/tmp/x"],
    "service_name": ["ssh", "cron", None],
}


def _event(rng: random.Random, ts: float) -> Event:
    kw = {attr: rng.choice(values) for attr, values in VALUES.items()}
    if rng.random() < 0.05:  # an event with no entity field at all
        kw = {attr: None for attr in VALUES}
    extra = rng.choice([None, {"auditd.data.key": ["k", "1"]}, {"auditd.data.key": "k"}])
    return Event(timestamp=ts, extra=extra, **kw)


def _stream(seed: int, n: int = 400) -> list[tuple[AlertRule, Match]]:
    """Single-event and correlation-like matches (several events, context, distinct),
    with gaps that close alerts, late matches, and one event merged into several
    alerts in a row."""
    rng = random.Random(seed)
    out: list[tuple[AlertRule, Match]] = []
    t = T0
    for _ in range(n):
        t += rng.choice([0.0, 1.0, 5.0, 30.0, WINDOW + 1])
        events = tuple(_event(rng, t - rng.choice([0.0, 2.0])) for _ in range(
            rng.choice([1, 1, 1, 3, 12])))
        for rule in rng.sample(RULES, rng.randint(1, len(RULES))):
            if rng.random() < 0.3:  # a correlation match: its own group, context
                group = {"source.ip": rng.choice(["203.0.113.7", "198.51.100.2"])}
                ctx = tuple(_event(rng, t - 3) for _ in range(rng.choice([0, 2])))
                key = tuple((k, hashable(v)) for k, v in group.items())
                m = Match(rule.id, t, t - rng.choice([0.0, 50.0]), len(events), events,
                          group, rng.choice([None, 4]), ctx,
                          key if rng.random() < 0.5 else None)
            else:
                m = Match(rule.id, t, events[-1].timestamp, 1, events[-1:])
            out.append((rule, m))
    return out


def _reference_id(rule_id: str, key: tuple[tuple[str, Any], ...], first: float) -> str:
    """The alert id as first defined (lists built explicitly)."""
    blob = msgspec.json.encode([rule_id, [list(kv) for kv in key], round(first * 1e6)])
    return hashlib.sha256(blob).hexdigest()[:32]


class _Ref:
    """One alert computed by definition: every event kept, nothing remembered."""

    def __init__(self, rule: AlertRule, key: tuple[tuple[str, Any], ...], m: Match) -> None:
        self.rule, self.key, self.first = rule, key, m.time
        self.start = self.end = m.start
        self.last = m.time
        self.count = 0
        self.distinct: int | None = None
        self.evidence: list[Event] = []
        self.counted: list[Event] = []

    def add(self, m: Match) -> None:
        self.count += m.count
        self.start = min(self.start, m.start)
        self.last = max(self.last, m.time)
        self.end = max(self.end, m.time, *(e.timestamp for e in m.events + m.context))
        if m.distinct is not None:
            self.distinct = m.distinct
        self.evidence += [*m.context, *m.events]
        self.counted += m.events

    def build(self) -> Event:
        rule, key = self.rule, self.key
        kw: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for f, v in key:
            attr = FIELD_ATTRS.get(f)
            if attr is None:
                extra[f] = list(v) if isinstance(v, tuple) else v
            else:
                kw[attr] = v
        group = ", ".join(f"{f}={v}" for f, v in key)
        kw.update(timestamp=self.first, kind="alert", severity=rule.severity,
                  alert_severity=severity_name(rule.severity),
                  alert_id=_reference_id(rule.id, key, self.first),
                  alert_group=group or None, rule_id=rule.id, rule_name=rule.name,
                  rule_ruleset=rule.ruleset, rule_description=rule.description,
                  threat_framework=FRAMEWORK if rule.techniques or rule.tactics else None,
                  threat_technique_id=rule.techniques or None,
                  threat_tactic_name=rule.tactics or None, extra=extra or None)
        seen: dict[str, list[Any]] = {}
        for e in self.counted:
            for f in ENTITY_FIELDS:
                v = e.get(f)
                if v is not None and all(v != w for w in seen.get(f, [])):
                    seen.setdefault(f, []).append(v)
        for f, vs in seen.items():
            if len(vs) == 1 and FIELD_ATTRS[f] not in kw:
                kw[FIELD_ATTRS[f]] = vs[0]
        ev = self.evidence
        if len(ev) > EVIDENCE_FIRST + EVIDENCE_LATEST:
            ev = ev[:EVIDENCE_FIRST] + ev[-EVIDENCE_LATEST:]
        return Event(**kw, start=self.start, end=self.end, alert_count=self.count,
                     alert_evidence=tuple(ev),
                     message=default_message(rule.name, group, self.count,
                                             self.end - self.start))


def _key(rule: AlertRule, m: Match) -> tuple[tuple[str, Any], ...]:
    if m.group_key is not None:
        return m.group_key
    if m.group is not None:
        return tuple((k, hashable(v)) for k, v in m.group.items())
    out = []
    for f in rule.group_by:
        v = m.events[-1].get(f)
        if v is not None:
            out.append((f, hashable(v)))
    return tuple(out)


def _reference(stream: list[tuple[AlertRule, Match]]) -> tuple[list[Event], list[Event]]:
    """(the alert after each match, every alert at the end in closing order)."""
    opened: dict[tuple[str, Any], _Ref] = {}
    closed: list[Event] = []
    after: list[Event] = []
    for rule, m in stream:
        k = (rule.id, _key(rule, m))
        ref = opened.get(k)
        if ref is not None and m.time - ref.last >= rule.group_window:
            closed.append(opened.pop(k).build())
            ref = None
        if ref is None:
            ref = _Ref(rule, k[1], m)
        opened.pop(k, None)
        opened[k] = ref  # least recently updated first, as the grouper lists them
        ref.add(m)
        after.append(ref.build())
    return after, closed + [r.build() for r in opened.values()]


@pytest.mark.parametrize("seed", range(30))
def test_alerts_equal_their_definition(seed: int) -> None:
    stream = _stream(seed)
    _, want = _reference(stream)
    grouper = AlertGrouper(RULES, updates=False)
    for rule, m in stream:
        grouper.add(rule, m)
    assert grouper.alerts() == want
    grouper.close_all()
    assert grouper.drain() == want


@pytest.mark.parametrize("seed", range(8))
def test_updates_read_late_show_the_alert_as_of_their_merge(seed: int) -> None:
    """Updates read in random order, long after later merges into the same alert."""
    stream = _stream(seed, 250)
    after, _ = _reference(stream)
    grouper = AlertGrouper(RULES)
    updates: list[AlertUpdate] = []
    rng = random.Random(seed)
    for rule, m in stream:
        u = grouper.add(rule, m)
        assert u is not None
        updates.append(u)
        r = rng.random()
        if r < 0.1:  # some read at once
            assert u.alert == after[len(updates) - 1]
        elif r < 0.2:  # some ids read first
            assert u.alert_id == after[len(updates) - 1].alert_id
    order = list(range(len(updates)))
    rng.shuffle(order)
    for i in order:
        assert updates[i].alert_id == after[i].alert_id
        assert updates[i].alert == after[i]


@pytest.mark.parametrize("seed", range(8))
def test_snapshot_and_restore_anywhere_change_nothing(seed: int) -> None:
    stream = _stream(seed, 250)
    _, want = _reference(stream)
    rng = random.Random(seed)
    grouper = AlertGrouper(RULES, updates=False)
    closed: list[Event] = []
    for i, (rule, m) in enumerate(stream):
        if rng.random() < 0.05 or i == 1:
            table = EventTable()
            state = grouper.snapshot(table)
            closed += grouper.drain()
            grouper = AlertGrouper(RULES, updates=False)
            grouper.restore(state, EventTable(list(table.events)))
        grouper.add(rule, m)
    grouper.close_all()
    assert closed + grouper.drain() == want


def test_alert_id_is_its_first_definition_for_hostile_keys() -> None:
    rng = random.Random(5)
    atoms: list[Any] = ["", "a", "ü\u2028\"\\", 0, -1, 2**70, 1.5, True, None]
    for _ in range(300):
        key = tuple((rng.choice(["source.ip", "x.y", ""]),
                     hashable(rng.choice([*atoms, [rng.choice(atoms), [rng.choice(atoms)]],
                                          {"k": rng.choice(atoms)}])))
                    for _ in range(rng.randint(0, 4)))
        first = T0 + rng.random() * 1e6
        assert alert_id("r", key, first) == _reference_id("r", key, first)
        assert alert_id("r", list(key), first) == _reference_id("r", key, first)
