"""Every evaluable SigmaHQ Linux rule is proven alive by a generated event.

For each rule keibi can evaluate, :mod:`keibi.engine.synth` builds an event from the
rule's own detection (mapped onto ECS through keibi's field table) and a fresh
:class:`~keibi.engine.engine.Engine` holding only that rule must fire on it. The same
event with the detection's fields removed (the log source's fields kept) must not fire:
the proof is not vacuous.
"""

from __future__ import annotations

from functools import cache

import pytest

from keibi.engine.compile import compile_rule
from keibi.engine.engine import Engine
from keibi.engine.literals import LiteralFilter
from keibi.engine.synth import Synthesis, prove
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, load_rules
from tests.rules.sigmahq import FOUND, sigmahq_dir


def fires(rule: LoadedRule, event: Event) -> bool:
    engine = Engine([rule])
    engine.process(event)
    engine.finish()
    return engine.match_count(rule.id) > 0


@cache
def evaluable() -> list[LoadedRule]:
    res = load_rules([sigmahq_dir()])
    assert res.errors == []
    engine = Engine(res.rules)
    return [r for r in res.rules if r.id not in engine.not_evaluable]


@cache
def proof(rule: LoadedRule) -> Synthesis | None:
    return prove(rule.sigma, lambda e: fires(rule, e))  # type: ignore[arg-type]


def _ids() -> list[str]:
    # collected without failing when the sample is absent: the tests then fail, clearly
    return [r.path.stem for r in evaluable()] if FOUND is not None else ["sigmahq-missing"]


@pytest.mark.parametrize("name", _ids())
def test_generated_event_fires_the_rule_and_blanked_does_not(name: str) -> None:
    (rule,) = [r for r in evaluable() if r.path.stem == name]
    found = proof(rule)
    assert found is not None, f"{rule.path}: no generated event makes the rule fire"
    assert fires(rule, found.event)
    assert found.fields, f"{rule.path}: the proof sets no detection field"
    assert not fires(rule, found.blanked()), (
        f"{rule.path}: still fires with {sorted(found.fields)} removed")
    # the literal prefilter lets the event through (it never hides a match)
    compiled = compile_rule(rule)
    gate = compiled.gate
    assert gate is None or LiteralFilter([gate]).passing(found.event) == {0}
    assert not compiled.clauses or LiteralFilter([compiled.clauses]).passing(
        found.event) == {0}


def test_every_evaluable_sigmahq_rule_is_proven(capsys: pytest.CaptureFixture[str]) -> None:
    rules = evaluable()
    unproven = [str(r.path) for r in rules if proof(r) is None]
    with capsys.disabled():
        print(f"\nSigmaHQ linux rules proven by a generated event: "
              f"{len(rules) - len(unproven)}/{len(rules)} evaluable")
    assert len(rules) >= 207
    assert unproven == []
