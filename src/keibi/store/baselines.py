"""The baseline in the store, and asking a running agent to reset or replace it.

The agent keeps its :class:`~keibi.engine.baseline.Baseline` in the checkpoint
:data:`CHECKPOINT`, committed with the source offsets. ``keibi baseline reset`` and
``keibi baseline learn`` run in another process while the agent may be running and
committing its own copy, so they never just overwrite it: they leave a request (control
``baseline``: a generation number, ``reset`` with the kinds, or ``import`` of the
checkpoint :data:`IMPORT`) and apply it to the stored checkpoint as well. The agent,
between batches, applies any request newer than the generation its baseline carries
(:func:`apply_request`); the generation travels inside the baseline state, so a request
is applied once, whoever gets there first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from keibi.engine.baseline import Baseline, BaselineConfig
from keibi.events.model import Event
from keibi.store.sqlite import Store

__all__ = ["CHECKPOINT", "CONTROL", "IMPORT", "LiveBaseline", "apply_request", "load",
           "request_import", "request_reset"]

CHECKPOINT = "baseline"
IMPORT = "baseline:import"
CONTROL = "baseline"


def load(store: Store, config: BaselineConfig | None = None) -> Baseline:
    """The stored baseline (a new, learning one when there is none or it is unreadable),
    with any pending request applied."""
    data = store.get_checkpoint(CHECKPOINT)
    baseline = Baseline(config)
    if data is not None:
        try:
            baseline = Baseline.decode(data, config)
        except ValueError:
            baseline = Baseline(config)
    apply_request(store, baseline)
    return baseline


def _request(store: Store) -> dict[str, Any] | None:
    req = store.get_control(CONTROL)
    return req if isinstance(req, dict) and isinstance(req.get("generation"), int) else None


def apply_request(store: Store, baseline: Baseline) -> bool:
    """Apply a reset or import asked for since ``baseline`` was made; True when one was."""
    req = _request(store)
    if req is None or req["generation"] <= baseline.state.generation:
        return False
    if req.get("op") == "import":
        data = store.get_checkpoint(IMPORT)
        if data is not None:
            with contextlib.suppress(ValueError):  # our own bytes: unreadable only if damaged
                baseline.load(Baseline.decode(data, baseline.config).snapshot())
    else:
        kinds = req.get("kinds")
        baseline.reset(kinds if kinds else None)
    baseline.state.generation = req["generation"]
    baseline.dirty = True
    return True


def request_reset(store: Store, kinds: Sequence[str] | None = None) -> Baseline:
    """Ask for a reset of ``kinds`` (all when None/empty); returns the stored baseline
    as it is after the reset."""
    baseline = load(store)
    baseline.reset(list(kinds) if kinds else None)  # ValueError on unknown kinds first
    generation = max(baseline.state.generation, (_request(store) or {}).get("generation", 0))
    generation += 1
    baseline.state.generation = generation
    store.set_control(CONTROL, {"generation": generation, "op": "reset",
                                "kinds": list(kinds or [])},
                      checkpoints={CHECKPOINT: baseline.encode()})
    return baseline


def request_import(store: Store, baseline: Baseline) -> None:
    """Make ``baseline`` (e.g. learned from logs) the stored and the agent's baseline."""
    generation = max(load(store).state.generation,
                     (_request(store) or {}).get("generation", 0)) + 1
    baseline.state.generation = generation
    data = baseline.encode()
    store.set_control(CONTROL, {"generation": generation, "op": "import"},
                      checkpoints={CHECKPOINT: data, IMPORT: data})


class LiveBaseline:
    """The agent's baseline: loaded from the store, fed each batch's events, saved with
    the batch when it changed, and open to ``keibi baseline reset/learn`` requests
    (checked at most every ``refresh`` seconds)."""

    def __init__(self, store: Store, config: BaselineConfig | None = None, *,
                 refresh: float = 2.0) -> None:
        self.store = store
        self.refresh = refresh
        self.baseline = load(store, config)
        self._next_check = 0.0

    def observe_all(self, events: Sequence[Event], now: float) -> list[Event]:
        """The anomaly events of ``events`` (learning time: ``now``, the wall clock)."""
        if now >= self._next_check:
            self._next_check = now + self.refresh
            apply_request(self.store, self.baseline)
        observe = self.baseline.observe
        out: list[Event] = []
        for ev in events:
            found = observe(ev, now)
            if found:
                out += found
        return out

    def checkpoints(self) -> dict[str, bytes]:
        """``{CHECKPOINT: state}`` when the baseline changed since the last call."""
        if not self.baseline.dirty:
            return {}
        self.baseline.dirty = False
        return {CHECKPOINT: self.baseline.encode()}
