"""What offline runs rely on: draining closed alerts, time without events, prefilters."""

from __future__ import annotations

import random

import pytest

from keibi.engine.engine import Engine
from keibi.events.encoding import dumps
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine.helpers import T0

ACTIONS = ["ssh-login", "ssh-login", "ssh-invalid-user", "log-line", "user-created",
           "sudo-auth-failure", "session-opened", None]


@pytest.fixture(scope="module")
def builtins() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir()])
    assert not res.errors
    return res.rules


def _events(seed: int, n: int = 6000) -> list[Event]:
    rnd = random.Random(seed)
    t = T0
    out = []
    for i in range(n):
        t += rnd.choice([0, 0.5, 2, 7, 40, 300, 1500]) if rnd.random() < 0.97 else -30
        out.append(Event(
            timestamp=t, action=rnd.choice(ACTIONS),
            outcome=rnd.choice(["failure", "failure", "success", "unknown"]),
            dataset=rnd.choice(["keibi.auth", "keibi.auth", "keibi.syslog"]),
            source_ip=f"203.0.113.{rnd.randrange(6)}",
            user_name=rnd.choice(["root", "admin", "bob", "oracle", "git", "pi"]),
            user_target_name=rnd.choice(["eve", "mallory"]), host_name="web01",
            process_pid=i))
    return out


def _all_alerts(engine: Engine) -> list[bytes]:
    engine.finish()
    return [dumps(a) for a in engine.drain_closed()]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_observe_is_process_of_an_event_no_rule_can_match(
        builtins: list[LoadedRule], seed: int) -> None:
    events = _events(seed)
    every = Engine(builtins, updates=False)
    for e in events:
        every.process(e)
    filtered = Engine(builtins, updates=False)
    wants = filtered.prefilter().wants
    high = -float("inf")
    for e in events:
        if wants(e):
            filtered.process(e)
        elif e.timestamp > high:  # only times later than all before can move the clock
            filtered.observe_times([e.timestamp])
        high = max(high, e.timestamp)
    expected = _all_alerts(every)
    assert expected and _all_alerts(filtered) == expected


def test_prefilter_agrees_with_the_index(builtins: list[LoadedRule]) -> None:
    """The prefilter says exactly whether the index files a rule for an event; the
    engine may then drop rules specialised to the event's key (an sshd success never
    tries "SSH failed login"), never add one."""
    engine = Engine(builtins)
    plain = Engine(builtins, specialize=False)
    pf = engine.prefilter()
    dropped = 0
    for e in _events(4, 2000):
        assert pf.wants(e) == bool(plain._candidates(e))
        assert pf.wants(e) or not engine._candidates(e)
        dropped += len(plain._candidates(e)) - len(engine._candidates(e))
    assert dropped > 0
    import pickle

    again = pickle.loads(pickle.dumps(pf))
    assert [again.wants(e) for e in _events(5, 500)] == [pf.wants(e) for e in _events(5, 500)]


def test_drain_hands_closed_alerts_over_once(builtins: list[LoadedRule]) -> None:
    engine = Engine(builtins, updates=False)
    drained: list[Event] = []
    for i, e in enumerate(_events(6)):
        assert engine.process(e) == []  # no updates asked for
        if i % 97 == 0:
            drained += engine.drain_closed()
    assert drained  # some alerts closed while events went on
    assert not {a.alert_id for a in drained} & {a.alert_id for a in engine.alerts()}
    engine.finish()
    rest = engine.drain_closed()
    assert engine.alerts() == [] and engine.drain_closed() == []
    ids = [a.alert_id for a in [*drained, *rest]]
    assert len(ids) == len(set(ids))
    reference = Engine(builtins)
    for e in _events(6):
        reference.process(e)
    reference.finish()
    assert sorted(ids) == sorted(a.alert_id for a in reference.alerts())  # type: ignore[type-var]
