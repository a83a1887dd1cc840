"""Literal gates: a necessary condition of each rule, so skipping by it never loses a match."""

from __future__ import annotations

from pathlib import Path

import pytest

from keibi.engine.compile import compile_rule
from keibi.engine.ir import And, FieldTest, Keyword, Not, Or
from keibi.engine.literals import Gate, Gated, LiteralFilter, clauses, gate
from keibi.engine.values import CompareTest, NumTest, RegexTest, StrTest
from keibi.events.model import Event
from tests.engine import test_oracle_sqlite as oracle
from tests.engine.helpers import write_rules

EXE, CMD = "process.executable", "process.command_line"


def test_gate_shapes() -> None:
    curl = FieldTest(EXE, StrTest(suffixes=("/curl",)))
    b64 = FieldTest(CMD, StrTest(contains=("base64",)))
    pid = FieldTest("process.pid", CompareTest("gt", 1.0))
    assert gate(curl) == {("suffix", EXE, "/curl")}
    # AND: one argument's gate suffices, the most selective (exact < affix < substring)
    assert gate(And((b64, curl, pid))) == {("suffix", EXE, "/curl")}
    # OR: every branch must be gated
    assert gate(Or((b64, curl))) == {("suffix", EXE, "/curl"), ("contains", CMD, "base64")}
    assert gate(Or((b64, pid))) is None
    assert gate(Not(curl)) is None
    # numbers: exact atoms on integer fields only (their text form is canonical)
    assert gate(FieldTest("destination.port", NumTest(frozenset({4444.0})))) == {
        ("exact", "destination.port", "4444")}
    assert gate(FieldTest("auditd.data.a0", NumTest(frozenset({2.0})))) is None
    assert gate(FieldTest("event.dataset", StrTest(exact=frozenset({"keibi.audit"})))) is None
    assert gate(FieldTest(CMD, StrTest(contains=("",)))) is None  # "" is in every text
    assert gate(Keyword(StrTest(contains=("segfault",)))) == {
        ("contains", "message", "segfault"), ("contains", "event.original", "segfault")}


def test_clauses_shapes() -> None:
    curl = FieldTest(EXE, StrTest(suffixes=("/curl",)))
    b64 = FieldTest(CMD, StrTest(contains=("base64",)))
    euid = FieldTest("user.effective.id", NumTest(frozenset({33.0})))
    present = {("present", "user.effective.id", "")}
    # a number on a text field: no literal, but the field must be there
    assert clauses(euid) == (present,)
    # AND: the clauses of every argument, cheapest first
    assert clauses(And((euid, b64, curl))) == (
        {("suffix", EXE, "/curl")}, {("contains", CMD, "base64")},
        {("present", CMD, "")})
    # OR: the union of the arguments' first clauses, then of their second ones -- an
    # argument's weak clause (a mere presence) replaced by its first one: the third union
    # is the first again
    assert clauses(Or((And((curl, b64)), euid))) == (
        {("suffix", EXE, "/curl")} | present, {("contains", CMD, "base64")} | present)
    assert clauses(Or((curl, Not(b64)))) == ()
    # routing fields and fields every event of a source has give no clause
    assert clauses(FieldTest("event.category", StrTest(exact=frozenset({"process"})))) == ()
    assert clauses(FieldTest("auditd.record_types", StrTest(exact=frozenset({"execve"})))) \
        == ({("exact", "auditd.record_types", "execve")},)
    assert clauses(FieldTest("process.pid", CompareTest("gt", 1.0))) == (
        {("present", "process.pid", "")},)
    assert clauses(Keyword(StrTest(contains=("segfault",))))[0] == {
        ("contains", "message", "segfault"), ("contains", "event.original", "segfault")}


def test_an_or_argument_lends_its_first_clause_where_its_next_one_is_weak() -> None:
    """``type: EXECVE and a0: uname`` or ``a0: grep and a1|contains: vm``: the second
    union takes ``a0: uname`` again rather than the EXECVE record every execve event
    holds, so ``grep -r x`` is gated out by it."""
    a0, a1, types = "process.args[0]", "process.args[1]", "auditd.record_types"
    execve = FieldTest(types, StrTest(exact=frozenset({"execve"})))
    uname = FieldTest(a0, StrTest(exact=frozenset({"uname"})))
    grep = FieldTest(a0, StrTest(exact=frozenset({"grep"})))
    vm = FieldTest(a1, StrTest(contains=("vm",)))
    got = clauses(Or((And((execve, uname)), And((grep, vm)))))
    assert got == ({("exact", a0, "uname"), ("exact", a0, "grep")},
                   {("exact", a0, "uname"), ("contains", a1, "vm")})
    lf = LiteralFilter([got])
    assert lf.passing(Event(timestamp=0.0, process_args=("grep", "-r", "x"))) == set()
    assert lf.passing(Event(timestamp=0.0, process_args=("grep", "vmstat"))) == {0}
    assert lf.passing(Event(timestamp=0.0, process_args=("uname", "-a"))) == {0}


def test_clauses_on_fields_most_events_share_a_value_of_are_left_out() -> None:
    """A record type is left out where a literal clause stays (every EXECVE event holds
    an EXECVE record); a rule's only clauses stay."""
    types, exe = "auditd.record_types", "process.executable"
    execve = frozenset({("exact", types, "execve")})
    curl = frozenset({("suffix", exe, "/curl")})
    present = frozenset({("present", exe, "")})
    others = [(frozenset({("suffix", exe, f"/x{i}")}),) for i in range(2)]  # exe: not rare
    lf = LiteralFilter([(curl, execve), (execve,), (execve, present), *others])
    assert lf.clauses[:3] == [(curl,), (execve,), (execve, present)]


def test_clauses_holding_for_one_character_are_left_out() -> None:
    """"Remote File Copy": scp/rsync/sftp AND ':' or '@'. A raw record nearly always
    holds a ':': that clause filters nothing where the program names stay."""
    raw = "event.original"
    copy = frozenset({("contains", raw, "scp "), ("contains", raw, "rsync ")})
    colon = frozenset({("contains", raw, ":"), ("contains", raw, "@")})
    others = [(frozenset({("contains", raw, f"x{i}y")}),) for i in range(2)]  # not rare
    lf = LiteralFilter([(copy, colon), (colon,), *others])
    assert lf.clauses[:2] == [(copy,), (colon,)]  # a rule's only clause stays
    # in a command line, '>' still says something: kept
    cmd = "process.command_line"
    cat = frozenset({("contains", cmd, "cat ")})
    redirect = frozenset({("contains", cmd, ">")})
    others = [(frozenset({("contains", cmd, f"x{i}y")}),) for i in range(2)]
    assert LiteralFilter([(cat, redirect), *others]).clauses[0] == (cat, redirect)


@pytest.mark.parametrize(("pattern", "atom"), [
    (r"/usr/bin/.*\ \-c", ("prefix", "/usr/bin/")),
    (r".*/bin/.*sh", ("suffix", "sh")),
    (r".*wget\ .*\ \-\ http.*", ("contains", " - http")),
])
def test_wildcard_patterns_give_their_anchored_or_longest_literal(
        pattern: str, atom: tuple[str, str]) -> None:
    assert gate(FieldTest(CMD, StrTest(patterns=(pattern,)))) == {(atom[0], CMD, atom[1])}


@pytest.mark.parametrize(("regex", "literals"), [
    (r"\s-O\s", {"-o"}),
    (r"^(ba)?sh -c .*[0-9]{2,}$", {"sh -c "}),
    (r"(?:base64)+ -d", {"base64"}),
    (r"(curl|wget) http", {"curl http", "wget http"}),
    (r"-(W|R)\s?(\s|\"|')([0-9a-f]{2}\s?){2,20}", {"-w", "-r"}),
    (r"\s-[FTd]\s", {"-f", "-t", "-d"}),
    (r"(?:x.*curl|y.*wget)", {"curl", "wget"}),
    (r"(a|b)", {"a", "b"}),
    (r"(a|.)", None),
    (r"(.){200,}", None),
])
def test_regex_literals(regex: str, literals: set[str] | None) -> None:
    g = gate(FieldTest(CMD, RegexTest(regex)))
    assert g == (None if literals is None else {("contains", CMD, lit) for lit in literals})


def test_filter_answers_per_event() -> None:
    lf = LiteralFilter([
        frozenset({("suffix", EXE, "/curl")}),
        frozenset({("contains", CMD, "base64"), ("exact", "user.name", "mallory")}),
        None,
        frozenset({("contains", "process.args", "-enc"), ("prefix", CMD, "sh -c")}),
        frozenset({("contains", CMD, "-x")}),  # shorter than a 3-gram
    ])
    assert lf.ungated == {2}
    e = Event(timestamp=0.0, process_executable="/usr/bin/CURL",
              process_command_line="SH -c 'echo | base64 -d'", process_args=("a", "x-enc"))
    assert lf.passing(e) == {0, 1, 3}
    assert lf.passing(Event(timestamp=0.0, user_name="Mallory", process_command_line="a-x")) \
        == {1, 4}
    assert lf.passing(Event(timestamp=0.0)) == set()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in oracle.CASES])
def test_no_event_the_predicate_matches_is_gated_out(case: oracle.Case,
                                                     tmp_path: Path) -> None:
    """Soundness over the oracle matrix: every matching event passes the rule's gate."""
    (rule,) = write_rules(tmp_path, oracle.rule_text(case))
    compiled = compile_rule(rule)
    lf = LiteralFilter([compiled.gate])
    for row in oracle.events(case):
        event = oracle.keibi_event(case, row)
        if compiled.predicate(event):
            assert compiled.gate is None or lf.passing(event) == {0}, row


def test_gated_keeps_rule_order_and_always_runs_ungated_rules() -> None:
    items = ["a", "b", "c", "d"]
    gates = [None, frozenset({("suffix", EXE, "/curl")}), None,
             frozenset({("contains", CMD, "wget")})]
    g = Gated(items, gates)
    assert g.select(Event(timestamp=0.0)) == ("a", "c")
    assert g.select(Event(timestamp=0.0, process_executable="/bin/curl")) == ("a", "b", "c")
    both = Event(timestamp=0.0, process_executable="/bin/curl",
                 process_command_line="curl x | wget y")
    assert g.select(both) == ("a", "b", "c", "d")


def test_the_index_filters_large_candidate_lists_by_their_gates() -> None:
    from keibi.engine.index import GATED_MIN, RuleIndex

    n = GATED_MIN + 2
    gates: list[Gate] = [frozenset({("suffix", EXE, f"/tool{i}")}) for i in range(n)]
    gates.append(None)  # an ungated rule meets every routed event
    index = RuleIndex([({}, i) for i in range(n + 1)], gates=gates)
    assert index.stats()["gated_rules"] == n
    assert index.candidates(Event(timestamp=0.0, process_executable="/bin/tool3")) == (3, n)
    assert index.candidates(Event(timestamp=0.0)) == (n,)
    # a few gated rules are simply tested
    few = RuleIndex([({}, i) for i in range(3)], gates=gates[:3])
    assert few.candidates(Event(timestamp=0.0)) == (0, 1, 2)
