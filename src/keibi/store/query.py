"""The search filter language of ``keibi search`` / ``keibi alerts``, and its SQLite form.

One command-line word is one filter; all filters must hold (AND)::

    FIELD=VALUE    the field equals VALUE exactly (case-sensitive, no exceptions); for a
                   list-valued field (related.ip, event.category, process.args...) some
                   element does. A numeric VALUE also matches a JSON number
                   (source.port=22 and =22.0 match 22), true/false a JSON boolean, and an
                   ISO time a time field (event.start=2026-11-01T10:00:00Z).
    FIELD!=VALUE   the negation of FIELD=VALUE: also true when the event lacks the field
    FIELD~TEXT     some value of the field (or of anything under it, e.g. process~curl)
                   contains TEXT, ignoring ASCII case
    FIELD>N  FIELD>=N  FIELD<N  FIELD<=N
                   numeric comparison; N is a number. For time fields (@timestamp,
                   event.start, event.end) N is an ISO time (2026-11-01T10:00:00Z) or @EPOCH
    WORD           the event's JSON (keys too) contains WORD, ASCII case ignored; ``~WORD`` is the
                   same and lets WORD hold '=', '<', ... (``~uid=0``)

FIELD is any ECS dotted name (``source.ip``, ``user.name``, ``keibi.alert.severity``,
vendor fields such as ``auditd.data.key``). A word whose part before the operator is not
a field name (``http://x/?a=b``) is a plain WORD. A field naming an object (``user``)
equals nothing; fields inside lists of objects (``keibi.alert.evidence.source.ip``) are
not reachable. Values are always bound as SQL parameters, and ``%``, ``_`` and ``\\``
in TEXT match themselves. Limits: 64 filters, 4096 characters a value, no NUL.

Parsing is pure and independent of storage; :func:`sqlite_where` turns filters into a
parameterised SQLite condition over a table with a ``doc`` column (canonical JSON) and
optional indexed copies of some fields.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from keibi.events.encoding import format_time
from keibi.events.model import TIME_FIELDS
from keibi.store.schema import Column
from keibi.store.timespec import TimeSpecError, parse_absolute

__all__ = [
    "Filter",
    "Op",
    "QueryError",
    "json_path",
    "parse_filter",
    "parse_filters",
    "sqlite_where",
]

MAX_VALUE_CHARS = 4096
MAX_FILTERS = 64

_WORD = re.compile(r"([^=!~<>\s]*)(!=|>=|<=|=|~|>|<)(.*)", re.DOTALL)
_FIELD = re.compile(r"@?[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_NUMERIC_CHARS = re.compile(r"[0-9.eE+-]*")
_DOC = "CAST(doc AS TEXT)"


class QueryError(ValueError):
    """A filter that cannot be used; the message is one line for the user."""


class Op(StrEnum):
    EQ = "="
    NE = "!="
    CONTAINS = "~"
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    @property
    def ordering(self) -> bool:
        return self in (Op.GT, Op.GE, Op.LT, Op.LE)


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition; ``field`` None means the whole document (``op`` is then ``~``)."""

    field: str | None
    op: Op
    value: str

    def __post_init__(self) -> None:
        if not self.value:
            raise QueryError(f"{self}: nothing after {self.op.value!r}")
        if len(self.value) > MAX_VALUE_CHARS:
            raise QueryError(f"{self.field or 'search word'}: value longer than "
                             f"{MAX_VALUE_CHARS} characters")
        if "\x00" in self.value:
            raise QueryError(f"{self.field or 'search word'}: NUL characters are not supported")
        if self.field is None:
            if self.op is not Op.CONTAINS:
                raise QueryError(f"{self}: a word without a field only supports '~'")
            return
        if not _FIELD.fullmatch(self.field):
            raise QueryError(f"{self.field!r} is not a field name (ECS dotted, e.g. user.name)")
        if self.op.ordering:
            if self.field in TIME_FIELDS:
                _time_value(self)
            elif not _NUMBER.fullmatch(self.value):
                raise QueryError(f"{self}: {self.op.value!r} needs a number")

    def __str__(self) -> str:
        return f"{self.field or ''}{self.op.value}{self.value}"


def parse_filter(word: str) -> Filter:
    """The filter written as one command-line word (module docstring)."""
    match = _WORD.fullmatch(word)
    if match is None or (match[1] and not _FIELD.fullmatch(match[1])):
        if not word.strip():
            raise QueryError("empty search word")
        return Filter(None, Op.CONTAINS, word)
    name, op, value = match[1], Op(match[2]), match[3]
    if not name:
        if op is Op.CONTAINS:
            return Filter(None, Op.CONTAINS, value)
        raise QueryError(f"{word!r}: missing field name before {op.value!r}")
    return Filter(name, op, value)


def parse_filters(words: Iterable[str]) -> tuple[Filter, ...]:
    """Every word parsed; the first bad one raises :class:`QueryError`."""
    filters = tuple(parse_filter(w) for w in words)
    if len(filters) > MAX_FILTERS:
        raise QueryError(f"too many filters ({len(filters)}, at most {MAX_FILTERS})")
    return filters


def sqlite_where(
    filters: Sequence[Filter], columns: Mapping[str, Column]
) -> tuple[str, list[object]]:
    """A parameterised SQLite condition that holds when every filter does.

    ``columns`` maps the fields that have their own (indexed) column; every other field
    is read from ``doc`` with the JSON functions.
    """
    parts: list[str] = []
    params: list[object] = []
    for f in filters:
        column = columns.get(f.field) if f.field is not None else None
        if f.field is None:
            sql, args = _doc_contains(f.value)
        elif column is not None and not (column.kind == "time" and f.op is Op.CONTAINS):
            sql, args = _on_column(f, column)
        else:
            sql, args = _on_json(f, f.field)
        parts.append(f"({sql})")
        params.extend(args)
    return (" AND ".join(parts) or "1"), params


def _like_contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _json_escape(text: str) -> str:
    """``text`` as the encoder writes it inside a JSON string (quotes, backslashes...)."""
    return msgspec.json.encode(text).decode()[1:-1]


def _doc_contains(text: str) -> tuple[str, list[object]]:
    return f"{_DOC} LIKE ? ESCAPE '\\'", [_like_contains(_json_escape(text))]


def _number(text: str) -> int | float:
    return int(text) if _INTEGER.fullmatch(text) else float(text)


def _time_value(f: Filter) -> float:
    if _NUMBER.fullmatch(f.value):
        return float(f.value)
    try:
        return parse_absolute(f.value)
    except TimeSpecError as exc:
        raise QueryError(f"{f}: {exc}") from None


_SQL_OP = {Op.EQ: "=", Op.GT: ">", Op.GE: ">=", Op.LT: "<", Op.LE: "<="}


def _on_column(f: Filter, column: Column) -> tuple[str, list[object]]:
    name = column.name
    if f.op is Op.CONTAINS:
        return f"{name} LIKE ? ESCAPE '\\'", [_like_contains(f.value)]
    value: object
    if column.kind == "time":
        value = _time_value(f)
    elif column.kind == "integer":
        if not _NUMBER.fullmatch(f.value):
            raise QueryError(f"{f}: {f.field} is a number")
        value = _number(f.value)
    elif f.op.ordering:
        raise QueryError(f"{f}: {f.field} is text; {f.op.value!r} needs a numeric field")
    else:
        value = f.value
    if f.op is Op.NE:
        return f"{name} IS NOT ?", [value]
    return f"{name} {_SQL_OP[f.op]} ?", [value]


def json_path(field: str) -> str:
    """The SQLite JSON path of an ECS dotted field in the nested document."""
    parts = [field] if field == "@timestamp" else field.split(".")
    return "$" + "".join(f'."{p}"' for p in parts)


def _on_json(f: Filter, field: str) -> tuple[str, list[object]]:
    path = json_path(field)
    # json_each over a path yields the scalar itself, or the elements of a list (and the
    # members of an object, which ``typeof(key) != 'text'`` leaves out).
    each = f"SELECT 1 FROM json_each({_DOC}, ?) WHERE typeof(key) != 'text' AND "
    if f.op is Op.CONTAINS:
        tree = f"SELECT 1 FROM json_tree({_DOC}, ?) WHERE type IN ('text', 'integer', 'real')"
        sql = f"EXISTS ({tree} AND value LIKE ? ESCAPE '\\')"
        params: list[object] = [path, _like_contains(f.value)]
        if not _NUMERIC_CHARS.fullmatch(f.value):
            # Cheap necessary condition first: the document holds the text as JSON.
            # (Not for digits alone: SQLite may print a JSON real unlike the document.)
            return f"{_DOC} LIKE ? ESCAPE '\\' AND {sql}", [
                _like_contains(_json_escape(f.value)), *params]
        return sql, params
    if f.op.ordering:
        op = _SQL_OP[f.op]
        if field in TIME_FIELDS:  # canonical RFC 3339 text orders like the time
            return f"EXISTS ({each}type = 'text' AND value {op} ?)", [
                path,
                format_time(_time_value(f)),
            ]
        return f"EXISTS ({each}type IN ('integer', 'real') AND value {op} ?)", [
            path,
            _number(f.value),
        ]
    match, args, literal = _json_equal(f, field)
    sql = f"EXISTS ({each}({match}))"
    params = [path, *args]
    if literal is not None:
        # A text value equal to VALUE is written "VALUE" (JSON-escaped) in the document;
        # LIKE (which ignores case, so only a first cut) is faster than instr() here.
        sql = f"{_DOC} LIKE ? ESCAPE '\\' AND {sql}"
        params = [_like_contains(literal), *params]
    return (f"NOT ({sql})" if f.op is Op.NE else sql), params


def _json_equal(f: Filter, field: str) -> tuple[str, list[object], str | None]:
    """The json_each condition, its parameters, and the JSON text a match must contain."""
    text = f.value
    if field in TIME_FIELDS and not _NUMBER.fullmatch(text):
        with contextlib.suppress(TimeSpecError):
            text = format_time(parse_absolute(text))
    if _NUMBER.fullmatch(text):
        return "(type IN ('integer', 'real') AND value = ?) OR (type = 'text' AND value = ?)", [
            _number(text),
            text,
        ], None
    if text in ("true", "false"):
        return "type = ? OR (type = 'text' AND value = ?)", [text, text], None
    return "type = 'text' AND value = ?", [text], f'"{_json_escape(text)}"'
