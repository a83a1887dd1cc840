"""The engine's notion of "now", for closing windows when no event says time passed.

Correlation windows always run on EVENT time. The clock only bounds how far state may
be expired: the engine expires up to ``min(clock.now(), newest event time)`` while
events flow, so a backlog of old lines behaves exactly like ``keibi hunt`` and a line
with a far-future time stamp cannot wipe the state of the live agent.

* :class:`EventClock` (offline hunt, the default): no wall time at all (``inf``).
* :class:`WallClock` (live agent): the system time.
"""

from __future__ import annotations

import math
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (``inf``: no bound but event time)."""
        ...


class EventClock:
    """Event time only."""

    def now(self) -> float:
        return math.inf


class WallClock:
    """The system's wall time."""

    def now(self) -> float:
        return time.time()
