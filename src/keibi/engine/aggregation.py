"""Sigma v1 aggregations (``condition: search | count() by f > N``) as v2 correlations.

Published rules still use the older syntax, with the window in a ``timeframe:`` key of
the detection. Each form is translated into the equivalent Sigma v2 correlation over a
generated, non-alerting base rule holding the search, so the engine runs it with the
same correlators (:mod:`keibi.engine.counting`, :mod:`keibi.engine.temporal`):

==========================================  ==============================================
v1 condition                                v2 correlation
==========================================  ==============================================
``S | count() [by f1[, f2]] OP N``          ``event_count``, group-by f1, f2, OP N
``S | count(x) [by f1[, f2]] OP N``         ``value_count`` of x (distinct values)
``S | near A [and B ...]``                  ``temporal`` over S, A, B (all of them, any
                                            order, within the timeframe)
==========================================  ==============================================

``OP`` is one of ``>``, ``>=``, ``<``, ``<=``, ``==`` (or ``=``), ``!=``; the timespan is
the ``timeframe``. The correlation keeps the rule's id, title, level and tags, so it
alerts as the original rule would. What has no v2 equivalent is reported with the
reason (:class:`AggregationError`) and the rule is then not evaluable: ``min``, ``max``,
``avg``, ``sum``; ``near ... and not X`` (an absence); an aggregation without
``timeframe`` (nothing would bound its window).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

__all__ = ["AggregationError", "Translation", "has_aggregation", "translate"]

_NAME = r"[A-Za-z0-9_.@\-]+"
COUNT = re.compile(
    rf"^(?P<search>.+?)\s*\|\s*(?P<func>\w+)\s*\(\s*(?P<field>{_NAME})?\s*\)"
    rf"(?:\s+by\s+(?P<by>{_NAME}(?:\s*,\s*{_NAME})*))?"
    r"\s*(?P<op>>=|<=|==|!=|=|>|<)\s*(?P<n>\d+)\s*$", re.IGNORECASE | re.DOTALL)
NEAR = re.compile(r"^(?P<search>.+?)\s*\|\s*near\s+(?P<terms>.+?)\s*$",
                  re.IGNORECASE | re.DOTALL)
OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "==": "eq", "=": "eq", "!=": "neq"}
#: rule keys carried over to the generated base rules (what makes them evaluable)
BASE_KEYS = ("logsource", "status")
#: rule keys the correlation keeps (what the alert shows)
META_KEYS = ("id", "name", "title", "description", "status", "author", "date", "modified",
             "references", "tags", "level", "falsepositives", "license", "related")
_NS = uuid.UUID("4b1d6f5e-7a1c-4c51-9a53-6b6565696269")


class AggregationError(Exception):
    """An aggregation keibi cannot express as a correlation; the message says why."""


@dataclass(frozen=True)
class Translation:
    """A v1 aggregation rule as a correlation and the base rules it counts."""

    correlation: SigmaCorrelationRule
    bases: tuple[SigmaRule, ...]


def _conditions(data: dict[str, Any]) -> list[str]:
    detection = data.get("detection")
    if not isinstance(detection, dict):
        return []
    cond = detection.get("condition")
    items = cond if isinstance(cond, list) else [cond]
    return [c for c in items if isinstance(c, str)]


def has_aggregation(data: dict[str, Any]) -> bool:
    """Whether a rule document's condition uses the v1 pipe syntax."""
    return any("|" in c for c in _conditions(data))


def _base(data: dict[str, Any], condition: str, key: str, index: int) -> dict[str, Any]:
    detection = {k: v for k, v in data["detection"].items()
                 if k not in ("condition", "timeframe")}
    out = {k: data[k] for k in BASE_KEYS if k in data}
    out.update({
        "title": f"{data.get('title', 'rule')} (search {index})",
        "id": str(uuid.uuid5(_NS, f"{key}/{index}")),
        "name": f"{key}-search-{index}",
        "detection": {**detection, "condition": condition},
    })
    return out


def _terms(text: str) -> list[str]:
    terms = [t.strip() for t in re.split(r"\s+and\s+", text, flags=re.IGNORECASE)]
    for t in terms:
        if t.lower().startswith("not ") or t.lower() == "not":
            raise AggregationError(
                f"'near ... and not {t[4:].strip()}' asks for an absence, which a temporal "
                "correlation cannot express")
        if not t:
            raise AggregationError(f"empty term in 'near {text}'")
    return terms


def translate(data: dict[str, Any], key: str) -> Translation:
    """The correlation equivalent to a rule document with a v1 aggregation.

    ``key`` names the rule uniquely (its id, or path and line) and seeds the generated
    base rules' ids. Raises :class:`AggregationError` with the reason.
    """
    conditions = _conditions(data)
    if len(conditions) != 1:
        raise AggregationError("an aggregation needs exactly one condition")
    (condition,) = conditions
    timeframe = data["detection"].get("timeframe")
    if timeframe is None:
        raise AggregationError(
            f"aggregation {condition!r} without 'timeframe:' in the detection: nothing "
            "bounds its window")
    meta = {k: data[k] for k in META_KEYS if k in data}
    correlation: dict[str, Any] = {"timespan": str(timeframe)}
    count = COUNT.match(condition)
    near = NEAR.match(condition)
    if count is not None:
        func = count["func"].lower()
        if func != "count":
            raise AggregationError(
                f"aggregation function '{func}' has no correlation keibi evaluates "
                "(only count)")
        searches = [count["search"]]
        if count["field"]:
            correlation.update(type="value_count", condition={
                OPS[count["op"]]: int(count["n"]), "field": count["field"]})
        else:
            correlation.update(type="event_count",
                               condition={OPS[count["op"]]: int(count["n"])})
        if count["by"]:
            correlation["group-by"] = [b.strip() for b in count["by"].split(",")]
    elif near is not None:
        searches = [near["search"], *_terms(near["terms"])]
        correlation.update(type="temporal")
    else:
        raise AggregationError(f"aggregation {condition!r} not understood")
    bases = [_base(data, s, key, i) for i, s in enumerate(searches)]
    correlation["rules"] = [b["name"] for b in bases]
    try:
        parsed = SigmaCollection.from_dicts(
            [*bases, {**meta, "correlation": correlation}], resolve_references=False)
        rules = list(parsed.rules)
        corr = rules[-1]
        assert isinstance(corr, SigmaCorrelationRule)
        corr.resolve_rule_references(parsed)
        base_rules = tuple(r for r in rules[:-1] if isinstance(r, SigmaRule))
        for rule in base_rules:
            for cond in rule.detection.parsed_condition:
                cond.parse()
    except SigmaError as exc:
        raise AggregationError(f"aggregation {condition!r}: {exc}") from None
    return Translation(corr, base_rules)
