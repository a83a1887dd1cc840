"""A rule match: what a rule (single-event or correlation) reports when it fires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keibi.events.model import Event

#: at most this many triggering events travel with one match (and are kept per group)
EVIDENCE_KEEP = 20


@dataclass(slots=True)
class Match:
    """One firing of one rule.

    ``count`` and ``events`` cover only what is NEW since the rule's previous firing for
    the same group, so that merging matches into an alert never counts an event twice.
    """

    rule_id: str
    time: float  # event time of the match (its completing event)
    start: float  # earliest event time among the newly contributed events
    count: int  # underlying events newly contributed
    events: tuple[Event, ...]  # newly contributed evidence (at most EVIDENCE_KEEP)
    group: dict[str, Any] | None = None  # correlation group-by values
    distinct: int | None = None  # value_count: distinct values in the window

    @classmethod
    def single(cls, rule_id: str, event: Event) -> Match:
        ts = event.timestamp
        return cls(rule_id, ts, ts, 1, (event,))
