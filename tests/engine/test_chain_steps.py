"""Matches of chain steps that have no chain to continue only count.

A building block that does not alert and only feeds ``temporal_ordered`` correlations
at later steps (``any_process_started`` -> step 2 of ``package_install_then_beacon``)
changes nothing while those correlations hold no group: the engine then counts the
match without building it. Exactly the same alerts, counters and state as feeding it.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import pytest

from keibi.engine.engine import Engine
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine.helpers import T0, ev


@pytest.fixture(scope="module")
def builtins() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir()])
    assert not res.errors
    return res.rules


def rule_id(rules: list[LoadedRule], name: str) -> str:
    return next(r.id for r in rules if r.name == name)


def install(t: float, name: str) -> Event:
    return ev(T0 + t, **{"event.dataset": "keibi.dpkg", "event.action": "package-installed",
                         "event.category": ["package"], "event.type": ["installation"],
                         "package.name": name, "package.version": "1.0"})


def start(t: float, exe: str, user: str = "alice", args: str = "") -> Event:
    name = exe.rsplit("/", 1)[1]
    return ev(T0 + t, **{"event.dataset": "keibi.audit", "event.action": "process-started",
                         "event.category": ["process"], "event.type": ["start"],
                         "process.executable": exe, "process.name": name,
                         "process.command_line": f"{name} {args}".strip(),
                         "process.args": [name, *args.split()], "process.pid": 4242,
                         "user.name": user, "user.audit.name": user})


def connect(t: float, exe: str, ip: str = "198.51.100.23") -> Event:
    return ev(T0 + t, **{"event.dataset": "keibi.audit", "event.action": "network-connect",
                         "event.category": ["network"], "event.type": ["connection", "start"],
                         "event.outcome": "success", "process.executable": exe,
                         "process.name": exe.rsplit("/", 1)[1], "destination.ip": ip,
                         "destination.port": 443})


def write(t: float, path: str, user: str = "alice") -> Event:
    return ev(T0 + t, **{"event.dataset": "keibi.audit", "event.action": "file-openat",
                         "event.category": ["file"], "event.type": ["creation"],
                         "file.path": path, "user.audit.name": user})


def sudo(t: float, user: str) -> Event:
    return ev(T0 + t, **{"event.dataset": "keibi.auth", "event.action": "sudo-command",
                         "event.outcome": "success", "user.name": user,
                         "user.target.name": "root", "process.command_line": "/usr/bin/id"})


def login(t: float, ip: str, user: str, outcome: str) -> Event:
    return ev(T0 + t, **{"event.dataset": "keibi.auth", "event.action": "ssh-login",
                         "event.outcome": outcome, "source.ip": ip, "user.name": user})


def test_a_step_without_a_chain_only_counts(builtins: list[LoadedRule]) -> None:
    engine = Engine(builtins)
    step = rule_id(builtins, "any_process_started")
    assert engine._nodes[step].waits is not None  # the fast path applies to it
    for i in range(50):
        assert engine.process(start(i, "/usr/bin/ls")) == []
    assert engine.match_count(step) == 50
    # with a chain open (the package was installed), the same step continues it
    engine.process(install(100, "sysupdated"))
    engine.process(start(101, "/usr/sbin/sysupdated"))
    updates = engine.process(connect(102, "/usr/sbin/sysupdated"))
    assert [u.alert.rule_name for u in updates] == [
        "Package Installed, Its Program Run, Then Connecting Out"]
    assert engine.match_count(step) == 51


def test_a_step_through_a_union_without_a_chain_only_counts(
        builtins: list[LoadedRule]) -> None:
    """``privileged_action_logged`` feeds the union ``post_login_privileged_action``,
    which only continues ``account_takeover_chain``: with no chain open, both only
    count (the union only when the event has the field it groups by)."""
    engine = Engine(builtins)
    step = rule_id(builtins, "privileged_action_logged")
    union = rule_id(builtins, "post_login_privileged_action")
    assert engine._nodes[step].waits is not None
    assert [n.id for _, _, n in engine._nodes[step].passes] == [union]
    for i in range(20):
        assert engine.process(sudo(i, "deploy")) == []
    assert (engine.match_count(step), engine.match_count(union)) == (20, 20)
    assert not engine._correlators[union].groups
    # after a brute force and a login from one address, the same sudo continues it
    for i in range(6):
        engine.process(login(100 + i, "203.0.113.7", "deploy", "failure"))
    engine.process(login(110, "203.0.113.7", "deploy", "success"))
    updates = engine.process(sudo(120, "deploy"))
    assert "Account Takeover Chain" in " ".join(u.alert.rule_name or "" for u in updates)
    assert (engine.match_count(step), engine.match_count(union)) == (21, 21)


def _stream(seed: int, n: int) -> list[Event]:
    rng = random.Random(seed)
    names = ["sysupdated", "kworkerd", "curl", "ls", "nginx"]
    users = ["alice", "bob", "deploy"]
    ips = ["203.0.113.7", "198.51.100.9"]
    out: list[Event] = []
    t = 0.0
    for _ in range(n):
        t += rng.expovariate(1 / 4)
        r = rng.random()
        name = rng.choice(names)
        if r < 0.35:
            exe = rng.choice([f"/usr/sbin/{name}", f"/tmp/.x/{name}"])
            out.append(start(t, exe, rng.choice(users), rng.choice(["", "-T /tmp/d.tgz"])))
        elif r < 0.45:
            # packages are installed now and then: chains open, expire, open again
            out.append(install(t, name) if (t // 3000) % 3 == 0 else sudo(t, "deploy"))
        elif r < 0.6:
            out.append(connect(t, rng.choice([f"/usr/sbin/{name}", f"/tmp/.x/{name}"])))
        elif r < 0.7:
            out.append(write(t, f"/tmp/.x/{name}", rng.choice(users)))
        elif r < 0.8:
            out.append(sudo(t, rng.choice(users)))
        else:
            out.append(login(t, rng.choice(ips), rng.choice([*users, "root"]),
                             rng.choice(["failure"] * 3 + ["success"])))
    return out


def _without_fast_path(engine: Engine) -> Engine:
    for node in engine._nodes.values():
        node.waits = None
        node.passes = ()
        node.consumers = [(c, steps, False, f) for c, steps, _, f in node.consumers]
    return engine


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_path_changes_nothing(builtins: list[LoadedRule], seed: int) -> None:
    events = _stream(seed, 3000)
    fast, slow = Engine(builtins), _without_fast_path(Engine(builtins))
    feeds = {id(fast): 0, id(slow): 0}
    for engine in (fast, slow):
        for node in engine._nodes.values():
            def counted(match: Any, feed: Any, key: int = id(engine)) -> Any:
                feeds[key] += 1
                return feed(match)
            node.consumers = [(c, s, only, partial(counted, feed=f))
                              for c, s, only, f in node.consumers]
    for i, e in enumerate(events):
        a, b = fast.process(e), slow.process(e)
        assert [(u.new, u.alert) for u in a] == [(u.new, u.alert) for u in b]
        if i % 500 == 0:
            assert fast.snapshot() == slow.snapshot()
    assert fast.stats() == slow.stats()
    assert fast.snapshot() == slow.snapshot()
    fast.finish()
    slow.finish()
    assert fast.alerts() == slow.alerts()
    assert len(fast.alerts()) > 10
    # the stream did exercise both paths: chains fired, and steps found none to continue
    fired = fast.stats()["matches"]
    assert fired.get(rule_id(builtins, "package_install_then_beacon"), 0) > 0
    assert fired.get(rule_id(builtins, "any_process_started"), 0) > 500
    assert feeds[id(fast)] < feeds[id(slow)]  # some steps found no chain to continue
