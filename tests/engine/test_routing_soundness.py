"""The index and the literal prefilter never hide a match: the engine fires exactly the
rules whose predicate holds, checked against brute force (every compiled rule on every
event) over the SigmaHQ sample, its generated positives and a benign mixed stream."""

from __future__ import annotations

import contextlib
import random
import sys
from pathlib import Path

import msgspec
import pytest

from keibi.engine.compile import NotEvaluable, compile_rule
from keibi.engine.engine import Engine
from keibi.engine.index import INDEX_FIELDS, RuleIndex
from keibi.engine.synth import solutions
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine.test_codegen import compiled_rules, corpus, odd_events
from tests.rules.sigmahq import sigmahq_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_engine_scaling as mix  # the bench's event generators


@pytest.fixture(scope="module")
def rules() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir(), sigmahq_dir()])
    assert res.errors == []
    return res.rules


def stream(rules: list[LoadedRule], evaluable: set[str]) -> list[Event]:
    rng = random.Random(3)
    events = mix.mixed(rng, 3000, [])
    for rule in rules:  # a few candidates per rule, positives and near misses alike
        if rule.id in evaluable:
            for n, s in enumerate(solutions(rule.sigma)):  # type: ignore[arg-type]
                if n >= 3:
                    break
                events += [s.event, s.blanked()]
    for i, e in enumerate(events):  # time order, for the correlations
        events[i] = msgspec.structs.replace(e, timestamp=mix.START + i)
    return events


def test_engine_fires_exactly_what_brute_force_matches(rules: list[LoadedRule]) -> None:
    compiled = []
    for rule in {id(r): r for top in rules for r in top.closure()}.values():
        if not rule.is_correlation:
            with contextlib.suppress(NotEvaluable):
                compiled.append(compile_rule(rule))
    engine = Engine(rules)
    events = stream(rules, {c.id for c in compiled})
    gated = sum(c.gate is not None for c in compiled)
    assert gated > 200  # nearly every SigmaHQ rule has a literal gate
    missed, extra = [], []
    for event in events:
        before = {c.id: engine.match_count(c.id) for c in compiled}
        engine.process(event)
        fired = {c.id for c in compiled if engine.match_count(c.id) > before[c.id]}
        want = {c.id for c in compiled if c.predicate(event)}
        missed += [(i, event) for i in want - fired]
        extra += [(i, event) for i in fired - want]
    assert engine.stats()["index"]["literal_filters"] > 0  # the prefilter was in play
    assert not missed, f"{len(missed)} matches hidden by routing, e.g. {missed[:3]}"
    assert not extra, f"{len(extra)} firings without a match, e.g. {extra[:3]}"


def test_the_index_never_hides_a_rule_from_odd_events() -> None:
    """Random odd values (see :func:`tests.engine.test_codegen.odd_events`) on the index
    fields and on every field a literal gate reads, each event routed twice (its key
    computed, then remembered): every rule whose predicate holds is a candidate."""
    rules = compiled_rules()
    index = RuleIndex([(cr.requires, n) for n, cr in enumerate(rules)],
                      gates=[cr.clauses for cr in rules])
    routed: dict[str, set[str]] = {f: set() for f in INDEX_FIELDS}
    for cr in rules:
        for f in INDEX_FIELDS:
            routed[f] |= cr.requires.get(f, frozenset())
    events = odd_events([cr.clauses for cr in rules], corpus(), 3000, seed=9, values=routed)
    matched = 0
    for _ in range(2):
        for event in events:
            found = set(index.candidates(event))
            want = {n for n, cr in enumerate(rules) if cr.predicate(event)}
            assert want <= found, (event, [rules[n].id for n in want - found])
            matched += len(want)
    assert index.stats()["literal_filters"] > 0
    assert matched > 500
