"""Correlation semantics: thresholds at the boundary, sliding windows, eviction, state."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from keibi.alerts.grouping import AlertUpdate
from keibi.engine.engine import Engine
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine.helpers import T0, write_rules

BRUTE = "SSH Brute Force"
SPRAY = "SSH Password Spraying"
AFTER = "SSH Login After Brute Force"


@pytest.fixture(scope="module")
def builtins() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir()])
    assert not res.errors
    return res.rules


def login(t: float, ip: str = "203.0.113.7", user: str = "root",
          outcome: str = "failure") -> Event:
    return Event(timestamp=T0 + t, dataset="keibi.auth", action="ssh-login", outcome=outcome,
                 source_ip=ip, user_name=user, host_name="web01")


def run(rules: list[LoadedRule], events: list[Event], **kw: object) -> Engine:
    engine = Engine(rules, **kw)  # type: ignore[arg-type]
    for e in events:
        engine.process(e)
    engine.finish()
    return engine


def alerts_of(engine: Engine, name: str) -> list[Event]:
    return [a for a in engine.alerts() if a.rule_name == name]


def test_burst_of_twelve_in_three_minutes_is_one_alert_counting_twelve(
        builtins: list[LoadedRule]) -> None:
    events = [login(i * 180 / 11, user=f"u{i % 3}") for i in range(12)]
    engine = Engine(builtins)
    updates: list[AlertUpdate] = []
    for e in events:
        updates += engine.process(e)
    brute = [u for u in updates if u.alert.rule_name == BRUTE]
    assert [u.new for u in brute] == [True] + [False] * 6  # fires at the 6th failure
    engine.finish()
    (alert,) = alerts_of(engine, BRUTE)
    assert alert.alert_count == 12
    assert alert.alert_evidence is not None and len(alert.alert_evidence) == 10  # 5 + 5
    assert alert.message == "SSH brute force from 203.0.113.7: 12 failed logins in 3m"
    assert alert.start == T0 and alert.end == T0 + 180
    assert alert.timestamp == events[5].timestamp  # the first alerting match
    assert alert.source_ip == "203.0.113.7" and alert.host_name == "web01"
    assert alert.user_name is None  # it varies across the burst


def test_exactly_five_in_any_window_never_fires(builtins: list[LoadedRule]) -> None:
    # 5 every 10 minutes for a day, evenly spread: never more than 5 in a window
    events = [login(i * 120.0 + 1) for i in range(720)]
    assert alerts_of(run(builtins, events), BRUTE) == []


def test_five_then_five_more_eleven_minutes_later_never_fires(
        builtins: list[LoadedRule]) -> None:
    events = [login(i) for i in range(5)] + [login(660 + i) for i in range(5)]
    assert alerts_of(run(builtins, events), BRUTE) == []


def test_window_boundary_is_half_open(builtins: list[LoadedRule]) -> None:
    # six failures, the first and the last exactly 10 minutes apart: not in one window
    edge = [login(0)] + [login(100 + i) for i in range(4)] + [login(600)]
    assert alerts_of(run(builtins, edge), BRUTE) == []
    inside = [login(0)] + [login(100 + i) for i in range(4)] + [login(599.999)]
    assert len(alerts_of(run(builtins, inside), BRUTE)) == 1


def test_window_slides(builtins: list[LoadedRule]) -> None:
    # 4 early, then 2 more 9 minutes later (6 in window) -> fires at t=541
    events = [login(i) for i in range(4)] + [login(540), login(541)]
    (alert,) = alerts_of(run(builtins, events), BRUTE)
    assert alert.alert_count == 6 and alert.timestamp == T0 + 541
    # same, but the 2 late ones after the early ones slid out -> nothing
    events = [login(i) for i in range(4)] + [login(605), login(606)]
    assert alerts_of(run(builtins, events), BRUTE) == []


def test_groups_are_per_source_ip_and_missing_ip_is_not_counted(
        builtins: list[LoadedRule]) -> None:
    events = [login(i, ip=f"198.51.100.{i}") for i in range(10)]
    events += [Event(timestamp=T0 + 20 + i, dataset="keibi.auth", action="ssh-login",
                     outcome="failure", user_name="root") for i in range(10)]
    assert alerts_of(run(builtins, events), BRUTE) == []


def test_firings_never_count_an_event_twice(builtins: list[LoadedRule]) -> None:
    # fires at t=5 (6 events), again at 300 (1 new); at 601 two have slid out but the
    # window holds 6 again: only the 1 new event is added -> one alert of 8 events
    events = [login(i) for i in range(6)] + [login(300), login(601)]
    (alert,) = alerts_of(run(builtins, events), BRUTE)
    assert alert.alert_count == 8
    # fires at t=5; the window then empties and refills: 6 new events, same alert
    events = [login(i) for i in range(6)] + [login(603 + i) for i in range(6)]
    (alert,) = alerts_of(run(builtins, events), BRUTE)
    assert alert.alert_count == 12


def test_password_spraying_counts_distinct_users(builtins: list[LoadedRule]) -> None:
    users = ["alice", "bob", "alice", "carol", "bob", "deploy"]
    events = [login(i * 60, user=u) for i, u in enumerate(users)]
    assert alerts_of(run(builtins, events), SPRAY) == []  # 4 distinct
    events.append(login(400, user="backup"))
    (alert,) = alerts_of(run(builtins, events), SPRAY)
    assert alert.alert_count == 7
    assert "5 accounts tried" in (alert.message or "")


def test_success_after_brute_force_is_high(builtins: list[LoadedRule]) -> None:
    events = [login(i) for i in range(8)] + [
        login(1200, user="deploy", outcome="success")]
    engine = run(builtins, events)
    (alert,) = alerts_of(engine, AFTER)
    assert alert.alert_severity == "high" and alert.severity == 73
    assert alert.alert_count == 1  # the login; the failures come along as evidence
    assert alert.alert_evidence is not None and len(alert.alert_evidence) == 9
    assert alert.alert_evidence[-1].outcome == "success"
    assert alert.user_name == "deploy"  # from the login, not the guessed names
    assert alert.start == T0 and alert.timestamp == T0 + 1200
    assert alert.message == ("SSH login as deploy from 203.0.113.7 after brute force: "
                             "likely compromised account")
    assert alert.threat_technique_id is not None and "T1078" in alert.threat_technique_id
    # too late (30 minutes after the last failure of the brute force), or another address
    late = [login(i) for i in range(8)] + [login(7 + 1800, user="deploy", outcome="success")]
    assert alerts_of(run(builtins, late), AFTER) == []
    other = [login(i) for i in range(8)] + [
        login(100, ip="192.0.2.1", user="deploy", outcome="success")]
    assert alerts_of(run(builtins, other), AFTER) == []


TEMPORAL = """
title: base {n}
name: base_{n}
logsource: {{product: linux, service: auth}}
detection:
  sel:
    event.action: step-{n}
  condition: sel
---
"""


def _temporal_rules(tmp_path: Path, kind: str, extra: str = "") -> list[LoadedRule]:
    text = "".join(TEMPORAL.format(n=n) for n in "abc") + f"""
title: chain
name: chain
correlation:
  type: {kind}
  rules: [base_a, base_b, base_c]
  group-by: [host.name]
  timespan: 5m
{extra}
"""
    return write_rules(tmp_path, text)


def step(t: float, n: str, host: str = "h1") -> Event:
    return Event(timestamp=T0 + t, dataset="keibi.auth", action=f"step-{n}", host_name=host)


def test_temporal_ordered_needs_the_order(tmp_path: Path) -> None:
    rules = _temporal_rules(tmp_path, "temporal_ordered")
    ok = run(rules, [step(0, "a"), step(10, "b"), step(20, "c")])
    assert ok.match_count("chain") == 1
    wrong = run(rules, [step(0, "b"), step(10, "a"), step(20, "c")])
    assert wrong.match_count("chain") == 0
    slow = run(rules, [step(0, "a"), step(10, "b"), step(300, "c")])
    assert slow.match_count("chain") == 0
    other_host = run(rules, [step(0, "a"), step(10, "b"), step(20, "c", host="h2")])
    assert other_host.match_count("chain") == 0
    # a later "a" restarts the chain's clock
    restart = run(rules, [step(0, "a"), step(200, "a"), step(250, "b"), step(450, "c")])
    assert restart.match_count("chain") == 1


def test_temporal_any_order_and_at_least_n(tmp_path: Path) -> None:
    rules = _temporal_rules(tmp_path / "x", "temporal")
    assert run(rules, [step(0, "c"), step(10, "a"), step(20, "b")]).match_count("chain") == 1
    assert run(rules, [step(0, "c"), step(10, "a")]).match_count("chain") == 0
    two = _temporal_rules(tmp_path / "y", "temporal", "  condition:\n    gte: 2")
    assert run(two, [step(0, "c"), step(10, "a")]).match_count("chain") == 1


COUNT_LT = """
title: base
name: base
logsource: {product: linux, service: auth}
detection:
  sel:
    event.action: heartbeat
  condition: sel
---
title: too few heartbeats
name: few
correlation:
  type: event_count
  rules: [base]
  group-by: [host.name]
  timespan: 10m
  condition:
    lt: 3
"""


def test_lt_is_decided_when_the_window_closes(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, COUNT_LT)
    beat = [Event(timestamp=T0 + t, dataset="keibi.auth", action="heartbeat",
                  host_name="h") for t in (0, 100)]
    engine = Engine(rules)
    for e in beat:
        assert engine.process(e) == []
    assert engine.match_count("few") == 0
    # right after events, advance() goes no further than event time...
    assert engine.advance(T0 + 700) == [] and engine.match_count("few") == 0
    # ...but when idle, the given time closes the window
    updates = engine.advance(T0 + 700)
    assert engine.match_count("few") == 1 and updates and updates[0].new
    many = [*beat, Event(timestamp=T0 + 200, dataset="keibi.auth", action="heartbeat",
                         host_name="h")]
    assert run(rules, many).match_count("few") == 0


def test_group_cap_evicts_oldest_and_counts(builtins: list[LoadedRule]) -> None:
    events = [login(i, ip=f"198.51.100.{i}") for i in range(10)]
    engine = Engine(builtins, max_groups=4)
    for e in events:
        engine.process(e)
    stats = engine.stats()
    brute_id = next(r.id for r in builtins if r.title == BRUTE)
    assert stats["correlation_groups"][brute_id] == 4
    assert stats["evictions"][brute_id] == 6


def test_state_expires_with_event_time(builtins: list[LoadedRule]) -> None:
    engine = Engine(builtins, housekeeping=60)
    for i in range(50):
        engine.process(login(i, ip=f"198.51.100.{i}"))
    brute_id = next(r.id for r in builtins if r.title == BRUTE)
    assert engine.stats()["correlation_groups"][brute_id] == 50
    engine.process(login(3600, ip="192.0.2.99", outcome="success", user="alice"))
    assert engine.stats()["correlation_groups"][brute_id] == 0
    assert engine.stats()["alerts_open"] == 0


def _attack_stream(seed: int) -> list[Event]:
    rng = random.Random(seed)
    events = []
    t = 0.0
    for _ in range(600):
        t += rng.uniform(0, 20)
        ip = f"203.0.113.{rng.randint(1, 6)}"
        outcome = "success" if rng.random() < 0.1 else "failure"
        events.append(login(t, ip=ip, user=rng.choice(["root", "admin", "alice", "bob",
                                                         "carol", "dave"]), outcome=outcome))
    return events


def _summary(engine: Engine) -> list[tuple[object, ...]]:
    return sorted((a.alert_id, a.rule_name, a.alert_count, a.start, a.end, a.message)
                  for a in engine.alerts())


@pytest.mark.parametrize("cut", [1, 7, 150, 299, 451, 599])
def test_snapshot_restore_mid_window_is_identical_to_an_uninterrupted_run(
        builtins: list[LoadedRule], cut: int) -> None:
    events = _attack_stream(11)
    whole = run(builtins, events)
    first = Engine(builtins)
    updates_a = [u for e in events[:cut] for u in first.process(e)]
    state = first.snapshot()
    second = Engine(builtins)
    second.restore(state)
    updates_b = [u for e in events[cut:] for u in second.process(e)]
    second.finish()
    replay = Engine(builtins)
    updates_all = [u for e in events for u in replay.process(e)]
    key = [(u.alert.alert_id, u.alert.alert_count, u.new) for u in updates_a + updates_b]
    assert key == [(u.alert.alert_id, u.alert.alert_count, u.new) for u in updates_all]
    closed_before_cut = {a.alert_id for a in first.alerts()} - {
        a.alert_id for a in second.alerts()}
    assert sorted(x for x in _summary(whole) if x[0] not in closed_before_cut) == \
        _summary(second)
    assert second.stats()["matches"] == whole.stats()["matches"]


def test_restore_rejects_garbage(builtins: list[LoadedRule]) -> None:
    engine = Engine(builtins)
    with pytest.raises(ValueError):
        engine.restore(b"\x00not msgpack")


def test_nested_and_unknown_state_is_ignored_on_restore(builtins: list[LoadedRule]) -> None:
    full = Engine(builtins)
    for e in [login(i) for i in range(7)]:
        full.process(e)
    only_base = [r for r in builtins if r.title == "SSH Failed Login"]
    small = Engine(only_base)
    small.restore(full.snapshot())  # correlations it does not run are skipped
    assert small.stats()["matches"] == {only_base[0].id: 7}


def _late_attack_stream(seed: int) -> list[Event]:
    """Logins from a few addresses, some arriving late (older than their group's newest),
    bursts dense enough to cross both thresholds and gaps long enough to slide out."""
    rng = random.Random(seed)
    events = []
    t = 0.0
    for _ in range(1500):
        t += rng.choice((0.5, 2.0, 30.0, 200.0, 700.0)) * rng.random()
        late = rng.uniform(0, 90) if rng.random() < 0.1 else 0.0
        events.append(login(t - late, ip=f"203.0.113.{rng.randint(1, 4)}",
                            user=rng.choice(["root", "admin", "alice", "bob", "carol", "dave",
                                             "erin"]),
                            outcome="success" if rng.random() < 0.05 else "failure"))
    return events


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_inline_sliding_count_path_equals_the_generic_one(
        builtins: list[LoadedRule], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """CountCorrelator feeds take an inline path for one reference, a sliding window and
    a single-event match; the generic path must give exactly the same updates."""
    from keibi.engine.counting import CountCorrelator

    events = _late_attack_stream(seed)

    def trace() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        engine = Engine(builtins)
        updates = [(u.alert.alert_id, u.alert.alert_count, u.alert.start, u.alert.end,
                    u.alert.message, u.new, [e.timestamp for e in u.alert.alert_evidence or ()])
                   for e in events for u in engine.process(e)]
        engine.finish()
        return updates, _summary(engine)

    inline = trace()
    monkeypatch.setattr(CountCorrelator, "_feed_sliding",
                        lambda self, refs, get1, fires_at, match: self._feed(refs, match))
    generic = trace()
    assert inline == generic
    assert {row[1] for row in inline[1]} >= {BRUTE, SPRAY}


def _takeover_stream(seed: int) -> list[Event]:
    """Brute forces, logins and privileged actions (sudo in the auth log, audited writes
    by the login user) by a few accounts, close enough in time to chain and to overlap."""
    rng = random.Random(seed)
    users = ["deploy", "alice", "bob"]
    events: list[Event] = []
    t = 0.0
    for _ in range(700):
        t += rng.uniform(0, 40)
        ip = f"203.0.113.{rng.randint(1, 3)}"
        user = rng.choice(users)
        r = rng.random()
        if r < 0.6:
            events.append(login(t, ip=ip, user=user))
        elif r < 0.7:
            events.append(login(t, ip=ip, user=user, outcome="success"))
        elif r < 0.9:
            events.append(Event(timestamp=T0 + t, dataset="keibi.auth", action="sudo-command",
                                outcome="success", user_name=user, user_target_name="root",
                                host_name="web01", process_command_line="/usr/bin/id"))
        else:
            events.append(Event(timestamp=T0 + t, dataset="keibi.audit", action="file-written",
                                category=("file",), type=("change",), host_name="web01",
                                file_path=f"/home/{user}/.ssh/authorized_keys",
                                user_name="root", extra={"user.audit.name": user}))
    return events


def _trace(rules: list[LoadedRule], events: list[Event]
           ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], object]:
    """Every update of a fresh engine over ``events``, its alerts and match counters."""
    engine = Engine(rules)
    updates = [(u.alert.alert_id, u.alert.alert_count, u.alert.start, u.alert.end,
                u.alert.message, u.new, [e.timestamp for e in u.alert.alert_evidence or ()])
               for e in events for u in engine.process(e)]
    engine.finish()
    return updates, _summary(engine), engine.stats()["matches"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_union_temporal_path_equals_the_generic_one(
        builtins: list[LoadedRule], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``temporal`` correlation needing 1 step (post_login_privileged_action: sudo or an
    audited write, under one user name) fires without keeping group state; the generic
    path that keeps it must give exactly the same updates and alerts."""
    from keibi.engine.temporal import TemporalCorrelator

    events = _takeover_stream(seed)

    union = _trace(builtins, events)
    assert "Account Takeover Chain (Brute Force, Login, Then Privileged Or Persistent Action)" \
        in {row[1] for row in union[1]}
    monkeypatch.setattr(TemporalCorrelator, "_feed_union",
                        lambda self, ref, match: self._feed_steps([ref], match))
    assert union == _trace(builtins, events)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_one_step_ordered_feed_equals_the_generic_one(
        builtins: list[LoadedRule], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule feeding one step of an ordered chain gets a direct feed
    (``TemporalCorrelator._feed_one_ordered``); the generic one must give the same."""
    from keibi.engine.temporal import TemporalCorrelator

    events = _takeover_stream(seed) + _late_attack_stream(seed)
    events.sort(key=lambda e: e.timestamp)

    direct = _trace(builtins, events)
    assert "SSH Login After Brute Force" in {row[1] for row in direct[1]}
    monkeypatch.setattr(TemporalCorrelator, "_feed_one_ordered",
                        lambda self, i, match: self._feed_steps([i], match))
    assert direct == _trace(builtins, events)
