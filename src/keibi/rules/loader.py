"""Load Sigma rule files (keibi's and the community's) and collect every error.

One file holds one rule, or several YAML documents for a correlation rule and the base
rules it refers to. Each document goes through pySigma; correlation references are
resolved across all loaded files at the end, so a correlation may live apart from its
base rules. Unknown keys are errors (code K001) so that a misspelt key never silently
changes what a rule does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError, SigmaRuleLocation, SigmaRuleNotFoundError
from sigma.rule import SigmaRule

from keibi.engine import aggregation
from keibi.rules import errors as E
from keibi.rules.attack import severity_score, tactics, techniques
from keibi.rules.errors import RuleError
from keibi.rules.options import KEYS, TEST_KEYS, KeibiOptions, OptionError, parse_options
from keibi.rules.yamlpos import (
    Document,
    PathPart,
    compose_documents,
    error_line,
    find_line,
    line_of,
)

#: Sigma's standard top-level keys (rules, correlations, filters), SigmaHQ's
#: ``simulation``/``regression_tests_path`` conventions, and keibi's extension.
TOP_KEYS = frozenset({
    "title", "id", "name", "related", "taxonomy", "status", "description", "license",
    "references", "author", "date", "modified", "tags", "logsource", "detection", "fields",
    "falsepositives", "level", "scope", "correlation", "filter", "action", "simulation",
    "regression_tests_path", "keibi",
})
LOGSOURCE_KEYS = frozenset({"category", "product", "service", "definition"})
CORRELATION_KEYS = frozenset({
    "type", "rules", "group-by", "timespan", "condition", "generate", "aliases",
})
RULE_SUFFIXES = (".yml", ".yaml")

# pySigma error class -> the key path its error is about (to find a line).
_ERROR_PATHS: dict[str, tuple[PathPart, ...]] = {
    "SigmaTitleError": ("title",),
    "SigmaIdentifierError": ("id",),
    "SigmaNameError": ("name",),
    "SigmaTaxonomyError": ("taxonomy",),
    "SigmaRelatedError": ("related",),
    "SigmaLevelError": ("level",),
    "SigmaStatusError": ("status",),
    "SigmaTagError": ("tags",),
    "SigmaDateError": ("date",),
    "SigmaModifiedError": ("modified",),
    "SigmaFieldsError": ("fields",),
    "SigmaFalsePositivesError": ("falsepositives",),
    "SigmaAuthorError": ("author",),
    "SigmaDescriptionError": ("description",),
    "SigmaReferencesError": ("references",),
    "SigmaScopeError": ("scope",),
    "SigmaLicenseError": ("license",),
    "SigmaLogsourceError": ("logsource",),
    "SigmaConditionError": ("detection", "condition"),
    "SigmaTimespanError": ("correlation", "timespan"),
    "SigmaCorrelationTypeError": ("correlation", "type"),
    "SigmaCorrelationConditionError": ("correlation", "condition"),
    "SigmaCorrelationRuleError": ("correlation",),
}
_QUOTED = re.compile(r"'([^']+)'")


def builtin_rules_dir() -> Path:
    """keibi's own rules, shipped as package data."""
    return Path(__file__).resolve().parent.parent / "content" / "rules"


@dataclass(eq=False)
class LoadedRule:
    """A parsed Sigma rule (or correlation) with where it came from and keibi's options."""

    sigma: SigmaRule | SigmaCorrelationRule
    path: Path
    line: int
    options: KeibiOptions
    ruleset: str
    #: the rules a correlation refers to, in its order (resolved after loading)
    refs: list[LoadedRule] = field(default_factory=list)
    #: why the rule can be loaded but never evaluated, found while loading (else None)
    load_note: str | None = None

    @cached_property
    def id(self) -> str:
        """The rule's id: its UUID, else its name, else the file name."""
        if self.sigma.id is not None:
            return str(self.sigma.id)
        return self.sigma.name or self.path.stem

    @property
    def title(self) -> str:
        return self.sigma.title

    @property
    def name(self) -> str | None:
        return self.sigma.name

    @property
    def level(self) -> str | None:
        return None if self.sigma.level is None else str(self.sigma.level.name).lower()

    @property
    def tags(self) -> list[str]:
        return [str(t) for t in self.sigma.tags]

    @property
    def techniques(self) -> tuple[str, ...]:
        return techniques(self.tags)

    @property
    def tactics(self) -> tuple[str, ...]:
        return tactics(self.tags)

    @property
    def severity(self) -> int:
        return severity_score(self.level, self.options.severity)

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.sigma, SigmaCorrelationRule)

    @property
    def alerts(self) -> bool:
        """Whether matches become alerts (not a correlation's building block, not muted)."""
        return bool(self.sigma._output) and self.options.alert

    def closure(self) -> list[LoadedRule]:
        """This rule after every rule it refers to, transitively, each once."""
        out: list[LoadedRule] = []
        seen: set[int] = set()

        def visit(rule: LoadedRule) -> None:
            if id(rule) in seen:
                return
            seen.add(id(rule))
            for ref in rule.refs:
                visit(ref)
            out.append(rule)

        visit(self)
        return out


@dataclass
class LoadResult:
    """Every rule that loaded, and every error of every file."""

    rules: list[LoadedRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Files named by ``paths``; directories are searched for ``*.yml``/``*.yaml``."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        found = sorted(f for f in p.rglob("*") if f.suffix in RULE_SUFFIXES and f.is_file()
                       ) if p.is_dir() else [p]
        for f in found:
            real = f.resolve()
            if real not in seen:
                seen.add(real)
                out.append(f)
    return out


def _unknown_keys(doc: Document, path: str) -> list[RuleError]:
    errs: list[RuleError] = []
    data: dict[str, Any] = doc.data

    def check(section: tuple[str, ...], mapping: Any, allowed: frozenset[str]) -> None:
        if not isinstance(mapping, dict):
            return
        for key in mapping:
            if key not in allowed:
                where = ".".join((*section, str(key)))
                errs.append(RuleError(path, line_of(doc.node, (*section, key)), E.UNKNOWN_KEY,
                                      f"unknown key '{where}'"))

    check((), data, TOP_KEYS)
    check(("logsource",), data.get("logsource"), LOGSOURCE_KEYS)
    check(("correlation",), data.get("correlation"), CORRELATION_KEYS)
    check(("keibi",), data.get("keibi"), KEYS)
    keibi = data.get("keibi")
    if isinstance(keibi, dict):
        check(("keibi", "tests"), keibi.get("tests"), TEST_KEYS)
    return errs


def _sigma_error(exc: SigmaError, doc: Document, path: str) -> RuleError:
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    key_path = _ERROR_PATHS.get(type(exc).__name__)
    if key_path is None:
        key_path = ("correlation",) if "correlation" in doc.data else ("detection",)
    line = find_line(doc.node, key_path, _QUOTED.findall(message))
    return RuleError(path, line, E.SIGMA_ERROR, message)


def _parse_document(doc: Document, path: Path, ruleset: str,
                    errors: list[RuleError]) -> LoadedRule | None:
    spath = str(path)
    data = doc.data
    errs = [RuleError(spath, line, E.YAML_ERROR, f"duplicate key '{key}'")
            for line, key in doc.duplicates]
    errs += _unknown_keys(doc, spath)
    if "action" in data or "filter" in data:
        what = "collection actions" if "action" in data else "Sigma filters"
        key = "action" if "action" in data else "filter"
        errs.append(RuleError(spath, line_of(doc.node, (key,)), E.UNSUPPORTED_ACTION,
                              f"{what} are not supported"))
        errors.extend(errs)
        return None
    options = KeibiOptions()
    aggregated = aggregation.has_aggregation(data)  # v1 `| count() ...`: a correlation
    try:
        options = parse_options(data.get("keibi"),
                                correlation="correlation" in data or aggregated)
    except OptionError as exc:
        code = E.BAD_TEST_EVENT if exc.test else E.BAD_EXTENSION
        errs.append(RuleError(spath, line_of(doc.node, ("keibi", *exc.path)), code, str(exc)))
    try:
        collection = SigmaCollection.from_dicts(
            [data], collect_errors=True, source=SigmaRuleLocation(path),
            resolve_references=False)
    except SigmaError as exc:  # some checks raise even when errors are collected
        errors.extend([*errs, _sigma_error(exc, doc, spath)])
        return None
    except Exception as exc:  # pySigma tripping over odd input must not stop loading
        errors.extend([*errs, RuleError(spath, doc.line, E.SIGMA_ERROR,
                                        f"pySigma cannot read this rule: {exc!r}")])
        return None
    errs += [_sigma_error(e, doc, spath) for e in collection.errors]
    v1_aggregation = False
    for rule in collection.rules:
        if isinstance(rule, SigmaRule) and not rule.errors:
            for cond in rule.detection.parsed_condition:
                try:
                    cond.parse()
                except SigmaError as exc:
                    if aggregated and "|" in cond.condition:
                        v1_aggregation = True
                    else:
                        errs.append(_sigma_error(exc, doc, spath))
    errors.extend(errs)
    if errs or len(collection.rules) != 1:
        return None
    loaded = LoadedRule(collection.rules[0], path, doc.line, options, ruleset)
    return _aggregation(loaded, data) if v1_aggregation else loaded


def _aggregation(rule: LoadedRule, data: dict[str, Any]) -> LoadedRule:
    """A v1 aggregation rule as the equivalent correlation over generated base rules
    (:mod:`keibi.engine.aggregation`), or the rule itself, not evaluable, with why."""
    key = str(rule.sigma.id) if rule.sigma.id is not None else f"{rule.path}:{rule.line}"
    try:
        t = aggregation.translate(data, key)
    except aggregation.AggregationError as exc:
        rule.load_note = str(exc)
        return rule
    refs = [LoadedRule(b, rule.path, rule.line, KeibiOptions(), rule.ruleset) for b in t.bases]
    return LoadedRule(t.correlation, rule.path, rule.line, rule.options, rule.ruleset,
                      refs=refs)


def _load_file(path: Path, ruleset: str, errors: list[RuleError]) -> list[LoadedRule]:
    spath = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(RuleError(spath, 0, E.UNREADABLE, f"cannot read: {exc}"))
        return []
    try:
        docs = compose_documents(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        errors.append(RuleError(spath, error_line(exc), E.YAML_ERROR, f"YAML: {problem}"))
        return []
    rules: list[LoadedRule] = []
    before = len(errors)
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            errors.append(RuleError(spath, doc.line, E.NOT_A_RULE,
                                    "a rule document must be a mapping"))
            continue
        rule = _parse_document(doc, path, ruleset, errors)
        if rule is not None:
            rules.append(rule)
    if not rules and len(errors) == before:
        errors.append(RuleError(spath, 1, E.NOT_A_RULE, "no rule in file"))
    return rules


def _correlation_line(rule: LoadedRule, reference: str) -> int:
    try:
        docs = compose_documents(rule.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return rule.line
    for doc in docs:
        if doc.line == rule.line:
            return find_line(doc.node, ("correlation", "rules"), [reference])
    return rule.line


def _cycle(rule: LoadedRule) -> bool:
    stack, seen = list(rule.refs), set()
    while stack:
        r = stack.pop()
        if r is rule:
            return True
        if id(r) not in seen:
            seen.add(id(r))
            stack.extend(r.refs)
    return False


def _reference_names(rule: SigmaCorrelationRule) -> list[str]:
    if rule.rules is not None:
        return [ref.reference for ref in rule.rules]
    condition = rule.condition
    if isinstance(condition, SigmaExtendedCorrelationCondition):
        return condition.get_referenced_rules()
    return []


def _resolve(rules: list[LoadedRule], errors: list[RuleError]) -> list[LoadedRule]:
    """Check ids, resolve correlation references; drop correlations that cannot work."""
    by_key: dict[str, LoadedRule] = {}
    unique: list[LoadedRule] = []
    for rule in rules:
        keys = [str(rule.sigma.id)] if rule.sigma.id is not None else []
        keys += [rule.sigma.name] if rule.sigma.name else []
        clash = next((k for k in keys if k in by_key), None)
        if clash is not None:
            errors.append(RuleError(str(rule.path), rule.line, E.DUPLICATE_ID,
                                    f"rule id or name '{clash}' also used by "
                                    f"{by_key[clash].path}"))
            continue
        by_key.update((k, rule) for k in keys)
        unique.append(rule)
    rules = unique
    collection = SigmaCollection([r.sigma for r in rules], resolve_references=False)
    by_obj = {id(r.sigma): r for r in rules}
    bad: set[int] = set()
    resolved = {id(r) for r in rules if r.refs}  # translated v1 aggregations
    for rule in rules:
        if not isinstance(rule.sigma, SigmaCorrelationRule) or id(rule) in resolved:
            continue
        for name in _reference_names(rule.sigma):
            try:
                rule.refs.append(by_obj[id(collection[name])])
            except SigmaRuleNotFoundError:
                errors.append(RuleError(str(rule.path), _correlation_line(rule, name),
                                        E.BAD_REFERENCE,
                                        f"correlation refers to unknown rule '{name}'"))
                bad.add(id(rule))
    for rule in rules:
        if id(rule) not in bad and rule.refs and _cycle(rule):
            errors.append(RuleError(str(rule.path), rule.line, E.BAD_REFERENCE,
                                    "correlation refers to itself (a reference cycle)"))
            bad.add(id(rule))
    changed = True  # a correlation over a dropped correlation is dropped too
    while changed:
        changed = False
        for rule in rules:
            if id(rule) not in bad and any(id(r) in bad for r in rule.refs):
                bad.add(id(rule))
                changed = True
    good = [r for r in rules if id(r) not in bad]
    for rule in good:
        if isinstance(rule.sigma, SigmaCorrelationRule) and id(rule) not in resolved:
            rule.sigma.resolve_rule_references(collection)
    return good


def load_rules(paths: Sequence[Path], *, builtin_dir: Path | None = None) -> LoadResult:
    """Load every rule file under ``paths``; never raises on bad rule content.

    Rules under ``builtin_dir`` (default: :func:`builtin_rules_dir`) belong to the
    ``keibi`` ruleset, all others to ``sigma``.
    """
    builtin = (builtin_dir or builtin_rules_dir()).resolve()
    result = LoadResult()
    for path in rule_files(Path(p) for p in paths):
        try:
            inside = path.resolve().is_relative_to(builtin)
        except OSError:
            inside = False
        result.rules.extend(_load_file(path, "keibi" if inside else "sigma", result.errors))
    result.rules = _resolve(result.rules, result.errors)
    result.errors = sorted(set(result.errors), key=lambda e: (e.path, e.line, e.code, e.message))
    return result
