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


def _reference_ecs(event: Event) -> dict[str, object]:
    """The nesting as first written (one key at a time): the planned fast path must agree."""
    from keibi.events.encoding import _nest

    raw = msgspec.to_builtins(event)
    flat = {"@timestamp": raw.pop("@timestamp"), "event.kind": raw.pop("event.kind", "event")}
    flat.update(raw)
    extra = flat.pop("keibi.extra", None)
    if flat.pop("keibi.alert.evidence", None) is not None and event.alert_evidence is not None:
        flat["keibi.alert.evidence"] = [_reference_ecs(e) for e in event.alert_evidence]
    out: dict[str, object] = {}
    _nest(flat, out)
    if extra:
        _nest(extra, out)
    return out


def test_fast_encoding_agrees_with_the_reference() -> None:
    import random

    rnd = random.Random(5)
    keys = ["a", "a.b", "a.b.c", "source", "source.ip", "source.ip.x", "event.start",
            "@timestamp", "event.kind", "event", "keibi.alert.evidence", "keibi.alert",
            "keibi", "message", "message.x", "x..y", "", ".", "user.target.name.z",
            "event.end", "é.\"q\"", "auditd.data.key"]
    values: list[object] = [1, 2.5, "s", None, {"q": 1}, [1, 2], {}, True, (1,),
                            {"x": {"y": 1}}]
    base = [_full_event(), Event(timestamp=1.5), Event(timestamp=2.0, alert_evidence=()),
            Event(timestamp=3.0, kind="alert", start=5, end=6.5, flags=(), extra={},
                  alert_evidence=(Event(timestamp=1.0, user_name="u"),)),
            Event(timestamp=1764138049.25, action="ssh-login", source_ip="192.0.2.1",
                  category=("authentication",), related_ip=("192.0.2.1",), log_offset=7)]
    for _ in range(3000):
        extra = {rnd.choice(keys): rnd.choice(values) for _ in range(rnd.randrange(4))}
        kw: dict[str, object] = {"extra": extra or None}
        if rnd.random() < 0.3:
            kw["alert_evidence"] = tuple(rnd.choice(base) for _ in range(rnd.randrange(3)))
        if rnd.random() < 0.2:
            kw["kind"] = rnd.choice(["event", "alert", "state"])
        ev = msgspec.structs.replace(rnd.choice(base), **kw)
        expected = _reference_ecs(ev)
        got = to_ecs(ev)
        assert got == expected and json.dumps(got) == json.dumps(expected)
        assert dumps(ev) == msgspec.json.encode(expected)
