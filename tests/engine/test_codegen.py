"""Generated code agrees with the plain forms it replaces.

Predicates are generated (:func:`keibi.engine.predicate.build`) and must decide exactly
as the closures of :func:`keibi.engine.predicate.build_closures`; the literal filter's
generated field reads (:class:`keibi.engine.literals.LiteralFilter`) must say exactly
which clauses hold, as an atom-by-atom reference does. Both over the oracle matrix, the
built-in rules and the SigmaHQ sample, with generated events and odd variants of them
(upper case, lists, numbers, missing fields).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest

from keibi.engine.compile import CompiledRule, NotEvaluable, compile_rule
from keibi.engine.fields import getter
from keibi.engine.ir import INT_FIELDS
from keibi.engine.literals import Atom, Clauses, LiteralFilter, _field_of
from keibi.engine.predicate import build, build_closures
from keibi.engine.synth import prove
from keibi.engine.values import as_text
from keibi.events.model import FIELD_ATTRS, Event
from keibi.rules.loader import builtin_rules_dir, load_rules
from tests.engine import test_oracle_sqlite as oracle
from tests.engine.helpers import T0, write_rules
from tests.rules.sigmahq import sigmahq_dir


@cache
def compiled_rules() -> list[CompiledRule]:
    """Every evaluable single-event rule: the built-in ones and the SigmaHQ sample."""
    res = load_rules([builtin_rules_dir(), sigmahq_dir()])
    assert not res.errors
    out = []
    for rule in res.rules:
        if rule.is_correlation:
            continue
        with contextlib.suppress(NotEvaluable):
            out.append(compile_rule(rule))
    assert len(out) >= 230
    return out


def _variants(event: Event, rng: random.Random) -> Iterator[Event]:
    """``event`` and odd forms of it: upper-cased texts, texts as one-element lists,
    numbers, a field dropped."""
    yield event
    flat = {k: v for k, v in msgspec.structs.asdict(event).items()
            if v not in (None, ()) and k not in ("timestamp", "extra")}
    extra = dict(event.extra or {})

    def with_(attrs: dict[str, Any], ex: dict[str, Any]) -> Event:
        return msgspec.structs.replace(event, **attrs, extra=ex or None)

    def up(v: Any) -> Any:
        if isinstance(v, str):
            return v.upper()
        if isinstance(v, tuple | list):
            return type(v)(up(x) for x in v)
        return v

    yield with_({k: up(v) for k, v in flat.items()}, {k: up(v) for k, v in extra.items()})
    yield with_({k: (v,) for k, v in flat.items() if isinstance(v, str)},
                {k: [v] if isinstance(v, str) else v for k, v in extra.items()})
    yield with_({k: int(v) for k, v in flat.items() if isinstance(v, str) and v.isdigit()},
                {k: int(v) if isinstance(v, str) and v.isdigit() else v
                 for k, v in extra.items()})
    names = sorted(flat) + sorted(extra)
    if names:
        drop = rng.choice(names)
        yield with_({drop: None} if drop in flat else {},
                    {k: v for k, v in extra.items() if k != drop})


@cache
def corpus() -> list[Event]:
    """Generated events for every rule (matching, and with its detection blanked), odd
    variants of them, and everyday events."""
    rng = random.Random(7)
    out: list[Event] = []
    for cr in compiled_rules():
        found = prove(cr.rule.sigma, cr.predicate, tries=2)  # type: ignore[arg-type]
        if found is None:
            continue
        for e in (found.event, found.blanked()):
            out += _variants(e, rng)
    everyday = [
        Event(timestamp=T0, dataset="keibi.audit", action="process-started",
              category=("process",), type=("start",), process_executable="/usr/bin/ls",
              process_name="ls", process_args=("ls", "-la", "/tmp"),
              process_command_line="ls -la /tmp", user_name="alice",
              extra={"auditd.record_types": ["SYSCALL", "EXECVE"],
                     "auditd.data.syscall": "execve", "auditd.data.a0": "ls"}),
        Event(timestamp=T0, dataset="keibi.auth", action="sudo-command", user_name="bob",
              process_command_line="/usr/bin/systemctl stop firewalld",
              message="bob : TTY=pts/0 ; COMMAND=/usr/bin/systemctl stop firewalld"),
        Event(timestamp=T0, dataset="keibi.syslog", message="segfault at 0 ip sp error 4"),
        # a program some rule names as argument 0, here in another place
        Event(timestamp=T0, dataset="keibi.audit", action="process-started",
              category=("process",), type=("start",), process_executable="/usr/bin/ssh",
              process_name="ssh", process_args=("ssh", "-p", "22", "uptime", "uname"),
              process_command_line="ssh -p 22 uptime uname",
              extra={"auditd.record_types": ["SYSCALL", "EXECVE"]}),
    ]
    for e in everyday:
        out += _variants(e, rng)
    return out


def test_generated_predicates_agree_with_closures_over_the_oracle_matrix(
        tmp_path: Path) -> None:
    checked = 0
    for i, case in enumerate(oracle.CASES):
        (rule,) = write_rules(tmp_path / str(i), oracle.rule_text(case))
        ir = compile_rule(rule).ir
        generated, plain = build(ir), build_closures(ir)
        for row in oracle.events(case):
            event = oracle.keibi_event(case, row)
            assert generated(event) == plain(event), (case.id, row)
            checked += 1
    assert checked > 1000


def test_generated_predicates_agree_with_closures_over_sigmahq_and_builtin_rules() -> None:
    events = corpus()
    fired = 0
    for cr in compiled_rules():
        assert cr.predicate.__code__.co_filename == "<keibi-predicate>", cr.rule.path
        plain = build_closures(cr.ir)
        for event in events:
            got = cr.predicate(event)
            assert got == plain(event), (cr.rule.path, event)
            fired += got
    assert fired > 200  # not vacuous: the generated events fire their rules


def test_tests_of_the_values_events_mostly_hold_agree_with_closures() -> None:
    """One exact value of a routed field (or the outcome) is compared first as events hold
    it; any other form of the value still gets the test proper."""
    from keibi.engine.ir import And, FieldTest, Not
    from keibi.engine.values import StrTest

    def exact(field: str, value: str) -> FieldTest:
        return FieldTest(field, StrTest(exact=frozenset({value})))

    ir = And((exact("event.category", "process"), exact("event.action", "process-started"),
              Not(exact("event.outcome", "failure"))))
    odd = And((exact("event.category", "Process"), exact("event.action", "X")))  # not lower
    generated, plain = build(ir), build_closures(ir)
    generated_odd, plain_odd = build(odd), build_closures(odd)
    categories: list[Any] = [("process",), ["process"], "PROCESS", ("Process",), "process",
                             ("process", "x"), ("x", "process"), (), None, 1, [["process"]]]
    actions: list[Any] = ["process-started", "PROCESS-STARTED", None, 5, ["process-started"],
                          "X", "x"]
    outcomes: list[Any] = ["failure", "FAILURE", "success", None, ("failure",), True]
    hits = 0
    for category in categories:
        for action in actions:
            for outcome in outcomes:
                e = Event(timestamp=T0, category=category, action=action, outcome=outcome)
                assert generated(e) == plain(e), e
                assert generated_odd(e) == plain_odd(e), e
                hits += generated(e)
    assert hits > 10


# -- the literal filter -------------------------------------------------------------------

def _atom_holds(atom: Atom, event: Event) -> bool:
    """The plain meaning of an atom (see :mod:`keibi.engine.literals`): on ``f[N]``, of
    element N of list ``f`` (as predicates read it); a presence, of the whole field."""
    kind, field, lit = atom
    if kind == "present":
        return event.get(_field_of(field)) is not None
    value = getter(field)(event)
    if value is None:
        return False
    items = value if isinstance(value, tuple | list) else (value,)
    for v in items:
        text = as_text(v).lower()
        if ((kind == "exact" and text == lit) or (kind == "prefix" and text.startswith(lit))
                or (kind == "suffix" and text.endswith(lit))
                or (kind == "contains" and lit in text)):
            return True
    return False


def reference_passing(gates: list[Clauses], event: Event) -> set[int]:
    return {n for n, cs in enumerate(gates)
            if cs and all(any(_atom_holds(a, event) for a in c) for c in cs)}


def odd_events(gates: list[Clauses], base: list[Event], n: int, seed: int,
               values: dict[str, set[str]] | None = None) -> list[Event]:
    """``n`` events from ``base`` with some fields the clauses read (and the fields of
    ``values``, with those values) set to odd values: their literals as they are,
    upper-cased, inside longer texts, as list elements at random places (where positions
    count), and numbers, booleans, empty and nested lists, None -- what the filter's memos
    and fast paths must answer as the atoms do."""
    rng = random.Random(seed)
    literals: dict[str, list[str]] = {k: sorted(v) for k, v in (values or {}).items()}
    for cs in gates:
        for c in cs:
            for _, field, lit in c:
                literals.setdefault(_field_of(field), []).append(lit)
    fields = sorted(literals)

    def text(name: str) -> str:
        lit = rng.choice(literals[name]) or "x"
        return rng.choice([lit, lit.upper(), f"a {lit} b", f"/x/{lit}", lit[1:], "zz"])

    def value(name: str) -> Any:
        r = rng.random()
        if r < 0.35:
            return text(name)
        if r < 0.7:  # a list, a literal anywhere in it
            items: list[Any] = [text(name) for _ in range(rng.randint(0, 5))]
            return tuple(items) if rng.random() < 0.7 else items
        return rng.choice([0, 1, 22, True, False, 1.0, (), [], [["nested"]],
                           ("a", 1), ["x", True], None, [text(name), [text(name)]]])

    out = []
    for _ in range(n):
        event = rng.choice(base)
        attrs: dict[str, Any] = {}
        extra = dict(event.extra or {})
        for name in rng.sample(fields, rng.randint(1, 4)):
            if name in FIELD_ATTRS:
                attrs[FIELD_ATTRS[name]] = value(name)
            else:
                extra[name] = value(name)
        if rng.random() < 0.3:  # many other fields, as real audit events hold
            extra |= {f"auditd.data.other{i}": str(i) for i in range(rng.randint(5, 25))}
        out.append(msgspec.structs.replace(event, **attrs, extra=extra or None))
    return out


def _nested(event: Event) -> bool:
    """Whether a list of the event holds a list (the filter then lets a positional atom
    of that element pass: a superset, as a predicate tests each of its elements)."""
    values = [*msgspec.structs.astuple(event), *(event.extra or {}).values()]
    return any(isinstance(v, tuple | list) and any(isinstance(x, tuple | list) for x in v)
               for v in values)


def test_filter_says_which_rules_pass_as_the_atoms_do() -> None:
    rules = [cr.clauses for cr in compiled_rules()]
    lf = LiteralFilter(rules)
    # clauses on fields few rules read are left out, never a rule's last one
    assert all(set(kept) <= set(cs) and bool(kept) == bool(cs)
               for kept, cs in zip(lf.clauses, rules, strict=True))
    assert lf.clauses != rules
    seen = 0
    for _ in range(2):  # the second time from the memos
        for event in corpus():
            got = lf.passing(event)
            assert got == reference_passing(lf.clauses, event), event
            seen += len(got)
    assert seen > 500


def test_filter_answers_odd_values_as_the_atoms_do() -> None:
    """Random odd values on the fields the clauses read, twice (computed, then from the
    memos): the filter, a selector over every rule, and one told the index fields' answer
    say what the atoms say (a superset where a list holds a list)."""
    rules = [cr.clauses for cr in compiled_rules()]
    lf = LiteralFilter(rules)
    events = odd_events(lf.clauses, corpus(), 2000, seed=5)
    nums = list(range(len(rules)))
    every = lf.selector(nums, nums)
    known = ("event.action", "process.name")
    told = lf.selector(nums, nums, known=known)
    passed = 0
    for _ in range(2):  # computed, then from the memos
        for event in events:
            want = reference_passing(lf.clauses, event)
            got = lf.passing(event)
            assert want <= got, event
            assert got == want or _nested(event), event
            selected = set(every(event))
            assert selected == got | lf.ungated, event
            m = 0
            for f in known:
                m |= lf.value_mask(f, event.get(f))
            assert set(told(event, m)) == selected, event
            passed += len(want)
    assert passed > 1000


def test_a_bound_selector_answers_as_the_plain_one() -> None:
    """Rules reading attribute texts only (a command line, an executable) get a selector
    remembering its answer per tuple of values, one set per index key: over odd values,
    seen once and again, it answers as the plain selector does. Not where the raw record
    is read (keyword rules): it holds its time stamp and never comes again."""
    rules = [cr.clauses for cr in compiled_rules()]
    lf = LiteralFilter(rules)

    def texts_only(cs: Clauses, raw: bool) -> bool:
        fields = {_field_of(f) for c in cs for _, f, _ in c}
        return bool(cs) and ("event.original" in fields) == raw and all(
            f in FIELD_ATTRS and f not in INT_FIELDS for f in fields)

    texts = [n for n, cs in enumerate(lf.clauses) if texts_only(cs, raw=False)]
    keywords = [n for n, cs in enumerate(lf.clauses) if texts_only(cs, raw=True)]
    assert keywords and "BOUND" not in lf.selector(keywords, keywords).__globals__
    plain = lf.selector(texts, texts)
    assert "BOUND" in plain.__globals__
    known = lf.value_mask("event.action", "ssh-login")
    bound, other = lf.bind(plain, known), lf.bind(plain, 0)
    base = [e for e in corpus() if not e.extra]
    events = odd_events([lf.clauses[n] for n in texts], base, 2000, seed=3)
    selected = 0
    for _ in range(2):
        for event in events:
            want = plain(event, known)
            assert bound(event) == want, event
            assert other(event) == plain(event, 0), event
            selected += len(want)
    assert selected > 500
    assert lf._selections  # answered from the tuples the second time


def test_a_bound_selector_never_takes_equal_values_of_other_texts_for_each_other() -> None:
    """``1 == True == 1.0``, but their texts differ: a value is remembered only when it is
    a text (or tuple of texts) its field remembers."""
    msg = "message"
    gates: list[Clauses] = [(frozenset({("exact", msg, "1")}),),
                            (frozenset({("exact", msg, "true")}),),
                            (frozenset({("exact", msg, "1.5")}),),
                            (frozenset({("exact", "user.name", "root")}),)]
    lf = LiteralFilter(gates)
    plain = lf.selector([0, 1, 2, 3], [0, 1, 2, 3])
    bound = lf.bind(plain, 0)
    for _ in range(2):
        for value in (1, True, 1.0, "1", "true", "TRUE", 1.5, "1.5", ("1",), ["1"]):
            e = Event(timestamp=T0, message=value, user_name="root")  # type: ignore[arg-type]
            assert bound(e) == plain(e, 0), value
    assert bound(Event(timestamp=T0, message=True)) == (1,)  # type: ignore[arg-type]
    assert bound(Event(timestamp=T0, message=1)) == (0,)  # type: ignore[arg-type]


def test_positions_count_where_a_rule_names_one() -> None:
    """An atom on ``process.args[0]`` holds for element 0 only; one on the whole list, for
    any element; a list is answered whole from the memo, positions included."""
    args = "process.args"
    lf = LiteralFilter([frozenset({("exact", f"{args}[0]", "grep")}),
                        frozenset({("exact", args, "grep")}),
                        frozenset({("suffix", f"{args}[2]", ".zip")})])

    def passing(value: Any) -> set[int]:
        return lf.passing(Event(timestamp=T0, process_args=value))

    for _ in range(2):
        assert passing(("grep", "-r", "x")) == {0, 1}
        assert passing(("ssh", "grep")) == {1}
        assert passing(["GREP", "a", "b.ZIP"]) == {0, 1, 2}
        assert passing(("a", "b")) == set()
        assert passing("grep") == {1}  # a text: no element 0
        assert passing([["grep"], "x"]) == {0}  # a list there: it may hold it
        assert passing(("a", "b", 7)) == set()


def test_filter_never_gates_out_a_matching_event() -> None:
    rules = compiled_rules()
    lf = LiteralFilter([cr.clauses for cr in rules])
    for event in corpus():
        passing = lf.passing(event)
        for n, cr in enumerate(rules):
            if cr.predicate(event):
                assert not cr.clauses or n in passing, (cr.rule.path, event)


def test_substrings_are_found_word_by_word_and_across_words() -> None:
    cmd = "process.command_line"
    lf = LiteralFilter([
        frozenset({("contains", cmd, "chmod +x")}),  # a space: looked for in the whole text
        frozenset({("contains", cmd, "base64")}),  # inside one word
        frozenset({("contains", cmd, "  ")}),  # spaces only
        frozenset({("contains", cmd, " -e ")}),
        frozenset({("contains", cmd, "-x")}),  # shorter than a 3-gram
    ])

    def passing(text: str) -> set[int]:
        return lf.passing(Event(timestamp=T0, process_command_line=text))

    assert passing("sh -c 'CHMOD +X /tmp/a; base64 -d'") == {0, 1}
    assert passing("chmod  +x a") == {2}  # two spaces: no "chmod +x"
    assert passing("nc -e") == set()  # " -e " needs a space after
    assert passing("nc -e /bin/sh") == {3}
    assert passing("nc -e  /bin/sh") == {2, 3}
    assert passing("a-xb base64x") == {1, 4}
    assert passing("chmod +x") == {0}
    long = "x" * 300 + " chmod +x " + "base64" * 50  # longer than the memo keeps
    assert passing(long) == passing(long) == {0, 1}


def test_list_values_are_remembered_only_when_all_texts() -> None:
    lf = LiteralFilter([frozenset({("exact", "process.args", "1")}),
                        frozenset({("exact", "process.args", "true")})])

    def passing(args: Any) -> set[int]:
        return lf.passing(Event(timestamp=T0, process_args=args))

    assert passing(("a", "1")) == {0}
    # 1 == True as dict keys: a list holding True is never answered from the memo
    assert passing(("a", True)) == {1}
    assert passing(("a", 1)) == {0}
    assert passing(["a", ["1"]]) == set()  # unhashable: computed every time
    assert passing(("1", ["1"])) == passing(("1", ["1"])) == {0}
    assert passing(()) == set()


def test_numbers_are_remembered_apart_from_texts_and_booleans() -> None:
    port = "destination.port"
    lf = LiteralFilter([frozenset({("exact", port, "1")}), frozenset({("exact", port, "true")})])

    def passing(value: Any) -> set[int]:
        return lf.passing(Event(timestamp=T0, destination_port=value))

    for _ in range(2):
        assert passing(1) == {0}
        assert passing(True) == {1}  # True == 1 as a dict key, but its text is "true"
        assert passing("1") == {0}
        assert passing(1.0) == {0}  # a whole float: the text of its integer
        assert passing(2) == set()


def test_a_rule_passes_only_when_every_clause_holds() -> None:
    exe, cmd = "process.executable", "process.command_line"
    others: list[Clauses] = [(frozenset({("contains", cmd, f"x{i}")}),
                              frozenset({("suffix", exe, f"/x{i}")})) for i in range(3)]
    lf = LiteralFilter([
        (frozenset({("suffix", exe, "/systemctl")}), frozenset({("contains", cmd, "stop")})),
        (frozenset({("present", "user.effective.id", "")}),),
        None,
        *others,
    ])
    assert lf.ungated == {2}
    e = Event(timestamp=T0, process_executable="/bin/systemctl", process_command_line="x")
    assert lf.passing(e) == set()
    assert lf.passing(msgspec.structs.replace(e, process_command_line="STOP x")) == {0}
    assert lf.passing(Event(timestamp=T0, user_effective_id="0")) == {1}


def test_clauses_on_fields_few_rules_read_are_left_out() -> None:
    exe, cwd = "process.executable", "process.working_directory"
    euid, comm = ("present", "user.effective.id", ""), ("exact", "auditd.data.comm", "split")
    lf = LiteralFilter([
        (frozenset({("exact", cwd, "/var/opt/microsoft/scx/tmp")}),
         frozenset({("suffix", exe, "/sh")})),
        (frozenset({("exact", cwd, "/tmp")}),),  # its only clause: kept
        (frozenset({("suffix", exe, "/a")}), frozenset({euid}), frozenset({comm})),
        (frozenset({("suffix", exe, "/b")}),),
    ])
    assert lf.clauses[0] == (frozenset({("suffix", exe, "/sh")}),)
    assert lf.clauses[1] == (frozenset({("exact", cwd, "/tmp")}),)
    # whether a field has a value, and an extra field the event lacks, cost nothing
    assert len(lf.clauses[2]) == 3
    assert lf.passing(Event(timestamp=T0, process_executable="/bin/sh")) == {0}


def test_selectors_keep_rule_order_and_share_the_filter() -> None:
    exe = "process.executable"
    gates: list[Clauses] = [(frozenset({("suffix", exe, f"/t{i}")}),) for i in range(4)]
    gates.append(())
    lf = LiteralFilter(gates)
    one = lf.selector(["a", "b", "c"], [0, 2, 4])
    two = lf.selector(["x", "y"], [1, 2])
    e = Event(timestamp=T0, process_executable="/bin/t2")
    assert one(e) == ("b", "c") and two(e) == ("y",)
    assert one(Event(timestamp=T0)) == ("c",) and two(Event(timestamp=T0)) == ()
    assert lf.fields[exe].memo  # one answer, computed once for both
    with pytest.raises(ValueError, match="one rule number per item"):
        lf.selector(["a"], [0, 1])


def test_a_selector_given_the_known_fields_answers_as_one_reading_them() -> None:
    rules = compiled_rules()
    lf = LiteralFilter([cr.clauses for cr in rules])
    nums = list(range(len(rules)))
    known = ("event.action", "process.name")
    plain, told = lf.selector(nums, nums), lf.selector(nums, nums, known=known)
    for event in corpus():
        m = 0
        for f in known:
            m |= lf.value_mask(f, event.get(f))
        assert told(event, m) == plain(event), event


def test_fields_named_in_generated_code_are_attributes_only() -> None:
    """Field names and values reach generated code as bound constants, never as text."""
    odd = 'x"); import os; ("'
    lf = LiteralFilter([frozenset({("exact", odd, "v")})])
    assert odd not in FIELD_ATTRS
    assert lf.passing(Event(timestamp=T0, extra={odd: "V"})) == {0}
