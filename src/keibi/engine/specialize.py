"""Predicates specialised to the values an index key fixes.

Every event the index routes by one key (:mod:`keibi.engine.index`) has the same
``event.action``, ``event.dataset``, ``process.name`` and ``event.category``. A rule's
tests of those fields therefore have one answer for all of them: :func:`specialize`
replaces each such test by that answer (a :class:`~keibi.engine.ir.Const`) and folds the
tree (:func:`~keibi.engine.ir.simplify`). What remains tests only what differs from
event to event: ``process-started and category process and type start and not
failure`` becomes ``type start and not failure``; an OR over ten program names keeps the
one branch of this key's program. A tree folded to ``False`` means the rule cannot match
any event of the key; to ``True``, that it matches every one.

A test is answered by the reference evaluator (:func:`keibi.engine.predicate.
build_closures`) on a probe event holding only the known fields, so the answer is the
one the rule's own predicate gives for an event with that value. Only plain values are
specialised on (:func:`plain`): texts, tuples of texts and None. An index key is a memo
key, and equal plain values behave the same in every test (a text equals only a text);
an int and a bool can be equal and still differ as texts.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from keibi.engine.ir import And, Const, FieldTest, Node, Not, Or, simplify
from keibi.engine.predicate import Predicate, build, build_closures
from keibi.engine.values import FieldRefTest
from keibi.events.model import FIELD_ATTRS, Event

__all__ = ["ALWAYS", "Specializer", "plain", "specialize", "tested_fields"]

#: specialised predicates remembered (each is a generated function)
CACHE_LIMIT = 4096


def plain(value: Any) -> bool:
    """Whether ``value`` is one a key may be specialised on: None, a text, or a tuple of
    texts (exact types: these equal only values that pass the same tests)."""
    if value is None or type(value) is str:
        return True
    return type(value) is tuple and all(type(v) is str for v in value)


def tested_fields(node: Node) -> frozenset[str]:
    """The fields ``node`` tests on their own value (field references excluded: they
    read a second field)."""
    if isinstance(node, FieldTest):
        return frozenset() if isinstance(node.test, FieldRefTest) else frozenset({node.field})
    if isinstance(node, Not):
        return tested_fields(node.arg)
    if isinstance(node, And | Or):
        return frozenset().union(*(tested_fields(a) for a in node.args))
    return frozenset()


def _substitute(node: Node, known: Mapping[str, Any],
                answer: Callable[[FieldTest], bool]) -> Node:
    if isinstance(node, FieldTest):
        if node.field in known and not isinstance(node.test, FieldRefTest):
            return Const(answer(node))
        return node
    if isinstance(node, Not):
        return Not(_substitute(node.arg, known, answer))
    if isinstance(node, And | Or):
        return type(node)(tuple(_substitute(a, known, answer) for a in node.args))
    return node


def specialize(node: Node, known: Mapping[str, Any]) -> Node:
    """``node`` for events whose attribute fields ``known`` hold the given (plain)
    values: each test of one of them replaced by its answer, then folded."""
    if any(f not in FIELD_ATTRS for f in known):
        raise ValueError("only Event attribute fields can be known")
    if not all(plain(v) for v in known.values()):
        raise ValueError("only plain values (texts, tuples of texts, None) can be known")
    probe = Event(timestamp=0.0, **{FIELD_ATTRS[f]: v for f, v in known.items()})

    def answer(test: FieldTest) -> bool:
        return bool(build_closures(test)(probe))

    return simplify(_substitute(node, known, answer))


#: the predicate of a rule every event of a key matches: true for every event (an Event
#: defines no length or truth of its own), and a C function, cheaper to call than one
#: written in Python
ALWAYS: Predicate = operator.truth


class Specializer:
    """The engine's candidates, ``(predicate, node)``, specialised per index key
    (:class:`keibi.engine.index.RuleIndex`'s ``specialize``). ``irs`` maps each node to
    its rule's IR. A specialised predicate is remembered per rule and values of the
    fields it tests, so keys that differ only in fields a rule does not test (the
    program name, for most rules) share it.
    """

    def __init__(self, irs: Mapping[Any, Node]) -> None:
        self._irs = dict(irs)
        self._tested = {node: tested_fields(ir) for node, ir in self._irs.items()}
        self._cache: dict[tuple[Any, tuple[Any, ...]], tuple[Predicate, Any] | None] = {}
        #: specialised tree -> its predicate: values that fold a rule the same way (every
        #: program name outside its list) share one generated function, so new values
        #: cost no compilation, however many there are
        self._built: dict[Node, Predicate] = {}

    def tests(self, item: tuple[Predicate, Any]) -> frozenset[str]:
        """The fields ``item``'s rule tests (on their own value)."""
        return self._tested.get(item[1], frozenset())

    def __call__(self, item: tuple[Predicate, Any],
                 known: dict[str, Any]) -> tuple[Predicate, Any] | None:
        node = item[1]
        tested = self._tested.get(node)
        if not tested:
            return item
        fields = tuple(f for f in known if f in tested)
        values = tuple(known[f] for f in fields)
        if not fields or not all(plain(v) for v in values):
            return item
        key = (node, values)
        try:
            return self._cache[key]
        except KeyError:
            pass
        ir = specialize(self._irs[node], dict(zip(fields, values, strict=True)))
        found: tuple[Predicate, Any] | None
        if isinstance(ir, Const):
            found = (ALWAYS, node) if ir.value else None
        else:
            predicate = self._built.get(ir)
            if predicate is None:
                if len(self._built) >= CACHE_LIMIT:
                    self._built.clear()
                predicate = self._built[ir] = build(ir)
            found = (predicate, node)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = found
        return found
