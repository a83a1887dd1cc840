"""Shapes: where each field of an event goes in its nested JSON, and writers made from that.

An event's *shape* is the set of its attributes that ``msgspec`` writes (those not holding
their default, by identity, as ``omit_defaults`` decides) plus the keys of ``keibi.extra``
in order. Every event of one shape nests the same way, so :func:`shape_tree` works the
nesting out once per shape: the reference algorithm (``encoding._nest``) run on
:class:`Leaf` placeholders instead of values. A key set where a key would descend into a
value (``a`` then ``a.b``) nests differently depending on the values: it raises
:class:`Unplannable` and stays on the reference path.

``encoding`` turns a tree into a dict builder (``to_ecs``). This module also turns it into
a *writer*, generated code for ``dumps`` that

- tests that the event has the shape: a chain of ``e.attr is not None`` over the other
  attributes, ``e.attr is None`` over the shape's (each three bytecodes, the first
  mismatch ends it), and the keys of ``keibi.extra``;
- builds the nested object from one small Struct per JSON object, whose field names are
  the keys (msgspec writes them as pre-encoded bytes), with the event's values as they are
  and time fields formatted, and has msgspec encode it in one call;
- for an alert, puts a raw NUL byte where the evidence goes (msgspec escapes any other),
  splits there and joins the evidence events' JSON (made, and cached, one event at a time)
  in between, so the evidence, most of an alert's bytes, is copied once.

A writer answers None for an event of another shape. :class:`Writers` keeps the writers of
each hint (dataset, action, rule) and the last one used, and makes a writer for a new
shape. The reference converts values with ``to_builtins`` before encoding them; msgspec
encodes a value and its ``to_builtins`` form alike (a :class:`msgspec.Raw` value aside,
which ``to_builtins`` refuses). Anything a writer cannot do (it raises, or no writer fits)
goes to the reference path, which then decides the bytes or the error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import msgspec

from keibi.events.model import TIME_FIELDS, Event

#: ``keibi.alert.evidence`` events -> the JSON of each.
EvidenceJson = Callable[[Any], list[bytes]]
_HOLE = msgspec.Raw(b"\x00")  # where the evidence goes: msgspec writes no other NUL byte


class Leaf(NamedTuple):
    """Where a value comes from: an attribute (by ECS name) or a ``keibi.extra`` key."""

    key: str  # the dotted ECS name (an extra leaf: the extra key)
    extra_index: int | None = None  # position among the extra keys; None: an attribute

    @property
    def is_time(self) -> bool:
        return self.key in TIME_FIELDS

    @property
    def is_evidence(self) -> bool:
        return self.extra_index is None and self.key == "keibi.alert.evidence"


class Unplannable(Exception):
    """The nesting of this key set depends on the values."""


Tree = dict[str, Any]  # nested: str -> Tree | Leaf

_SPECIAL = ("@timestamp", "event.kind", "keibi.extra", "keibi.alert.evidence")


def _place(out: Tree, key: str, leaf: Leaf) -> None:
    parts = key.split(".")
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if child is not None:
                raise Unplannable  # descends into a value: value-dependent
            child = node[part] = {}
        node = child
    node[parts[-1]] = leaf


def shape_tree(keys: Sequence[str], extra_keys: Sequence[str]) -> Tree:
    """The nested object of a key set with leaves for values, in the reference order.

    ``keys`` are ``to_builtins`` keys (``event.kind`` and ``keibi.extra`` may be among
    them or not); ``@timestamp`` and ``event.kind`` come first, the evidence after the
    other attributes, then the extra keys (which replace an attribute of the same name).
    """
    out: Tree = {}
    _place(out, "@timestamp", Leaf("@timestamp"))
    _place(out, "event.kind", Leaf("event.kind"))
    for key in keys:
        if key not in _SPECIAL:
            _place(out, key, Leaf(key))
    if "keibi.alert.evidence" in keys:
        _place(out, "keibi.alert.evidence", Leaf("keibi.alert.evidence"))
    for i, key in enumerate(extra_keys):
        _place(out, key, Leaf(key, i))
    return out


# -- writers ---------------------------------------------------------------------------

_FIELDS = msgspec.inspect.type_info(Event)
assert isinstance(_FIELDS, msgspec.inspect.StructType)
#: ECS name -> attribute name, for every attribute field.
_ATTR = {f.encode_name: f.name for f in _FIELDS.fields}
#: ECS name -> default, for every attribute field with one.
_DEFAULTS = {f.encode_name: f.default for f in _FIELDS.fields
             if f.default is not msgspec.NODEFAULT}
#: Never tested against a default by a writer: always written, or tested on their own.
_UNCHECKED = frozenset({"event.kind", "keibi.extra"})


def _node_type(keys: tuple[str, ...]) -> type[msgspec.Struct] | None:
    """A Struct writing the JSON object of ``keys``, or None for a dict instead.

    msgspec writes a Struct's field names as pre-encoded bytes, faster than a dict's keys;
    it refuses names with a quote, a backslash or a control character (a dict escapes
    them) and ones that are not UTF-8.
    """
    type_ = _NODE_TYPES.get(keys)
    if type_ is None and keys not in _NODE_TYPES:
        fields = [f"f{i}" for i in range(len(keys))]
        try:
            type_ = msgspec.defstruct("Node", fields, gc=False,
                                      rename=dict(zip(fields, keys, strict=True)))
        except (ValueError, UnicodeError):
            type_ = None
        if len(_NODE_TYPES) >= _NODE_TYPES_MAX:
            _NODE_TYPES.clear()
        _NODE_TYPES[keys] = type_
    return type_


_NODE_TYPES: dict[tuple[str, ...], type[msgspec.Struct] | None] = {}
_NODE_TYPES_MAX = 4096


class _Source:
    """The generated source of one writer, and the objects it names (``_c0``, ...)."""

    def __init__(self, present: tuple[str, ...], extra_keys: tuple[str, ...]) -> None:
        self.present = present
        self.extra_keys = extra_keys
        self.scope: dict[str, Any] = {}
        self.var: dict[str, str] = {}  # ECS name -> the local holding its value

    def name(self, obj: Any) -> str:
        name = f"_c{len(self.scope)}"
        self.scope[name] = obj
        return name

    def _absent_checks(self) -> list[str]:
        """Every attribute outside the shape holds its default (by identity, as msgspec)."""
        present = set(self.present) | _UNCHECKED
        tests = [f"e.{_ATTR[k]} is not {self._default(k)}"
                 for k in _DEFAULTS if k not in present]
        return [f"if {' or '.join(tests)}:\n        return None"] if tests else []

    def _default(self, key: str) -> str:
        default = _DEFAULTS[key]
        return "None" if default is None else self.name(default)

    def _present_checks(self) -> list[str]:
        """Every attribute of the shape holds something else than its default (identity)."""
        tests = []
        for key in self.present:
            self.var[key] = value = f"e.{_ATTR[key]}"
            tests.append(f"{value} is {self._default(key)}")
        return [f"if {' or '.join(tests)}:\n        return None"] if tests else []

    def _extra_checks(self) -> list[str]:
        """``keibi.extra`` has the shape's keys in order (or is None or empty)."""
        if not self.extra_keys:
            return ["x = e.extra",
                    "if x is not None and (type(x) is not dict or x):\n        return None"]
        names = [f"x{i}" for i in range(len(self.extra_keys))]
        return ["x = e.extra",
                f"if type(x) is not dict or [*x] != {self.name(list(self.extra_keys))}:\n"
                "        return None",
                f"{', '.join(names)}, = x.values()"]

    def _value(self, leaf: Leaf) -> str:
        if leaf.extra_index is not None:
            value = f"x{leaf.extra_index}"
        elif leaf.is_evidence:
            return self.name(_HOLE)
        elif leaf.key in ("@timestamp", "event.kind"):
            value = f"e.{_ATTR[leaf.key]}"
        else:
            value = self.var[leaf.key]
        return f"_t({value})" if leaf.is_time else value

    def _node(self, tree: Tree) -> str:
        """An expression building the object of ``tree`` for msgspec to encode."""
        values = [self._node(v) if isinstance(v, dict) else self._value(v)
                  for v in tree.values()]
        type_ = _node_type(tuple(tree))
        if type_ is None:
            items = (f"{self.name(k)}: {v}" for k, v in zip(tree, values, strict=True))
            return "{" + ", ".join(items) + "}"
        return f"{self.name(type_)}({', '.join(values)})"

    def writer(self, tree: Tree) -> str:
        body = [*self._present_checks(), *self._absent_checks(), *self._extra_checks()]
        out = f"_enc({self._node(tree)})"
        if "keibi.alert.evidence" in self.var:  # first: the alert's times are among theirs
            body += [f"if not {self.var['keibi.alert.evidence']}:\n        return None",
                     f"parts = _evidence({self.var['keibi.alert.evidence']})",
                     f"head, tail = {out}.split(b'\\x00')",
                     "return _join(head, parts, tail)"]
        else:
            body.append(f"return {out}")
        return "def _write(e):\n" + "".join(f"    {line}\n" for line in body)


def _join(head: bytes, parts: list[bytes], tail: bytes) -> bytes:
    """``head`` + the JSON array of ``parts`` + ``tail``, the parts copied once (into the
    result, which ``bytes.join`` allocates at its size)."""
    parts[0] = head + b"[" + parts[0]
    parts[-1] = parts[-1] + b"]" + tail
    return b",".join(parts)


#: A writer: the JSON of an event, or None when the event has another shape.
Writer = Callable[[Event], bytes | None]


def compile_writer(present: tuple[str, ...], extra_keys: tuple[str, ...],
                   time_value: Callable[[Any], Any], evidence: EvidenceJson) -> Writer:
    """The writer of one shape: ``present`` ECS names, ``extra_keys`` (Unplannable)."""
    source = _Source(present, extra_keys)
    code = source.writer(shape_tree(("@timestamp", *present), extra_keys))
    scope = source.scope
    scope.update(_enc=msgspec.json.Encoder().encode, _t=time_value, _evidence=evidence,
                 _join=_join)
    exec(compile(code, "<keibi-shape-writer>", "exec"), scope)  # the code made above
    write: Writer = scope["_write"]
    return write


# -- finding the writer of an event ------------------------------------------------------

_WRITERS_MAX = 512  # shapes (about 14 kB each); past it, new ones take the planned path
_HINTS_MAX = 4096
_PER_HINT = 8


def shape_of(event: Event) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The ECS names a writer tests as set, and the extra keys (None: no writer fits)."""
    present = tuple(key for key, default in _DEFAULTS.items()
                    if key not in _UNCHECKED and getattr(event, _ATTR[key]) is not default)
    extra = event.extra
    if extra is None or (type(extra) is dict and not extra):
        return present, ()
    if type(extra) is not dict or any(type(k) is not str for k in extra):
        return None
    return present, tuple(extra)


def _no_writer(event: Event) -> None:
    return None


class Writers:
    """The writers made so far, each under the hints of the events it wrote.

    A hint (dataset, action, rule) names the few shapes its events come in; the writer
    that wrote the last event is tried first.
    """

    def __init__(self, time_value: Callable[[Any], Any], evidence: EvidenceJson) -> None:
        self._time_value = time_value
        self._evidence = evidence
        self._by_shape: dict[Any, Writer | None] = {}
        self._by_hint: dict[Any, list[Writer]] = {}
        #: The writer that wrote the last event: try it first.
        self.last: Writer = _no_writer

    def write(self, event: Event) -> bytes | None:
        """The JSON of ``event``, or None when no writer fits it (it may raise too)."""
        hint = (event.dataset, event.action, event.rule_id)
        for tried in self._by_hint.get(hint, ()):
            out = tried(event)
            if out is not None:
                self.last = tried
                return out
        write = self.writer_of(event)
        if write is None:
            return None
        out = write(event)
        if out is not None:
            self._remember(hint, write)
        return out

    def writer_of(self, event: Event) -> Writer | None:
        """The writer of ``event``'s shape, made now if new (None: the reference path)."""
        shape = shape_of(event)
        if shape is None:
            return None
        by_shape = self._by_shape
        write = by_shape.get(shape)
        if write is None and shape not in by_shape and len(by_shape) < _WRITERS_MAX:
            try:
                write = compile_writer(*shape, self._time_value, self._evidence)
            except Unplannable:
                write = None
            by_shape[shape] = write
        return write

    def _remember(self, hint: Any, write: Writer) -> None:
        self.last = write
        by_hint = self._by_hint
        tried = by_hint.get(hint)
        if tried is None:
            if len(by_hint) >= _HINTS_MAX:
                by_hint.clear()
            by_hint[hint] = [write]
        elif write not in tried:
            tried.insert(0, write)
            del tried[_PER_HINT:]


__all__ = ["Leaf", "Tree", "Unplannable", "Writer", "Writers", "compile_writer", "shape_of",
           "shape_tree"]
