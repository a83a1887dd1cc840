"""The canonical JSON encoding of events: nested ECS objects, one per line.

``dumps(event)`` gives compact UTF-8 JSON with nested objects (``{"source": {"ip": ...}}``)
and RFC 3339 UTC time stamps with microseconds; ``loads`` is its exact inverse, so
``loads(dumps(e)) == e`` for every event whose times are whole microseconds (the parsers
only produce such times).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from keibi.events.model import FIELD_ATTRS, TIME_FIELDS, Event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


_SECOND_CACHE: dict[int, str] = {}


def format_time(ts: float) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-26T06:20:49.123456Z``."""
    us = round(ts * 1_000_000)
    secs, frac = divmod(us, 1_000_000)
    head = _SECOND_CACHE.get(secs)
    if head is None:
        if len(_SECOND_CACHE) > 4096:
            _SECOND_CACHE.clear()
        head = _SECOND_CACHE[secs] = f"{datetime.fromtimestamp(secs, UTC):%Y-%m-%dT%H:%M:%S}"
    return f"{head}.{frac:06d}Z"


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


def to_ecs(event: Event) -> dict[str, Any]:
    """The nested ECS object for ``event`` (``None`` and empty fields left out)."""
    raw: dict[str, Any] = msgspec.to_builtins(event)
    # event.kind always present and always first among event.* (a canonical order)
    flat: dict[str, Any] = {"@timestamp": raw.pop("@timestamp"),
                            "event.kind": raw.pop("event.kind", event.kind)}
    flat.update(raw)
    extra = flat.pop("keibi.extra", None)
    evidence = flat.pop("keibi.alert.evidence", None)
    if evidence is not None and event.alert_evidence is not None:
        flat["keibi.alert.evidence"] = [to_ecs(e) for e in event.alert_evidence]
    out: dict[str, Any] = {}
    _nest(flat, out)
    if extra:
        _nest(extra, out)
    return out


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


def dumps(event: Event) -> bytes:
    """Canonical compact JSON of ``event`` (no trailing newline)."""
    return _encoder.encode(to_ecs(event))


def loads(data: bytes | str) -> Event:
    """Parse one JSON line written by :func:`dumps`."""
    obj = _decoder.decode(data)
    if not isinstance(obj, dict):
        raise ValueError("an ECS event must be a JSON object")
    return from_ecs(obj)
