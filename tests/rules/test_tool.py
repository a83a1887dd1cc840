"""The data behind ``keibi rules list / test / validate``."""

from __future__ import annotations

import textwrap
from pathlib import Path

from keibi.rules.loader import builtin_rules_dir
from keibi.rules.tool import list_rules, test_rules, validate_rules

RULE = """\
title: Root shell
id: 0b7d4d6e-4f1e-4a59-9d1e-5b1f8c7e0a01
logsource:
  product: linux
  service: auth
detection:
  sel:
    event.action: sudo-command
    user.target.name: root
  condition: sel
level: high
tags:
  - attack.privilege_escalation
  - attack.t1548.003
keibi:
  tests:
    match:
      - {event.dataset: keibi.auth, event.action: sudo-command, user.target.name: root}
    no_match:
      - {event.dataset: keibi.auth, event.action: sudo-command, user.target.name: root}
"""


def test_rules_test_reports_failing_and_missing_tests(tmp_path: Path) -> None:
    (tmp_path / "wrong.yml").write_text(RULE)
    (tmp_path / "untested.yml").write_text(
        RULE.replace("0b7d4d6e-4f1e-4a59-9d1e-5b1f8c7e0a01",
                     "0b7d4d6e-4f1e-4a59-9d1e-5b1f8c7e0a02").split("keibi:")[0])
    report = test_rules([tmp_path])
    assert not report.ok
    by_path = {Path(t.path).name: t for t in report.tests}
    assert by_path["wrong.yml"].failures == ["tests.no_match[0]: rule fired"]
    assert by_path["untested.yml"].failures == [
        "needs at least one match and one no_match test"]
    assert by_path["wrong.yml"].to_dict()["ok"] is False


def test_rules_test_passes_for_all_builtins() -> None:
    report = test_rules([builtin_rules_dir()])
    assert report.errors == []
    assert report.ok, [(t.title, t.failures) for t in report.tests if not t.ok]
    assert len(report.tests) == len(report.rules) >= 12


def test_list_rules(tmp_path: Path) -> None:
    report = list_rules([builtin_rules_dir()])
    brute = next(r for r in report.rules if r.title == "SSH Brute Force")
    assert brute.to_dict() | {"path": "", "line": 0} == {
        "id": "aead251c-69c7-4583-9043-87b7315b08ac", "title": "SSH Brute Force",
        "level": "medium", "techniques": ["T1110.001"], "path": "", "line": 0,
        "ruleset": "keibi", "kind": "event_count", "alerts": True, "evaluable": True,
        "reason": None}
    assert report.evaluable == len(report.rules)


def test_validate_reports_only_the_given_files_and_resolves_builtins(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yml"
    mine.write_text(textwrap.dedent("""\
        title: Brute force then root shell
        correlation:
          type: temporal_ordered
          rules: [ssh_brute_force, root_shell]
          group-by: [host.name]
          timespan: 1h
        ---
        title: Root shell
        name: root_shell
        logsource: {product: linux, category: process_creation}
        detection:
          sel:
            Image|endswith: /bash
            NoSuchField: x
          condition: sel
        """))
    bad = tmp_path / "bad.yml"
    bad.write_text("title: x\nlogsource: {product: linux}\ndetection: {condition: sel}\n")
    report = validate_rules([mine, bad])
    assert [(Path(e.path).name, e.code) for e in report.errors] == [("bad.yml", "K003")]
    info = {r.title: r for r in report.rules}
    assert set(info) == {"Brute force then root shell", "Root shell"}
    assert not info["Root shell"].evaluable
    assert "unmapped field 'NoSuchField'" in (info["Root shell"].reason or "")
    assert not info["Brute force then root shell"].evaluable
    assert "not evaluable" in (info["Brute force then root shell"].reason or "")
