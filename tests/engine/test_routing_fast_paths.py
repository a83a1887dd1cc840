"""The literal filter's cheaper paths answer as its plain ones do.

* the order of clause bits (:class:`~keibi.engine.literals.LiteralFilter` ``routed``:
  the index fields' clauses lowest, then those that hold most often, so the masks of
  most events stay small integers) changes no answer;
* a list field whose atoms all name positions (``process.args[0]``, auditd's ``a0``) is
  answered without looking at each element as a whole, a list field with atoms on the
  whole value and on positions is answered from both: over random lists of texts,
  numbers, nested lists, upper case, new and remembered values, the answer is what the
  atoms say;
* a field's substring search (one Aho-Corasick pass, ``in`` for single characters)
  answers as ``literal in text`` for each literal: literals overlapping, inside
  one another, at the edges, with spaces, regex characters or non-ASCII letters;
* a long candidate list chooses its rules by their pivot bits (:func:`_chooser`): over
  random clause masks, shared pivots and ungated rules, the same items in the same order
  as testing every rule.
"""

from __future__ import annotations

import random
from typing import Any

from keibi.engine.index import INDEX_FIELDS
from keibi.engine.literals import (
    PIVOT_MIN,
    Atom,
    Clauses,
    LiteralFilter,
    _chooser,
    _Field,
)
from keibi.events.model import Event
from tests.engine.helpers import T0
from tests.engine.test_codegen import (
    _nested,
    compiled_rules,
    corpus,
    odd_events,
    reference_passing,
)

ARGS = "process.args"
WORDS = ["grep", "-r", "curl", "nat", "-t", "iptables", "/bin/sh", "x.zip", "", "a b"]


def _lists(rng: random.Random, n: int) -> list[Any]:
    """Random argument vectors: known words (any case, inside longer texts), numbers,
    booleans, nested lists, empty ones."""
    def element() -> Any:
        r = rng.random()
        if r < 0.8:
            w = rng.choice(WORDS)
            return rng.choice([w, w.upper(), f"{w}-{rng.randint(0, 9)}", f"/p/{w}"])
        return rng.choice([0, 1, True, 2.5, [rng.choice(WORDS)], (), None])

    out: list[Any] = []
    for _ in range(n):
        items = [element() for _ in range(rng.randint(0, 9))]
        out.append(tuple(items) if rng.random() < 0.7 else items)
    return out


def _gates(rng: random.Random, whole: bool) -> list[Clauses]:
    """Rules with clauses on positions of ``process.args`` (and, with ``whole``, on the
    whole list too)."""
    kinds = ["exact", "prefix", "suffix", "contains"]
    out: list[Clauses] = []
    for _ in range(40):
        clauses: list[frozenset[Atom]] = []
        for _ in range(rng.randint(1, 3)):
            atoms: set[Atom] = set()
            for _ in range(rng.randint(1, 3)):
                field = (ARGS if whole and rng.random() < 0.4
                         else f"{ARGS}[{rng.randint(0, 7)}]")
                lit = rng.choice([w for w in WORDS if w])
                atoms.add((rng.choice(kinds), field, lit))
            clauses.append(frozenset(atoms))
        out.append(tuple(clauses))
    return out


def test_lists_are_answered_as_the_atoms_say() -> None:
    rng = random.Random(7)
    values = _lists(rng, 3000)
    for whole in (False, True):
        gates = _gates(rng, whole)
        lf = LiteralFilter(gates)
        assert lf.fields[ARGS].whole is whole
        checked = 0
        for _ in range(2):  # computed, then from the memos
            for value in values:
                event = Event(timestamp=T0, process_args=value)
                want = reference_passing(lf.clauses, event)
                got = lf.passing(event)
                assert want <= got, value
                assert got == want or _nested(event), value
                checked += len(want)
        assert checked > 500


def test_the_order_of_bits_changes_no_answer() -> None:
    rules = [cr.clauses for cr in compiled_rules()]
    plain = LiteralFilter(rules)
    routed = LiteralFilter(rules, routed=INDEX_FIELDS)
    assert plain.clauses == routed.clauses
    events = [*corpus(), *odd_events(plain.clauses, corpus(), 1500, seed=11)]
    nums = list(range(len(rules)))
    every = routed.selector(nums, nums)
    told = routed.selector(nums, nums, known=INDEX_FIELDS)
    for _ in range(2):
        for event in events:
            got = routed.passing(event)
            assert got == plain.passing(event), event
            assert set(every(event)) == got | routed.ungated, event
            m = 0
            for f in INDEX_FIELDS:
                m |= routed.value_mask(f, event.get(f))
            assert set(told(event, m)) == got | routed.ungated, event


def test_the_index_fields_clauses_take_the_lowest_bits() -> None:
    """What a selector is told of an index key's fields (every event of the key) stays a
    small integer where only the index fields' own clauses hold: those hold the lowest
    bits."""
    rules = [cr.clauses for cr in compiled_rules()]
    routed = LiteralFilter(rules, routed=INDEX_FIELDS)
    on_routed = {c for cs in routed.clauses for c in cs
                 if all(f in INDEX_FIELDS for _, f, _ in c)}
    low = (1 << len(on_routed)) - 1
    checked = 0
    for clause in on_routed:
        for kind, field, lit in clause:
            if kind == "exact":
                assert routed.value_mask(field, lit) & low, clause
                checked += 1
    assert checked >= 10


def test_pivot_choice_is_testing_every_rule() -> None:
    rng = random.Random(12)
    checked = chosen = 0
    for size in (PIVOT_MIN - 1, PIVOT_MIN, 90, 250):
        width = rng.choice([8, 40, 400])  # small and wide masks
        rules = []
        for i in range(size):
            c = 0
            if rng.random() > 0.1:  # a tenth ungated
                for _ in range(rng.randint(1, 3)):
                    c |= 1 << rng.randrange(width)
            rules.append((c, f"r{i}"))
        choose = _chooser(rules)
        for _ in range(300):
            mask = 0
            for _ in range(rng.randint(0, 30)):
                mask |= 1 << rng.randrange(width + 5)
            if rng.random() < 0.2:  # every clause of some rule
                mask |= rng.choice(rules)[0]
            want = tuple(item for c, item in rules if mask & c == c)
            assert choose(mask) == want, (size, width, mask)
            checked += 1
            chosen += len(want)
    assert checked == 1200 and chosen > 2000


def test_the_substring_search_finds_every_literal_a_text_holds() -> None:
    """Over texts as events hold them (upper case, non-ASCII letters whose lower case is
    longer, a surrogate from undecodable log bytes) and as the filter lower-cases them."""
    rng = random.Random(21)
    alphabet = "abc-.*+?()[]x0 éi\u0307"
    checked = hits = 0
    for size in (1, 2, 5, 40, 300):
        literals = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
                           for _ in range(size)})
        literals += [lit + "b" for lit in literals[:3]]  # a literal inside another one
        atoms = [("contains", lit, n, None) for n, lit in enumerate(literals)]
        field = _Field("f", atoms)
        assert field.substrings_only
        for _ in range(400):
            raw = "".join(rng.choice(alphabet + "ABXÉİ\n\udcff")
                          for _ in range(rng.randint(0, 60)))
            for _ in range(rng.randint(0, 3)):  # literals inside, overlapping, at the edges
                lit = rng.choice(literals)
                at = rng.choice((0, len(raw), rng.randint(0, len(raw))))
                raw = raw[:at] + (lit.upper() if rng.random() < 0.3 else lit) + raw[at:]
            text = raw.lower()
            want = 0
            for n, lit in enumerate(literals):
                if lit in text:
                    want |= 1 << n
            assert field._compute(text) == want, (literals, text)
            assert field.text(raw) == want, (literals, raw)  # lower-cased by the search
            checked += 1
            hits += bool(want)
    assert checked == 2000 and hits > 1000


def test_raw_records_are_searched_every_time_never_remembered() -> None:
    """A keyword field's text (a raw log line, an audit event's records) holds a time and
    a serial: it never comes again, so its answer is not kept, and a selector reads it
    without a memo lookup (no hash of 1 KB); other fields remember theirs."""
    atoms = [("contains", "tmp", 0, None), ("contains", "x", 1, None)]
    raw, command = _Field("event.original", atoms), _Field("process.command_line", atoms)
    assert not raw.remembered and command.remembered
    for text, want in (("type=EXECVE a0=/TMP/x", 0b11), ("nothing", 0), ("/tmp/", 0b01)):
        for _ in range(2):
            assert raw.text(text) == want
            assert command.text(text) == want
    assert raw.memo == {} and len(command.memo) == 3
    flt = LiteralFilter([frozenset({("contains", "event.original", "tmp")}),
                         frozenset({("contains", "process.command_line", "tmp")})])
    event = Event(timestamp=T0, original="a /tmp/ b", process_command_line="ls /tmp")
    for _ in range(2):
        assert flt.passing(event) == {0, 1}
    assert flt.passing(Event(timestamp=T0, original="a b")) == set()
    assert flt.fields["event.original"].memo == {}
