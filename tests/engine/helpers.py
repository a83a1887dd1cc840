"""Small builders for engine tests: rules from YAML text, events from keywords."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from keibi.engine.compile import compile_rule
from keibi.events.model import Event
from keibi.rules.loader import LoadedRule, load_rules
from keibi.rules.options import event_from_flat

T0 = 1_790_000_000.0  # 2026-09-21T...Z, any fixed time


def write_rules(tmp_path: Path, *texts: str) -> list[LoadedRule]:
    """Load rule YAML texts (one file each); fails on any load error."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(texts):
        p = tmp_path / f"rule{i}.yml"
        p.write_text(textwrap.dedent(text))
        paths.append(p)
    res = load_rules(paths)
    assert not res.errors, [str(e) for e in res.errors]
    return res.rules


def sigma_rule(detection: str, logsource: str = "product: linux\n  service: auth",
               extra: str = "", rule_id: str = "11111111-2222-4333-8444-555555555555") -> str:
    """A minimal Sigma rule around an indented ``detection`` block."""
    det = textwrap.indent(textwrap.dedent(detection).strip(), "  ")
    return (f"title: Test rule\nid: {rule_id}\n"
            f"logsource:\n  {logsource}\ndetection:\n{det}\nlevel: medium\n{extra}")


def ev(ts: float = T0, **fields: Any) -> Event:
    """An event from dotted-name keywords: ``ev(**{"source.ip": "1.2.3.4"})``."""
    return event_from_flat(fields, ts)


def matcher(tmp_path: Path, detection: str, **kw: str) -> Any:
    """The compiled predicate of a one-rule file."""
    (rule,) = write_rules(tmp_path, sigma_rule(detection, **kw))
    return compile_rule(rule).predicate
