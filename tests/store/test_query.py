"""The filter language: parsing CLI words, and the parameterised SQL it compiles to."""

from __future__ import annotations

import pytest

from keibi.store.query import (
    Filter,
    Op,
    QueryError,
    json_path,
    parse_filter,
    parse_filters,
    sqlite_where,
)
from keibi.store.schema import ALERT_COLUMNS, EVENT_COLUMNS


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("user.name=root", Filter("user.name", Op.EQ, "root")),
        ("user.name!=root", Filter("user.name", Op.NE, "root")),
        ("process.command_line~curl", Filter("process.command_line", Op.CONTAINS, "curl")),
        ("source.port>1024", Filter("source.port", Op.GT, "1024")),
        ("source.port>=22", Filter("source.port", Op.GE, "22")),
        ("event.severity<50", Filter("event.severity", Op.LT, "50")),
        ("event.severity<=50.5", Filter("event.severity", Op.LE, "50.5")),
        ("source.ip=2001:db8::bad:1", Filter("source.ip", Op.EQ, "2001:db8::bad:1")),
        # the first operator splits; the rest is value
        ("process.command_line~a=b>c", Filter("process.command_line", Op.CONTAINS, "a=b>c")),
        ("user.name==x", Filter("user.name", Op.EQ, "=x")),
        ("@timestamp>2026-11-01", Filter("@timestamp", Op.GT, "2026-11-01")),
        ("auditd.data.key=keibi_exec", Filter("auditd.data.key", Op.EQ, "keibi_exec")),
        ("journald._SYSTEMD_UNIT=ssh.service",
         Filter("journald._SYSTEMD_UNIT", Op.EQ, "ssh.service")),
        # words without a field name are whole-document substrings
        ("Failed password", Filter(None, Op.CONTAINS, "Failed password")),
        ("~uid=0", Filter(None, Op.CONTAINS, "uid=0")),
        ("http://x/?a=b", Filter(None, Op.CONTAINS, "http://x/?a=b")),
        ("user.name!root", Filter(None, Op.CONTAINS, "user.name!root")),
    ],
)
def test_parse(word: str, expected: Filter) -> None:
    assert parse_filter(word) == expected
    # str() writes a word that parses back to the same filter
    assert parse_filter(str(expected)) == expected


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("=root", "missing field name"),
        (">5", "missing field name"),
        ("user.name=", "nothing after"),
        ("user.name~", "nothing after"),
        ("~", "nothing after"),
        ("", "empty"),
        ("   ", "empty"),
        ("source.port>abc", "needs a number"),
        ("source.port<1e", "needs a number"),
        ("@timestamp>yesterday", "bad time"),
        ("user.name=" + "x" * 5000, "longer than"),
        ("user.name=a\x00b", "NUL"),
    ],
)
def test_bad_words_raise_query_error(word: str, reason: str) -> None:
    with pytest.raises(QueryError, match=reason) as info:
        parse_filter(word)
    assert "\n" not in str(info.value)


def test_filters_validate_when_built_directly() -> None:
    with pytest.raises(QueryError, match="not a field name"):
        Filter('user".name', Op.EQ, "x")
    with pytest.raises(QueryError, match="not a field name"):
        Filter("user..name", Op.EQ, "x")
    with pytest.raises(QueryError, match="only supports"):
        Filter(None, Op.EQ, "x")


def test_too_many_filters() -> None:
    assert len(parse_filters(["a=1"] * 64)) == 64
    with pytest.raises(QueryError, match="too many"):
        parse_filters(["a=1"] * 65)


def test_json_paths_quote_every_part() -> None:
    assert json_path("@timestamp") == '$."@timestamp"'
    assert json_path("related.ip") == '$."related"."ip"'


def test_indexed_fields_use_their_column_and_others_the_document() -> None:
    sql, params = sqlite_where(parse_filters(["user.name=root", "user.target.name=x"]),
                               EVENT_COLUMNS)
    # a document field is first looked for as JSON text, then matched exactly
    assert sql.startswith("(user_name = ?) AND (CAST(doc AS TEXT) LIKE ? ESCAPE '\\' AND EXISTS (")
    assert params == ["root", '%"x"%', '$."user"."target"."name"', "x"]
    assert sqlite_where((), EVENT_COLUMNS) == ("1", [])


def test_numbers_are_bound_as_numbers() -> None:
    _, params = sqlite_where(parse_filters(["process.pid=42", "source.port>1024.5"]),
                             EVENT_COLUMNS)
    assert params == [42, '$."source"."port"', 1024.5]


def test_text_columns_refuse_ordering() -> None:
    with pytest.raises(QueryError, match="is text"):
        sqlite_where(parse_filters(["user.name>5"]), EVENT_COLUMNS)
    with pytest.raises(QueryError, match="is a number"):
        sqlite_where(parse_filters(["process.pid=abc"]), EVENT_COLUMNS)
    # the same field is a column for alerts and a document field for events
    sqlite_where(parse_filters(["event.severity>=70"]), ALERT_COLUMNS)
    sqlite_where(parse_filters(["event.severity>=70"]), EVENT_COLUMNS)


@pytest.mark.parametrize(
    "value",
    ["'; DROP TABLE events; --", '" OR 1=1 --', "%", "_", "\\", "a%b_c\\d", "ü'\""],
)
def test_hostile_values_never_reach_the_sql_text(value: str) -> None:
    words = [f"user.name={value}", f"user.target.name!={value}",
             f"process.command_line~{value}", value]
    sql, params = sqlite_where(parse_filters(words), EVENT_COLUMNS)
    assert value not in sql or value in ("%", "_", "\\")
    for dangerous in ("DROP", "OR 1=1", "ü"):
        assert dangerous not in sql
    assert sql.count("?") == len(params)


def test_like_wildcards_are_escaped() -> None:
    _, params = sqlite_where(parse_filters(["process.name~a%b_c\\d"]), EVENT_COLUMNS)
    assert params == ["%a\\%b\\_c\\\\d%"]
    # whole-document words are matched as they are written inside JSON strings
    _, params = sqlite_where(parse_filters(['say "hi"']), EVENT_COLUMNS)
    assert params == ['%say \\\\"hi\\\\"%']
