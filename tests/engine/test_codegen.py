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


# -- the literal filter -------------------------------------------------------------------

def _atom_holds(atom: Atom, event: Event) -> bool:
    """The plain meaning of an atom (see :mod:`keibi.engine.literals`)."""
    kind, field, lit = atom
    value = event.get(_field_of(field))
    if value is None:
        return False
    if kind == "present":
        return True
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
