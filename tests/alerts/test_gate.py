"""The agent's suppression step and baseline hook over a real store."""

from __future__ import annotations

from pathlib import Path

from keibi.alerts.gate import SuppressionGate
from keibi.alerts.grouping import AlertUpdate
from keibi.events.model import Event
from keibi.store import baselines
from keibi.store.sqlite import Store

T0 = 1_795_000_000.0


def Upd(alert: Event, new: bool = True) -> AlertUpdate:
    return AlertUpdate(alert, new)


def alert(aid: str, rule: str = "r1", **kw: object) -> Event:
    return Event(timestamp=T0, kind="alert", alert_id=aid, rule_id=rule, rule_name=rule,
                 **kw)  # type: ignore[arg-type]


def test_gate_follows_the_store_and_counts_in_the_commit(tmp_path: Path) -> None:
    now = [T0]
    with Store(tmp_path / "keibi.db", clock=lambda: now[0]) as store:
        gate = SuppressionGate(store, refresh=0.0)
        ups = {"a": Upd(alert("a")), "b": Upd(alert("b", "r2"))}
        assert list(gate.filter(ups, now[0])) == ["a", "b"]
        s = store.add_suppression(reason="noisy", rule="r1", expires=T0 + 100)
        kept = gate.filter(ups, now[0])
        assert list(kept) == ["b"]
        store.commit([], [u.alert for u in kept.values()], suppressed=gate.take_hits())
        assert store.suppressions()[0].hits == 1 and gate.total == 1
        # expired: alerts pass again; one held back before passes as new
        now[0] = T0 + 101
        assert list(gate.filter({"c": Upd(alert("c"))}, now[0])) == ["c"]
        (again,) = gate.filter({"a": Upd(alert("a"), new=False)}, now[0]).values()
        assert again.new
        (later,) = gate.filter({"a": Upd(alert("a"), new=False)}, now[0]).values()
        assert not later.new
        # removed: likewise
        now[0] = T0 + 102
        s2 = store.add_suppression(reason="x", fields={"user.name": "alice"})
        assert gate.filter({"d": Upd(alert("d", user_name="alice"))}, now[0]) == {}
        store.remove_suppression(s2.id)
        assert list(gate.filter({"e": Upd(alert("e", user_name="alice"))}, now[0])) == ["e"]
        assert s.id != s2.id


def test_live_baseline_saves_when_changed_and_obeys_requests(tmp_path: Path) -> None:
    with Store(tmp_path / "keibi.db") as store:
        live = baselines.LiveBaseline(store, refresh=0.0)
        ls = Event(timestamp=T0, action="process-started", process_executable="/bin/ls",
                   host_name="web01")
        assert live.observe_all([ls], T0) == []  # learning
        cp = live.checkpoints()
        assert set(cp) == {baselines.CHECKPOINT}
        assert live.checkpoints() == {}  # nothing new
        store.commit([], [], cp)
        # keibi baseline reset from another process
        baselines.request_reset(store, ["executable"])
        live.observe_all([], T0 + 1)
        assert live.baseline.entries("executable") == {}
        assert set(live.checkpoints()) == {baselines.CHECKPOINT}
        # a reset is applied once
        live.baseline.observe(ls, T0 + 2)
        live.observe_all([], T0 + 3)
        assert live.baseline.entries("executable") == {"web01": ["/bin/ls"]}
