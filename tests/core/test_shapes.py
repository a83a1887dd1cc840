"""The shape writers (the fast ``dumps``) against an independent reference encoding.

The reference here is the encoding as first written, kept apart from the code under test:
``to_builtins``, one key at a time into nested dicts, times formatted by datetime-free
arithmetic, one ``msgspec`` encode. Random events cover field subsets, wrong value types,
``keibi.extra`` keys that collide or nest, hostile strings and alerts with evidence; a
writer must give the reference's bytes or nothing, and ``dumps`` must give them always (or
raise what the reference raises).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from keibi.events import encoding, shapes
from keibi.events.encoding import dumps, format_time
from keibi.events.model import TIME_FIELDS, Event
from keibi.events.shapes import Writers

# -- the reference ----------------------------------------------------------------------


def _reference_time(ts: float) -> str:
    us = round(ts * 1_000_000)
    secs, frac = divmod(us, 1_000_000)
    minute, sec = divmod(secs, 60)
    head = f"{datetime.fromtimestamp(minute * 60, UTC):%Y-%m-%dT%H:%M}"
    return f"{head}:{sec:02d}.{frac:06d}Z"


class _Time:
    """A time value awaiting its text: only the values left in the object are formatted
    (one an extra key of the same name replaces is never written, nor its error raised)."""

    def __init__(self, value: float) -> None:
        self.value = value


def _reference_nest(flat: dict[str, Any], out: dict[str, Any]) -> None:
    for key, value in flat.items():
        parts = key.split(".")
        if key in TIME_FIELDS and isinstance(value, (float, int)):
            value = _Time(float(value))
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value


def _formatted(obj: Any) -> Any:
    if isinstance(obj, _Time):
        return _reference_time(obj.value)
    if isinstance(obj, dict):
        return {k: _formatted(v) for k, v in obj.items()}
    return obj


def _reference_ecs(event: Event) -> dict[str, Any]:
    raw = msgspec.to_builtins(event)
    flat = {"@timestamp": raw.pop("@timestamp"), "event.kind": raw.pop("event.kind", "event")}
    flat.update(raw)
    extra = flat.pop("keibi.extra", None)
    if flat.pop("keibi.alert.evidence", None) is not None:  # each event encoded in turn
        assert event.alert_evidence is not None
        found = b",".join(_reference_dumps(e) for e in event.alert_evidence)
        flat["keibi.alert.evidence"] = msgspec.Raw(b"[" + found + b"]")
    out: dict[str, Any] = {}
    _reference_nest(flat, out)
    if extra:
        _reference_nest(extra, out)
    formatted: dict[str, Any] = _formatted(out)
    return formatted


def _reference_dumps(event: Event) -> bytes:
    return msgspec.json.encode(_reference_ecs(event))


def _outcome(write: Callable[[Event], bytes | None], event: Event) -> Any:
    """What ``write`` gives for ``event``: its bytes, or the type of what it raised."""
    try:
        return write(event)
    except Exception as exc:
        return type(exc)


# -- random events ----------------------------------------------------------------------

_HOSTILE = ['', 'a"b', "back\\slash", "nul\x00", "ctl\x01\x1f\x7f", "tab\tnl\n", "é日本🙂",
            "line\u2028sep", '{"k":"v"}', "%s%d", "\\u0000", "\ud800"]
_EXTRA_KEYS = ["custom.n", "auditd.data.key", "source.ip", "event.kind", "@timestamp",
               "event.start", "keibi.alert.evidence", "a", "a.b", "a.b.c", "", ".", "x..y",
               "é.k", 'q"uote', "back\\slash", "ctl\x01", "keibi.ssh.method", "user.name.z"]
_INFO = msgspec.inspect.type_info(Event)
assert isinstance(_INFO, msgspec.inspect.StructType)
_FIELDS = [f for f in _INFO.fields if f.name not in ("timestamp", "kind", "extra",
                                                     "alert_evidence")]


def _text(rnd: random.Random) -> str:
    if rnd.random() < 0.15:
        return rnd.choice(_HOSTILE)
    return rnd.choice(["root", "sshd", "203.0.113.7", "ssh-login", "Failed password for x"])


def _odd_value(rnd: random.Random) -> Any:
    """A value of a type the field does not declare (Structs are not validated)."""
    return rnd.choice([0, -1, 2.5, True, False, "", (), [], {}, ["a", 1], {"k": [1]},
                       math.nan, 10**30, ("é", "x")])


def _typed_value(rnd: random.Random, kind: Any) -> Any:
    if isinstance(kind, msgspec.inspect.UnionType):
        kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(kind, msgspec.inspect.IntType):
        return rnd.choice([0, 22, 718236, 2**40])
    if isinstance(kind, msgspec.inspect.FloatType):
        return rnd.choice([1764138049.0, 1764138049.25, 0.0, 5])
    if isinstance(kind, msgspec.inspect.VarTupleType):
        return tuple(_text(rnd) for _ in range(rnd.randrange(3)))
    return _text(rnd)


def _extra(rnd: random.Random) -> Any:
    if rnd.random() < 0.05:
        return rnd.choice([{}, {1: "int key"}, ["not", "a", "dict"]])
    values = [_text(rnd), 7, 2.5, True, None, [1, "two"], {"nested": {"x": 1}}, (),
              1764138049.0, {}]
    return {rnd.choice(_EXTRA_KEYS): rnd.choice(values) for _ in range(rnd.randrange(4))}


def _event(rnd: random.Random, *, density: float, evidence: bool = True) -> Event:
    values: dict[str, Any] = {}
    for f in _FIELDS:
        if rnd.random() < density:
            values[f.name] = (_odd_value(rnd) if rnd.random() < 0.04
                              else _typed_value(rnd, f.type))
    values["timestamp"] = rnd.choice([1764138049.0, 1764138049.5, 1764138050.0, 0.0, -1.0,
                                      1764138049, 59.999999999, "2026-01-01T00:00:00Z"])
    if rnd.random() < 0.3:
        values["kind"] = rnd.choice(["alert", "state", "".join(["ev", "ent"])])
    if rnd.random() < 0.6:
        values["extra"] = _extra(rnd)
    if evidence and rnd.random() < 0.3:
        found = tuple(_event(rnd, density=density, evidence=False)
                      for _ in range(rnd.randrange(4)))
        values["alert_evidence"] = found if rnd.random() < 0.8 else list(found)
    return Event(**values)


def _events(seed: int, count: int) -> list[Event]:
    rnd = random.Random(seed)
    return [_event(rnd, density=rnd.choice([0.05, 0.2, 0.4])) for _ in range(count)]


# -- tests --------------------------------------------------------------------------------


def _new_writers() -> Writers:
    return Writers(encoding._time_value, encoding._evidence_parts)


@pytest.fixture(autouse=True)
def _fresh_writers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no writers and no cached evidence; random events come in
    thousands of shapes, so the bound past which new shapes get no writer is lifted."""
    monkeypatch.setattr(shapes, "_WRITERS_MAX", 100_000)
    monkeypatch.setattr(encoding, "_writers", _new_writers())
    monkeypatch.setattr(encoding, "_evidence_writers", _new_writers())
    monkeypatch.setattr(encoding, "_EVIDENCE_JSON", {})


def test_dumps_agrees_with_the_reference_on_random_events() -> None:
    for event in _events(seed=11, count=2000):
        assert _outcome(dumps, event) == _outcome(_reference_dumps, event), event


def test_writers_give_the_reference_bytes_or_nothing() -> None:
    writers = _new_writers()
    written = 0
    for event in _events(seed=12, count=2000):
        got = _outcome(writers.write, event)
        if isinstance(got, bytes):
            written += 1
            assert got == _reference_dumps(event), event
    assert written > 800  # the fast path is what is tested here, not the fallback


def test_a_writer_refuses_events_of_other_shapes() -> None:
    writers = _new_writers()
    events = _events(seed=13, count=400)
    rnd = random.Random(13)
    tried = 0
    for shape_of in events:
        write = writers.writer_of(shape_of)
        if write is None:
            continue
        for event in rnd.sample(events, 25):
            got = _outcome(write, event)
            tried += 1
            if isinstance(got, bytes):
                assert got == _reference_dumps(event), (shape_of, event)
    assert tried > 2000


def _set_value(field: msgspec.inspect.Field) -> Any:
    if field.name == "alert_evidence":
        return (Event(timestamp=2.0),)
    if field.name == "extra":
        return {"k": 1}
    return _typed_value(random.Random(field.name), field.type) or "x"


@pytest.mark.parametrize("base", [
    Event(timestamp=1.0, message="m"),
    Event(timestamp=1.0, kind="alert", rule_id="r", source_ip="192.0.2.1", severity=5,
          category=("authentication",), extra={"custom.n": 1}),
], ids=["event", "alert"])
def test_a_writer_refuses_one_field_more_or_less(base: Event) -> None:
    """Every attribute is tested: set one more, or unset one of the shape's, and the
    writer of the shape has nothing to say."""
    write = _new_writers().writer_of(base)
    assert write is not None and write(base) == _reference_dumps(base)
    for field in _INFO.fields:
        if field.name in ("timestamp", "kind"):
            continue
        value = getattr(base, field.name)
        changed = field.default if value is not field.default else _set_value(field)
        other = msgspec.structs.replace(base, **{field.name: changed})
        if other.extra == {}:
            continue  # an empty extra is no extra: the same shape
        assert write(other) is None, field.name


def test_runs_of_one_shape_and_interleaved_shapes() -> None:
    """The writer of the last event is tried first: runs, then alternation, then back."""
    rnd = random.Random(14)
    base = [_event(rnd, density=0.3, evidence=False) for _ in range(6)]
    events = []
    for i in range(600):
        template = base[i // 50 % 6] if i < 300 else base[i % 6]
        events.append(msgspec.structs.replace(template, timestamp=1764138049.0 + i,
                                              message=f"message {i}"))
    for event in events:
        assert _outcome(dumps, event) == _outcome(_reference_dumps, event)


def test_alert_with_shared_and_repeated_evidence() -> None:
    rnd = random.Random(15)
    shared = [_event(rnd, density=0.3, evidence=False) for _ in range(5)]
    for i in range(50):
        found = tuple(rnd.choice(shared) for _ in range(rnd.randrange(1, 11)))
        alert = Event(timestamp=1764138049.0 + i, kind="alert", rule_id="r", severity=50,
                      start=shared[0].timestamp, end=1764138100.5, alert_evidence=found)
        assert _outcome(dumps, alert) == _outcome(_reference_dumps, alert)
    assert dumps(Event(timestamp=1.0, alert_evidence=())) == b'{"@timestamp":' \
        b'"1970-01-01T00:00:01.000000Z","event":{"kind":"event"},"keibi":{"alert":' \
        b'{"evidence":[]}}}'


def test_past_the_bound_new_shapes_take_the_planned_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shapes, "_WRITERS_MAX", 3)
    writers = _new_writers()
    events = [Event(timestamp=1.0, message="m", **{name: "x"})
              for name in ("user_name", "host_name", "file_path", "rule_id", "group_name")]
    made = [writers.writer_of(event) is not None for event in events]
    assert made == [True, True, True, False, False]
    monkeypatch.setattr(encoding, "_writers", writers)
    for event in events:
        assert dumps(event) == _reference_dumps(event)


def test_extra_keys_in_another_order_are_another_shape() -> None:
    first = Event(timestamp=1.0, extra={"b.x": 1, "a.y": "two", "b.z": None})
    second = Event(timestamp=1.0, extra={"a.y": "two", "b.z": None, "b.x": 1})
    for event in (first, second, first, second):
        assert dumps(event) == _reference_dumps(event)


class _EqualToAll:
    """Equal to anything, None included: msgspec leaves out only what *is* None."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


def test_a_value_equal_to_none_is_not_none() -> None:
    for field in ("message", "user_name", "rule_id"):
        dumps(Event(timestamp=1.0))  # the writer of the empty shape is tried first
        event = Event(timestamp=1.0, **{field: _EqualToAll()})
        assert _outcome(dumps, event) is _outcome(_reference_dumps, event) is TypeError


@pytest.mark.parametrize("value", ["\ud800", object(), msgspec.inspect])
def test_what_the_reference_refuses_dumps_refuses(value: Any) -> None:
    for event in (Event(timestamp=1.0, message=value),
                  Event(timestamp=1.0, source_ip="x", extra={"k": value}),
                  Event(timestamp=math.nan, message="m"),
                  Event(timestamp=1.0, alert_evidence=(Event(timestamp=2.0, user_name=value),))):
        expected = _outcome(_reference_dumps, event)
        assert isinstance(expected, type)
        assert _outcome(dumps, event) is expected


def test_format_time_agrees_with_the_reference() -> None:
    rnd = random.Random(16)
    values: list[Any] = [0.0, -0.0, 1.5, -1.5, -1e-7, 59.9999999, 59.9999996, 86399.9999996,
                         -86400.0, 253402300799.999999, -62135596800.0, 1764138049.123456,
                         True, 7, 18_014_398_508.0, 18_014_398_509.0, 9_007_199_254.0]
    values += [rnd.uniform(-62135596800, 253402300799) for _ in range(2000)]
    values += [float(rnd.randrange(-10**10, 2 * 10**10)) for _ in range(2000)]
    start = float(rnd.randrange(10**9))
    values += [start + rnd.randrange(600) + rnd.choice([0, 0, 0.5, 1e-6, 0.9999999])
               for _ in range(4000)]  # minutes seen again: the cached path
    values += [math.nan, math.inf, -math.inf, 1e300, 253402300800.0, -62135596801.0, 10**30]
    for value in values * 2:
        assert _outcome(format_time, value) == _outcome(_reference_time, value), value
        assert (_outcome(encoding._time_value, value)
                == _outcome(_reference_time, float(value))), value
