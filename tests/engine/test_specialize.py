"""Predicates specialised to an index key answer exactly as the rule's own predicate.

The unit tests fold hand-written trees; the engine tests route odd values of every key
field (upper case, lists, numbers, None...) through an engine that specialises and one
that does not, and compare what matched, event by event, and the alerts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from keibi.engine import specialize as sp
from keibi.engine.engine import Engine
from keibi.engine.index import INDEX_FIELDS, SPECIALIZED_FIELDS
from keibi.engine.ir import And, Const, FieldTest, Node, Not, Or
from keibi.engine.specialize import ALWAYS, plain, specialize
from keibi.engine.values import FieldRefTest, StrTest
from keibi.events.encoding import dumps
from keibi.events.model import FIELD_ATTRS, Event
from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from tests.engine.helpers import sigma_rule, write_rules
from tests.engine.test_codegen import compiled_rules, corpus, odd_events
from tests.rules.sigmahq import sigmahq_dir


def eq(field: str, *values: str) -> FieldTest:
    return FieldTest(field, StrTest(exact=frozenset(values)))


#: "any process started": the built-in chain step every process start meets
STARTED = And((eq("event.category", "process"), eq("event.type", "start"),
               eq("event.action", "process-started"), Not(eq("event.outcome", "failure"))))


def test_tests_of_known_fields_are_answered_and_folded() -> None:
    known = {"event.action": "process-started", "event.category": ("process",)}
    # what is left tests only what differs from event to event
    assert specialize(STARTED, known) == And((eq("event.type", "start"),
                                              Not(eq("event.outcome", "failure"))))
    # every field known: the rule matches every event of the key, or none
    assert specialize(STARTED, {**known, "event.type": ("start",),
                                "event.outcome": "success"}) == Const(True)
    # Sigma compares case-insensitively: FAILURE is a failure
    assert specialize(STARTED, {**known, "event.outcome": "FAILURE"}) == Const(False)
    # a list field passes when one element does
    assert specialize(STARTED, {"event.category": ("network", "process")}) == And((
        eq("event.type", "start"), eq("event.action", "process-started"),
        Not(eq("event.outcome", "failure"))))
    # an absent field fails a string test: NOT of it holds
    assert specialize(Not(eq("event.outcome", "failure")), {"event.outcome": None}) == Const(
        True)


def test_the_constant_predicate_holds_for_every_event() -> None:
    """ALWAYS is a C function of the event's truth: an Event must never be false."""
    assert not hasattr(Event, "__len__") and not hasattr(Event, "__bool__")
    assert ALWAYS(Event(timestamp=0.0)) is True
    assert ALWAYS(Event(timestamp=0.0, category=(), extra={}, message="")) is True


def test_an_or_over_programs_keeps_the_key_program_branch() -> None:
    tar = And((eq("process.name", "tar"), eq("process.command_line", "tar -c")))
    zip_ = And((eq("process.name", "zip"), eq("process.command_line", "zip -r")))
    assert specialize(Or((tar, zip_)), {"process.name": "Tar"}) == eq(
        "process.command_line", "tar -c")
    assert specialize(Or((tar, zip_)), {"process.name": "rsync"}) == Const(False)


def test_field_references_and_unknown_fields_stay() -> None:
    ref = FieldTest("event.action", FieldRefTest("event.reason"))
    node = And((ref, eq("user.name", "root")))
    assert specialize(node, {"event.action": "x"}) == node
    assert sp.tested_fields(node) == {"user.name"}


@pytest.mark.parametrize("value", [1, True, 1.0, ["process"], ("process", 1), b"x"])
def test_only_plain_values_are_specialised_on(value: Any) -> None:
    """An int and a bool can be equal keys and still differ as texts ("1", "true"):
    only texts, tuples of texts and None may stand for every event of a key."""
    assert not plain(value)
    with pytest.raises(ValueError):
        specialize(STARTED, {"event.category": value})
    with pytest.raises(ValueError):
        specialize(STARTED, {"auditd.key": "x"})  # not an Event attribute


@pytest.fixture(scope="module")
def rules() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir(), sigmahq_dir()])
    assert res.errors == []
    return res.rules


def _odd_key_events(seed: int, n: int) -> list[Event]:
    """Events with odd values of every field of an index key (and of the literal
    gates' fields), in time order."""
    rules = compiled_rules()
    values: dict[str, set[str]] = {f: set() for f in (*INDEX_FIELDS, *SPECIALIZED_FIELDS)}
    for cr in rules:
        for f in values:
            values[f] |= cr.requires.get(f, frozenset())
    values["event.outcome"] |= {"success", "failure", "unknown"}
    values["event.type"] |= {"start", "end", "connection", "info", "creation"}
    events = odd_events([cr.clauses for cr in rules], corpus(), n, seed=seed, values=values)
    rng = random.Random(seed)
    out = []
    for i, e in enumerate(events):
        # the key fields once more, each from a real event or odd
        attrs = {FIELD_ATTRS[f]: rng.choice([getattr(rng.choice(events), FIELD_ATTRS[f]),
                                             None, "FAILURE", ("START",), ["start"], 1, True])
                 for f in rng.sample(SPECIALIZED_FIELDS, rng.randint(0, 2))}
        out.append(msgspec.structs.replace(e, timestamp=1_790_000_000.0 + i, **attrs))
    return out


def _matched(engine: Engine, event: Event) -> set[str]:
    return {node.id for predicate, node in engine._candidates(event) if predicate(event)}


def test_the_specialising_engine_matches_what_the_plain_one_does(
        rules: list[LoadedRule]) -> None:
    events = _odd_key_events(seed=5, n=4000)
    special = Engine(rules)
    plain_engine = Engine(rules, specialize=False)
    differ = []
    matched = 0
    for _ in range(2):  # keys computed, then remembered
        for e in events:
            want = _matched(plain_engine, e)
            got = _matched(special, e)
            matched += len(want)
            if got != want:
                differ.append((e, want ^ got))
    assert not differ, f"{len(differ)} events differ, e.g. {differ[:2]}"
    assert matched > 1000
    # the specialising engine tries fewer rules: some fell away for their keys
    tried = sum(len(special._candidates(e)) for e in events)
    assert tried < sum(len(plain_engine._candidates(e)) for e in events)


def test_alerts_are_the_same_with_and_without_specialising(rules: list[LoadedRule]) -> None:
    events = _odd_key_events(seed=8, n=3000)
    out = []
    for specialise in (True, False):
        engine = Engine(rules, specialize=specialise, updates=False)
        for e in events:
            engine.process(e)
        engine.finish()
        out.append(sorted(dumps(a) for a in engine.drain_closed()))
    assert out[0] and out[0] == out[1]


def test_a_failed_login_key_never_tries_the_success_rules(rules: list[LoadedRule]) -> None:
    """The outcome is part of a key: a failed sshd login does not even try the rules
    about successful logins, and the failed-login rule runs as 'always true'."""
    engine = Engine(rules)
    base = Event(timestamp=1_790_000_000.0, dataset="keibi.auth", action="ssh-login",
                 category=("authentication",), type=("start",), process_name="sshd",
                 source_ip="203.0.113.9", user_name="root")
    titles = {r.id: r.title for top in rules for r in top.closure()}
    failed = {titles[n.id] for _, n in engine._candidates(
        msgspec.structs.replace(base, outcome="failure"))}
    succeeded = {titles[n.id] for _, n in engine._candidates(
        msgspec.structs.replace(base, outcome="success"))}
    assert "SSH Failed Login" in failed and "SSH Failed Login" not in succeeded
    assert "SSH Successful Login" in succeeded and "SSH Successful Login" not in failed
    plain_engine = Engine(rules, specialize=False)
    every = {titles[n.id] for _, n in plain_engine._candidates(
        msgspec.structs.replace(base, outcome="failure"))}
    assert {"SSH Failed Login", "SSH Successful Login"} <= every


def test_new_program_names_cost_no_compilation(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule gated on the program name alone is specialised per name; names that fold
    it the same way share one generated predicate, so a stream of ever-new names (an
    attacker's random binaries) compiles a bounded number of them."""
    rule = write_rules(tmp_path, sigma_rule(
        "sel:\n  process.name|endswith: d\n  process.pid|gt: 1000\n"
        "other:\n  process.name: sshd\n  process.pid|lt: 10\n"
        "condition: sel or other", logsource="product: linux\n  category: process_creation"))
    built: list[Node] = []
    real = sp.build

    def counting(ir: Node) -> Any:
        built.append(ir)
        return real(ir)

    monkeypatch.setattr(sp, "build", counting)
    engine = Engine(rule)
    plain_engine = Engine(rule, specialize=False)
    rng = random.Random(4)
    fired = 0
    for i in range(400):
        name = rng.choice(["sshd", f"x{i:04d}d", f"x{i:04d}"])
        e = Event(timestamp=1_790_000_000.0 + i, dataset="keibi.audit",
                  action="process-started", category=("process",), type=("start",),
                  process_name=name, process_pid=rng.choice([1, 500, 5000]))
        assert _matched(engine, e) == _matched(plain_engine, e)
        fired += bool(_matched(engine, e))
    assert fired > 50
    assert 1 <= len(built) <= 3, built  # sshd's, and the one every other *d name shares
