"""Data behind ``keibi rules list / test / validate``: plain functions returning data.

The command-line layer formats these; nothing here prints.

* :func:`list_rules` -- every loaded rule with id, title, level, ATT&CK techniques,
  path and whether keibi can evaluate it (and why not).
* :func:`test_rules` -- run each rule's embedded ``keibi.tests`` through a fresh
  :class:`~keibi.engine.engine.Engine`; a rule without at least one positive AND one
  negative test fails.
* :func:`validate_rules` -- load the given files (with the built-in rules as context
  for correlation references) and report their errors and per-rule evaluability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sigma.correlations import SigmaCorrelationRule

from keibi.engine.engine import Engine
from keibi.rules.errors import RuleError
from keibi.rules.loader import LoadedRule, LoadResult, builtin_rules_dir, load_rules, rule_files


@dataclass(frozen=True)
class RuleInfo:
    """One rule as ``keibi rules list`` / ``validate`` show it."""

    id: str
    title: str
    level: str | None
    techniques: tuple[str, ...]
    path: str
    line: int
    ruleset: str
    kind: str  # "rule" or the correlation type
    alerts: bool
    evaluable: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["techniques"] = list(self.techniques)
        return d


@dataclass
class RuleTestResult:
    """The outcome of one rule's embedded tests."""

    id: str
    title: str
    path: str
    cases: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "path": self.path, "cases": self.cases,
                "ok": self.ok, "failures": list(self.failures)}


@dataclass
class Report:
    """What a rules command found: per-rule data and the load errors."""

    rules: list[RuleInfo] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    tests: list[RuleTestResult] = field(default_factory=list)

    @property
    def evaluable(self) -> int:
        return sum(1 for r in self.rules if r.evaluable)

    @property
    def ok(self) -> bool:
        return not self.errors and all(t.ok for t in self.tests)


def _kind(rule: LoadedRule) -> str:
    sigma = rule.sigma
    if isinstance(sigma, SigmaCorrelationRule):
        return str(sigma.type.name).lower()
    return "rule"


def rule_infos(rules: Sequence[LoadedRule]) -> list[RuleInfo]:
    """Per-rule facts, evaluability decided by compiling them all into one engine."""
    not_evaluable = Engine(rules).not_evaluable
    return [RuleInfo(r.id, r.title, r.level, r.techniques, str(r.path), r.line, r.ruleset,
                     _kind(r), r.alerts, r.id not in not_evaluable, not_evaluable.get(r.id))
            for r in rules]


def list_rules(paths: Sequence[Path]) -> Report:
    """``keibi rules list``: every rule under ``paths`` (and the load errors)."""
    loaded = load_rules(paths)
    return Report(rule_infos(loaded.rules), loaded.errors)


def _run_case(rule: LoadedRule, events: Sequence[Any]) -> tuple[bool, str | None]:
    """(did the rule fire, a problem with its alert if any) for one test case."""
    engine = Engine(rule.closure())
    for e in events:
        engine.process(e)
    engine.finish()
    fired = engine.match_count(rule.id) > 0
    if fired and rule.alerts and not any(a.rule_id == rule.id for a in engine.alerts()):
        return fired, "fired but produced no alert"
    return fired, None


def run_rule_tests(rule: LoadedRule) -> RuleTestResult:
    """Run one rule's embedded tests."""
    res = RuleTestResult(rule.id, rule.title, str(rule.path))
    tests = rule.options.tests
    if not tests.match or not tests.no_match:
        res.failures.append("needs at least one match and one no_match test")
    reason = Engine(rule.closure()).not_evaluable.get(rule.id)
    if reason is not None:
        res.failures.append(f"not evaluable: {reason}")
        return res
    for expect, cases in ((True, tests.match), (False, tests.no_match)):
        name = "match" if expect else "no_match"
        for i, case in enumerate(cases):
            res.cases += 1
            fired, problem = _run_case(rule, case)
            if fired != expect:
                res.failures.append(f"tests.{name}[{i}]: rule "
                                    + ("did not fire" if expect else "fired"))
            if problem is not None:
                res.failures.append(f"tests.{name}[{i}]: {problem}")
    return res


def test_rules(paths: Sequence[Path]) -> Report:
    """``keibi rules test``: every rule's embedded tests; see :attr:`Report.ok`."""
    loaded = load_rules(paths)
    return Report(rule_infos(loaded.rules), loaded.errors,
                  [run_rule_tests(r) for r in loaded.rules])


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def validate_rules(paths: Sequence[Path], *, with_builtin: bool = True) -> Report:
    """``keibi rules validate PATH...``: errors and evaluability of the files given.

    The built-in rules are loaded alongside (unless ``with_builtin`` is false) so that
    a correlation may refer to them, but only the given files are reported.
    """
    files = {str(p) for p in rule_files(Path(p) for p in paths)}
    context = [builtin_rules_dir()] if with_builtin else []
    loaded: LoadResult = load_rules([*paths, *context])
    mine = [r for r in loaded.rules if str(r.path) in files]
    seen: set[str] = set()
    errors = []
    for e in loaded.errors:
        if e.path in files and str(e) not in seen:
            seen.add(str(e))
            errors.append(e)
    return Report(rule_infos(mine), errors)
