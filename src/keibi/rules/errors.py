"""Rule load errors: one value per problem, each with a location and a stable code.

A :class:`RuleError` renders as ``path:line: code: message`` (the form editors and CI
annotators understand). The loader collects every error of every file instead of
stopping at the first one.

Codes (stable; scripts may match on them):

====  ==========================================================================
K001  unknown key (top level, ``logsource``, ``correlation`` or ``keibi``)
K002  YAML syntax error, or a duplicate key
K003  invalid Sigma rule (pySigma's own validation; the message says what)
K004  a document is not a mapping, or a file holds no rule
K005  invalid ``keibi:`` extension value (tests, group_window, severity, ...)
K006  a correlation refers to a rule that is not loaded, or to itself (a cycle)
K007  two rules share one id or name
K008  the file cannot be read
K009  Sigma collection actions (``action: global/repeat/reset``) are not supported
K010  an embedded test event is invalid
====  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN_KEY = "K001"
YAML_ERROR = "K002"
SIGMA_ERROR = "K003"
NOT_A_RULE = "K004"
BAD_EXTENSION = "K005"
BAD_REFERENCE = "K006"
DUPLICATE_ID = "K007"
UNREADABLE = "K008"
UNSUPPORTED_ACTION = "K009"
BAD_TEST_EVENT = "K010"


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem in one rule file, at one line (1-based; 0 when the file has none)."""

    path: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code}: {self.message}"
