"""Incidents: alerts linked by shared address, account or process tree, as timelines."""

from __future__ import annotations

from typing import Any

from keibi.alerts.incidents import alert_entities, build_incidents
from keibi.events.model import Event

T0 = 1_795_000_000.0


def alert(aid: str, ts: float, *, evidence: tuple[Event, ...] = (), severity: int = 50,
          **kw: Any) -> Event:
    return Event(timestamp=ts, kind="alert", alert_id=aid, rule_id=f"r-{aid}",
                 rule_name=f"Rule {aid}", severity=severity, alert_evidence=evidence or None,
                 **kw)


def ids(incidents: list[Any]) -> list[list[str]]:
    return [inc.alert_ids for inc in incidents]


def test_a_chain_of_shared_entities_is_one_incident_in_time_order() -> None:
    brute = alert("brute", T0, source_ip="203.0.113.7", severity=47)
    login = alert("login", T0 + 120, source_ip="203.0.113.7", user_name="deploy",
                  severity=73)
    sudo = alert("sudo", T0 + 400, user_name="deploy", severity=95)
    other = alert("other", T0 + 500, source_ip="198.51.100.1", user_name="alice")
    got = build_incidents([sudo, other, login, brute])
    assert ids(got) == [["other"], ["brute", "login", "sudo"]]  # newest incident first
    inc = got[1]
    assert inc.severity == 95 and inc.severity_name == "critical"
    assert inc.title == "Rule sudo (+2 more)"
    assert inc.entities == {"ip": ["203.0.113.7"], "user": ["deploy"]}
    assert [t.links for t in inc.timeline] == [
        ("ip:203.0.113.7",), ("ip:203.0.113.7", "user:deploy"), ("user:deploy",)]
    assert inc.start == T0 and inc.end == T0 + 400
    d = inc.to_dict()
    assert d["alerts"] == 3 and d["timeline"][0]["alert_id"] == "brute"
    assert d["start"].startswith("2026-")


def test_alerts_too_far_apart_do_not_link() -> None:
    a = alert("a", T0, user_name="deploy")
    b = alert("b", T0 + 25 * 3600, user_name="deploy")
    assert ids(build_incidents([a, b])) == [["b"], ["a"]]
    assert ids(build_incidents([a, b], window=26 * 3600)) == [["a", "b"]]


def test_an_alert_active_for_long_links_with_what_follows_its_end() -> None:
    long = alert("long", T0, user_name="deploy", start=T0, end=T0 + 30 * 3600)
    late = alert("late", T0 + 40 * 3600, user_name="deploy")
    assert ids(build_incidents([long, late])) == [["long", "late"]]


def test_common_accounts_loopback_and_host_alone_never_link() -> None:
    a = alert("a", T0, user_name="root", host_name="web01", source_ip="127.0.0.1")
    b = alert("b", T0 + 1, user_name="root", host_name="web01", source_ip="127.0.0.1")
    assert len(build_incidents([a, b])) == 2
    assert alert_entities(a) == set()


def test_guessed_user_names_of_failed_logins_do_not_link() -> None:
    fail = Event(timestamp=T0, action="ssh-login", outcome="failure", user_name="alice",
                 source_ip="203.0.113.7", category=("authentication",))
    brute = alert("brute", T0, source_ip="203.0.113.7", evidence=(fail,))
    alice = alert("alice", T0 + 60, user_name="alice", source_ip="10.0.0.5")
    assert ("user", "alice") not in alert_entities(brute)
    assert len(build_incidents([brute, alice])) == 2


def test_process_tree_links_parent_and_child_on_one_host_within_the_hour() -> None:
    parent = Event(timestamp=T0, action="process-started", category=("process",),
                   process_pid=4242, host_name="web01")
    child = Event(timestamp=T0 + 5, action="network-connect", category=("network",),
                  process_pid=4300, process_parent_pid=4242, host_name="web01")
    a = alert("a", T0, evidence=(parent,), host_name="web01")
    b = alert("b", T0 + 10, evidence=(child,), host_name="web01")
    (inc,) = build_incidents([a, b])
    assert inc.entities == {"process": ["web01:4242"]}
    # another host's pid 4242 is another process
    c = alert("c", T0 + 10, evidence=(Event(timestamp=T0, category=("process",),
                                            process_pid=4242, host_name="db01"),),
              host_name="db01")
    assert len(build_incidents([a, c])) == 2
    # pids are reused: two hours later it is another process
    d = alert("d", T0 + 7200, evidence=(child,), host_name="web01")
    assert len(build_incidents([a, d])) == 2


def test_same_alert_twice_counts_once_and_ids_are_stable() -> None:
    a = alert("a", T0, user_name="deploy")
    b = alert("b", T0 + 5, user_name="deploy")
    first = build_incidents([a, b, a])
    assert ids(first) == [["a", "b"]]
    assert build_incidents([b, a])[0].id == first[0].id


def test_min_alerts_leaves_lone_alerts_out() -> None:
    a = alert("a", T0, user_name="deploy")
    b = alert("b", T0 + 5, user_name="deploy")
    c = alert("c", T0 + 5, user_name="alice")
    assert ids(build_incidents([a, b, c], min_alerts=2)) == [["a", "b"]]
