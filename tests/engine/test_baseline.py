"""Baselines: learning, then first-seen anomalies that say what was expected."""

from __future__ import annotations

from typing import Any

import pytest

from keibi.engine.baseline import DATASET, Baseline, BaselineConfig, BaselineState
from keibi.events.model import Event

T0 = 1_795_000_000.0 - (1_795_000_000.0 % 86400)  # a midnight UTC
H = 3600.0


def ev(t: float, action: str, **kw: Any) -> Event:
    kw.setdefault("host_name", "web01")
    return Event(timestamp=t, action=action, **kw)


def login(t: float, user: str, ip: str, outcome: str = "success") -> Event:
    return ev(t, "ssh-login", user_name=user, source_ip=ip, outcome=outcome,
              dataset="keibi.auth")


def exec_(t: float, exe: str, pid: int, ppid: int | None = None, **kw: Any) -> Event:
    return ev(t, "process-started", process_executable=exe, process_pid=pid,
              process_parent_pid=ppid, dataset="keibi.audit", **kw)


def learned(events: list[Event], config: BaselineConfig | None = None) -> Baseline:
    """A baseline that learned ``events`` (event time as its clock), learning over."""
    b = Baseline(config or BaselineConfig(learning=24 * H))
    for e in events:
        assert b.observe(e, e.timestamp) == []
    b.finish_learning(T0 + 24 * H)
    return b


def anomalies(b: Baseline, events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for e in events:
        out += b.observe(e, e.timestamp)
    return out


def test_nothing_is_reported_while_learning_then_only_novelty() -> None:
    b = Baseline(BaselineConfig(learning=24 * H))
    day1 = [exec_(T0 + i * H, "/usr/bin/ls", 100 + i) for i in range(23)]
    assert anomalies(b, day1) == []
    assert b.learning
    # the first event 24 h after the start ends learning and is judged
    (a,) = anomalies(b, [exec_(T0 + 24 * H, "/usr/bin/nc", 999)])
    assert not b.learning
    assert a.dataset == DATASET and a.action == "first-seen-executable"
    assert a.process_executable == "/usr/bin/nc" and a.host_name == "web01"
    assert a.get("keibi.baseline.expected") == ["/usr/bin/ls"]
    # reported once: the value joined the baseline
    assert anomalies(b, [exec_(T0 + 25 * H, "/usr/bin/nc", 1000)]) == []


def test_login_from_a_new_subnet_says_where_the_user_came_from_before() -> None:
    b = learned([login(T0 + 9 * H, "alice", "10.0.0.5"), login(T0 + 10 * H, "alice", "10.0.0.77"),
                 login(T0 + 11 * H, "bob", "192.0.2.1")])
    assert anomalies(b, [login(T0 + 33 * H, "alice", "10.0.0.200")]) == []  # same /24
    (a,) = anomalies(b, [login(T0 + 34 * H, "alice", "198.51.100.4")])
    assert a.action == "first-seen-login-source"
    assert a.message == "alice logged in from 198.51.100.4; seen before: 10.0.0.0/24"
    assert a.user_name == "alice" and a.source_ip == "198.51.100.4"
    assert a.get("keibi.baseline.value") == "198.51.100.0/24"
    # failed logins teach nothing and raise nothing
    assert anomalies(b, [login(T0 + 35 * H, "alice", "203.0.113.9", "failure")]) == []
    # a user never seen logging in
    (c,) = anomalies(b, [login(T0 + 35 * H, "carol", "10.0.0.5")])
    assert c.message == "carol logged in from 10.0.0.5; seen before: none"


def test_login_hour_outside_the_usual_window() -> None:
    days = [login(T0 + d * 86400 + h * H, "alice", "10.0.0.5")
            for d in range(3) for h in (8, 9, 12, 17)]
    b = learned(days, BaselineConfig(learning=3 * 86400))
    later = T0 + 3 * 86400
    # 10:xx is next to 09:xx: usual enough (and learned from now on)
    assert anomalies(b, [login(later + 10 * H, "alice", "10.0.0.5")]) == []
    (a,) = anomalies(b, [login(later + 3 * H + 120, "alice", "10.0.0.5")])
    assert a.action == "unusual-login-hour"
    assert a.message == "alice logged in at 03:xx UTC; usual hours: 08-10, 12, 17 (13 logins)"
    assert a.get("keibi.baseline.expected") == ["08", "09", "10", "12", "17"]


def test_login_hours_are_not_judged_on_too_few_logins() -> None:
    b = learned([login(T0 + 9 * H, "alice", "10.0.0.5")])
    assert anomalies(b, [login(T0 + 27 * H, "alice", "10.0.0.5")]) == []


def test_first_sudo_of_a_user() -> None:
    b = learned([ev(T0 + H, "sudo-command", user_name="alice", process_command_line="/bin/id")])
    assert anomalies(b, [ev(T0 + 30 * H, "sudo-command", user_name="alice")]) == []
    (a,) = anomalies(b, [ev(T0 + 30 * H, "sudo-command", user_name="bob",
                            process_command_line="/usr/bin/cat /etc/shadow")])
    assert a.action == "first-sudo"
    assert a.message == ("bob ran sudo for the first time (/usr/bin/cat /etc/shadow); users "
                         "seen running sudo: alice")


def test_parent_child_from_parent_pid_of_audit_records() -> None:
    b = learned([exec_(T0 + H, "/usr/sbin/nginx", 500),
                 exec_(T0 + H + 1, "/usr/bin/logger", 501, 500)])
    got = anomalies(b, [exec_(T0 + 30 * H, "/usr/bin/dash", 777, 500)])
    kinds = {a.action: a for a in got}
    assert set(kinds) == {"first-seen-executable", "first-seen-parent-child"}
    pc = kinds["first-seen-parent-child"]
    assert pc.get("keibi.baseline.value") == "/usr/sbin/nginx -> /usr/bin/dash"
    assert pc.message == ("/usr/sbin/nginx started /usr/bin/dash for the first time; it "
                          "started before: /usr/bin/logger")
    # an explicit parent executable is used as is
    (x,) = anomalies(b, [exec_(T0 + 31 * H, "/usr/bin/dash", 778, None,
                               process_parent_executable="/usr/sbin/cron")])
    assert x.get("keibi.baseline.value") == "/usr/sbin/cron -> /usr/bin/dash"


def test_listening_ports_and_outbound_destinations() -> None:
    b = learned([
        ev(T0 + H, "ssh-listening", process_name="sshd", extra={"server.port": 22}),
        ev(T0 + H, "network-bind", process_executable="/usr/sbin/nginx", source_port=443,
           source_ip="0.0.0.0"),
        ev(T0 + 2 * H, "network-connect", process_executable="/usr/bin/apt",
           destination_ip="151.101.2.132", destination_port=443, outcome="success"),
    ])
    (p,) = anomalies(b, [ev(T0 + 30 * H, "network-bind", process_executable="/usr/bin/nc",
                            source_port=4444, source_ip="0.0.0.0")])
    assert p.message == ("/usr/bin/nc listens on port 4444 for the first time; ports seen "
                         "before: 22, 443")
    assert anomalies(b, [ev(T0 + 30 * H, "network-bind", process_executable="/x",
                            source_port=0)]) == []  # an ephemeral bind
    assert anomalies(b, [ev(T0 + 30 * H, "network-connect", process_executable="/usr/bin/apt",
                            destination_ip="151.101.2.200", destination_port=443)]) == []
    (c,) = anomalies(b, [ev(T0 + 30 * H, "network-connect", process_executable="/usr/bin/apt",
                            destination_ip="198.51.100.23", destination_port=8443)])
    assert c.action == "first-seen-outbound-destination"
    assert c.message == ("/usr/bin/apt connected to 198.51.100.23:8443 for the first time; "
                         "destinations seen before: 151.101.2.0/24:443")
    assert anomalies(b, [ev(T0 + 30 * H, "network-connect", process_executable="/usr/bin/apt",
                            destination_ip="127.0.0.1", destination_port=1)]) == []


def test_state_round_trips_and_resets() -> None:
    b = learned([login(T0 + 9 * H, "alice", "10.0.0.5"), exec_(T0 + H, "/usr/bin/ls", 5)])
    data = b.encode()
    c = Baseline.decode(data)
    assert c.snapshot() == b.snapshot() and not c.learning
    assert c.entries("login-source") == {"web01/alice": ["10.0.0.0/24"]}
    assert c.summary()["kinds"]["executable"] == {"keys": 1, "values": 1}
    c.reset(["executable"])
    assert c.entries("executable") == {} and c.entries("login-source")
    assert not c.learning
    c.reset()
    assert c.learning and c.snapshot() == BaselineState(host="web01")
    with pytest.raises(ValueError, match="unknown baseline kind"):
        c.reset(["nope"])
    with pytest.raises(ValueError, match="unreadable"):
        Baseline.decode(b"junk")


def test_caps_count_what_they_drop() -> None:
    b = learned([exec_(T0 + i, f"/bin/x{i}", i) for i in range(5)],
                BaselineConfig(max_values=3))
    assert b.state.dropped == 2
    # a value over the cap is never reported as new (it cannot be remembered)
    assert anomalies(b, [exec_(T0 + 30 * H, "/bin/new", 99)]) == []
    assert b.state.dropped == 3


def test_anomalies_and_alerts_are_not_fed_back() -> None:
    b = learned([])
    own = Event(timestamp=T0 + 30 * H, action="first-seen-executable", dataset=DATASET,
                process_executable="/x")
    alert = Event(timestamp=T0 + 30 * H, kind="alert", action="process-started",
                  process_executable="/y")
    assert anomalies(b, [own, alert]) == []


def test_records_without_a_host_name_belong_to_the_host() -> None:
    b = Baseline(BaselineConfig(learning=24 * H))
    # audit.log without node=: no host name yet
    b.observe(exec_(T0, "/usr/bin/ls", 5, host_name=None), T0)
    b.observe(login(T0 + 1, "alice", "10.0.0.5"), T0 + 1)  # the auth log names web01
    b.observe(exec_(T0 + 2, "/usr/bin/id", 6, host_name=None), T0 + 2)
    assert b.entries("executable") == {"web01": ["/usr/bin/ls", "/usr/bin/id"]}
    # a configured host name is used from the start
    c = Baseline(BaselineConfig(host="db01"))
    c.observe(exec_(T0, "/usr/bin/ls", 5, host_name=None), T0)
    assert c.entries("executable") == {"db01": ["/usr/bin/ls"]}
