"""One native search for many literals answers exactly as ``literal in text`` does.

:class:`keibi.engine.substrings.Substrings` backs the predicates of rules with many
substrings or wildcard patterns (SigmaHQ's keyword lists) and the literal prefilter; a
generated predicate lower-cases a keyword text once for every rule of an event. Each is
compared here with the plain Python it replaces, over random texts built to hold the
literals inside, overlapping one another, at the edges, in upper case and next to
characters whose lower case is longer (``İ``) or that are no valid text (a surrogate from
undecodable log bytes).
"""

from __future__ import annotations

import random
import re

from keibi.engine.ir import Keyword, Or
from keibi.engine.predicate import build, build_closures
from keibi.engine.substrings import LOOP_MAX, Substrings, encode
from keibi.engine.values import StrTest
from keibi.events.model import Event
from tests.engine.helpers import T0

ALPHABET = "abc-./ x0éi\u0307"


def _literals(rng: random.Random, size: int) -> list[str]:
    lits = sorted({"".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 7)))
                   for _ in range(size)})
    return lits + [lit + "b" for lit in lits[:3]]  # a literal inside another one


def _text(rng: random.Random, literals: list[str]) -> str:
    raw = "".join(rng.choice(ALPHABET + "ABXÉİ\n\udcff") for _ in range(rng.randint(0, 80)))
    for _ in range(rng.randint(0, 3)):  # literals inside, overlapping, at the edges
        lit = rng.choice(literals)
        at = rng.choice((0, len(raw), rng.randint(0, len(raw))))
        raw = raw[:at] + (lit.upper() if rng.random() < 0.3 else lit) + raw[at:]
    return raw


def test_any_and_found_answer_as_in_does_for_every_literal() -> None:
    rng = random.Random(5)
    checked = hits = 0
    # 1 and 5 literals: the vectorised prefilter's sizes; 300: the automaton alone
    for size in (1, 5, 40, 300):
        literals = _literals(rng, size)
        subs = Substrings(literals)
        for _ in range(500):
            text = _text(rng, literals).lower()
            want = {lit for lit in literals if lit in text}
            assert subs.found(text) == want, (literals, text)
            assert subs.any(text) == bool(want), (literals, text)
            checked += 1
            hits += bool(want)
    assert checked == 2000 and 600 < hits < 1900  # both answers, often


def test_the_empty_literal_is_in_every_text_and_no_literal_in_none() -> None:
    assert Substrings(["", "abc"]).found("x") == {""}
    assert Substrings(["", "abc"]).any("")
    assert not Substrings([]).any("anything")
    assert Substrings([]).found("anything") == set()
    assert Substrings(["a"]).found("ba") == {"a"}  # single characters: no automaton


def test_matches_give_every_occurrence_overlapping_ones_included() -> None:
    subs = Substrings(["aba", "ab", "ba"])
    got = sorted((subs.long[n], start) for n, start, _ in subs.matches(b"ababa"))
    assert got == [("ab", 0), ("ab", 2), ("aba", 0), ("aba", 2), ("ba", 1), ("ba", 3)]


def test_encode_lower_cases_as_str_lower_then_utf8() -> None:
    for text in ("ABC def", "ÉCOLE", "İx", "a\udcffB", ""):
        assert encode(text, lowered=False) == text.lower().encode("utf-8", "surrogatepass")
        low = text.lower()
        assert encode(low, lowered=True) == low.encode("utf-8", "surrogatepass")


def _reference(test: StrTest, s: str) -> bool:
    """The plain meaning of a string test's substrings and wildcard patterns."""
    return (any(c in s for c in test.contains)
            or any(re.fullmatch(p, s, re.DOTALL) for p in test.patterns))


def test_many_substrings_and_patterns_decide_as_one_by_one() -> None:
    """Past :data:`LOOP_MAX` substrings and patterns a test searches once for all their
    literals, then runs the regexes of the patterns whose literal is there."""
    rng = random.Random(8)
    checked = hits = 0
    for n_contains, n_patterns in ((0, 12), (10, 0), (8, 8), (2, 3), (40, 20)):
        literals = _literals(rng, n_contains + 2 * n_patterns + 2)
        contains = tuple(rng.sample(literals, n_contains))
        patterns = tuple(
            "".join((".*" if i % 2 else re.escape(part)) for i, part in enumerate(
                [rng.choice(literals), "", rng.choice(literals)][:rng.choice((1, 3))]))
            + rng.choice(("", ".*"))
            for _ in range(n_patterns))
        test = StrTest(contains=contains, patterns=patterns)
        assert test.few_substrings == (n_contains + n_patterns <= LOOP_MAX)
        check = test.substring_checker()
        assert check is not None
        for _ in range(400):
            text = _text(rng, literals).lower()
            if rng.random() < 0.2:  # a text that is one pattern's literal, whole
                text = rng.choice(literals)
            want = _reference(test, text)
            assert check(text) == want, (contains, patterns, text)
            checked += 1
            hits += want
    assert checked == 2000 and 300 < hits < 1800


def test_a_keyword_text_is_lowered_once_and_never_taken_for_another() -> None:
    """The predicates of an event's rules share one lower-cased text, remembered by the
    identity of the value: a new text, an equal one, a missing one, another event's are
    each answered as the plain predicate does."""
    words = tuple(f"word{n}" for n in range(10))
    rules = [Keyword(StrTest(contains=words)),
             Or((Keyword(StrTest(contains=("alpha",))),
                 Keyword(StrTest(contains=("beta", "gamma"))))),
             Keyword(StrTest(contains=("ALPHA",), cased=True)),
             Keyword(StrTest(contains=("none",)))]  # no absent value passes as "None"
    pairs = [(build(r), build_closures(r)) for r in rules]
    texts: list[str | None] = ["x WORD3 y", "alpha", None, "ALPHA beta", "nothing", "",
                               "Gamma", "word9", None, "x"]
    rng = random.Random(3)
    checked = hits = 0
    for _ in range(300):
        message = rng.choice(texts)
        original = rng.choice(texts)
        if original is not None and rng.random() < 0.5:
            original = "".join(original)  # an equal text, another object or the same
        event = Event(timestamp=T0, message=message, original=original)
        for generated, plain in rng.sample(pairs, len(pairs)):
            for _ in range(rng.randint(1, 2)):  # the same event again
                got = generated(event)
                assert got == plain(event), (message, original)
                checked += 1
                hits += got
    assert checked > 900 and 200 < hits < checked - 200
