"""Build the IR of a rule (:mod:`keibi.engine.ir`) into a fast Python predicate.

:func:`build` generates ONE Python function per rule: each field is read where its test
needs it, string tests on a text are inlined (``s in S``, ``s.startswith(P)``,
``L in s``...), AND/OR/NOT become Python's own short-circuit operators, children tried
cheapest first -- no call per node. Only values that are not text (numbers, lists, IP
addresses...), keyword searches and field references go through small helper
functions, with exactly the semantics of :func:`build_closures`. A test with more than a
few substrings or wildcard patterns searches the text once for all their literals
(:mod:`keibi.engine.substrings`); a keyword field's text is lower-cased once per event,
for every rule that searches it. A test of one exact
value of a field events mostly hold it in (``event.category`` is ``process``: the routed
fields, the outcome) first compares the value as it is, before any lower-casing. The
generated source only ever names :class:`~keibi.events.model.Event` attributes and Python
operators; values, field names and helpers reach it as bound constants, never as text.

:func:`build_closures` is the plain form (one closure per node, the common core of
keibi's own rules -- exact values of scalar fields ANDed together -- fused into one
small generated function): the reference the generated predicates are tested against,
and the fallback for a condition too large to generate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from keibi.engine.fields import KEYWORD_FIELDS, getter
from keibi.engine.ir import SCALAR_FIELDS, And, Const, FieldTest, Keyword, Node, Not, Or
from keibi.engine.literals import LIST_ATTRS, WEAK_FIELDS
from keibi.engine.values import (
    BoolTest,
    ExistsTest,
    FieldRefTest,
    NullTest,
    NumTest,
    RegexTest,
    StrTest,
    as_text,
)
from keibi.events.model import FIELD_ATTRS, Event

Predicate = Callable[[Event], bool]


class BuildError(Exception):
    """An IR node this builder cannot turn into a predicate (the message says why)."""


#: fields the index routes events by: a routed event nearly always passes their tests,
#: so the other tests of an AND go first (they are the ones that fail)
ROUTED = frozenset({"event.dataset", "event.category", "event.type", "event.kind",
                    "event.module", "event.action"})


def _cost(node: Node) -> float:
    if isinstance(node, FieldTest):
        t = node.test
        # an attribute is one read; an ``extra`` field a dict lookup
        extra = 0.0 if node.field in FIELD_ATTRS else 0.5
        if node.field in ROUTED:
            extra += 0.75
        elif node.field in WEAK_FIELDS:
            extra += 3  # most events of its source pass it (auditd record types...)
        if isinstance(t, StrTest):
            return extra + (0 if t.exact_only else (2 if t.patterns else 1))
        if isinstance(t, NullTest | ExistsTest | NumTest | BoolTest):
            return extra
        return 3 + extra
    if isinstance(node, Keyword):
        return 4
    if isinstance(node, Not):
        return _cost(node.arg) + 1
    if isinstance(node, And | Or):
        return 2 + max(_cost(a) for a in node.args)
    return 0


def _field_predicate(node: FieldTest) -> Predicate:
    get = getter(node.field)
    t = node.test
    if isinstance(t, NullTest):
        return lambda e: (v := get(e)) is None or v == () or v == []
    if isinstance(t, ExistsTest):
        want = t.exists
        return lambda e: ((v := get(e)) is not None and v != () and v != []) is want
    if isinstance(t, FieldRefTest):
        other = getter(t.other)
        starts, ends = t.starts, t.ends

        def ref(e: Event) -> bool:  # case-insensitive, as every Sigma string match
            a, b = get(e), other(e)
            if a is None or b is None:
                return False
            a, b = as_text(a).lower(), as_text(b).lower()
            if starts and ends:
                return b in a
            if starts:
                return a.startswith(b)
            if ends:
                return a.endswith(b)
            return a == b

        return ref
    check = t.checker()

    def pred(e: Event) -> bool:
        v = get(e)
        if v is None:
            return False
        if type(v) is tuple or type(v) is list:
            for x in v:  # noqa: SIM110 (a loop: faster than any() over a generator)
                if check(x):
                    return True
            return False
        return check(v)

    return pred


def _keyword_predicate(node: Keyword) -> Predicate:
    t = node.test
    if isinstance(t, NullTest | ExistsTest | FieldRefTest):
        raise BuildError(f"keyword with {type(t).__name__}")
    return _field_predicate_any([getter(f) for f in KEYWORD_FIELDS], t.checker())


def _field_predicate_any(gets: list[Callable[[Event], Any]],
                         check: Callable[[Any], bool]) -> Predicate:
    def pred(e: Event) -> bool:
        for get in gets:
            v = get(e)
            if v is not None and check(v):
                return True
        return False

    return pred


_INDEXED = re.compile(r".+\[\d+\]")
_ELEMENT = re.compile(r"(.+)\[(\d+)\]")


def _fusable(node: Node) -> bool:
    """Exact values of an attribute field, or of an ``extra`` field (not ``f[N]``)."""
    return (isinstance(node, FieldTest) and isinstance(node.test, StrTest)
            and node.test.exact_only and _INDEXED.fullmatch(node.field) is None)


def _in_set_slow(value: Any, values: frozenset[str], lower: bool) -> bool:
    """Non-string event values: lists (any element) and scalars compared as text."""
    items = value if isinstance(value, tuple | list) else (value,)
    for v in items:
        text = v if type(v) is str else as_text(v)
        if (text.lower() if lower else text) in values:
            return True
    return False


def _fused_exact(nodes: list[FieldTest]) -> Predicate:
    """One generated function testing several exact-value fields in a row (attribute
    fields first, then ``extra`` ones, read from the dict once)."""
    ns: dict[str, Any] = {"slow": _in_set_slow}
    lines = ["def fused(e):"]
    nodes = sorted(nodes, key=lambda n: n.field not in FIELD_ATTRS)
    for i, node in enumerate(nodes):
        test = node.test
        assert isinstance(test, StrTest)
        ns[f"S{i}"] = test.exact
        lower = not test.cased
        conv = "v.lower()" if lower else "v"
        attr = FIELD_ATTRS.get(node.field)
        if attr is not None:
            assert attr.isidentifier()
            lines.append(f"    v = e.{attr}")
        else:
            if "    x = e.extra" not in lines:
                lines += ["    x = e.extra", "    if x is None:", "        return False"]
            ns[f"N{i}"] = node.field  # the name is a bound constant, never source text
            lines.append(f"    v = x.get(N{i})")
        lines += [
            "    if v is None:",
            "        return False",
            "    if type(v) is str:",
            f"        if {conv} not in S{i}:",
            "            return False",
            "    elif type(v) is tuple and len(v) == 1 and type(v[0]) is str:",
            "        v = v[0]",  # event.category / event.type: one value, most often
            f"        if {conv} not in S{i}:",
            "            return False",
            f"    elif not slow(v, S{i}, {lower}):",
            "        return False",
        ]
    lines.append("    return True")
    exec(compile("\n".join(lines), "<keibi-fused-predicate>", "exec"), ns)
    fn: Predicate = ns["fused"]
    return fn


def _and(ps: list[Predicate]) -> Predicate:
    if len(ps) == 1:
        return ps[0]
    if len(ps) == 2:
        a, b = ps
        return lambda e: a(e) and b(e)
    if len(ps) == 3:
        a, b, c = ps
        return lambda e: a(e) and b(e) and c(e)

    def all_of(e: Event) -> bool:  # a loop: faster than all() over a generator
        for p in ps:  # noqa: SIM110
            if not p(e):
                return False
        return True

    return all_of


def _or(ps: list[Predicate]) -> Predicate:
    if len(ps) == 2:
        a, b = ps
        return lambda e: a(e) or b(e)

    def any_of(e: Event) -> bool:
        for p in ps:  # noqa: SIM110
            if p(e):
                return True
        return False

    return any_of


def build_closures(node: Node) -> Predicate:
    """A predicate for an IR node, one closure per node (children of AND/OR cheapest
    first)."""
    if isinstance(node, FieldTest):
        return _field_predicate(node)
    if isinstance(node, Keyword):
        return _keyword_predicate(node)
    if isinstance(node, Const):
        value = node.value
        return lambda e: value
    if isinstance(node, Not):
        inner = build_closures(node.arg)
        return lambda e: not inner(e)
    args = sorted(node.args, key=_cost)
    if isinstance(node, Or):
        return _or([build_closures(a) for a in args])
    exact = [a for a in args if isinstance(a, FieldTest) and _fusable(a)]
    rest = [a for a in args if not _fusable(a)]
    ps = [_fused_exact(exact)] if len(exact) > 1 else [build_closures(a) for a in exact]
    return _and(ps + [build_closures(a) for a in rest])


# -- generated predicates ---------------------------------------------------------------

_EMPTY: dict[str, Any] = {}


def _values_check(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``check`` over a field value that is not None: any element of a list."""
    def values(v: Any) -> bool:
        if type(v) is tuple or type(v) is list:
            for x in v:  # noqa: SIM110
                if check(x):
                    return True
            return False
        return check(v)

    return values


#: fields whose tests often pass, with one of the values keibi's sources write (lower
#: case): the routed ones, and the outcome
QUICK = ROUTED | {"event.outcome"}


def _quick(node: FieldTest) -> Any:
    """For a test of one exact value of a :data:`QUICK` field (``event.category`` is
    ``process``, ``event.outcome`` is ``failure``), the value to compare first, as events
    hold it: the lower-cased text (a one-element tuple, for a list field). Equal to it, a
    value passes (the text is its own lower case), with no lower-casing and no type test;
    else the test proper runs (one comparison more)."""
    t = node.test
    if (node.field not in QUICK or not isinstance(t, StrTest) or not t.exact_only
            or len(t.exact) != 1 or t.cased):
        return None
    (value,) = t.exact
    if value.lower() != value:  # it never equals a lower-cased text: no shortcut
        return None
    return (value,) if node.field in LIST_ATTRS else value


#: a keyword text not lower-cased yet in this call (:meth:`_Source.keyword_text`)
_UNSET = object()


def _text_lowerer() -> Callable[[Any], str | None]:
    """A function: a keyword field's value, tested whole, as lower-cased text (None:
    absent). It remembers its last answer: the predicates of an event's candidate rules
    all read the same text object, so the first lowers it for all. (The remembered value
    is held, so no other object can take its identity.)"""
    memo: tuple[Any, str | None] = (None, None)  # one object: threads see a whole pair

    def lower_text(v: Any) -> str | None:
        nonlocal memo
        m = memo
        if v is m[0]:
            return m[1]
        if v is None:
            return None
        low = (v if type(v) is str else as_text(v)).lower()
        memo = (v, low)
        return low

    return lower_text


#: per keyword field, its own (a syslog event's message and raw line are two texts)
_LOWERERS = {f: _text_lowerer() for f in KEYWORD_FIELDS}


class _Source:
    """The source of one generated predicate and the constants it is bound to."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"as_text": as_text, "TL": (tuple, list), "UNSET": _UNSET}
        self.n = 0
        self.extra = False
        self.helpers: list[str] = []  # source of helper functions
        #: keyword field -> the local holding its lower-cased text (:meth:`keyword_text`)
        self.keyword_locals: dict[str, str] = {}

    def const(self, value: Any) -> str:
        self.n += 1
        name = f"K{self.n}"
        self.ns[name] = value
        return name

    def var(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def read(self, field: str) -> str:
        """An expression reading ``field`` of event ``e`` (None when absent)."""
        m = _ELEMENT.fullmatch(field)
        if m is not None:  # element N of a list field (as :func:`getter`)
            w, n = self.var(), int(m.group(2))
            return (f"({w}[{n}] if isinstance({w} := {self.read(m.group(1))}, TL) "
                    f"and len({w}) > {n} else None)")
        attr = FIELD_ATTRS.get(field)
        if attr is not None:
            assert attr.isidentifier()
            return f"e.{attr}"
        self.extra = True
        return f"x.get({self.const(field)})"

    def text_test(self, test: StrTest, v: str, lowered: bool = False) -> str:
        """An expression: str ``v`` passes ``test`` (``lowered``: ``v`` is lower-cased
        already)."""
        parts: list[str] = []  # each with {s}: the text compared
        if test.exact:
            if len(test.exact) == 1:
                (value,) = test.exact
                parts.append(f"{{s}} == {self.const(value)}")
            else:
                parts.append(f"{{s}} in {self.const(test.exact)}")
        if test.prefixes:
            parts.append(f"{{s}}.startswith({self.const(test.prefixes)})")
        if test.suffixes:
            parts.append(f"{{s}}.endswith({self.const(test.suffixes)})")
        if test.few_substrings:  # substrings inline, then the patterns' regexes
            parts += [f"{self.const(lit)} in {{s}}" for lit in test.contains]
            regex = test.pattern_checker()
        else:  # one search for all
            regex = test.substring_checker()
        if regex is not None:
            parts.append(f"{self.const(regex)}({{s}})")
        if not parts:
            return "False"
        if test.cased or lowered:
            texts = [v] * len(parts)
        elif len(parts) == 1:
            texts = [f"{v}.lower()"]
        else:  # lower-cased once
            s = self.var()
            texts = [f"({s} := {v}.lower())"] + [s] * (len(parts) - 1)
        return "(" + " or ".join(p.format(s=t) for p, t in zip(parts, texts, strict=True)) + ")"

    def keyword_text(self, field: str) -> str:
        """An expression: the lower-cased text of keyword field ``field`` (None when
        absent), computed at its first use in a call of the predicate and kept in a local
        for the others (a rule's keyword lists each search the same raw record: lowering
        a 1 KB audit event costs about 0.4 us)."""
        name = self.keyword_locals.get(field)
        if name is None:
            name = self.keyword_locals[field] = f"w{len(self.keyword_locals)}"
        v = self.var()
        return (f"({name} if {name} is not UNSET else ({name} := None "
                f"if ({v} := {self.read(field)}) is None else "
                f"{self.const(_LOWERERS[field])}({v})))")

    def helper(self, text: Callable[[str], str]) -> str:
        """A generated function of a value that is not None: ``text`` holds for its
        text, or for the text of one of its elements (a list)."""
        self.n += 1
        name = f"H{self.n}"
        self.helpers += [
            f"def {name}(v):",
            "    for t in (v if type(v) is tuple or type(v) is list else (v,)):",
            "        if type(t) is not str:",
            "            t = as_text(t)",
            f"        if {text('t')}:",
            "            return True",
            "    return False",
        ]
        return name

    def leaf(self, read: str, test: Any, per_element: bool = True,
             list_field: bool = False, lists: bool = True, quick: Any = None) -> str:
        """An expression: the value ``read`` gives passes ``test`` (as
        :func:`_field_predicate`; ``per_element``: a list passes when one of its elements
        does, else it is tested as a whole; ``list_field``: the value is most often a
        tuple; ``lists``: it may well be a list; ``quick``: a value that passes, compared
        first as it is -- no lower-casing, no type tests -- for the values most events
        hold)."""
        v = self.var()
        text: Callable[[str], str]
        if isinstance(test, StrTest):
            text = partial(self.text_test, test)
        elif isinstance(test, RegexTest):
            search = self.const(re.compile(test.pattern, test.flags).search)
            text = f"({search}({{}}) is not None)".format
        else:
            check = test.checker()
            other = self.const(_values_check(check) if per_element else check)
            return f"(({v} := {read}) is not None and {other}({v}))"
        # a list: element by element, or as a whole; a generated loop where lists are
        # common (list and ``extra`` fields), else the checker's own
        if not per_element:
            other = self.const(test.checker())
        elif lists:
            other = self.helper(text)
        else:
            other = self.const(_values_check(test.checker()))
        rest = f"({v} is not None and {other}({v}))"
        if list_field:  # most often one text (event.category, event.type): inline too
            w = self.var()
            rest = (f"({text(w)} if type({v}) is tuple and len({v}) == 1 "
                    f"and type({w} := {v}[0]) is str else {rest})")
        if quick is not None:
            return (f"(({v} := {read}) == {self.const(quick)} "
                    f"or ({text(v)} if type({v}) is str else {rest}))")
        return f"({text(v)} if type({v} := {read}) is str else {rest})"

    def expr(self, node: Node) -> str:
        if isinstance(node, FieldTest):
            t = node.test
            if isinstance(t, NullTest):
                v = self.var()
                return f"(({v} := {self.read(node.field)}) is None or {v} == () or {v} == [])"
            if isinstance(t, ExistsTest):
                v = self.var()
                exists = f"({v} := {self.read(node.field)}) is not None and {v} != () and {v} != []"
                return f"({exists})" if t.exists else f"(not ({exists}))"
            if isinstance(t, FieldRefTest):
                return f"{self.const(_field_predicate(node))}(e)"
            return self.leaf(self.read(node.field), t, list_field=node.field in LIST_ATTRS,
                             lists=node.field not in SCALAR_FIELDS, quick=_quick(node))
        if isinstance(node, Keyword):
            _keyword_predicate(node)  # the same checks (raises BuildError)
            t = node.test
            if isinstance(t, StrTest) and not t.cased:  # each text lower-cased once a call
                return "(" + " or ".join(
                    f"(({v} := {self.keyword_text(f)}) is not None and "
                    f"{self.text_test(t, v, lowered=True)})"
                    for f in KEYWORD_FIELDS for v in (self.var(),)) + ")"
            # a keyword field's value is tested whole, never element by element
            return "(" + " or ".join(self.leaf(self.read(f), node.test, per_element=False)
                                     for f in KEYWORD_FIELDS) + ")"
        if isinstance(node, Const):
            return "True" if node.value else "False"
        if isinstance(node, Not):
            return f"(not {self.expr(node.arg)})"
        op = " and " if isinstance(node, And) else " or "
        return "(" + op.join(self.expr(a) for a in sorted(node.args, key=_cost)) + ")"

    def source(self, node: Node) -> str:
        body = self.expr(node)
        lines = [*self.helpers, "def predicate(e):"]
        if self.extra:
            lines.append(f"    x = e.extra or {self.const(_EMPTY)}")
        if self.keyword_locals:
            lines.append("    " + " = ".join(self.keyword_locals.values()) + " = UNSET")
        lines.append(f"    return {body}")
        return "\n".join(lines)

    def function(self, node: Node) -> Predicate:
        exec(compile(self.source(node), "<keibi-predicate>", "exec"), self.ns)
        fn: Predicate = self.ns["predicate"]
        return fn


def build(node: Node) -> Predicate:
    """A predicate for an IR node: one generated function (see the module doc)."""
    try:
        return _Source().function(node)
    except (RecursionError, MemoryError, SyntaxError, ValueError):
        return build_closures(node)  # too deep or too large to generate
