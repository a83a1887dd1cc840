"""Compile a Sigma rule's parsed condition into a fast predicate over keibi events.

pySigma's condition tree (AND / OR / NOT over field=value and keyword leaves, with
``1 of`` / ``all of`` already expanded) becomes the engine's IR (:mod:`keibi.engine.ir`)
with field names mapped to ECS (:mod:`keibi.engine.fields`) and values turned into
tests (:mod:`keibi.engine.values`); the log source adds its constraints. The simplified
IR is then built into a predicate (:mod:`keibi.engine.predicate`). Anything keibi
cannot evaluate raises :class:`NotEvaluable` with the reason; the rule is then
reported, never run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from keibi.engine.fields import (
    FieldMapping,
    LogSource,
    Unmapped,
    log_source,
    map_field,
)
from keibi.engine.ir import (
    And,
    Const,
    FieldTest,
    Keyword,
    Node,
    Not,
    Or,
    Requirements,
    requirements,
    simplify,
)
from keibi.engine.literals import Clauses, Gate, clauses, gate
from keibi.engine.predicate import BuildError, Predicate, build
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
    ValueTest,
    literal_runs,
    wildcard_tokens,
)
from keibi.rules.loader import LoadedRule


class NotEvaluable(Exception):
    """keibi cannot evaluate this rule; the message says why."""


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A single-event rule ready to run."""

    rule: LoadedRule
    ir: Node
    predicate: Predicate
    requires: Requirements
    #: literals one of which every matching event holds (None: no such condition)
    gate: Gate = None
    #: several such conditions, all holding for every matching event (the first one
    #: may be ``gate``); the index filters by these (:func:`keibi.engine.literals.clauses`)
    clauses: Clauses = ()

    @property
    def id(self) -> str:
        return self.rule.id


# -- Sigma values -> tests -------------------------------------------------------------

def _string_test(value: SigmaString, cased: bool, keyword: bool) -> StrTest:
    parts: list[Any] = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts):
        raise NotEvaluable(f"placeholder in value '{value.original}' (needs a |expand list)")
    if keyword:
        if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] is not SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
    norm = (lambda s: s) if cased else str.lower
    star = SpecialChars.WILDCARD_MULTI
    plain = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if not isinstance(p, str)]
    if not specials:
        return StrTest(exact=frozenset({norm("".join(plain))}), cased=cased)
    if len(parts) == 2 and parts[0] is star and isinstance(parts[1], str):
        return StrTest(suffixes=(norm(parts[1]),), cased=cased)
    if len(parts) == 2 and parts[1] is star and isinstance(parts[0], str):
        return StrTest(prefixes=(norm(parts[0]),), cased=cased)
    if len(parts) == 3 and parts[0] is star and parts[2] is star and isinstance(parts[1], str):
        return StrTest(contains=(norm(parts[1]),), cased=cased)
    regex = "".join(
        re.escape(norm(p)) if isinstance(p, str) else (".*" if p is star else ".")
        for p in parts)
    return StrTest(patterns=(regex,), cased=cased)


def _translate(value: SigmaString, mapping: FieldMapping) -> SigmaString:
    if mapping.values is None:
        return value
    if value.contains_special():
        raise NotEvaluable(f"wildcards in value '{value.original}' of a translated field")
    to = mapping.values.get(value.to_plain().lower())
    if to is None:
        raise NotEvaluable(f"value '{value.original}' has no {mapping.target} equivalent")
    return SigmaString(to)


def value_tests(value: Any, mapping: FieldMapping | None, source: LogSource,
                 keyword: bool = False) -> list[ValueTest]:
    """The tests (OR-ed) a Sigma value asks for."""
    if isinstance(value, SigmaExpansion):
        return [t for v in value.values for t in value_tests(v, mapping, source, keyword)]
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        if mapping is not None:
            value = _translate(value, mapping)
        return [_string_test(value, cased, keyword)]
    if isinstance(value, SigmaBool):
        if mapping is not None and mapping.values is not None:
            return value_tests(SigmaString("true" if value.boolean else "false"), mapping,
                                source, keyword)
        return [BoolTest(value.boolean)]
    if isinstance(value, SigmaTimestampPart):
        return [TimePartTest(value.timestamp_part.name.lower(), int(value.number))]
    if isinstance(value, SigmaNumber):
        if keyword:
            return [StrTest(contains=(str(value.number),))]
        return [NumTest(frozenset({float(value.number)}))]
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise NotEvaluable("placeholder in regular expression")
        flags = 0
        for flag in value.flags:
            flags |= value.sigma_to_python_flags[flag]
        try:
            re.compile(str(value.regexp), flags)
        except re.error as exc:
            raise NotEvaluable(f"regular expression {str(value.regexp)!r}: {exc}") from None
        return [RegexTest(str(value.regexp), flags)]
    if isinstance(value, SigmaCIDRExpression):
        return [CidrTest((value.network,))]
    if isinstance(value, SigmaCompareExpression):
        return [CompareTest(value.op.name.lower(), float(value.number.number))]
    if isinstance(value, SigmaNull):
        return [NullTest()]
    if isinstance(value, SigmaExists):
        return [ExistsTest(value.exists)]
    if isinstance(value, SigmaFieldReference):
        try:
            other = map_field(source, value.field).target
        except Unmapped as exc:
            raise NotEvaluable(str(exc)) from None
        return [FieldRefTest(other, value.starts_with, value.ends_with)]
    raise NotEvaluable(f"unsupported value type {type(value).__name__}")


# -- condition tree -> IR --------------------------------------------------------------

def to_ir(cond: Any, source: LogSource) -> Node:
    """The IR of one pySigma condition (sub)tree."""
    if cond is None:
        return Const(False)
    if isinstance(cond, ConditionAND):
        return And(tuple(to_ir(a, source) for a in cond.args))
    if isinstance(cond, ConditionOR):
        return Or(tuple(to_ir(a, source) for a in cond.args))
    if isinstance(cond, ConditionNOT):
        return Not(to_ir(cond.args[0], source))
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        try:
            mapping = map_field(source, cond.field)
        except Unmapped as exc:
            raise NotEvaluable(str(exc)) from None
        nodes: list[Node] = []
        for t in value_tests(cond.value, mapping, source):
            alts: list[Node] = [FieldTest(f, t) for f in mapping.targets]
            # a value may sit in any of the fields; absence means absent from all of them
            absent = isinstance(t, NullTest) or (isinstance(t, ExistsTest) and not t.exists)
            nodes.append(alts[0] if len(alts) == 1 else (And if absent else Or)(tuple(alts)))
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))
    if isinstance(cond, ConditionValueExpression):
        tests = value_tests(cond.value, None, source, keyword=True)
        knodes: list[Node] = [Keyword(t) for t in tests]
        return knodes[0] if len(knodes) == 1 else Or(tuple(knodes))
    raise NotEvaluable(f"unsupported condition element {type(cond).__name__}")


#: Sigma's auditd ``aN`` (fields.AUDITD_FIELDS): the argument in an EXECVE record, the
#: syscall's argument in a SYSCALL record; keibi's event holds both records
_RECORD_ARGS = frozenset({"execve", "syscall"})
_ARG_PAIR = re.compile(r"process\.args\[(\d+)\]\Z")


def _record_type(node: Node) -> str | None:
    """The one auditd record type (lower case, of :data:`_RECORD_ARGS`) every event
    ``node`` matches holds: a test of it, an AND with one, an OR all of whose branches
    require the same one."""
    if isinstance(node, FieldTest) and node.field == "auditd.record_types":
        t = node.test
        if (isinstance(t, StrTest) and len(t.exact) == 1 and not (
                t.prefixes or t.suffixes or t.contains or t.patterns)):
            found = next(iter(t.exact)).lower()
            return found if found in _RECORD_ARGS else None
    if isinstance(node, And):
        types = {r for r in map(_record_type, node.args) if r is not None}
        return types.pop() if len(types) == 1 else None
    if isinstance(node, Or) and node.args:
        each = {_record_type(a) for a in node.args}
        return each.pop() if len(each) == 1 else None
    return None


def _pair_arg(node: Node) -> tuple[FieldTest, FieldTest] | None:
    """``(process.args[N] test, auditd.data.aN test)`` when ``node`` is the OR (or, for
    absence, the AND) :func:`to_ir` builds for Sigma's ``aN``."""
    if isinstance(node, Or | And) and len(node.args) == 2:
        first, second = node.args
        if isinstance(first, FieldTest) and isinstance(second, FieldTest):
            m = _ARG_PAIR.match(first.field)
            if m and second.field == f"auditd.data.a{m.group(1)}" and first.test == second.test:
                return first, second
    return None


#: what a SYSCALL record's ``aN`` holds: the syscall's argument as the kernel prints it
_HEX_DIGITS = frozenset("0123456789abcdef")


def _never_hex(test: object) -> bool:
    """Whether no lower-case hexadecimal number passes ``test`` (every value, prefix,
    suffix, substring or wildcard pattern it accepts needs a character no such number
    has)."""
    if not isinstance(test, StrTest):
        return False

    def foreign(fragment: str) -> bool:
        return not set(fragment if test.cased else fragment.lower()) <= _HEX_DIGITS

    return all(map(foreign, (*test.exact, *test.prefixes, *test.suffixes, *test.contains))
               ) and all(any(map(foreign, literal_runs(wildcard_tokens(p))))
                         for p in test.patterns)


def record_args(node: Node, record: str | None = None) -> Node:
    """``node`` with each ``aN`` narrowed to the record an enclosing AND requires
    (``type: EXECVE``: the program's argument N; ``type: SYSCALL``: the syscall's): in
    Sigma each audit record is an event of its own, so ``type: EXECVE and a0: nc`` never
    looks at the SYSCALL record's ``a0``. Without a record type, a test no hexadecimal
    number passes (``a1|startswith: '--cpu-priority'``) reads the argument only: the
    SYSCALL record's ``aN`` are hexadecimal."""
    pair = _pair_arg(node)
    if pair is not None:
        argument, syscall = pair
        if record is None:
            return argument if _never_hex(argument.test) else node
        return argument if record == "execve" else syscall
    if isinstance(node, And):
        record = _record_type(node) or record
        return And(tuple(record_args(a, record) for a in node.args))
    if isinstance(node, Or):
        return Or(tuple(record_args(a, record) for a in node.args))
    if isinstance(node, Not):
        return Not(record_args(node.arg, record))
    return node


def rule_ir(rule: SigmaRule) -> Node:
    """The simplified IR of a whole rule: log source constraints AND its condition."""
    ls = rule.logsource
    try:
        source = log_source(ls.category, ls.product, ls.service)
    except Unmapped as exc:
        raise NotEvaluable(str(exc)) from None
    try:
        conditions = [c.parse() for c in rule.detection.parsed_condition]
    except SigmaError as exc:
        raise NotEvaluable(f"condition: {exc.args[0] if exc.args else exc}") from None
    if not conditions:
        raise NotEvaluable("no condition")
    constraints: list[Node] = [
        FieldTest(f, StrTest(exact=frozenset(v.lower() for v in values)))
        for f, values in source.constraints
    ]
    body = Or(tuple(to_ir(c, source) for c in conditions))
    return simplify(record_args(And((*constraints, body))))


def compile_rule(rule: LoadedRule) -> CompiledRule:
    """Compile a single-event rule; raises :class:`NotEvaluable` with the reason."""
    if not isinstance(rule.sigma, SigmaRule):
        raise NotEvaluable("a correlation rule is not a single-event rule")
    if rule.load_note is not None:
        raise NotEvaluable(rule.load_note)
    ir = rule_ir(rule.sigma)
    try:
        predicate = build(ir)
    except BuildError as exc:
        raise NotEvaluable(str(exc)) from None
    return CompiledRule(rule, ir, predicate, requirements(ir), gate(ir), clauses(ir))
