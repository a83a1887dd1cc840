"""Shortcuts on the chain path give exactly what the generic path gives.

* The first step of a ``temporal_ordered`` chain of several steps has its own feed
  (``TemporalCorrelator._feed_first``), which only starts or restarts a chain.
* The group key of a correlation's match (which carries its group-by values) under a
  single group-by name is read from that group directly (``Correlator.key``); when the
  group lacks the name (``account_takeover_chain`` groups the logins after a brute force,
  grouped by address, by user name) the key comes from the event as before.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from keibi.engine.engine import Engine
from keibi.engine.temporal import TemporalCorrelator
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine import test_chain_steps as chains
from tests.engine import test_correlation as correlations

CHAINS = {"SSH Login After Brute Force",
          "Account Takeover Chain (Brute Force, Login, Then Privileged Or Persistent Action)",
          "Package Installed, Its Program Run, Then Connecting Out"}


@pytest.fixture(scope="module")
def builtins() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir()])
    assert not res.errors
    return res.rules


def _stream(seed: int) -> list[Event]:
    """Brute forces, logins, sudo, audited writes, installs, runs and connections by a
    few accounts and programs, interleaved; now and then an event arrives late."""
    rng = random.Random(seed)
    events = (correlations._takeover_stream(seed) + correlations._late_attack_stream(seed)
              + chains._stream(seed, 2000))
    end = max(e.timestamp for e in events) - correlations.T0
    for k in range(40):  # brute forces from many addresses: more chains than max_groups
        t = rng.uniform(0, end)
        events += [correlations.login(t + i, ip=f"192.0.2.{k}") for i in range(7)]
    events.sort(key=lambda e: e.timestamp + (rng.uniform(0, 60) if rng.random() < 0.05
                                             else 0.0))
    return events


def _run(rules: list[LoadedRule], events: list[Event], generic: bool
         ) -> Iterator[tuple[Any, ...]]:
    """Per event, its updates; every 400 events the state and counters; at the end the
    alerts. ``generic``: without the key shortcut."""
    engine = Engine(rules, max_groups=5)
    if generic:
        for corr in engine._correlators.values():
            corr._single_name = [None] * len(corr._single_name)
    for i, e in enumerate(events):
        yield tuple((u.new, u.alert) for u in engine.process(e))
        if i % 400 == 0:
            yield engine.snapshot(), engine.stats()
    engine.finish()
    yield tuple(engine.alerts()), engine.stats()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_first_step_feed_equals_the_generic_one(
        builtins: list[LoadedRule], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _stream(seed)
    direct = list(_run(builtins, events, generic=False))
    assert {a.rule_name for a in direct[-1][0]} >= CHAINS
    monkeypatch.setattr(TemporalCorrelator, "_feed_first",
                        lambda self, match: self._feed_one_ordered(0, match))
    assert direct == list(_run(builtins, events, generic=False))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_key_from_the_group_equals_the_generic_one(
        builtins: list[LoadedRule], seed: int) -> None:
    events = _stream(seed)
    direct = list(_run(builtins, events, generic=False))
    assert {a.rule_name for a in direct[-1][0]} >= CHAINS
    assert direct == list(_run(builtins, events, generic=True))
