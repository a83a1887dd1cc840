"""Which of many literals a text contains, in one pass of native code.

A rule may list dozens of substrings (SigmaHQ's "Equation Group Indicators" has 40
keywords, searched in every raw log line and audit record); the literal prefilter
(:mod:`keibi.engine.literals`) searches every literal of every rule on a field at once.
Testing ``literal in text`` for each costs a pass over the text per literal: for that
rule's 26 plain keywords over a 700-character audit event, about 4 us in CPython; one
:meth:`Substrings.any`, 0.7 us (measured here). :class:`Substrings` builds one
Aho-Corasick automaton (a DFA, ``ahocorasick_rs``: Rust) of the literals of two
characters or more and searches the text's UTF-8 bytes once; single characters are
found with ``in`` (``memchr``), as a raw audit record holds ``0`` or ``:`` dozens of
times and their matches would cost more than a scan each.

UTF-8 keeps substrings: a literal's bytes can only match where a character starts, so
a literal occurs in the bytes exactly where it occurs in the text. Texts may hold lone
surrogates (log lines decoded with ``surrogateescape``): both sides are encoded with
``surrogatepass``, so they are bytes like any other character.

Case is the caller's: literals and texts are compared as given (the predicates lower
both, unless a rule says ``|cased``); :func:`encode` lower-cases an ASCII text as bytes,
in one C loop and without a lower-cased ``str`` copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ahocorasick_rs import BytesAhoCorasick, Implementation, MatchKind

__all__ = ["LOOP_MAX", "Substrings", "encode", "utf8"]

#: up to this many literals, ``literal in text`` for each is as fast as one search
#: (the search's call and its encoding of the text cost about as much as 6 ``in``)
LOOP_MAX = 6


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, lone surrogates included (log text may hold them)."""
    return text.encode("utf-8", "surrogatepass")


def encode(s: str, lowered: bool) -> bytes:
    """The bytes of ``s`` to search with literals in lower case (``lowered``: ``s`` is
    lower case already)."""
    if s.isascii():
        return s.encode("ascii") if lowered else s.encode("ascii").lower()
    return utf8(s if lowered else s.lower())


class Substrings:
    """The literals of one search: :meth:`any` and :meth:`found` answer exactly as
    ``literal in text`` for each would."""

    def __init__(self, literals: Iterable[str]) -> None:
        lits = sorted(set(literals))
        #: the empty literal is in every text
        self.empty = "" in lits
        #: literals of two characters or more, in the automaton's order (:meth:`matches`)
        self.long = tuple(lit for lit in lits if len(lit) > 1)
        #: single characters, and the same as bytes
        self.short = tuple(lit for lit in lits if len(lit) == 1)
        self.short_bytes = tuple(utf8(c) for c in self.short)
        #: the automaton's search (None: no literal of two characters or more):
        #: ``find(b, overlapping=True)`` as :meth:`matches`, without a Python call
        self.find: Callable[..., list[tuple[int, int, int]]] | None = None
        #: the same literals, leftmost-first: no overlapping matches, but a search the
        #: automaton skips through with a vectorised prefilter (Teddy, for up to a few
        #: dozen literals): about 5x faster when nothing matches, the common answer
        self._first: Callable[[bytes], list[tuple[int, int, int]]] | None = None
        if self.long:
            encoded = [utf8(lit) for lit in self.long]
            self.find = BytesAhoCorasick(
                encoded, implementation=Implementation.DFA).find_matches_as_indexes
            self._first = BytesAhoCorasick(
                encoded, matchkind=MatchKind.LeftmostFirst,
                implementation=Implementation.DFA).find_matches_as_indexes

    def matches(self, b: bytes) -> list[tuple[int, int, int]]:
        """Every occurrence in ``b`` (UTF-8) of a literal of :attr:`long`, overlapping
        ones included: (index in :attr:`long`, start, end)."""
        return [] if self.find is None else self.find(b, overlapping=True)

    def any(self, s: str) -> bool:
        """Whether ``s`` contains one of the literals."""
        if self.empty:
            return True
        for c in self.short:  # a loop: faster than any() over a generator
            if c in s:
                return True
        # a literal that occurs is found: where no match started before it, it is the
        # leftmost one
        return self._first is not None and bool(
            self._first(s.encode("utf-8", "surrogatepass")))  # utf8(), without a call

    def found(self, s: str) -> set[str]:
        """The literals ``s`` contains (a new set)."""
        long = self.long
        out = {long[n] for n, _, _ in self.matches(utf8(s))}
        for c in self.short:
            if c in s:
                out.add(c)
        if self.empty:
            out.add("")
        return out
