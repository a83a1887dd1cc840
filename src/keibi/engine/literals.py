"""Literal prefilters: skip the rules whose required strings an event does not contain.

Most Sigma rules cannot match unless some field holds one of a few literals: ``Image``
ending in ``/curl``, a command line containing ``base64``, a keyword in the message.
:func:`gate` reads that from a rule's IR (:mod:`keibi.engine.ir`): a set of *atoms*
``(kind, field, literal)``, at least one of which holds in every event the rule matches
(a necessary condition, never a sufficient one). ``None`` means the rule has no such
condition (it must always be tried). :func:`clauses` gives several such sets, ANDed
(the executable ends in ``/systemctl`` AND the command line contains ``stop``), and
also knows ``("present", field, "")``: the field has a value at all.

:class:`LiteralFilter` holds the gates of many rules and answers, per event, which of
them pass, looking at each field once for all rules: exact values by hash, prefixes and
suffixes by hashed slices, substrings in one pass of an Aho-Corasick automaton (native
code), so the cost grows with the length of the event's values, not with the number of
rules. The answer is a bit mask (bit n: clause n holds); per-field answers are memoised
by value, so repeated executables, parents and argument lists cost one dict lookup, and
the code reading the fields is generated: one straight line per field. An atom on one
element of a list (``process.args[0]``, Sigma's auditd ``a0``) holds for that element
only: a list is answered whole from its memo, positions included, so being exact costs
nothing per event.

How a gate is derived (all literals lower-cased, as the predicates compare):

* a string test gives one atom per exact value / prefix / suffix / substring; a
  wildcard pattern gives its leading literal (prefix), else its trailing one (suffix),
  else its longest one (substring); a ``|re`` gives the longest literal every match
  must contain, when its parse tree has one;
* AND: the cheapest gated argument's gate (any one of them is necessary);
* OR: the union of the arguments' gates (none if any argument has none); of clauses,
  the union of one clause of each argument, several times (an argument lends its first
  clause again where its next one is weak: a presence, an auditd record type);
* NOT, numbers, CIDRs, null/exists, field references: no gate.

Atoms on the coarse routing fields (``event.category``, ``event.dataset``...) are left
out: the index already routes by them, so nearly every candidate event would pass them.
``event.action`` stays: a rule filed under its dataset may still name actions. The
filter also leaves out a rule's clauses on fields few rules read, or on fields most events
of their source share (:data:`WEAK_FIELDS`), where a literal clause stays.

Memo keys are values as events hold them: texts and tuples of texts (no number equals
one: ``1 == True``, but neither equals ``"1"``), so a value equal to a remembered one has
its text (as plain ``str`` values, which msgspec decodes, do).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Sequence
from operator import itemgetter
from re import _parser as sre  # type: ignore[attr-defined]
from types import CodeType, FunctionType
from typing import Any, Generic, TypeVar

from keibi.engine.fields import KEYWORD_FIELDS
from keibi.engine.ir import INT_FIELDS, SCALAR_FIELDS, And, FieldTest, Keyword, Node, Or
from keibi.engine.substrings import Substrings, encode
from keibi.engine.values import (
    BoolTest,
    CidrTest,
    CompareTest,
    ExistsTest,
    FieldRefTest,
    NullTest,
    NumTest,
    RegexTest,
    StrTest,
    TimePartTest,
    as_text,
    literal_runs,
    wildcard_tokens,
)
from keibi.events.model import FIELD_ATTRS

__all__ = ["Atom", "Gate", "Gated", "LiteralFilter", "gate"]

Atom = tuple[str, str, str]  # (kind: exact|prefix|suffix|contains, field, literal)
Gate = frozenset[Atom] | None

#: fields the index routes by: no gate atoms on them
ROUTING_FIELDS = frozenset({"event.category", "event.type", "event.dataset", "event.kind",
                            "event.module", "event.outcome"})
#: fields whose values most events of their source share (a weak gate: last resort)
WEAK_FIELDS = frozenset({"auditd.record_types", "auditd.data.arch",
                         "user.name", "user.id", "network.transport", "network.direction"})
_KIND_COST = {"exact": 1, "prefix": 2, "suffix": 2, "contains": 3, "present": 30}
GRAM = 3
#: per field: answers remembered, for values up to MEMO_TEXT characters (executables,
#: names, paths repeat; long command lines rarely do): memory stays bounded
MEMO_LIMIT = 2048
MEMO_TEXT = 160


# -- gates ------------------------------------------------------------------------------

def _pattern_atom(pattern: str) -> tuple[str, str] | None:
    tokens = wildcard_tokens(pattern)
    runs = literal_runs(tokens)
    if not runs:
        return None
    if tokens and tokens[0]:
        return "prefix", runs[0]
    if tokens and tokens[-1]:
        return "suffix", runs[-1]
    return "contains", max(runs, key=len)


MAX_ALTERNATIVES = 16


def _alternatives(op: str, arg: Any) -> list[str] | None:
    """The literal strings a regex item can match, when it is a small set of them."""
    if op == "LITERAL":
        return [chr(arg)]
    if op == "IN":
        if all(str(o) == "LITERAL" for o, _ in arg) and len(arg) <= 4:
            return [chr(a) for _, a in arg]
        return None
    if op == "SUBPATTERN":
        return _sequence_strings(arg[-1])
    if op == "BRANCH":
        out: list[str] = []
        for alt in arg[1]:
            strings = _sequence_strings(alt)
            if strings is None:
                return None
            out += strings
        return out if len(out) <= MAX_ALTERNATIVES else None
    return None


def _sequence_strings(items: Any) -> list[str] | None:
    """Every string a pure-literal regex sequence can match (None: not such a sequence)."""
    out = [""]
    for op, arg in items:
        alts = _alternatives(str(op), arg)
        if alts is None:
            return None
        out = [a + b for a in out for b in alts]
        if len(out) > MAX_ALTERNATIVES:
            return None
    return out


def _score(strings: frozenset[str]) -> tuple[int, int]:
    return (min(map(len, strings)), -len(strings)) if strings else (0, 0)


def _regex_literals(items: Any) -> frozenset[str] | None:
    """Strings one of which every match of a regex (parse tree) contains, or None."""
    best: frozenset[str] = frozenset()
    cur = [""]

    def settle() -> None:
        nonlocal best, cur
        done = frozenset(cur)
        if _score(done) > _score(best):
            best = done
        cur = [""]

    for op, arg in items:
        name = str(op)
        alts = _alternatives(name, arg)
        if alts is not None and len(cur) * len(alts) <= MAX_ALTERNATIVES:
            cur = [a + b for a in cur for b in alts]
            continue
        settle()
        inner: frozenset[str] | None = None
        if name == "SUBPATTERN":  # a group must match as a whole
            inner = _regex_literals(arg[-1])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            inner = _regex_literals(arg[2])
        elif name == "BRANCH":  # one of the alternatives matches: the union of theirs
            inners = [_regex_literals(alt) for alt in arg[1]]
            if all(inners):
                inner = frozenset().union(*(i for i in inners if i))
        if inner and _score(inner) > _score(best):
            best = inner
    settle()
    return best if best and min(map(len, best)) > 0 else None




def _test_atoms(field: str, test: Any) -> Gate:
    if isinstance(test, NumTest):
        # an integer field's value is written one way only: its number is its text
        if field in INT_FIELDS and all(float(v).is_integer() for v in test.values):
            return frozenset(("exact", field, str(int(v))) for v in test.values)
        return None
    if isinstance(test, StrTest):
        atoms: set[Atom] = set()
        cased = test.cased
        for kind, values in (("exact", test.exact), ("prefix", test.prefixes),
                             ("suffix", test.suffixes), ("contains", test.contains)):
            for v in values:
                if not v and kind != "exact":
                    return None  # "" is in every text
                if cased and not v.isascii():
                    return None  # lower() of a fragment may differ from the text's
                atoms.add((kind, field, v.lower()))
        for p in test.patterns:
            found = _pattern_atom(p)
            if found is None or (cased and not found[1].isascii()):
                return None
            atoms.add((found[0], field, found[1].lower()))
        return frozenset(atoms) or None
    if isinstance(test, RegexTest):
        try:
            lits = _regex_literals(sre.parse(test.pattern, test.flags))
        except (re.error, TypeError, ValueError, RecursionError):
            return None
        if lits is None or not all(lit.isascii() for lit in lits):
            return None
        return frozenset(("contains", field, lit.lower()) for lit in lits)
    return None


def _cost(g: frozenset[Atom]) -> float:
    """How often a gate lets events through (a guess from the kinds of its atoms)."""
    return sum(_KIND_COST[k] + (4 if len(lit) < GRAM and k != "present" else 0)
               + (50 if f in WEAK_FIELDS else 0)
               for k, f, lit in g)


def gate(node: Node) -> Gate:
    """The literal gate of an IR node (see the module doc); None: no gate."""
    if isinstance(node, FieldTest):
        if node.field in ROUTING_FIELDS:
            return None
        return _test_atoms(node.field, node.test)
    if isinstance(node, Keyword):
        parts = [_test_atoms(f, node.test) for f in KEYWORD_FIELDS]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    if isinstance(node, And):
        gates = [g for g in (gate(a) for a in node.args) if g is not None]
        return min(gates, key=_cost) if gates else None
    if isinstance(node, Or):
        out: set[Atom] = set()
        for a in node.args:
            g = gate(a)
            if g is None:
                return None
            out |= g
        return frozenset(out)
    return None


#: a rule's clauses (:func:`clauses`): each holds for every event the rule matches
Clauses = tuple[frozenset[Atom], ...]
#: clauses kept per rule (the cheapest ones)
MAX_CLAUSES = 3
#: tests a present value passes only (absent: the test fails)
_NEEDS_VALUE = (StrTest, NumTest, RegexTest, BoolTest, CidrTest, CompareTest, TimePartTest,
                FieldRefTest)


def _best(found: list[frozenset[Atom]]) -> Clauses:
    unique = sorted(set(found), key=lambda c: (_cost(c), sorted(c)))
    return tuple(unique[:MAX_CLAUSES])


def clauses(node: Node) -> Clauses:
    """Several gates of an IR node, ANDed: every one holds for every event the node
    matches (empty: none). Besides the literal atoms of :func:`gate`, a clause may hold
    ``("present", field, "")``: the field has a value (every string, number, regex...
    test fails on an absent field). AND keeps the clauses of all its arguments, OR the
    union of its arguments' first clauses, then of their second ones..., each union
    being implied by every argument; at most :data:`MAX_CLAUSES`, the cheapest."""
    if isinstance(node, FieldTest):
        if node.field in ROUTING_FIELDS:
            return ()
        found: list[frozenset[Atom]] = []
        atoms = _test_atoms(node.field, node.test)
        if atoms is not None:
            found.append(atoms)
        test = node.test
        field = _field_of(node.field)
        if field not in WEAK_FIELDS and (isinstance(test, _NEEDS_VALUE) or (
                isinstance(test, ExistsTest) and test.exists)):
            found.append(frozenset({("present", field, "")}))
        return _best(found)
    if isinstance(node, Keyword):
        if isinstance(node.test, NullTest | ExistsTest | FieldRefTest):
            return ()
        g = gate(node)
        present = frozenset(("present", f, "") for f in KEYWORD_FIELDS)
        return _best([present] if g is None else [g, present])
    if isinstance(node, And):
        return _best([c for a in node.args for c in clauses(a)])
    if isinstance(node, Or):
        each = [clauses(a) for a in node.args]
        if not all(each):
            return ()
        return _best([frozenset().union(*(_pick(c, k) for c in each))
                      for k in range(max(map(len, each)))])
    return ()


def _likely(clause: frozenset[Atom]) -> float:
    """How often a clause holds (a guess, for the order of bits): :func:`_cost`, a
    substring shorter than a 3-gram (``-``, ``-r``) counted as likely as a presence."""
    return _cost(clause) + sum(_KIND_COST["present"] for k, _, lit in clause
                               if k == "contains" and len(lit) < GRAM)


def _on(clause: frozenset[Atom], fields: Collection[str]) -> bool:
    """Whether every atom of ``clause`` reads one of ``fields``."""
    return all(_field_of(f) in fields for _, f, _ in clause)


def _weak(clause: frozenset[Atom]) -> bool:
    """Whether most events of a source hold a clause (a field's presence, a field whose
    values most events of their source share)."""
    return any(k == "present" or _field_of(f) in WEAK_FIELDS for k, f, _ in clause)


def _pick(found: Clauses, k: int) -> frozenset[Atom]:
    """An OR argument's share of the OR's k-th clause: its k-th clause (its last one, if
    it has fewer), or its first one where that is weak and the first is not (every clause
    of the argument holds for all its matches: any choice is sound, a weak one merely lets
    every event through)."""
    clause = found[min(k, len(found) - 1)]
    return found[0] if _weak(clause) and not _weak(found[0]) else clause


# -- the filter -------------------------------------------------------------------------

#: an atom filed under its field: (kind, literal, its clause's bit, the list position it
#: names, None: the whole field)
FieldAtom = tuple[str, str, int, int | None]


class _Field:
    """Every atom on one field, indexed: which clauses hold for a value, as a bit mask
    (bit n: clause n), memoised per text.

    Exact values are one hash lookup, prefixes and suffixes hashed slices. Substrings are
    found in one pass over the text by an Aho-Corasick automaton of every literal
    (:meth:`_scanner`, in native code: ``ahocorasick_rs``), so a new command line or a
    raw audit event's records cost their length once, whatever the number of literals.
    """

    def __init__(self, name: str, atoms: Sequence[FieldAtom]) -> None:
        self.name = name
        self.exact: dict[str, int] = {}
        affix: dict[str, dict[int, dict[str, list[tuple[str, int]]]]] = {
            "prefix": {}, "suffix": {}}
        #: every substring literal and its clause bits
        self.literals: dict[str, int] = {}
        #: bits of the clauses that only need a value on this field
        self.present = 0
        #: every bit an atom here may set
        self.every = 0
        by_position: dict[int, list[FieldAtom]] = {}
        for kind, lit, n, position in atoms:
            bit = 1 << n
            self.every |= bit
            if position is not None and kind != "present":
                by_position.setdefault(position, []).append((kind, lit, n, None))
            elif kind == "present":
                self.present |= bit
            elif kind == "exact":
                self.exact[lit] = self.exact.get(lit, 0) | bit
            elif kind in affix:
                size = min(len(lit), 8)
                key = lit[:size] if kind == "prefix" else lit[-size:]
                affix[kind].setdefault(size, {}).setdefault(key, []).append((lit, bit))
            else:
                self.literals[lit] = self.literals.get(lit, 0) | bit
        self.prefixes = sorted(affix["prefix"].items())
        self.suffixes = sorted(affix["suffix"].items())
        self.contains = bool(self.literals)
        #: the atoms on one element of a list (``process.args[0]``), per position: looked
        #: at in that element only, when the list is (:meth:`value`)
        self.positions = {p: _Field(f"{name}[{p}]", a) for p, a in sorted(by_position.items())}
        #: whether atoms look at the whole value (of a list: at each element); without
        #: them a text's mask is only :attr:`present`
        self.whole = bool(self.exact or self.prefixes or self.suffixes or self.contains)
        #: whether only presence counts here (no value needs looking at)
        self.presence_only = not (self.whole or self.positions)
        #: the substring search (:meth:`_scanner`): built when first needed
        self.scanner: Callable[[str, bool], int] | None = None
        #: whether substrings are all a text is looked at for (keyword fields: a raw
        #: record): its text is then searched without a lower-cased copy
        self.substrings_only = self.contains and not (
            self.exact or self.prefixes or self.suffixes)
        #: whether answers are remembered: not for the keyword fields (a raw log line,
        #: an audit event's records), whose texts hold a time and a serial: they never
        #: come again, and hashing a new 700-character text to look it up costs about
        #: 0.26 us (measured here)
        self.remembered = name not in KEYWORD_FIELDS
        #: text (or list of texts) -> mask
        self.memo: dict[Any, int] = {}
        #: int -> mask
        self.numbers: dict[int, int] = {}

    def _compute(self, s: str) -> int:
        """The mask of lower-cased text ``s``."""
        mask = self.present | self.exact.get(s, 0)
        for size, table in self.prefixes:
            for lit, bit in table.get(s[:size], ()):
                if s.startswith(lit):
                    mask |= bit
        for size, table in self.suffixes:
            for lit, bit in table.get(s[-size:], ()):
                if s.endswith(lit):
                    mask |= bit
        if self.contains:
            mask |= (self.scanner or self._scanner())(s, True)
        return mask

    def _scanner(self) -> Callable[[str, bool], int]:
        """The substring search of a text (``lowered``: already lower-cased): one pass
        of an Aho-Corasick automaton of every literal over the text's UTF-8 bytes, then
        ``in`` for each single character (:class:`~keibi.engine.substrings.Substrings`)."""
        subs = Substrings(self.literals)
        bits = [self.literals[lit] for lit in subs.long]
        short = [(b, self.literals[c]) for b, c in zip(subs.short_bytes, subs.short, strict=True)]
        find = subs.find
        always = self.literals.get("", 0)  # the empty literal is in every text

        def scan(s: str, lowered: bool) -> int:
            b = encode(s, lowered)
            mask = always
            if find is not None:
                for n, _, _ in find(b, overlapping=True):
                    mask |= bits[n]
            for lit, bit in short:
                if lit in b:
                    mask |= bit
            return mask

        self.scanner = scan
        return scan

    def text(self, text: str) -> int:
        """The mask of a text (an event value's text form), memoised."""
        found = self.memo.get(text)
        return self._new_text(text) if found is None else found

    def _new_text(self, text: str) -> int:
        """The mask of a text not in the memo, remembered (when short enough)."""
        if self.substrings_only:
            found = self.present | (self.scanner or self._scanner())(text, False)
        else:
            found = self._compute(text.lower())
        if len(text) <= MEMO_TEXT and self.remembered:
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            self.memo[text] = found
        return found

    def new(self, value: Any) -> int:
        """:meth:`value` of a value its memo lacks (what a generated reader calls on a
        miss: a text is computed at once, without a second lookup)."""
        if self.presence_only:
            return self.present
        if type(value) is str:
            return self._new_text(value)
        return self.value(value)

    def value(self, value: Any) -> int:
        """The mask of an event value (not None): of a list, the union over its elements,
        and the masks of its elements at the positions atoms name."""
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is int:  # ports, ids: remembered apart from texts (and never a bool)
            found = self.numbers.get(value)
            if found is None:
                found = self.text(str(value))  # as_text of an int
                if len(self.numbers) >= MEMO_LIMIT:
                    self.numbers.clear()
                self.numbers[value] = found
            return found
        if kind is tuple or kind is list or isinstance(value, _SEQUENCES):
            key: tuple[Any, ...] | None = value if kind is tuple else tuple(value)
            try:
                found = self.memo.get(key)
            except TypeError:  # an unhashable element
                found = key = None
            if found is not None:
                return found
            mask = self.present
            text = self.text
            memo = self.memo
            whole = self.whole
            size = 0
            plain = True
            for v in value:
                if type(v) is str:
                    if whole:  # an element's answer, as text(v) gives it
                        found = memo.get(v)
                        mask |= text(v) if found is None else found
                    size += len(v)
                else:
                    # only lists of strings are remembered: 1 == True as keys, but
                    # their texts differ
                    plain = False
                    mask |= text(as_text(v))
            if self.positions:
                mask |= self._positions(value)
            if plain and key is not None and size <= MEMO_LIST_TEXT:
                if len(self.memo) >= MEMO_LIMIT:
                    self.memo.clear()
                self.memo[key] = mask
            return mask
        return self.text(as_text(value))

    def _positions(self, value: Sequence[Any]) -> int:
        """The mask of the atoms on the elements of list ``value`` at their positions (a
        list within the list: every bit of that position, as a predicate tests each of
        its elements)."""
        mask = 0
        for p, field in self.positions.items():
            if p >= len(value):
                break
            v = value[p]
            if type(v) is str:
                found = field.memo.get(v)  # as field.text(v), without the call
                mask |= field.text(v) if found is None else found
            elif isinstance(v, _SEQUENCES):
                mask |= field.every
            else:
                mask |= field.text(as_text(v))
        return mask


def _field_of(name: str) -> str:
    """``process.args[2]`` -> ``process.args``: the list field an element is read from
    (one read of the list serves every position)."""
    m = _INDEXED.fullmatch(name)
    return m.group(1) if m is not None else name


def _position(name: str) -> int | None:
    """``process.args[2]`` -> 2 (None: a whole field)."""
    m = _INDEXED.fullmatch(name)
    return int(m.group(2)) if m is not None else None


_INDEXED = re.compile(r"(.+)\[(\d+)\]")
#: lists of strings (argument vectors, record types) are remembered up to this size
MEMO_LIST_TEXT = 4 * MEMO_TEXT
#: answers remembered per selection (a set of passing rules -> the rules to test)
SELECT_LIMIT = 1024
#: answers remembered per tuple of values, over all the selectors of a filter
SELECTIONS_LIMIT = 8192
#: ``extra`` fields a generated function always reads one by one; with more, it walks
#: an event's ``extra`` instead when that holds fewer items than this share (%) of them
EXTRA_INLINE = 4
WALK_SHARE = 80

T = TypeVar("T")


_SEQUENCES = (tuple, list)
#: attribute fields that hold a list (a tuple)
LIST_ATTRS = frozenset(FIELD_ATTRS) - SCALAR_FIELDS
#: an attribute field whose values fewer rules than this look at is read only for rules
#: that have no other clause (looking at a value costs every event that has it; whether
#: a field has a value, or what an ``extra`` field the event lacks holds, costs nothing)
RARE_FIELD = 3


def _as_clauses(g: Gate | Clauses) -> Clauses:
    cs: Clauses = () if g is None else (g,) if isinstance(g, frozenset) else g
    return tuple(c for c in cs if c)  # an empty clause is no condition


def _one_character(clause: frozenset[Atom]) -> bool:
    """Whether a clause holds for a raw record (a keyword field) holding some one
    character (``:``, ``0``): nearly every record does, so it filters nothing and costs
    a search. (In a command line, ``>`` still says something.)"""
    return any(k == "contains" and len(lit) == 1 and f in KEYWORD_FIELDS
               for k, f, lit in clause)


def _prune(rules: list[Clauses]) -> list[Clauses]:
    """The rules' clauses without those on fields few rules read, on fields most events
    of their source share a value of (auditd's record types), or holding for one
    character, where a rule has another literal clause (any clause may go: the rest
    still holds for every match)."""
    users: dict[str, int] = {}
    for cs in rules:
        for name in {_field_of(f) for c in cs for k, f, _ in c if k != "present"}:
            users[name] = users.get(name, 0) + 1

    def common(clause: frozenset[Atom]) -> bool:
        if all(_field_of(f) in WEAK_FIELDS for _, f, _ in clause):
            return False  # every EXECVE event holds an EXECVE record
        return all(k == "present" or _field_of(f) not in FIELD_ATTRS
                   or users[_field_of(f)] >= RARE_FIELD for k, f, _ in clause)

    def pruned(cs: Clauses) -> Clauses:
        kept = tuple(c for c in cs if common(c) and not _one_character(c))
        # only where a literal clause stays: a field's mere presence lets most events by
        if any(not _weak(c) for c in kept):
            return kept
        return cs

    return [pruned(cs) for cs in rules]


class LiteralFilter:
    """The gates of rules numbered 0..n-1, checked per event at once.

    A rule's gate is one clause (a :data:`Gate`; None: ungated) or several, ANDed
    (:data:`Clauses`, from :func:`clauses`; empty: ungated): the rule passes when every
    clause has an atom that holds. :meth:`mask` (bit c: distinct clause c holds) and
    :meth:`selector` are generated functions: one straight line of attribute reads and
    memo lookups per field, no loop over fields. The per-field answers are shared by
    every selector of the filter. ``routed`` names the fields callers pass as known
    (:meth:`selector`); their clauses get the lowest bits (only the order of bits
    depends on it).
    """

    def __init__(self, gates: Sequence[Gate | Clauses], routed: Collection[str] = ()) -> None:
        by_field: dict[str, list[FieldAtom]] = {}
        #: per rule: the bits of its clauses (0: ungated), and the fields they read
        self._clauses: list[int] = []
        self._rule_fields: list[frozenset[str]] = []
        #: per rule: the clauses it is filtered by (:func:`_prune`)
        self.clauses = _prune([_as_clauses(g) for g in gates])
        # one bit per distinct clause (rules share many: "has a command line"), those
        # that let most events by the lowest: the masks of most values then stay small
        # integers, fast to combine (a wide integer costs per digit, at every OR). The
        # clauses on ``routed`` fields go lowest: a selector's caller passes their answer
        # for every event (an index key's fields), so they are set in every mask
        shared: dict[frozenset[Atom], int] = {}
        for cs in self.clauses:
            for c in cs:
                shared[c] = shared.get(c, 0) + 1
        bits = {c: b for b, c in enumerate(sorted(
            shared, key=lambda c: (not _on(c, routed), -_likely(c), -shared[c], sorted(c))))}
        for c, bit in bits.items():
            for kind, field, lit in c:
                by_field.setdefault(_field_of(field), []).append(
                    (kind, lit, bit, _position(field)))
        for cs in self.clauses:
            mask = 0
            for c in cs:
                mask |= 1 << bits[c]
            self._clauses.append(mask)
            self._rule_fields.append(frozenset(_field_of(f) for c in cs for _, f, _ in c))
        self.ungated = frozenset(n for n, m in enumerate(self._clauses) if not m)
        self.fields = {name: _Field(name, atoms) for name, atoms in sorted(by_field.items())}
        self._code: dict[str, CodeType] = {}
        #: answers of bound selectors (:meth:`bind`), per (key number, values read)
        self._selections: dict[tuple[Any, ...], Any] = {}
        self._keys = itertools.count(1)
        self.mask: Callable[[Any], int] = self._generate(sorted(self.fields), ["    return m"],
                                                         {})

    def _generate(self, names: Sequence[str], tail: list[str], ns: dict[str, Any]) -> Any:
        """A function of an event: the union of the masks of fields ``names`` in ``m``,
        then ``tail``. Only attribute names appear in its source; field names and tables
        are bound constants.

        A value is looked up in its field's memo as it is: the memos hold texts and
        tuples of texts only, which no number equals (``1 == True``, but neither equals
        ``"1"``); a value not there, or unhashable (a list), is computed (:meth:`_Field.
        new`). The lookup is a ``get``, never a subscript caught on a miss: in CPython
        3.11 an exception caught late in a long function walks its whole line table,
        microseconds per new value (a raw record, a syscall argument). Integers have a
        memo of their own, looked up by exact type.
        """
        lines = ["def f(e, m=0):"]  # m: the mask of fields the caller knows
        extra: list[_Field] = []
        for i, name in enumerate(names):
            f = self.fields[name]
            attr = FIELD_ATTRS.get(name)
            if attr is None:
                extra.append(f)
                continue
            assert attr.isidentifier()
            if f.presence_only:
                ns[f"P{i}"] = f.present
                lines += [f"    if e.{attr} is not None:",
                          f"        m |= P{i}"]
                continue
            ns[f"M{i}"], ns[f"V{i}"] = f.memo, f.new
            lines += [f"    v = e.{attr}", "    if v is not None:"]
            if not f.remembered:
                lines += [f"        m |= V{i}(v)"]
            elif name in INT_FIELDS:
                ns[f"I{i}"] = f.numbers
                lines += [f"        r = I{i}.get(v) if type(v) is int else None",
                          "        if r is None:",
                          f"            r = V{i}(v)",
                          "        m |= r"]
            else:
                lines += ["        try:",
                          f"            r = M{i}.get(v)",
                          "        except TypeError:  # unhashable",
                          "            r = None",
                          "        if r is None:",
                          f"            r = V{i}(v)",
                          "        m |= r"]
        if extra:
            lines += ["    x = e.extra", "    if x:", *self._extra_lines(extra, ns)]
        return self._function(lines + tail, ns, "f", (0,))

    def _extra_lines(self, extra: list[_Field], ns: dict[str, Any]) -> list[str]:
        """Lines ORing into ``m`` the masks of the ``extra`` fields (``x``, not empty):
        each one looked up, or the event's own ``extra`` walked when it holds fewer items
        than (about) the fields there are to look up. A list is looked up as a tuple (the
        memo holds lists of texts so)."""
        lookup = ["if type(v) is list:",
                  "    v = tuple(v)",
                  "try:",
                  "    r = {memo}.get(v)",
                  "except TypeError:  # an unhashable element",
                  "    r = None",
                  "if r is None:",
                  "    if v is not None:",
                  "        m |= {value}(v)",
                  "else:",
                  "    m |= r"]
        gets: list[str] = []
        for j, f in enumerate(extra):
            ns[f"N{j}"], ns[f"XM{j}"], ns[f"XV{j}"] = f.name, f.memo, f.new
            if f.presence_only:  # no value to look at
                ns[f"XP{j}"] = f.present
                gets += [f"if x.get(N{j}) is not None:", f"    m |= XP{j}"]
                continue
            gets += [f"v = x.get(N{j})", "if v is not None:"]
            gets += ["    " + s.format(memo=f"XM{j}", value=f"XV{j}") for s in lookup]
        if len(extra) <= EXTRA_INLINE:
            return ["        " + s for s in gets]
        ns["XM"] = {f.name: f.memo for f in extra}
        ns["XV"] = {f.name: f.new for f in extra}
        walk = ["for n, v in x.items():",
                "    g = XM.get(n)",
                "    if g is not None:"]
        walk += ["        " + s.format(memo="g", value="XV[n]") for s in lookup]
        # a lookup costs about what a walked item does
        return [f"        if len(x) < {len(extra) * WALK_SHARE // 100}:",
                *("            " + s for s in walk),
                "        else:",
                *("            " + s for s in gets)]

    def _function(self, lines: list[str], ns: dict[str, Any], name: str,
                  defaults: tuple[Any, ...] | None) -> Any:
        """The function ``name`` defined by ``lines`` in namespace ``ns`` (functions with
        the same source share their code)."""
        source = "\n".join(lines)
        code = self._code.get(source)  # selectors reading the same fields share code
        if code is None:
            exec(compile(source, "<keibi-literal-filter>", "exec"), ns)
            if len(self._code) >= SELECT_LIMIT:
                self._code.clear()
            self._code[source] = ns[name].__code__
            return ns[name]
        return FunctionType(code, ns, None, defaults)

    def reads(self, n: int) -> frozenset[str]:
        """The fields rule ``n``'s clauses read (empty: it is ungated)."""
        return self._rule_fields[n]

    def passing(self, event: Any) -> set[int]:
        """Numbers of the gated rules whose gate holds for ``event``."""
        m = self.mask(event)
        return {n for n, c in enumerate(self._clauses) if c and m & c == c}

    def value_mask(self, field: str, value: Any) -> int:
        """The clauses ``value`` of ``field`` makes hold (0: none, or no such field)."""
        f = self.fields.get(field)
        return 0 if f is None or value is None else f.value(value)

    def selector(self, items: Sequence[T], nums: Sequence[int],
                 known: Collection[str] = ()) -> Callable[..., tuple[T, ...]]:
        """A function of an event: those of ``items`` (``items[i]`` is rule ``nums[i]``,
        in that order) it must be tested against: the ungated ones always, a gated one
        when its gate holds.

        Fields ``known`` are not read: the caller passes their :meth:`value_mask`,
        ORed, as the second argument ``m`` (as the index does for the fields of its key,
        the same for every event of a key).
        """
        if len(items) != len(nums):
            raise ValueError("one rule number per item")
        rules = [(self._clauses[n], item) for n, item in zip(nums, items, strict=True)]
        gated = 0
        names: set[str] = set()
        for n in nums:
            gated |= self._clauses[n]
            names |= self._rule_fields[n]
        memo: dict[int, tuple[T, ...]] = {}
        choose = _chooser(rules)

        def build(mask: int) -> tuple[T, ...]:
            found = choose(mask)
            if len(memo) >= SELECT_LIMIT:
                memo.clear()
            memo[mask] = found
            return found

        build(0)
        ns = {"MASK": gated, "SEL": memo, "BUILD": build}
        tail = ["    m &= MASK",
                "    try:",
                "        return SEL[m]",
                "    except KeyError:  # rare: the clauses that hold repeat",
                "        return BUILD(m)"]
        read = sorted(names - set(known))
        fn: Callable[..., tuple[T, ...]] = self._generate(read, tail, ns)
        # the raw record holds its time stamp: a tuple with it never comes again
        if read and "event.original" not in read and all(
                f in FIELD_ATTRS and f not in INT_FIELDS for f in read):
            ns["PLAIN"], ns["S"], ns["REMEMBER"] = fn, self._selections, self._remember(read)
            ns["BOUND"] = self._function(self._remembering_lines(read), ns, "g", (0, 0))
        return fn

    def bind(self, selector: Callable[..., tuple[T, ...]],
             known: int) -> Callable[[Any], tuple[T, ...]]:
        """``selector`` for the events of one index key, ``known`` the mask of the key's
        fields (:meth:`value_mask`). Where it reads attribute texts only (no ``extra``
        field, no number, not ``event.original``: auth and syslog events' messages), it
        remembers its answer per tuple of their values (:meth:`_remembering_lines`)."""
        bound = selector.__globals__.get("BOUND")
        if bound is None:
            return FunctionType(selector.__code__, selector.__globals__, None, (known,))
        return FunctionType(bound.__code__, bound.__globals__, None, (known, next(self._keys)))

    def _remembering_lines(self, names: list[str]) -> list[str]:
        """The source of a selector looking its answer up by the tuple of the values it
        reads (a present field's mere presence, where only that counts), with a number
        of the caller's own (``c``: one per index key, whose known fields ``m`` are the
        same for all its events); the plain selector answers the rest."""
        parts = ["c"]
        for name in names:
            attr = FIELD_ATTRS[name]
            assert attr.isidentifier()
            parts.append(f"e.{attr} is not None" if self.fields[name].presence_only
                         else f"e.{attr}")
        return ["def g(e, m=0, c=0):",
                f"    k = ({', '.join(parts)})",
                "    try:",
                "        s = S.get(k)",
                "    except TypeError:  # an unhashable value: not remembered",
                "        return PLAIN(e, m)",
                "    if s is None:",
                "        s = REMEMBER(k, PLAIN(e, m))",
                "    return s"]

    def _remember(self, names: list[str]) -> Callable[[tuple[Any, ...], Any], Any]:
        """A function remembering answer ``found`` for values ``k`` (see
        :meth:`_remembering_lines`) when each value is one its field remembers (a text,
        a tuple of texts, not too long: equal values then have equal texts); returns
        ``found``."""
        store = self._selections
        memos = [None if self.fields[n].presence_only else self.fields[n].memo for n in names]

        def remember(k: tuple[Any, ...], found: Any) -> Any:
            for v, memo in zip(k[1:], memos, strict=True):
                if memo is not None and v is not None and (
                        (type(v) is not str and type(v) is not tuple) or v not in memo):
                    return found
            if len(store) >= SELECTIONS_LIMIT:
                store.clear()
            store[k] = found
            return found

        return remember


#: candidate lists at least this long choose by their rules' pivot bits (:func:`_chooser`)
PIVOT_MIN = 32


def _chooser(rules: Sequence[tuple[int, T]]) -> Callable[[int], tuple[T, ...]]:
    """A function: clause mask -> the items of ``rules`` (clause bits, item) whose clauses
    all hold, in order. A long list files each gated rule under its highest clause bit
    (of its clauses, the one least likely to hold, by the order of bits) and looks only at
    the rules filed under the mask's set bits: a new mask costs its set bits, not the
    rules."""
    if len(rules) < PIVOT_MIN:
        return lambda mask: tuple(item for c, item in rules if mask & c == c)
    always = [(i, item) for i, (c, item) in enumerate(rules) if not c]
    pivots: dict[int, list[tuple[int, int, T]]] = {}
    for i, (c, item) in enumerate(rules):
        if c:
            pivots.setdefault(c.bit_length() - 1, []).append((i, c, item))

    def choose(mask: int) -> tuple[T, ...]:
        hits = list(always)
        bits = bin(mask)[:1:-1]  # bits[n] == "1": bit n is set
        n = bits.find("1")
        while n >= 0:
            for i, c, item in pivots.get(n, ()):
                if mask & c == c:
                    hits.append((i, item))
            n = bits.find("1", n + 1)
        hits.sort(key=itemgetter(0))
        return tuple(item for _, item in hits)

    return choose


class Gated(Generic[T]):
    """Candidate rules, the gated ones behind a :class:`LiteralFilter` of their own.

    :meth:`select` returns the rules an event must be tested against, in the order of
    ``items``: the ungated ones always, a gated one when its gate holds.
    """

    __slots__ = ("filter", "items", "select")

    def __init__(self, items: Sequence[T], gates: Sequence[Gate]) -> None:
        self.items = tuple(items)
        self.filter = LiteralFilter(gates)
        self.select: Callable[[Any], tuple[T, ...]] = self.filter.selector(
            self.items, range(len(self.items)))
