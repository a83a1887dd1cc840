"""Synthesize an event that makes a Sigma rule fire: proof that a rule is alive.

:func:`solutions` walks a rule's parsed condition (pySigma's tree, ``1 of`` /
``all of`` expanded) and builds one event that satisfies it, in keibi's ECS shape: every
Sigma field goes through keibi's field mapping (:mod:`keibi.engine.fields`), the log
source's own fields (``event.category``, ``event.dataset``...) are set. Values come from
the rule's own strings: wildcards filled in, ``contains``/``startswith`` values used as
they are, a CIDR's first address, a number on the right side of a comparison, a string
built from a regular expression's parse tree; the branches under ``not`` get values
that avoid them (or none at all). Several constraints on one field are combined
(``contains|all`` values joined), and every choice is checked against the constraints
already taken, backtracking through the alternatives (OR branches, other candidates).

The search is generate-and-test: it yields candidates in a sensible order and the
caller keeps the first one the real engine agrees with (:func:`prove`). It is a test
and tooling aid, not on the data path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import ip_network
from itertools import islice, product
from re import _parser as sre  # type: ignore[attr-defined]
from typing import Any

import msgspec
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from keibi.engine.compile import NotEvaluable, value_tests
from keibi.engine.fields import KEYWORD_FIELDS, FieldMapping, LogSource, log_source, map_field
from keibi.engine.values import (
    ExistsTest,
    FieldRefTest,
    NullTest,
    ValueTest,
    as_text,
)
from keibi.events.model import Event
from keibi.rules.options import event_from_flat

__all__ = ["Synthesis", "prove", "solutions"]

#: candidate events tried per rule before giving up
MAX_TRIES = 400
#: extra fields that hold lists (besides the Event's tuple-typed attributes)
LIST_EXTRA = frozenset({"auditd.record_types"})
_INDEXED = re.compile(r"(.+)\[(\d+)\]")


def _field_kinds() -> dict[str, type]:
    """ECS name -> int, str or tuple (list fields), from the Event model."""
    info = msgspec.inspect.type_info(Event)
    assert isinstance(info, msgspec.inspect.StructType)
    out: dict[str, type] = {}
    for f in info.fields:
        text = repr(f.type)
        if "VarTupleType" in text:
            out[f.encode_name] = tuple
        elif "IntType" in text:
            out[f.encode_name] = int
        elif "StrType" in text:
            out[f.encode_name] = str
    return out


_FIELD_KINDS = _field_kinds()
LIST_FIELDS = frozenset(k for k, v in _FIELD_KINDS.items() if v is tuple) | LIST_EXTRA


# -- the state of one search path: per ECS field, its value and constraints ---------------

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class Slot:
    value: Any = _UNSET  # _UNSET: not chosen yet; None: must stay absent
    pos: tuple[ValueTest, ...] = ()
    neg: tuple[ValueTest, ...] = ()


Env = dict[str, Slot]

_checkers: dict[ValueTest, Callable[[Any], bool]] = {}


def _holds(test: ValueTest, value: Any, env: Env) -> bool:
    """Whether ``value`` of a field passes ``test`` (as keibi's predicate would)."""
    if value is _UNSET:
        value = None
    if isinstance(test, NullTest):
        return value is None or value == ()
    if isinstance(test, ExistsTest):
        return (value is not None and value != ()) is test.exists
    if isinstance(test, FieldRefTest):
        other = env.get(test.other, Slot()).value
        if value is None or other in (None, _UNSET):
            return False
        a, b = as_text(value).lower(), as_text(other).lower()
        if test.starts and test.ends:
            return b in a
        return a.startswith(b) if test.starts else a.endswith(b) if test.ends else a == b
    if value is None:
        return False
    check = _checkers.get(test)
    if check is None:
        check = _checkers[test] = test.checker()
    if isinstance(value, tuple):
        return any(check(v) for v in value)
    return check(value)


def _consistent(slot: Slot, value: Any, env: Env) -> bool:
    return (all(_holds(t, value, env) for t in slot.pos)
            and not any(_holds(t, value, env) for t in slot.neg))


def _with(env: Env, name: str, slot: Slot) -> Env:
    out = dict(env)
    out[name] = slot
    return out


# -- candidate values from Sigma values -----------------------------------------------------

def _fill(value: SigmaString, star: str, one: str) -> str:
    return "".join(p if isinstance(p, str) else star if p is SpecialChars.WILDCARD_MULTI
                   else one for p in value.s)


def _category_char(cat: Any) -> str:
    return {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " ", "CATEGORY_WORD": "a",
            "CATEGORY_NOT_DIGIT": "a", "CATEGORY_NOT_SPACE": "a",
            "CATEGORY_NOT_WORD": " "}.get(str(cat), "a")


def _set_char(items: list[Any]) -> str:
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    if not negate:
        op, arg = items[0]
        if str(op) == "LITERAL":
            return chr(arg)
        if str(op) == "RANGE":
            return chr(arg[0])
        return _category_char(arg)
    rx = re.compile(f"[{''.join(_set_src(i) for i in items)}]")
    return next((c for c in "xa0Z_ -.:/" if rx.fullmatch(c)), "x")


def _set_src(item: tuple[Any, Any]) -> str:
    op, arg = item
    op = str(op)
    if op == "NEGATE":
        return "^"
    if op == "LITERAL":
        return re.escape(chr(arg))
    if op == "RANGE":
        return f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}"
    return {"CATEGORY_DIGIT": r"\d", "CATEGORY_SPACE": r"\s", "CATEGORY_WORD": r"\w",
            "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_NOT_SPACE": r"\S",
            "CATEGORY_NOT_WORD": r"\W"}.get(str(arg), "")


def _regex_texts(items: Any, limit: int = 6) -> list[str]:
    """A few strings built along a regex's parse tree (checked by the caller)."""
    parts: list[list[str]] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            parts.append([chr(arg)])
        elif name == "NOT_LITERAL":
            parts.append(["x" if chr(arg) != "x" else "y"])
        elif name == "ANY":
            parts.append(["x"])
        elif name == "IN":
            parts.append([_set_char(arg)])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, _hi, sub = arg
            inner = _regex_texts(sub, limit)
            counts = dict.fromkeys([lo, max(lo, 1)])
            parts.append([t * n for n in counts for t in inner])
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            parts.append(_regex_texts(arg[-1] if name == "SUBPATTERN" else arg, limit))
        elif name == "BRANCH":
            parts.append([t for alt in arg[1] for t in _regex_texts(alt, limit)])
        # AT (anchors), ASSERT, ASSERT_NOT, GROUPREF...: nothing to write
    return ["".join(p) for p in islice(product(*parts), limit)]


def _regex_candidates(value: SigmaRegularExpression) -> list[str]:
    flags = 0
    for flag in value.flags:
        flags |= value.sigma_to_python_flags[flag]
    pattern = str(value.regexp)
    try:
        texts = _regex_texts(sre.parse(pattern, flags))
    except (re.error, RecursionError, TypeError, ValueError):
        return []
    rx = re.compile(pattern, flags)
    return [t for t in dict.fromkeys(texts) if rx.search(t)]


def _translate(text: str, mapping: FieldMapping | None) -> str:
    if mapping is None or mapping.values is None:
        return text
    return mapping.values.get(text.lower(), text)


def _candidates(value: Any, mapping: FieldMapping | None) -> list[Any]:
    """Values a field may take to satisfy Sigma value ``value`` (best first)."""
    if isinstance(value, SigmaExpansion):
        return [c for v in value.values for c in _candidates(v, mapping)]
    if isinstance(value, SigmaString):
        texts = [_fill(value, "", "x"), _fill(value, "x", "x"), _fill(value, " ", " ")]
        return [_translate(t, mapping) for t in dict.fromkeys(texts)]
    if isinstance(value, SigmaBool):
        return [_translate("true" if value.boolean else "false", mapping)
                if mapping is not None and mapping.values else value.boolean]
    if isinstance(value, SigmaNumber):
        return [value.number, str(value.number)]
    if isinstance(value, SigmaCompareExpression):
        n = value.number.number
        step = {"LT": -1, "LTE": 0, "GT": 1, "GTE": 0}.get(value.op.name, 0)
        return [n + step, n + 2 * step]
    if isinstance(value, SigmaRegularExpression):
        return _regex_candidates(value)
    if isinstance(value, SigmaCIDRExpression):
        net = ip_network(value.network)
        return [str(net[1] if net.num_addresses > 2 else net[0]), str(net[0])]
    if isinstance(value, SigmaNull):
        return [None]
    if isinstance(value, SigmaExists):
        return ["x"] if value.exists else [None]
    return []


# -- the search -----------------------------------------------------------------------------

def _assign(env: Env, name: str, test: ValueTest, cands: list[Any]) -> Iterator[Env]:
    """``env`` where field ``name`` passes ``test``, trying ``cands`` for its value."""
    slot = env.get(name, Slot())
    new = Slot(slot.value, (*slot.pos, test), slot.neg)
    current = slot.value
    if current is not _UNSET and _holds(test, current, env):
        yield _with(env, name, new)
        return
    if isinstance(test, FieldRefTest):
        other = env.get(test.other, Slot()).value
        if other in (None, _UNSET):  # choose the referenced field's value too
            ref = env.get(test.other, Slot())
            other = "keibi"
            if not _consistent(ref, other, env):
                return
            env = _with(env, test.other, Slot(other, ref.pos, ref.neg))
        text = as_text(other)
        cands = [text, f"x {text}" if test.ends else f"{text} x", f"x {text} x"]
    if isinstance(test, NullTest) or (isinstance(test, ExistsTest) and not test.exists):
        cands = [None]
    elif isinstance(test, ExistsTest):
        cands = [*cands, "x"]
    tried: list[Any] = []
    for cand in cands:
        options: list[Any]
        if current is _UNSET or current is None:
            options = [(cand,) if name in LIST_FIELDS and cand is not None else cand]
        elif isinstance(current, tuple):
            options = [(*current, cand)]
        elif isinstance(cand, str):
            cur = as_text(current)
            options = [f"{cur} {cand}", f"{cand} {cur}", cur + cand, cand + cur, cand]
        else:
            options = [cand]
        for value in options:
            if value in tried:
                continue
            tried.append(value)
            if _consistent(new, value, env):
                yield _with(env, name, Slot(value, new.pos, new.neg))


def _forbid(env: Env, name: str, test: ValueTest) -> Iterator[Env]:
    slot = env.get(name, Slot())
    if slot.value is not _UNSET and _holds(test, slot.value, env):
        return
    yield _with(env, name, Slot(slot.value, slot.pos, (*slot.neg, test)))


@dataclass(frozen=True)
class _Leaf:
    """One detection item: field alternatives, the OR-ed tests, candidate values."""

    fields: tuple[str, ...]
    tests: tuple[ValueTest, ...]
    cands: tuple[Any, ...]


def _leaf(cond: Any, source: LogSource) -> _Leaf:
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        mapping = map_field(source, cond.field)
        tests = value_tests(cond.value, mapping, source)
        return _Leaf(mapping.targets, tuple(tests), tuple(_candidates(cond.value, mapping)))
    tests = value_tests(cond.value, None, source, keyword=True)
    return _Leaf(KEYWORD_FIELDS[:1], tuple(tests), tuple(_candidates(cond.value, None)))


def _sat(cond: Any, want: bool, env: Env, source: LogSource) -> Iterator[Env]:
    if isinstance(cond, ConditionNOT):
        yield from _sat(cond.args[0], not want, env, source)
    elif isinstance(cond, ConditionAND | ConditionOR):
        if isinstance(cond, ConditionAND) is want:  # every argument must come out `want`
            args = sorted(cond.args, key=lambda a: isinstance(a, ConditionNOT))
            yield from _all(args, want, env, source)
        else:  # one argument suffices
            for arg in cond.args:
                yield from _sat(arg, want, env, source)
    elif isinstance(cond, ConditionFieldEqualsValueExpression | ConditionValueExpression):
        leaf = _leaf(cond, source)
        if want:
            for name in leaf.fields:
                for test in leaf.tests:
                    yield from _assign(env, name, test, list(leaf.cands))
        else:
            yield from _forbid_all([(f, t) for f in leaf.fields for t in leaf.tests], env)
    else:
        raise NotEvaluable(f"cannot synthesize {type(cond).__name__}")


def _all(args: list[Any], want: bool, env: Env, source: LogSource) -> Iterator[Env]:
    if not args:
        yield env
        return
    for e in _sat(args[0], want, env, source):
        yield from _all(args[1:], want, e, source)


def _forbid_all(pairs: list[tuple[str, ValueTest]], env: Env) -> Iterator[Env]:
    if not pairs:
        yield env
        return
    (name, test), rest = pairs[0], pairs[1:]
    for e in _forbid(env, name, test):
        yield from _forbid_all(rest, e)


def _finish(env: Env) -> Env | None:
    """Give a value to fields that only a negative test constrains, when absence would
    pass one of those tests (``not field: null``); None when nothing fits."""
    out = dict(env)
    for name, slot in env.items():
        if slot.value is _UNSET and any(_holds(t, None, env) for t in slot.neg):
            for cand in ("keibi", "x", "0", "keibi keibi"):
                if _consistent(slot, cand, env):
                    out[name] = Slot(cand, slot.pos, slot.neg)
                    break
            else:
                return None
    return out


# -- events ---------------------------------------------------------------------------------

def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_KINDS.get(name)
    if kind is int and not isinstance(value, int):
        return int(float(value))
    if kind is str and not isinstance(value, str):
        return as_text(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _event(values: dict[str, Any], source: LogSource, ts: float) -> Event | None:
    flat: dict[str, Any] = {}
    for f, allowed in source.constraints:
        flat[f] = [allowed[0]] if f in LIST_FIELDS else allowed[0]
    lists: dict[str, dict[int, Any]] = {}
    for name, value in values.items():
        if value is None:
            continue
        m = _INDEXED.fullmatch(name)
        if m is not None:
            lists.setdefault(m.group(1), {})[int(m.group(2))] = value
            continue
        if name in flat and name in LIST_FIELDS:
            have = flat[name] if isinstance(flat[name], list) else [flat[name]]
            extra = list(value) if isinstance(value, tuple) else [value]
            flat[name] = have + [v for v in extra if v not in have]
            continue
        flat[name] = list(value) if isinstance(value, tuple) else value
    for name, items in lists.items():
        args = [as_text(items.get(i, "x")) for i in range(max(items) + 1)]
        flat[name] = args
    try:
        flat = {k: v if isinstance(v, list) else _coerce(k, v) for k, v in flat.items()}
        return event_from_flat(flat, ts)
    except (ValueError, TypeError, OverflowError, msgspec.ValidationError):
        return None


def _source(rule: SigmaRule) -> LogSource:
    ls = rule.logsource
    return log_source(ls.category, ls.product, ls.service)


@dataclass(frozen=True)
class Synthesis:
    """A generated event and the ECS fields the rule's detection chose for it."""

    event: Event
    fields: frozenset[str]  # detection fields set in the event (not the log source's)

    def blanked(self) -> Event:
        """The event with every field the detection chose removed."""
        flat = {k: v for k, v in msgspec.to_builtins(self.event).items()
                if k != "keibi.extra"}
        extra = dict(self.event.extra or {})
        for name in self.fields:
            base = _INDEXED.sub(r"\1", name)
            flat.pop(base, None)
            extra.pop(base, None)
        if extra:
            flat.update(extra)
        flat.pop("@timestamp", None)
        return event_from_flat(flat, self.event.timestamp)


def solutions(rule: SigmaRule, ts: float = 1_790_000_000.0) -> Iterator[Synthesis]:
    """Candidate events for ``rule``, most natural first (not all of them match)."""
    source = _source(rule)
    conds = [c.parse() for c in rule.detection.parsed_condition]
    for cond in conds:
        for env in _sat(cond, True, {}, source):
            done = _finish(env)
            if done is None:
                continue
            values = {k: s.value for k, s in done.items() if s.value is not _UNSET}
            event = _event(values, source, ts)
            if event is not None:
                chosen = frozenset(k for k, v in values.items() if v is not None)
                yield Synthesis(event, chosen)


def prove(rule: SigmaRule, fires: Callable[[Event], bool],
          tries: int = MAX_TRIES) -> Synthesis | None:
    """The first candidate event that ``fires`` accepts (None: none within ``tries``)."""
    for synthesis in islice(solutions(rule), tries):
        if fires(synthesis.event):
            return synthesis
    return None
