"""Building the detection engine from configuration: built-in rules, rule packs, clock.

The CLI verbs and the agent ask this module for an engine; they do not know how rules
are found or loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from keibi.config import Config
from keibi.engine.clock import Clock
from keibi.engine.engine import Engine
from keibi.rules.loader import LoadResult, builtin_rules_dir, load_rules


class RuleLoadError(Exception):
    """No usable rule could be loaded; the message lists why."""


def load_rule_set(
    config: Config, extra_paths: Sequence[str] = (), *, builtin: bool = True
) -> LoadResult:
    """Built-in rules, the config's rule packs and ``extra_paths``; disabled ones left out."""
    paths: list[Path] = [builtin_rules_dir()] if builtin else []
    paths += [Path(p) for p in (*config.rule_paths, *extra_paths)]
    result = load_rules(paths)
    if config.disabled_rules:
        off = set(config.disabled_rules)
        result.rules = [r for r in result.rules if r.id not in off and r.name not in off]
    return result


def build_engine(
    config: Config,
    *,
    extra_paths: Sequence[str] = (),
    builtin: bool = True,
    clock: Clock | None = None,
    rule_set: LoadResult | None = None,
    strict: bool = False,
    updates: bool = True,
) -> Engine:
    """An engine over the configured rules. With ``strict`` any rule error is fatal;
    otherwise rule errors are the caller's to report, and only an empty rule set is.
    ``updates=False``: :meth:`Engine.process` yields no alert updates (offline runs read
    closed alerts with :meth:`Engine.drain_closed` instead)."""
    result = rule_set if rule_set is not None else load_rule_set(config, extra_paths,
                                                                 builtin=builtin)
    if result.errors and strict:
        raise RuleLoadError("\n".join(str(e) for e in result.errors))
    if not result.rules:
        why = "; ".join(str(e) for e in result.errors[:3]) or "no rule files found"
        raise RuleLoadError(f"no rules to run: {why}")
    return Engine(result.rules, clock=clock, updates=updates)
