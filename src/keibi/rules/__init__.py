"""Rule files: loading Sigma (and keibi-extended Sigma) rules with coded, located errors.

Public API::

    load_rules(paths) -> LoadResult(rules: list[LoadedRule], errors: list[RuleError])
    builtin_rules_dir() -> Path
    RuleError(path, line, code, message)      # str(): "path:line: code: message"

``keibi.rules.tool`` holds the data behind ``keibi rules list / test / validate``.
"""

from keibi.rules.errors import RuleError
from keibi.rules.loader import LoadedRule, LoadResult, builtin_rules_dir, load_rules
from keibi.rules.options import KeibiOptions, RuleTests

__all__ = [
    "KeibiOptions",
    "LoadResult",
    "LoadedRule",
    "RuleError",
    "RuleTests",
    "builtin_rules_dir",
    "load_rules",
]
