"""Sigma v1 aggregations (``| count() by ... > N``, ``| near``) run as correlations."""

from __future__ import annotations

from pathlib import Path

import pytest

from keibi.engine.engine import Engine
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, load_rules
from keibi.rules.tool import rule_infos
from tests.engine.helpers import T0, sigma_rule, write_rules

RULE_ID = "5b1a7c3e-0c8f-4d7e-9a41-2f7e1c0b9d11"


def rule(tmp: Path, condition: str, timeframe: str | None = "1m") -> list[LoadedRule]:
    """A one-rule file with ``condition`` over three auth selections."""
    tmp = tmp / f"r{len(list(tmp.glob('r*')))}"
    return write_rules(tmp, sigma_rule(f"""
        sel:
          event.action: ssh-login
          event.outcome: failure
        ok:
          event.action: ssh-login
          event.outcome: success
        sudo:
          event.action: sudo-command
        {f"timeframe: {timeframe}" if timeframe else ""}
        condition: {condition}
    """, rule_id=RULE_ID))


def login(t: float, host: str = "web01", user: str = "root", ip: str = "203.0.113.7",
          outcome: str = "failure") -> Event:
    return Event(timestamp=T0 + t, dataset="keibi.auth", action="ssh-login", outcome=outcome,
                 host_name=host, user_name=user, source_ip=ip)


def fired(rules: list[LoadedRule], events: list[Event]) -> list[Event]:
    engine = Engine(rules)
    assert engine.not_evaluable == {}
    for e in events:
        engine.process(e)
    engine.finish()
    return [a for a in engine.alerts() if a.rule_id == RULE_ID]


def test_count_by_host_is_an_event_count_correlation(tmp_path: Path) -> None:
    rules = rule(tmp_path, "sel | count() by host > 3")
    (r,) = rules
    assert r.is_correlation and r.id == RULE_ID and r.title == "Test rule"
    assert r.sigma.type.name == "EVENT_COUNT" and r.sigma.group_by == ["host"]
    assert r.sigma.timespan.seconds == 60 and r.alerts and not r.refs[0].alerts
    four = [login(i * 10) for i in range(4)]
    (alert,) = fired(rules, four)
    assert alert.rule_name == "Test rule" and alert.host_name == "web01"
    assert alert.alert_count == 4
    assert fired(rules, four[:3]) == []  # not more than 3
    assert fired(rules, [login(i * 30) for i in range(4)]) == []  # 90 s apart: two windows
    assert fired(rules, [login(i, host=f"h{i % 2}") for i in range(6)]) == []  # 3 per host
    # events the search does not select are not counted
    assert fired(rules, [login(i, outcome="success") for i in range(8)]) == []


def test_count_of_a_field_is_a_distinct_value_count(tmp_path: Path) -> None:
    rules = rule(tmp_path, "sel | count(user.name) by source.ip >= 3")
    assert rules[0].sigma.type.name == "VALUE_COUNT"
    same_user = [login(i, user="root") for i in range(10)]
    assert fired(rules, same_user) == []
    spray = [login(i, user=u) for i, u in enumerate(["a", "b", "a", "c"])]
    (alert,) = fired(rules, spray)
    assert alert.source_ip == "203.0.113.7"
    other_ips = [login(i, user=u, ip=f"198.51.100.{i}") for i, u in enumerate("abc")]
    assert fired(rules, other_ips) == []


def test_count_without_by_counts_every_event_and_other_operators(tmp_path: Path) -> None:
    hosts = [login(i, host=f"h{i}") for i in range(3)]
    assert len(fired(rule(tmp_path, "sel | count() > 2"), hosts)) == 1
    assert fired(rule(tmp_path, "sel | count() > 2"), [login(i) for i in range(2)]) == []
    # a closed window decides "fewer than": one group, 2 events in the minute
    (alert,) = fired(rule(tmp_path, "sel | count() by host < 3"), [login(0), login(5)])
    assert alert.host_name == "web01"
    assert fired(rule(tmp_path, "sel | count() by host < 3"), [login(i) for i in range(3)]) == []
    assert len(fired(rule(tmp_path, "sel | count() by host == 2"), [login(0), login(5)])) == 1


def test_search_part_may_be_any_condition(tmp_path: Path) -> None:
    rules = rule(tmp_path, "(sel or sudo) and not ok | count() by host > 2")
    sudo = Event(timestamp=T0 + 2, dataset="keibi.auth", action="sudo-command",
                 host_name="web01")
    assert len(fired(rules, [login(0), login(1), sudo])) == 1


def test_near_is_a_temporal_correlation(tmp_path: Path) -> None:
    rules = rule(tmp_path, "sel | near ok and sudo", timeframe="5m")
    assert rules[0].sigma.type.name == "TEMPORAL" and len(rules[0].refs) == 3
    sudo = Event(timestamp=T0 + 120, dataset="keibi.auth", action="sudo-command",
                 host_name="web01")
    chain = [login(0), login(60, outcome="success"), sudo]
    assert len(fired(rules, chain)) == 1
    assert fired(rules, chain[:2]) == []
    late = Event(timestamp=T0 + 600, dataset="keibi.auth", action="sudo-command")
    assert fired(rules, [*chain[:2], late]) == []


@pytest.mark.parametrize(("condition", "timeframe", "reason"), [
    ("sel | near ok and not sudo", "5m", "absence"),
    ("sel | sum(source.port) by host > 5", "5m", "function 'sum'"),
    ("sel | max(source.port) > 5", "5m", "function 'max'"),
    ("sel | count() by host > 5", None, "without 'timeframe:'"),
    ("sel | count() by nosuchfield > 5", "5m", "unmapped field 'nosuchfield'"),
    ("sel | count() by host", "5m", "not understood"),
])
def test_what_has_no_correlation_is_not_evaluable_with_the_reason(
        tmp_path: Path, condition: str, timeframe: str | None, reason: str) -> None:
    rules = rule(tmp_path, condition, timeframe=timeframe)
    (info,) = rule_infos(rules)
    assert not info.evaluable
    assert reason in (info.reason or ""), info.reason


def test_translated_rules_list_as_one_rule(tmp_path: Path) -> None:
    rules = rule(tmp_path, "sel | count() by host > 50")
    (info,) = rule_infos(rules)
    assert info.evaluable and info.id == RULE_ID and info.kind == "event_count"
    # base rules have their own ids: two aggregation rules never collide in one engine
    other = write_rules(tmp_path / "b", sigma_rule(
        "sel:\n  event.action: x\ntimeframe: 1m\ncondition: sel | count() > 1",
        rule_id="6c2b8d4f-1d9a-4e8f-8b52-3a8f2d1cae22"))
    engine = Engine([*rules, *other])
    assert engine.not_evaluable == {}
    assert len({r.id for r in engine.rules}) == len(engine.rules) == 4


def test_a_rule_file_in_the_published_style_loads(tmp_path: Path) -> None:
    (tmp_path / "v1.yml").write_text(
        "title: Many failed su\n"
        "id: 7d3c9e5a-2eab-4f90-9c63-4b9a3e2dbf33\n"
        "status: experimental\n"
        "logsource:\n  product: linux\n  service: auth\n"
        "detection:\n"
        "  selection:\n    - 'FAILED su'\n"
        "  timeframe: 30s\n"
        "  condition: selection | count() by hostname > 2\n"
        "level: medium\n"
        "tags:\n  - attack.t1110\n")
    res = load_rules([tmp_path])
    assert res.errors == []
    assert len(res.rules) == 1
    events = [Event(timestamp=T0 + i, dataset="keibi.auth", host_name="db1",
                     message="su: FAILED SU (to root) bob on pts/0") for i in range(3)]
    engine = Engine(res.rules)
    for e in events:
        engine.process(e)
    engine.finish()
    (alert,) = engine.alerts()
    assert alert.rule_name == "Many failed su" and alert.host_name == "db1"
    assert alert.threat_technique_id == ("T1110",)
