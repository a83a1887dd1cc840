"""Suppressions: what they match, expiry, and that every held-back alert is counted."""

from __future__ import annotations

from typing import Any

import pytest

from keibi.alerts.suppress import (
    Suppression,
    SuppressionError,
    Suppressor,
    parse_condition,
    validate,
)
from keibi.events.model import Event

T0 = 1_795_000_000.0


def alert(aid: str = "a1", **kw: Any) -> Event:
    kw.setdefault("rule_id", "aead251c-69c7-4583-9043-87b7315b08ac")
    kw.setdefault("rule_name", "SSH Brute Force")
    return Event(timestamp=T0, kind="alert", alert_id=aid, **kw)


def supp(sid: int = 1, **kw: Any) -> Suppression:
    kw.setdefault("reason", "scanner")
    return Suppression(id=sid, created=T0 - 10, **kw)


@pytest.mark.parametrize(("fields", "expect"), [
    ({"source.ip": "10.1.2.3"}, True),
    ({"source.ip": "10.0.0.0/8"}, True),
    ({"source.ip": "192.168.0.0/16"}, False),
    ({"user.name": "ali*"}, True),
    ({"user.name": "Alice"}, False),  # names are case-sensitive
    ({"user.name": "alice", "source.ip": "10.1.2.3"}, True),
    ({"user.name": "alice", "source.ip": "10.9.9.9"}, False),  # all must hold
    ({"related.user": "bob"}, True),  # any element of a list
    ({"threat.technique.id": "T1110.*"}, True),
    ({"process.executable": "/opt/*"}, False),  # absent field never matches
])
def test_field_matching(fields: dict[str, str], expect: bool) -> None:
    a = alert(source_ip="10.1.2.3", user_name="alice", related_user=("alice", "bob"),
              threat_technique_id=("T1110.001",))
    assert supp(fields=fields).matches(a) is expect


def test_rule_matches_id_or_title() -> None:
    a = alert()
    assert supp(rule="aead251c-69c7-4583-9043-87b7315b08ac").matches(a)
    assert supp(rule="SSH Brute Force").matches(a)
    assert not supp(rule="ssh_root_login").matches(a)


def test_expired_and_removed_suppressions_do_nothing() -> None:
    s = Suppressor([supp(1, rule="SSH Brute Force", expires=T0 + 60),
                    supp(2, fields={"user.name": "alice"}, removed=T0 - 1)])
    a = alert(user_name="alice")
    assert s.check(a, now=T0)
    assert not s.check(alert("a2", user_name="alice"), now=T0 + 61)
    assert supp(expires=T0).state(T0) == "expired"
    assert supp(removed=T0).state(T0) == "removed"
    assert supp().state(T0) == "active"


def test_every_alert_held_back_is_counted_once_per_alert() -> None:
    s = Suppressor([supp(7, rule="SSH Brute Force", reason="pentest")])
    a = alert("a1", message="SSH brute force from 10.1.2.3")
    kept, held = s.split([a, a, alert("a2"), alert("a3", rule_id="x", rule_name="X")], T0)
    assert [x.alert_id for x in held] == ["a1", "a1", "a2"]
    assert [x.alert_id for x in kept] == ["a3"]
    hits = s.take_hits()
    assert hits[7].count == 2 and s.total == 2
    assert hits[7].last_alert == "a2 SSH Brute Force"
    assert s.take_hits() == {}
    # the same alert updated later is still held back, not counted again
    assert s.check(a, T0) and s.take_hits() == {}


def test_conditions_and_validation() -> None:
    assert parse_condition("source.ip=10.0.0.0/8") == ("source.ip", "10.0.0.0/8")
    assert parse_condition(" user.name = a=b ") == ("user.name", "a=b")
    for bad in ("user.name", "=x", "user.name=", "nodots=x", "source.ip=10.0.0.0/99",
                "a b.c=x"):
        with pytest.raises(SuppressionError):
            parse_condition(bad)
    with pytest.raises(SuppressionError, match="--rule or"):
        validate(None, {}, "why", None, T0)
    with pytest.raises(SuppressionError, match="reason"):
        validate("x", {}, "  ", None, T0)
    with pytest.raises(SuppressionError, match="past"):
        validate("x", {}, "why", T0 - 1, T0)
    validate("x", {"user.name": "alice"}, "why", None, T0)
