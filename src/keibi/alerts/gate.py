"""The live agent's suppression step: alert updates in, the ones to keep out, hits counted.

:class:`SuppressionGate` holds a :class:`~keibi.alerts.suppress.Suppressor` fed from the
store: it re-reads the suppressions when ``keibi suppress add/remove`` changed them
(polled at most every ``refresh`` seconds, one indexed read) and when one expires. The
agent calls :meth:`SuppressionGate.filter` on each batch's alert updates before it
commits and before its sinks, then commits :meth:`SuppressionGate.take_hits` with the
batch (``Store.commit(..., suppressed=...)``), so every held-back alert is counted in
the store in the same transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from keibi.alerts.grouping import AlertUpdate
from keibi.alerts.suppress import Hit, Suppressor
from keibi.store.sqlite import Store

__all__ = ["SuppressionGate"]

DEFAULT_REFRESH = 2.0


class SuppressionGate:
    """Suppressions from the store, applied to alert updates."""

    def __init__(self, store: Store, *, refresh: float = DEFAULT_REFRESH) -> None:
        self.store = store
        self.refresh = refresh
        self.suppressor = Suppressor()
        self._version = -1
        self._next_check = -math.inf
        self._next_expiry = math.inf

    def _reload(self, now: float) -> None:
        if now < self._next_check and now < self._next_expiry:
            return
        self._next_check = now + self.refresh
        version = self.store.suppressions_version()
        if version == self._version and now < self._next_expiry:
            return
        self._version = version
        active = [s for s in self.store.suppressions() if s.active(now)]
        self.suppressor.replace(active)
        self._next_expiry = min((s.expires for s in active if s.expires is not None),
                                default=math.inf)

    def filter(self, updates: Mapping[str, AlertUpdate], now: float) -> dict[str, AlertUpdate]:
        """``updates`` (alert id -> update) without the suppressed ones (counted). An
        alert held back before whose suppression ended (removed, expired) passes as
        new: sinks that announce new alerts announce it then."""
        self._reload(now)
        sup = self.suppressor
        if not updates or (not sup and not sup.holding):
            return dict(updates)
        out: dict[str, AlertUpdate] = {}
        for k, u in updates.items():
            if sup.check(u.alert, now):
                continue
            if not u.new and sup.released(k):
                u = AlertUpdate(u.alert, True)
            out[k] = u
        return out

    def take_hits(self) -> dict[int, Hit]:
        """The hits to commit with this batch."""
        return self.suppressor.take_hits()

    @property
    def total(self) -> int:
        """Alerts held back since the agent started."""
        return self.suppressor.total
