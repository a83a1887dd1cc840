"""The canonical JSON encoding of events: nested ECS objects, one per line.

``dumps(event)`` gives compact UTF-8 JSON with nested objects (``{"source": {"ip": ...}}``)
and RFC 3339 UTC time stamps with microseconds; ``loads`` is its exact inverse, so
``loads(dumps(e)) == e`` for every event whose times are whole microseconds (the parsers
only produce such times).

The bytes are defined by the reference nesting (:func:`_ecs_slow`: ``to_builtins``, one
dotted key at a time into nested dicts, then one ``msgspec`` encode). Two faster paths
give the same bytes: per key set, a generated dict builder (``to_ecs``, and ``dumps``
where nothing faster fits), and per shape, a generated writer (:mod:`keibi.events.shapes`)
that reads the event's attributes directly and encodes nested Structs. ``dumps`` tries the
writer, then falls back to the planned path, which also decides any error. An alert's
evidence events are written one by one and cached by identity (alerts printed together
share them); time stamps of a minute already seen cost two lookups (see format_time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from keibi.events.model import FIELD_ATTRS, TIME_FIELDS, Event
from keibi.events.shapes import Leaf, Tree, Unplannable, Writers, shape_tree

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


# format_time: a minute's text ("YYYY-MM-DDTHH:MM") is cached by the minute's start, and
# whole seconds into a minute map to ":SS.000000Z". Both keys are floats found by exact
# float arithmetic (``ts % 60.0``, ``ts - that``), so a whole-second time stamp (what log
# lines carry) of a minute seen before costs a remainder and two lookups; a fraction, or a
# minute not cached, finds nothing and takes the arithmetic of the reference.
_MINUTE_TEXT: dict[float, str] = {}  # start of a minute (epoch seconds) -> its text
_MINUTE_TEXT_MAX = 4096
_DATE_TEXT: dict[int, str] = {}  # epoch day -> "YYYY-MM-DDT"
_DATE_TEXT_MAX = 1024
_HOUR_MINUTE = tuple(f"{hm // 60:02d}:{hm % 60:02d}" for hm in range(1440))
_SECOND = tuple(f":{sec:02d}." for sec in range(60))
_WHOLE_SECOND = {float(sec): f":{sec:02d}.000000Z" for sec in range(60)}
# Minutes below this are cached: there, a whole second's ``ts * 1_000_000`` is exact (an
# even integer below 2**54 is a float), so the reference's rounding leaves no fraction.
_EXACT_SECONDS = 18_014_398_509


def format_time(ts: float) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-26T06:20:49.123456Z``."""
    if type(ts) is float:
        sec = ts % 60.0
        head = _MINUTE_TEXT.get(ts - sec)
        text = _WHOLE_SECOND.get(sec)
        if head is not None and text is not None:
            return head + text
    return _format_time(ts)


def _format_time(ts: float) -> str:
    """The reference arithmetic: microseconds rounded, then minute and second."""
    secs, frac = divmod(round(ts * 1_000_000), 1_000_000)
    minute, sec = divmod(secs, 60)
    return f"{_minute_text(minute)}{_SECOND[sec]}{frac:06d}Z"


def _minute_text(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM`` of an epoch minute (UTC days have 1440 minutes), cached."""
    day, minute_of_day = divmod(minute, 1440)
    date = _DATE_TEXT.get(day)
    if date is None:
        if len(_DATE_TEXT) >= _DATE_TEXT_MAX:
            _DATE_TEXT.clear()
        date = _DATE_TEXT[day] = f"{datetime.fromtimestamp(day * 86_400, UTC):%Y-%m-%d}T"
    head = date + _HOUR_MINUTE[minute_of_day]
    if 0 <= minute * 60 < _EXACT_SECONDS:
        if len(_MINUTE_TEXT) >= _MINUTE_TEXT_MAX:
            _MINUTE_TEXT.clear()
        _MINUTE_TEXT[float(minute * 60)] = head
    return head


def parse_time(text: str) -> float:
    """Inverse of :func:`format_time`; also takes any ISO 8601 time with an offset."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return us / 1_000_000


_KEY_PARTS: dict[str, tuple[str, ...]] = {"@timestamp": ("@timestamp",)}


def _nest(flat: dict[str, Any], out: dict[str, Any]) -> None:
    """The reference nesting (any keys, any values); :func:`_ecs` must agree with it."""
    parts_of = _KEY_PARTS
    for key, value in flat.items():
        parts = parts_of.get(key)
        if parts is None:
            parts = tuple(key.split("."))
            if len(parts_of) < 10_000:
                parts_of[key] = parts
        if key in TIME_FIELDS and isinstance(value, (float, int)):
            value = format_time(float(value))
        n = len(parts)
        if n == 2:
            node = out.get(parts[0])
            if node is None or not isinstance(node, dict):
                node = out[parts[0]] = {}
            node[parts[1]] = value
        elif n == 1:
            out[key] = value
        else:
            node = out
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[parts[-1]] = value


def _ecs_slow(raw: dict[str, Any]) -> dict[str, Any]:
    """The nested ECS object of a flat ``to_builtins`` form of an Event (reference)."""
    # event.kind always present and always first among event.* (a canonical order)
    flat: dict[str, Any] = {"@timestamp": raw.pop("@timestamp"),
                            "event.kind": raw.pop("event.kind", "event")}
    flat.update(raw)
    extra = flat.pop("keibi.extra", None)
    evidence = flat.pop("keibi.alert.evidence", None)
    if evidence is not None:
        flat["keibi.alert.evidence"] = _evidence(evidence)
    out: dict[str, Any] = {}
    _nest(flat, out)
    if extra:
        _nest(extra, out)
    return out


# The dict fast path (``to_ecs``, and ``dumps`` where no writer fits). Events of one kind
# have the same fields (and ``keibi.extra`` keys), so the nesting is planned once per key
# set (:func:`shapes.shape_tree`) and the tree becomes one generated dict display. A key
# set where a key would descend into a value (``a`` then ``a.b``) depends on the values:
# it stays on the slow path, as do key sets beyond the cache's bound.
_PLAN_MAX = 2048
_Build = Callable[[tuple[Any, ...]], dict[str, Any]]


def _display(tree: Tree, expr: Callable[[Leaf], str]) -> str:
    items = []
    for k, v in tree.items():
        inner = _display(v, expr) if isinstance(v, dict) else expr(v)
        items.append(f"{k!r}: {inner}")
    return "{" + ", ".join(items) + "}"


def _plan(keys: tuple[str, ...], extra_keys: tuple[str, ...]) -> _Build:
    """The generated builder of one key set: a function of its values (raw, then extra)."""
    pos = {k: i for i, k in enumerate(keys)}

    def expr(leaf: Leaf) -> str:
        if leaf.extra_index is not None:
            v = f"v[{len(keys) + leaf.extra_index}]"
        elif leaf.key not in pos:
            return "'event'"  # event.kind left out: it holds the default
        else:
            v = f"v[{pos[leaf.key]}]"
        if leaf.is_evidence:
            return f"_evidence({v})"
        return f"_t({v})" if leaf.is_time else v

    src = f"def _build(v):\n    return {_display(shape_tree(keys, extra_keys), expr)}\n"
    scope: dict[str, Any] = {"_t": _time_value, "_evidence": _evidence}
    exec(compile(src, "<keibi-ecs-plan>", "exec"), scope)  # the code made above
    build: _Build = scope["_build"]
    return build


def _evidence(value: Any) -> Any:
    """The evidence list: nested objects, or JSON already made (:func:`dumps`)."""
    if type(value) is msgspec.Raw:
        return value
    return [_ecs(e) for e in value]


def _time_value(value: Any) -> Any:
    """A time field's value as written: RFC 3339 for a number, anything else as it is."""
    if type(value) is float:  # format_time, inlined for the common case
        sec = value % 60.0
        head = _MINUTE_TEXT.get(value - sec)
        text = _WHOLE_SECOND.get(sec)
        return head + text if head is not None and text is not None else _format_time(value)
    return format_time(float(value)) if isinstance(value, (float, int)) else value


_PLANS: dict[Any, _Build | None] = {}


def _plan_of(raw: dict[str, Any]) -> tuple[_Build | None, tuple[Any, ...]]:
    """The plan of a flat ``to_builtins`` form (None: the slow path) and its values."""
    extra = raw.get("keibi.extra")
    sig: Any = (tuple(raw), tuple(extra)) if extra else tuple(raw)
    plan = _PLANS.get(sig)
    if plan is None:
        if sig in _PLANS or len(_PLANS) >= _PLAN_MAX:
            return None, ()
        try:
            plan = _plan(sig[0] if extra else sig, tuple(extra) if extra else ())
        except Unplannable:
            _PLANS[sig] = None
            return None, ()
        _PLANS[sig] = plan
    return plan, ((*raw.values(), *extra.values()) if extra else tuple(raw.values()))


def _ecs(raw: dict[str, Any]) -> dict[str, Any]:
    """The nested ECS object of a flat ``to_builtins`` form of an Event."""
    plan, values = _plan_of(raw)
    if plan is None:
        return _ecs_slow(raw)
    return plan(values)


def to_ecs(event: Event) -> dict[str, Any]:
    """The nested ECS object for ``event`` (``None`` and empty fields left out)."""
    return _ecs(msgspec.to_builtins(event))


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in FIELD_ATTRS:
            _flatten(value, name + ".", out)
        else:
            out[name] = value


def from_ecs(obj: dict[str, Any]) -> Event:
    """Build an :class:`Event` from a nested ECS object (inverse of :func:`to_ecs`)."""
    flat: dict[str, Any] = {}
    _flatten(obj, "", flat)
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in flat.items():
        if key in FIELD_ATTRS or key == "@timestamp":
            if key in TIME_FIELDS and isinstance(value, str):
                value = parse_time(value)
            elif key == "keibi.alert.evidence" and isinstance(value, list):
                value = [to_builtin_flat(from_ecs(v)) for v in value if isinstance(v, dict)]
            known[key] = value
        else:
            extra[key] = value
    if extra:
        known["keibi.extra"] = extra
    return msgspec.convert(known, Event)


def to_builtin_flat(event: Event) -> dict[str, Any]:
    """The flat (dotted-key) builtin form msgspec converts back into an Event."""
    out: dict[str, Any] = msgspec.to_builtins(event)
    return out


# Evidence events as JSON, by identity (an event is often evidence of several alerts
# printed together: the brute force and the spraying from one address); each entry keeps
# its event alive, so an id is never reused while cached.
_EVIDENCE_JSON: dict[int, tuple[Event, bytes]] = {}
_EVIDENCE_JSON_MAX = 1024


def _evidence_parts(events: Any) -> list[bytes]:
    """The JSON of each evidence event (:func:`dumps`), in order.

    Each event's JSON is cached by identity. An alert's events come in runs of one shape,
    so the writer of the last one is tried first.
    """
    cache = _EVIDENCE_JSON
    cached = cache.get
    writers = _evidence_writers
    parts: list[bytes] = []
    add = parts.append
    for e in events:
        hit = cached(id(e))
        if hit is not None and hit[0] is e:
            add(hit[1])
            continue
        out = _written(writers, e)
        if len(cache) >= _EVIDENCE_JSON_MAX:
            cache.clear()
        cache[id(e)] = (e, out)
        add(out)
    return parts


def _evidence_json(events: Any) -> msgspec.Raw:
    return msgspec.Raw(b"[" + b",".join(_evidence_parts(events)) + b"]")


_writers = Writers(_time_value, _evidence_parts)  # alerts and lone events
_evidence_writers = Writers(_time_value, _evidence_parts)  # the events in an alert


def _dumps_planned(event: Event) -> bytes:
    """:func:`dumps` by way of ``to_builtins`` and the nested dict (the reference bytes)."""
    evidence = event.alert_evidence
    if not evidence:
        return _encoder.encode(_ecs(msgspec.to_builtins(event)))
    raw = msgspec.to_builtins(msgspec.structs.replace(event, alert_evidence=None))
    raw["keibi.alert.evidence"] = _evidence_json(evidence)
    return _encoder.encode(_ecs(raw))


def dumps(event: Event) -> bytes:
    """Canonical compact JSON of ``event`` (no trailing newline).

    The writer of the event's shape (:mod:`keibi.events.shapes`) makes the bytes; an event
    it does not fit, or that it fails on, goes through :func:`_dumps_planned`, which makes
    the same bytes (or raises the error the encoding has always raised).
    """
    return _written(_writers, event)


def _written(writers: Writers, event: Event) -> bytes:
    """``event`` as JSON by the writer of its shape, else by :func:`_dumps_planned`."""
    try:
        out = writers.last(event)
        if out is None:
            out = writers.write(event)
    except Exception:  # the planned path decides: the same bytes, or its own error
        out = None
    return out if out is not None else _dumps_planned(event)


def loads(data: bytes | str) -> Event:
    """Parse one JSON line written by :func:`dumps`."""
    obj = _decoder.decode(data)
    if not isinstance(obj, dict):
        raise ValueError("an ECS event must be a JSON object")
    return from_ecs(obj)
