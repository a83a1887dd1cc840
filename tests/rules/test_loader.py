"""Loading rule files: every error of every file, each with its line and code."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from keibi.rules.errors import RuleError
from keibi.rules.loader import builtin_rules_dir, load_rules
from keibi.rules.tool import rule_infos

GOOD = """\
title: Good rule
id: 6f1c7d02-8d4e-4a53-9d38-000000000001
name: good
logsource:
  product: linux
  service: auth
detection:
  sel:
    event.action: ssh-login
  condition: sel
level: low
"""

BROKEN = {
    # 1: unknown top-level key and unknown keibi key, each on its own line
    "unknown_keys.yml": """\
        title: Unknown keys
        logsource:
          product: linux
          service: auth
        detection:
          sel:
            event.action: x
          condition: sel
        levle: high
        keibi:
          group_windw: 1h
        """,
    # 2: YAML syntax error
    "syntax.yml": """\
        title: Bad YAML
        detection:
          sel: [unclosed
        """,
    # 3: an unknown modifier, pointed at its own key
    "modifier.yml": """\
        title: Bad modifier
        logsource:
          product: linux
        detection:
          sel:
            event.action: x
            process.name|startswiths: y
          condition: sel
        """,
    # 4: a condition naming an undefined detection
    "condition.yml": """\
        title: Bad condition
        logsource:
          product: linux
        detection:
          sel:
            event.action: x
          condition: sel and filter
        """,
    # 5: a bad level and a bad timespan in a correlation referring to a missing rule
    "correlation.yml": """\
        title: Bad correlation
        level: severe
        correlation:
          type: event_count
          rules:
            - good
            - no_such_rule
          group-by: [source.ip]
          timespan: 10 minutes
          condition:
            gt: 5
        """,
    # 6: a duplicate key and a bad test event
    "dupes.yml": """\
        title: Dupes
        logsource:
          product: linux
          service: auth
        detection:
          sel:
            event.action: x
          condition: sel
        title: Again
        keibi:
          tests:
            match:
              - {"@timestamp": "yesterday", event.action: x}
        """,
    # 7: a reference that cannot be resolved (valid otherwise)
    "reference.yml": """\
        title: Missing reference
        correlation:
          type: event_count
          rules:
            - no_such_rule
          timespan: 10m
          condition:
            gte: 2
        """,
    # 8: duplicate id of the good rule
    "dup_id.yml": GOOD.replace("Good rule", "Copy"),
    # 9: not a mapping
    "list.yml": "- just\n- a list\n",
}


def _load(tmp_path: Path) -> tuple[list[str], list[RuleError]]:
    (tmp_path / "a_good.yml").write_text(GOOD)  # loads first
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    res = load_rules([tmp_path])
    return [r.title for r in res.rules], res.errors


def test_every_error_of_every_file_is_reported_with_its_line(tmp_path: Path) -> None:
    titles, errors = _load(tmp_path)
    assert titles == ["Good rule"]
    got = {(Path(e.path).name, e.line, e.code) for e in errors}
    expected = {
        ("unknown_keys.yml", 9, "K001"),
        ("unknown_keys.yml", 11, "K001"),
        ("syntax.yml", 4, "K002"),
        ("modifier.yml", 7, "K003"),
        ("condition.yml", 7, "K003"),
        ("correlation.yml", 2, "K003"),
        ("correlation.yml", 9, "K003"),
        ("dupes.yml", 9, "K002"),
        ("dupes.yml", 13, "K010"),
        ("reference.yml", 5, "K006"),
        ("dup_id.yml", 1, "K007"),
        ("list.yml", 1, "K004"),
    }
    assert expected <= got, sorted(got)
    by_file = {Path(e.path).name for e in errors}
    assert by_file == set(BROKEN)


def test_errors_render_as_path_line_code_message(tmp_path: Path) -> None:
    _, errors = _load(tmp_path)
    unknown = [str(e) for e in errors if e.code == "K001"]
    assert f"{tmp_path / 'unknown_keys.yml'}:9: K001: unknown key 'levle'" in unknown
    assert f"{tmp_path / 'unknown_keys.yml'}:11: K001: unknown key 'keibi.group_windw'" \
        in unknown
    modifier = next(e for e in errors if e.path.endswith("modifier.yml"))
    assert "startswiths" in modifier.message


def test_multi_document_file_and_cross_file_references(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD + "---\n" + textwrap.dedent("""\
        title: Counted
        name: counted
        correlation:
          type: event_count
          rules: [good]
          group-by: [source.ip]
          timespan: 5m
          condition: {gte: 3}
        """))
    (tmp_path / "b.yml").write_text(textwrap.dedent("""\
        title: Elsewhere
        correlation:
          type: temporal_ordered
          rules: [counted, good]
          group-by: [source.ip]
          timespan: 5m
        """))
    res = load_rules([tmp_path])
    assert res.errors == []
    by_title = {r.title: r for r in res.rules}
    assert [r.title for r in by_title["Elsewhere"].refs] == ["Counted", "Good rule"]
    assert [r.title for r in by_title["Elsewhere"].closure()] == [
        "Good rule", "Counted", "Elsewhere"]
    assert by_title["Counted"].line == 13
    assert not by_title["Good rule"].alerts  # a correlation's building block
    assert not by_title["Counted"].alerts


def test_reference_cycles_are_errors(tmp_path: Path) -> None:
    (tmp_path / "cycle.yml").write_text(textwrap.dedent("""\
        title: A
        name: a
        correlation: {type: event_count, rules: [b], timespan: 5m, condition: {gte: 2}}
        ---
        title: B
        name: b
        correlation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 2}}
        """))
    res = load_rules([tmp_path])
    assert res.rules == []
    assert {e.code for e in res.errors} == {"K006"}


def test_builtin_rules_load_cleanly() -> None:
    assert builtin_rules_dir().is_dir()
    res = load_rules([builtin_rules_dir()])
    assert res.errors == []
    assert len(res.rules) >= 12
    assert all(r.ruleset == "keibi" for r in res.rules)


@pytest.mark.parametrize("text", [
    "title: x\nlogsource: {product: linux}\ndetection: 5\n",
    "title: x\ncorrelation: {type: event_count, rules: 5, timespan: 10m, condition: {gt: x}}\n",
    "title: x\ncorrelation: {type: value_count, rules: [a], timespan: 1m, condition: {gt: 1}}\n",
    "title: x\ncorrelation: 7\n",
    "title: [x]\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel}\n",
    "title: x\nlogsource: {product: linux}\ndetection: {sel: {a: {b: c}}, condition: sel}\n",
    "title: x\nlogsource: {product: linux}\ndetection: {sel: {a|re: '('}, condition: sel}\n",
    "title: x\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel}\n"
    "keibi: {tests: {match: [{'@timestamp': [1]}]}}\n",
    "a: &a [*a]\n",
    "\x00binary",
    "---\n---\n",
    "title: x\nid: 0b7d4d6e-4f1e-4a59-9d1e-5b1f8c7e0a01\nlogsource: {product: linux}\n"
    "detection: {sel: {a: 1}, condition: sel}\n---\ntitle: y\ncorrelation: {type: temporal, "
    "rules: [0b7d4d6e-4f1e-4a59-9d1e-5b1f8c7e0a01], timespan: 1m, condition: 'a and b'}\n",
])
def test_odd_input_is_an_error_not_a_crash(tmp_path: Path, text: str) -> None:
    (tmp_path / "odd.yml").write_text(text)
    res = load_rules([tmp_path])
    assert res.errors
    assert all(e.code.startswith("K") and e.message for e in res.errors)


def test_sigma_v1_aggregations_load_but_are_not_evaluable(tmp_path: Path) -> None:
    (tmp_path / "agg.yml").write_text(
        "title: x\nlogsource: {product: linux}\n"
        "detection: {sel: {a.b: 1}, condition: sel | count() by c.d > 5}\n")
    res = load_rules([tmp_path])
    assert res.errors == []
    (info,) = rule_infos(res.rules)
    assert not info.evaluable and "aggregation" in (info.reason or "")
