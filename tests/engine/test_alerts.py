"""Alert grouping: one alert per rule, group and window; ids, evidence, fields."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from keibi.alerts.grouping import ENTITY_FIELDS, AlertGrouper, AlertRule, alert_id
from keibi.alerts.message import format_duration
from keibi.engine.engine import Engine
from keibi.engine.match import Match
from keibi.events.encoding import dumps, loads
from keibi.events.model import Event
from tests.engine.helpers import T0, sigma_rule, write_rules

ROOT_LOGIN = sigma_rule("""
    sel:
      event.action: ssh-login
      event.outcome: success
      user.name: root
    condition: sel
""", extra="""tags:
  - attack.initial_access
  - attack.t1078.003
description: root logged in
keibi:
  group_window: 10m
""")


def root_login(t: float, ip: str = "198.51.100.20", host: str = "web01",
               pid: int = 100) -> Event:
    return Event(timestamp=T0 + t, dataset="keibi.auth", action="ssh-login",
                 outcome="success", user_name="root", source_ip=ip, host_name=host,
                 process_pid=pid)


def test_one_alert_per_group_and_window(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, ROOT_LOGIN)
    engine = Engine(rules)
    news = []
    times = [0, 60, 500, 1000, 1599, 2200]  # gaps < 10m until 1599 -> 2200 (601s)
    for i, t in enumerate(times):
        (u,) = engine.process(root_login(t, pid=100 + i))
        news.append(u.new)
    assert news == [True, False, False, False, False, True]
    engine.process(root_login(50, ip="192.0.2.1"))  # another group: its own alert
    engine.finish()
    alerts = sorted(engine.alerts(), key=lambda a: (a.source_ip or "", a.timestamp))
    assert [(a.source_ip, a.alert_count) for a in alerts] == [
        ("192.0.2.1", 1), ("198.51.100.20", 5), ("198.51.100.20", 1)]
    a = alerts[1]
    assert (a.start, a.end, a.timestamp) == (T0, T0 + 1599, T0)
    assert a.kind == "alert" and a.rule_ruleset == "sigma"
    assert a.rule_name == "Test rule" and a.rule_description == "root logged in"
    assert a.rule_id == "11111111-2222-4333-8444-555555555555"
    assert a.threat_framework == "MITRE ATT&CK"
    assert a.threat_technique_id == ("T1078.003",)
    assert a.threat_tactic_name == ("Initial Access",)
    assert (a.severity, a.alert_severity) == (50, "medium")
    assert a.user_name == "root" and a.host_name == "web01"
    assert a.process_pid is None  # differs between the merged events
    assert a.alert_group == "source.ip=198.51.100.20, user.name=root, host.name=web01"
    assert a.message == ("Test rule (source.ip=198.51.100.20, user.name=root, "
                         "host.name=web01): 5 events in 26m39s")


def test_alert_ids_are_deterministic(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, ROOT_LOGIN)
    events = [root_login(t) for t in (0, 30, 5000)]

    def ids() -> list[str]:
        engine = Engine(rules)
        out = [u.alert.alert_id for e in events for u in engine.process(e)]
        return [i for i in out if i]

    first, second = ids(), ids()
    assert first == second and len(set(first)) == 2
    key = (("source.ip", "198.51.100.20"), ("user.name", "root"), ("host.name", "web01"))
    assert first[0] == alert_id(rules[0].id, key, T0)


def test_evidence_keeps_first_five_and_latest_five(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, ROOT_LOGIN)
    engine = Engine(rules)
    for i in range(50):
        engine.process(root_login(i, pid=i))
    (a,) = engine.alerts()
    assert a.alert_count == 50
    assert a.alert_evidence is not None
    assert [e.process_pid for e in a.alert_evidence] == [*range(5), *range(45, 50)]


def test_alert_round_trips_through_json(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, ROOT_LOGIN)
    engine = Engine(rules)
    (u,) = engine.process(root_login(0))
    assert loads(dumps(u.alert)) == u.alert


def test_group_by_option_and_severity_override(tmp_path: Path) -> None:
    text = ROOT_LOGIN.replace("  group_window: 10m", "  group_window: 10m\n"
                              "  group_by: [host.name]\n  severity: critical")
    rules = write_rules(tmp_path, text)
    engine = Engine(rules)
    engine.process(root_login(0, ip="192.0.2.1"))
    engine.process(root_login(1, ip="192.0.2.2"))
    (a,) = engine.alerts()
    assert a.alert_count == 2 and a.source_ip is None and a.host_name == "web01"
    assert (a.severity, a.alert_severity) == (95, "critical")


def test_idle_advance_closes_alerts_but_keeps_them_listed(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, ROOT_LOGIN)
    engine = Engine(rules)
    engine.process(root_login(0))
    engine.advance(T0 + 10)
    engine.advance(T0 + 700)  # idle now: 700s after the last match > 10m
    assert engine.stats()["alerts_open"] == 0
    assert engine.stats()["alerts_closed"] == 1
    assert len(engine.alerts()) == 1
    (u,) = engine.process(root_login(710))
    assert u.new  # the old alert was closed by time


def test_grouper_closed_alerts_are_bounded() -> None:
    rule = AlertRule("r", "R", None, "keibi", 50, ("T1078",), (), 60.0, ("user.name",), None)
    grouper = AlertGrouper([rule], max_closed=3)
    for i in range(6):
        e = Event(timestamp=T0 + i * 100, user_name=f"u{i}")
        grouper.add(rule, Match.single("r", e))
        grouper.expire(T0 + i * 100 + 61)
    assert grouper.closed_count == 3 and grouper.closed_dropped == 3


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 45.4, 180, 190, 3600, 3900, 90000, 86400)] == [
        "0s", "45s", "3m", "3m10s", "1h", "1h5m", "1d1h", "1d"]


def test_updates_keep_the_alert_as_of_their_merge(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, ROOT_LOGIN)
    engine = Engine(rules)
    updates = [u for i in range(5) for u in engine.process(root_login(i, pid=i))]
    # built only now, each as it stood when it was produced
    assert [u.alert.alert_count for u in updates] == [1, 2, 3, 4, 5]
    assert [len(u.alert.alert_evidence or ()) for u in updates] == [1, 2, 3, 4, 5]
    assert len({u.alert_id for u in updates}) == 1
    assert [u.new for u in updates] == [True, False, False, False, False]


def _reference_entities(events: list[Event]) -> dict[str, object]:
    """What an alert's entity fields are by definition: the fields of ENTITY_FIELDS
    that every event having them agrees on (events lacking a field do not count)."""
    seen: dict[str, set[object]] = {}
    for e in events:
        for f in ENTITY_FIELDS:
            v = e.get(f)
            if v is not None:
                seen.setdefault(f, set()).add(v)
    return {f: next(iter(vs)) for f, vs in seen.items() if len(vs) == 1}


@pytest.mark.parametrize("seed", range(6))
def test_entity_fields_are_those_all_events_share(seed: int) -> None:
    """The fast merge (one tuple comparison while nothing changes, varying fields
    equal to anything) against the definition, on random streams where fields appear,
    vanish, repeat and vary, several alerts sharing events (as brute force and
    spraying alerts do)."""
    rng = random.Random(seed)
    by_user = AlertRule("u", "U", None, "keibi", 50, (), (), 1e9, ("user.name",), None)
    by_host = AlertRule("h", "H", None, "keibi", 50, (), (), 1e9, ("host.name",), None)
    grouper = AlertGrouper([by_user, by_host], updates=False)
    merged: dict[tuple[str, object], list[Event]] = {}
    for i in range(400):
        kw = {attr: rng.choice(values) for attr, values in (
            ("host_name", ["web01", "web02", None]),
            ("source_ip", ["203.0.113.7", "203.0.113.7", "198.51.100.2", None]),
            ("process_pid", [100, 100, 200, None]),
            ("process_name", ["sshd", "sshd", "sudo"]),
            ("destination_port", [22, None, None]),
            ("file_path", [None, None, "/tmp/x"]),
        )}
        e = Event(timestamp=T0 + i, user_name=rng.choice(["alice", "bob"]), **kw)
        for rule in (by_user, by_host):
            grouper.add(rule, Match.single(rule.id, e))
            key = rule.key_of(e)
            merged.setdefault((rule.id, key), []).append(e)
    grouper.close_all()
    alerts = grouper.drain()
    assert len(alerts) == len(merged) >= 4
    for alert in alerts:
        events = next(evs for (rid, _), evs in merged.items()
                      if rid == alert.rule_id and alert.alert_count == len(evs)
                      and alert.start == evs[0].timestamp and alert.end == evs[-1].timestamp)
        got = {f: alert.get(f) for f in ENTITY_FIELDS if alert.get(f) is not None}
        assert got == _reference_entities(events)


def test_group_key_reads_fields_as_event_get_does() -> None:
    rule = AlertRule("r", "R", None, "keibi", 50, (), (), 60.0,
                     ("source.ip", "process.args", "auditd.data.key", "user.name"), None)
    e = Event(timestamp=T0, source_ip="203.0.113.7", process_args=("sh", "-c"),
              extra={"auditd.data.key": ["a", "b"]})
    assert rule.key_of(e) == (("source.ip", "203.0.113.7"), ("process.args", ("sh", "-c")),
                              ("auditd.data.key", ("a", "b")))
    assert rule.key_of(Event(timestamp=T0)) == ()
