"""The engine's intermediate form of a rule condition: small frozen trees.

A Sigma condition is first turned into these nodes (by :mod:`keibi.engine.compile`),
simplified (flattened, constant-folded, OR-ed string tests on one field merged into
one test), and only then built into a Python predicate. The same tree answers "which
literal values does this rule require?" for the index (:func:`requirements`), and is
where later prefilters (e.g. required substrings) will be read from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import msgspec

from keibi.engine.values import StrTest, ValueTest, merge_tests
from keibi.events.model import Event


@dataclass(frozen=True, slots=True)
class And:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class FieldTest:
    """The value of ECS field ``field`` (any element, for lists) passes ``test``."""

    field: str
    test: ValueTest


@dataclass(frozen=True, slots=True)
class Keyword:
    """Any keyword field (``message``, ``event.original``) passes ``test``."""

    test: ValueTest


Node = Union[And, Or, Not, Const, FieldTest, Keyword]  # noqa: UP007 (runtime alias)


def _merge_or(args: list[Node]) -> list[Node]:
    """Merge OR-ed string (or number) tests on the same field -- or OR-ed keywords --
    into one test each."""
    out: list[Node] = []
    slots: dict[tuple[str | None, type, bool], int] = {}
    for a in args:
        if isinstance(a, FieldTest | Keyword):
            name = a.field if isinstance(a, FieldTest) else None
            key = (name, type(a.test), bool(getattr(a.test, "cased", False)))
            at = slots.get(key)
            if at is None:
                slots[key] = len(out)
            else:
                prev = out[at]
                assert isinstance(prev, FieldTest | Keyword)
                merged = merge_tests(prev.test, a.test)
                if merged is not None:
                    out[at] = FieldTest(prev.field, merged) if isinstance(
                        prev, FieldTest) else Keyword(merged)
                    continue
        out.append(a)
    return out


def simplify(node: Node) -> Node:
    """Flatten nested AND/OR, fold constants, merge OR-ed tests, drop double negation."""
    if isinstance(node, Not):
        inner = simplify(node.arg)
        if isinstance(inner, Const):
            return Const(not inner.value)
        if isinstance(inner, Not):
            return inner.arg
        return Not(inner)
    if isinstance(node, And | Or):
        kind = type(node)
        absorbing = isinstance(node, Or)  # True absorbs OR, False absorbs AND
        args: list[Node] = []
        for a in node.args:
            s = simplify(a)
            if isinstance(s, Const):
                if s.value is absorbing:
                    return s
                continue
            if isinstance(s, kind):
                args.extend(s.args)
            else:
                args.append(s)
        if kind is Or:
            args = _merge_or(args)
        if not args:
            return Const(not absorbing)
        if len(args) == 1:
            return args[0]
        return kind(tuple(args))
    return node


Requirements = dict[str, frozenset[str]]


def _field_types() -> dict[str, tuple[Any, ...]]:
    """Each Event attribute field and the msgspec types its value may have."""
    info = msgspec.inspect.type_info(Event)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: (f.type.types if isinstance(f.type, msgspec.inspect.UnionType)
                            else (f.type,))
            for f in info.fields}


_FIELD_TYPES = _field_types()
_MANY = (msgspec.inspect.VarTupleType | msgspec.inspect.ListType | msgspec.inspect.TupleType
         | msgspec.inspect.DictType | msgspec.inspect.AnyType)

#: fields where two required value sets intersect (a list field may hold both values)
SCALAR_FIELDS = frozenset(name for name, types in _FIELD_TYPES.items()
                          if not any(isinstance(t, _MANY) for t in types))
#: Event attributes that only ever hold integers (their text form is canonical)
INT_FIELDS = frozenset(name for name, types in _FIELD_TYPES.items()
                       if {type(t) for t in types} - {msgspec.inspect.NoneType}
                       == {msgspec.inspect.IntType})


def requirements(node: Node) -> Requirements:
    """Field -> the lower-cased values one of which an event MUST have to match (for a
    list field: one of its elements).

    Only exact string tests count; a field missing from the result is unconstrained.
    """
    if isinstance(node, FieldTest):
        t = node.test
        if isinstance(t, StrTest) and t.exact_only:
            return {node.field: frozenset(v.lower() for v in t.exact)}
        return {}
    if isinstance(node, And):
        out: Requirements = {}
        for a in node.args:
            for f, vals in requirements(a).items():
                if f not in out:
                    out[f] = vals
                elif f in SCALAR_FIELDS:
                    out[f] = out[f] & vals
                # a list (or extra) field: each set alone is required, keep the first
        return out
    if isinstance(node, Or):
        reqs = [requirements(a) for a in node.args]
        common = set(reqs[0]).intersection(*reqs[1:]) if reqs else set()
        return {f: frozenset().union(*(r[f] for r in reqs)) for f in common}
    return {}
