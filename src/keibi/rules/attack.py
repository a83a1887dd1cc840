"""MITRE ATT&CK and severity facts derived from a rule's Sigma tags and level."""

from __future__ import annotations

import re
from collections.abc import Iterable

from keibi.events.model import SEVERITY_SCORES

#: Sigma tactic tag (after ``attack.``) -> ATT&CK tactic name.
TACTICS: dict[str, str] = {
    "reconnaissance": "Reconnaissance",
    "resource_development": "Resource Development",
    "initial_access": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege_escalation": "Privilege Escalation",
    "defense_evasion": "Defense Evasion",
    "stealth": "Stealth",
    "defense_impairment": "Defense Impairment",
    "credential_access": "Credential Access",
    "discovery": "Discovery",
    "lateral_movement": "Lateral Movement",
    "collection": "Collection",
    "command_and_control": "Command and Control",
    "exfiltration": "Exfiltration",
    "impact": "Impact",
}

_TECHNIQUE = re.compile(r"t(\d{4})(?:\.(\d{3}))?")

DEFAULT_SEVERITY = SEVERITY_SCORES["medium"]


def techniques(tags: Iterable[str]) -> tuple[str, ...]:
    """``attack.t1110.001`` -> ``T1110.001``, in tag order, without repeats."""
    out: list[str] = []
    for tag in tags:
        ns, _, name = tag.lower().partition(".")
        if ns != "attack":
            continue
        m = _TECHNIQUE.fullmatch(name)
        if m is None:
            continue
        tid = f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "")
        if tid not in out:
            out.append(tid)
    return tuple(out)


def tactics(tags: Iterable[str]) -> tuple[str, ...]:
    """``attack.credential_access`` -> ``Credential Access``, in tag order."""
    out: list[str] = []
    for tag in tags:
        ns, _, name = tag.lower().partition(".")
        if ns != "attack":
            continue
        name = name.replace("-", "_")
        title = TACTICS.get(name)
        if title is not None and title not in out:
            out.append(title)
    return tuple(out)


def severity_score(level: str | None, override: int | None = None) -> int:
    """``event.severity`` (0-100) for a Sigma level, unless ``override`` is given."""
    if override is not None:
        return override
    if level is None:
        return DEFAULT_SEVERITY
    return SEVERITY_SCORES.get(level.lower(), DEFAULT_SEVERITY)
