"""Build the IR of a rule (:mod:`keibi.engine.ir`) into a fast Python predicate.

Nodes become nested closures; the children of AND/OR are tried cheapest first. The
common core of keibi's own rules -- exact, case-insensitive values of scalar
attribute fields ANDed together (``event.dataset``, ``event.action``, ``event.outcome``,
``user.name``...) -- is fused into ONE small generated function that reads each field
once, instead of one closure call per field. The generated source only ever names
:class:`~keibi.events.model.Event` attributes; values reach it as bound constants,
never as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from keibi.engine.fields import KEYWORD_FIELDS, getter
from keibi.engine.ir import And, Const, FieldTest, Keyword, Node, Not, Or
from keibi.engine.values import (
    BoolTest,
    ExistsTest,
    FieldRefTest,
    NullTest,
    NumTest,
    StrTest,
    as_text,
)
from keibi.events.model import FIELD_ATTRS, Event

Predicate = Callable[[Event], bool]


class BuildError(Exception):
    """An IR node this builder cannot turn into a predicate (the message says why)."""


def _cost(node: Node) -> float:
    if isinstance(node, FieldTest):
        t = node.test
        # an attribute is one read; an ``extra`` field a dict lookup
        extra = 0.0 if node.field in FIELD_ATTRS else 0.5
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


def build(node: Node) -> Predicate:
    """A predicate for an IR node (children of AND/OR cheapest first)."""
    if isinstance(node, FieldTest):
        return _field_predicate(node)
    if isinstance(node, Keyword):
        return _keyword_predicate(node)
    if isinstance(node, Const):
        value = node.value
        return lambda e: value
    if isinstance(node, Not):
        inner = build(node.arg)
        return lambda e: not inner(e)
    args = sorted(node.args, key=_cost)
    if isinstance(node, Or):
        return _or([build(a) for a in args])
    exact = [a for a in args if isinstance(a, FieldTest) and _fusable(a)]
    rest = [a for a in args if not _fusable(a)]
    ps = [_fused_exact(exact)] if len(exact) > 1 else [build(a) for a in exact]
    return _and(ps + [build(a) for a in rest])
