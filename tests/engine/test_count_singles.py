"""A count group holding one match is kept as a small tuple until its second match.

``CountCorrelator`` holds the first match of a group as a ``(value, match)`` tuple (one
failed login per scanning address never becomes a full group) and promotes it to a
group on the second match, in the generic feed, at expiry and in snapshots. Whatever
the stream (one-off and repeated keys, late events, hostile values, window edges,
evictions under ``max_groups``, housekeeping, snapshot/restore), an engine doing that
must give exactly what an engine that makes a full group for every first match gives.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path
from typing import Any

import pytest

from keibi.engine.counting import CountCorrelator
from keibi.engine.engine import Engine
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine.helpers import T0, ev

#: correlations beyond the built-in ones: a value_count fed by two rules with their own
#: value fields (several references: the generic feed meets the tuples), one firing on
#: a first match (no tuple at all), and one counting the brute-force firings (matches
#: that carry a group)
EXTRA = [
    """
    title: Sudo Failure
    id: 0f0e0d0c-0b0a-4909-8807-060504030201
    name: t_sudo_failure
    logsource: {product: linux, service: auth}
    detection:
      selection: {event.action: sudo-auth-failure}
      condition: selection
    level: informational
    keibi: {alert: false}
    """,
    """
    title: Many Names From One Address
    id: 1f1e1d1c-1b1a-4919-8817-161514131211
    name: t_many_names
    correlation:
      type: value_count
      rules: [ssh_failed_login, t_sudo_failure]
      group-by: [source.ip]
      aliases:
        source.ip: {ssh_failed_login: source.ip, t_sudo_failure: source.ip}
      timespan: 5m
      condition: {gt: 2, field: user.name}
    level: medium
    """,
    """
    title: Any Failure
    id: 2f2e2d2c-2b2a-4929-8827-262524232221
    name: t_any_failure
    correlation:
      type: event_count
      rules: [ssh_failed_login]
      group-by: [user.name]
      timespan: 2m
      condition: {gte: 1}
    level: low
    """,
    """
    title: Repeated Brute Force
    id: 3f3e3d3c-3b3a-4939-8837-363534333231
    name: t_repeated_brute
    correlation:
      type: event_count
      generate: true
      rules: [ssh_brute_force]
      group-by: [source.ip]
      timespan: 15m
      condition: {gt: 3}
    level: high
    """,
]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[LoadedRule]:
    tmp = Path(tmp_path_factory.mktemp("singles"))
    for i, text in enumerate(EXTRA):
        (tmp / f"extra{i}.yml").write_text(textwrap.dedent(text))
    res = load_rules([builtin_rules_dir(), tmp])
    assert not res.errors, [str(e) for e in res.errors]
    return res.rules


def _value(rng: random.Random, pool: list[str]) -> str:
    """A field value, now and then a hostile one (empty, near-duplicate, unicode, long)."""
    r = rng.random()
    v = rng.choice(pool)
    if r < 0.02:
        return ""
    if r < 0.04:
        return v + " "
    if r < 0.05:
        return v.upper() + "\u0130\x00"
    if r < 0.06:
        return v * 200
    return v


def _stream(seed: int, n: int) -> list[Event]:
    """Failed logins and sudo failures: many one-off addresses (scanners), a few
    repeating ones, bursts, gaps that outlast the windows, late events, times exactly
    on window edges, missing group-by or counted fields."""
    rng = random.Random(seed)
    users = ["root", "admin", "alice", "bob", "carol", "dave"]
    hot = [f"203.0.113.{i}" for i in range(4)]
    out: list[Event] = []
    t = 0.0
    for i in range(n):
        t += rng.choices((0.0, 0.5, 3.0, 20.0, 60.0, 700.0), (3, 3, 3, 2, 1, 0.2))[0]
        if rng.random() < 0.02:
            t = (t // 60 + 1) * 60  # on a minute edge: windows end exactly here
        ts = t - (rng.uniform(0, 120) if rng.random() < 0.1 else 0.0)
        ip = f"198.51.{i}.{rng.randint(0, 255)}" if rng.random() < 0.5 else _value(rng, hot)
        fields: dict[str, Any] = {"event.dataset": "keibi.auth", "source.ip": ip,
                                  "user.name": _value(rng, users)}
        if rng.random() < 0.03:
            del fields["source.ip"]
        if rng.random() < 0.03:
            del fields["user.name"]
        if rng.random() < 0.15:
            fields["event.action"] = "sudo-auth-failure"
        else:
            fields.update({"event.action": "ssh-login", "event.outcome": "failure"})
        out.append(ev(T0 + ts, **fields))
    return out


def _without_singles(engine: Engine) -> Engine:
    for corr in engine._correlators.values():
        if isinstance(corr, CountCorrelator):
            corr._singles = False
    return engine


def _updates(engine: Engine, events: list[Event]) -> list[tuple[object, ...]]:
    return [(u.new, u.alert) for e in events for u in engine.process(e)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("max_groups", [3, 40, 100_000])
def test_singles_change_nothing(rules: list[LoadedRule], seed: int, max_groups: int) -> None:
    events = _stream(seed, 2500)
    kw: dict[str, Any] = {"max_groups": max_groups, "housekeeping": 45.0}
    fast, slow = Engine(rules, **kw), _without_singles(Engine(rules, **kw))
    singles = 0
    for i in range(0, len(events), 100):
        chunk = events[i:i + 100]
        assert _updates(fast, chunk) == _updates(slow, chunk)
        assert fast.stats() == slow.stats()
        assert fast.snapshot() == slow.snapshot()
        singles += sum(type(g) is tuple for c in fast._correlators.values()
                       for g in c.groups.values())
    assert singles > 50  # the fast path held many groups as tuples
    assert fast.advance(T0 + 1e6) == slow.advance(T0 + 1e6)
    assert fast.stats() == slow.stats()
    fast.finish()
    slow.finish()
    assert fast.alerts() == slow.alerts()
    titles = {a.rule_name for a in fast.alerts()}
    if max_groups == 3:  # one-off addresses evict the others before they add up
        assert sum(slow.stats()["evictions"].values()) > 100
    else:
        assert {"SSH Brute Force", "SSH Password Spraying", "Many Names From One Address",
                "Any Failure", "Repeated Brute Force"} <= titles


@pytest.mark.parametrize("cut", [700, 1333, 2100])
def test_restoring_singles_continues_the_same(rules: list[LoadedRule], cut: int) -> None:
    """A snapshot taken while groups are tuples restores into full groups, and the run
    goes on exactly as one that never held a tuple."""
    events = _stream(9, 3000)
    slow = _without_singles(Engine(rules, max_groups=50))
    first = Engine(rules, max_groups=50)
    assert _updates(first, events[:cut]) == _updates(slow, events[:cut])
    assert any(type(g) is tuple for c in first._correlators.values() for g in c.groups.values())
    second = Engine(rules, max_groups=50)
    second.restore(first.snapshot())
    assert _updates(second, events[cut:]) == _updates(slow, events[cut:])
    for name in ("matches", "correlation_groups", "evictions", "alerts_open"):
        assert second.stats()[name] == slow.stats()[name]
    second.finish()
    slow.finish()
    after = second.alerts()  # the alerts closed before the cut are not in the state
    assert len(after) > 5 and after == slow.alerts()[-len(after):]
