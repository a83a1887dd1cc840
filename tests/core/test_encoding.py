"""The canonical ECS JSON encoding: nested, RFC 3339 times, exact round trip."""

from __future__ import annotations

import json

import msgspec
import pytest

from keibi.events.encoding import dumps, format_time, loads, parse_time, to_ecs
from keibi.events.model import ATTR_FIELDS, FIELD_ATTRS, Event, severity_name


def _full_event() -> Event:
    """An event with every attribute field set (so the round trip covers them all)."""
    info = msgspec.inspect.type_info(Event)
    assert isinstance(info, msgspec.inspect.StructType)
    values: dict[str, object] = {}
    for f in info.fields:
        t = f.type
        if f.name == "extra":
            values[f.name] = {"auditd.data.key": "exec", "custom.n": 3}
        elif f.name in ("timestamp", "start", "end"):
            values[f.name] = 1764138049.123456
        elif f.name == "alert_evidence":
            values[f.name] = (Event(timestamp=1.0, action="ssh-login", source_ip="::1"),)
        elif isinstance(t, msgspec.inspect.UnionType):
            inner = next(x for x in t.types if not isinstance(x, msgspec.inspect.NoneType))
            if isinstance(inner, msgspec.inspect.IntType):
                values[f.name] = 42
            elif isinstance(inner, msgspec.inspect.FloatType):
                values[f.name] = 2.5
            elif isinstance(inner, msgspec.inspect.VarTupleType):
                values[f.name] = ("a", "b")
            else:
                values[f.name] = f"v-{f.name}"
        elif isinstance(t, msgspec.inspect.VarTupleType):
            values[f.name] = ("x",)
        elif isinstance(t, msgspec.inspect.StrType):
            values[f.name] = "alert"
    return Event(**values)  # type: ignore[arg-type]


def test_every_field_round_trips() -> None:
    ev = _full_event()
    data = dumps(ev)
    assert loads(data) == ev
    assert dumps(loads(data)) == data


def test_nested_ecs_shape_and_time_format() -> None:
    ev = Event(timestamp=1764138049.5, action="ssh-login", outcome="failure",
               category=("authentication",), source_ip="203.0.113.7", user_name="root",
               log_offset=0)
    obj = json.loads(dumps(ev))
    assert obj == {
        "@timestamp": "2025-11-26T06:20:49.500000Z",
        "event": {"kind": "event", "category": ["authentication"], "action": "ssh-login",
                  "outcome": "failure"},
        "source": {"ip": "203.0.113.7"},
        "user": {"name": "root"},
        "log": {"offset": 0},
    }


def test_unknown_fields_survive_in_extra() -> None:
    obj = {"@timestamp": "2026-01-01T00:00:00Z", "event": {"kind": "event"},
           "auditd": {"data": {"syscall": "execve"}}, "foo": [1, 2]}
    ev = loads(json.dumps(obj))
    assert ev.get("auditd.data.syscall") == "execve"
    assert ev.get("foo") == [1, 2]
    assert to_ecs(ev)["auditd"] == {"data": {"syscall": "execve"}}


def test_get_by_ecs_name() -> None:
    ev = Event(timestamp=0.0, source_ip="1.2.3.4", process_parent_pid=7)
    assert ev.get("source.ip") == "1.2.3.4"
    assert ev.get("process.parent.pid") == 7
    assert ev.get("no.such.field") is None
    assert FIELD_ATTRS["process.command_line"] == "process_command_line"
    assert ATTR_FIELDS["user_target_name"] == "user.target.name"


@pytest.mark.parametrize("text,expected", [
    ("2026-11-26T06:20:49.123456Z", 1795674049.123456),
    ("2026-11-26T07:20:49.123456+01:00", 1795674049.123456),
    ("1970-01-01T00:00:00Z", 0.0),
])
def test_time_parsing(text: str, expected: float) -> None:
    assert parse_time(text) == expected
    assert parse_time(format_time(expected)) == expected


def test_bad_json_is_an_error_not_a_crash() -> None:
    with pytest.raises((ValueError, msgspec.DecodeError)):
        loads(b"\xff\xfe not json")
    with pytest.raises(ValueError):
        loads(b"[1, 2]")


def test_severity_names() -> None:
    assert [severity_name(s) for s in (0, 21, 47, 50, 70, 73, 90, 95, 100)] == [
        "info", "low", "medium", "medium", "high", "high", "critical", "critical", "critical"]
