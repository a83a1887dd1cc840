"""A rule match: what a rule (single-event or correlation) reports when it fires."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from keibi.events.model import Event

#: at most this many triggering events travel with one match (and are kept per group)
EVIDENCE_KEEP = 20


class Match(msgspec.Struct):
    """One firing of one rule (a Struct: built in C, several times faster than a
    dataclass, and the engine builds one per rule that holds for an event).

    ``count`` and ``events`` cover only what is NEW since the rule's previous firing for
    the same group, so that merging matches into an alert never counts an event twice.
    ``context`` holds events that explain the firing without being what it counts (a
    temporal correlation's earlier steps): evidence, but neither counted nor used for the
    alert's entity fields.
    """

    rule_id: str
    time: float  # event time of the match (its completing event)
    start: float  # earliest event time among the newly contributed events
    count: int  # underlying events newly contributed
    events: tuple[Event, ...]  # newly contributed evidence (at most EVIDENCE_KEEP)
    group: dict[str, Any] | None = None  # correlation group-by values
    distinct: int | None = None  # value_count: distinct values in the window
    context: tuple[Event, ...] = ()  # evidence that is not counted (earlier steps)
    #: ``group`` as the alert layer keys it (``((name, hashable(value)), ...)``), when the
    #: correlation computed it once for its group; None: computed from ``group``
    group_key: tuple[tuple[str, Any], ...] | None = None

    @classmethod
    def single(cls, rule_id: str, event: Event) -> Match:
        ts = event.timestamp
        return cls(rule_id, ts, ts, 1, (event,))


def hashable(value: Any) -> Any:
    """A dict-key form of a field value (lists become tuples, dicts sorted tuples)."""
    if isinstance(value, list | tuple):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    return value


class EventTable:
    """Events shared by several parts of a state snapshot, each stored once.

    Correlation windows and alerts often hold the same event objects; a snapshot refers
    to them by index into one list instead of encoding every copy.
    """

    def __init__(self, events: list[Event] | None = None) -> None:
        self.events: list[Event] = events if events is not None else []
        self._index: dict[int, int] = {}

    def ref(self, event: Event) -> int:
        """The index of ``event`` (added on first sight)."""
        i = self._index.get(id(event))
        if i is None:
            i = self._index[id(event)] = len(self.events)
            self.events.append(event)
        return i

    def refs(self, events: Iterable[Event]) -> list[int]:
        return [self.ref(e) for e in events]

    def get(self, refs: Iterable[int]) -> list[Event]:
        """The events behind ``refs`` (out-of-range refs are skipped)."""
        n = len(self.events)
        return [self.events[i] for i in refs if 0 <= i < n]
