"""The detection engine: compiled Sigma predicates, an index, correlations, alerts.

Public API (``from keibi.engine import Engine``; imported lazily, so that the alert
layer can use :mod:`keibi.engine.match` without a cycle)::

    Engine(rules, clock=None, *, max_groups=100_000, updates=True)
        .process(event) -> list[AlertUpdate]      (no updates with updates=False)
        .process_batch(events, ticks=None, cuts=None) -> list[AlertUpdate]
        .observe(ts) / .observe_times(times)      time told by events no rule can match
        .prefilter() -> Prefilter                 which events some rule can match
        .advance(now=None) -> list[AlertUpdate]
        .finish() -> list[AlertUpdate]
        .drain_closed() -> list[Event]            closed alerts, handed over once
        .alerts() -> list[Event]
        .snapshot() -> bytes / .restore(bytes)
        .stats() -> dict
        .not_evaluable: dict[rule id, reason]
    AlertUpdate(alert, new)
    Clock (protocol), EventClock (offline, default), WallClock (live)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AlertUpdate": "keibi.alerts.grouping",
    "Clock": "keibi.engine.clock",
    "Engine": "keibi.engine.engine",
    "EventClock": "keibi.engine.clock",
    "WallClock": "keibi.engine.clock",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keibi.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
