"""The canonical JSON encoding of events: nested ECS objects, one per line.

``dumps(event)`` gives compact UTF-8 JSON with nested objects (``{"source": {"ip": ...}}``)
and RFC 3339 UTC time stamps with microseconds; ``loads`` is its exact inverse, so
``loads(dumps(e)) == e`` for every event whose times are whole microseconds (the parsers
only produce such times).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from keibi.events.model import FIELD_ATTRS, TIME_FIELDS, Event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


_MINUTE_TEXT: dict[int, str] = {}  # epoch minute -> "YYYY-MM-DDTHH:MM"
_TIME_TEXT: dict[float, str] = {}


def format_time(ts: float) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-26T06:20:49.123456Z``."""
    text = _TIME_TEXT.get(ts)
    if text is not None:
        return text
    us = round(ts * 1_000_000)
    secs, frac = divmod(us, 1_000_000)
    minute, sec = divmod(secs, 60)
    head = _MINUTE_TEXT.get(minute)
    if head is None:
        if len(_MINUTE_TEXT) > 4096:
            _MINUTE_TEXT.clear()
        head = _MINUTE_TEXT[minute] = f"{datetime.fromtimestamp(minute * 60, UTC):%Y-%m-%dT%H:%M}"
    text = f"{head}:{sec:02d}.{frac:06d}Z"
    if len(_TIME_TEXT) >= 8192:
        _TIME_TEXT.clear()
    _TIME_TEXT[ts] = text
    return text


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


# The fast path. Events of one kind have the same fields (and ``keibi.extra`` keys), so
# the nesting is planned once per key set: the reference algorithm runs on placeholders
# and the resulting tree becomes one generated dict display. A key set where a key would
# descend into a value (``a`` then ``a.b``) depends on the values: it stays on the slow
# path, as do key sets beyond the cache's bound.
_PLAN_MAX = 2048
_Build = Callable[[tuple[Any, ...]], dict[str, Any]]


class _Slot:
    __slots__ = ("expr",)

    def __init__(self, expr: str) -> None:
        self.expr = expr


class _Unplannable(Exception):
    pass


def _place(out: dict[str, Any], key: str, slot: _Slot) -> None:
    parts = key.split(".")
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if child is not None:
                raise _Unplannable  # descends into a value: value-dependent
            child = node[part] = {}
        node = child
    node[parts[-1]] = slot


def _display(tree: dict[str, Any]) -> str:
    items = []
    for k, v in tree.items():
        inner = _display(v) if isinstance(v, dict) else v.expr
        items.append(f"{k!r}: {inner}")
    return "{" + ", ".join(items) + "}"


def _tree(keys: tuple[str, ...], extra_keys: tuple[str, ...]) -> dict[str, Any]:
    """The nested object of a key set, with slots for values (the reference order)."""
    def value(i: int, key: str) -> _Slot:
        v = f"v[{i}]"
        if key == "keibi.alert.evidence":
            return _Slot(f"_evidence({v})")
        return _Slot(f"_t({v})" if key in TIME_FIELDS else v)

    pos = {k: i for i, k in enumerate(keys)}
    out: dict[str, Any] = {}
    _place(out, "@timestamp", value(pos["@timestamp"], "@timestamp"))
    kind = pos.get("event.kind")
    _place(out, "event.kind", _Slot("'event'") if kind is None else value(kind, "event.kind"))
    rest = [k for k in keys if k not in ("@timestamp", "event.kind", "keibi.extra",
                                         "keibi.alert.evidence")]
    if "keibi.alert.evidence" in pos:
        rest.append("keibi.alert.evidence")
    for k in rest:
        _place(out, k, value(pos[k], k))
    for j, k in enumerate(extra_keys):
        i = len(keys) + j
        _place(out, k, _Slot(f"_t(v[{i}])" if k in TIME_FIELDS else f"v[{i}]"))
    return out


def _plan(keys: tuple[str, ...], extra_keys: tuple[str, ...]) -> _Build:
    """The generated builder of one key set: a function of its values (raw, then extra)."""
    src = f"def _build(v):\n    return {_display(_tree(keys, extra_keys))}\n"
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
        except _Unplannable:
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


def _evidence_json(events: tuple[Event, ...]) -> msgspec.Raw:
    cache = _EVIDENCE_JSON
    parts = []
    for e in events:
        hit = cache.get(id(e))
        if hit is None or hit[0] is not e:
            if len(cache) >= _EVIDENCE_JSON_MAX:
                cache.clear()
            hit = cache[id(e)] = (e, dumps(e))
        parts.append(hit[1])
    return msgspec.Raw(b"[" + b",".join(parts) + b"]")


def dumps(event: Event) -> bytes:
    """Canonical compact JSON of ``event`` (no trailing newline)."""
    evidence = event.alert_evidence
    if not evidence:
        return _encoder.encode(_ecs(msgspec.to_builtins(event)))
    raw = msgspec.to_builtins(msgspec.structs.replace(event, alert_evidence=None))
    raw["keibi.alert.evidence"] = _evidence_json(evidence)
    return _encoder.encode(_ecs(raw))


def loads(data: bytes | str) -> Event:
    """Parse one JSON line written by :func:`dumps`."""
    obj = _decoder.decode(data)
    if not isinstance(obj, dict):
        raise ValueError("an ECS event must be a JSON object")
    return from_ecs(obj)
