"""alerts.jsonl: appended once per alert id, even across restarts and torn lines."""

from __future__ import annotations

import json
from pathlib import Path

from keibi.events.model import Event
from keibi.sinks.jsonl import JsonlSink


def _alert(aid: str, count: int = 1) -> Event:
    return Event(timestamp=1.0, kind="alert", alert_id=aid, alert_count=count,
                 rule_id="r", rule_name="R")


def test_each_alert_once_across_restart(tmp_path: Path) -> None:
    p = tmp_path / "alerts.jsonl"
    s = JsonlSink(p)
    s.emit([_alert("a"), _alert("b")], [])
    s.emit([_alert("a", 5)], [])  # replayed after a crash
    s.close()
    s = JsonlSink(p)
    s.emit([_alert("b"), _alert("c")], [_alert("a", 9)])
    s.close()
    ids = [json.loads(x)["keibi"]["alert"]["id"] for x in p.read_text().splitlines()]
    assert ids == ["a", "b", "c"]


def test_torn_last_line_is_tolerated(tmp_path: Path) -> None:
    p = tmp_path / "alerts.jsonl"
    s = JsonlSink(p)
    s.emit([_alert("a")], [])
    s.close()
    with p.open("ab") as fh:
        fh.write(b'{"keibi": {"alert": {"id": "tor')  # killed mid-write
    s = JsonlSink(p)
    s.emit([_alert("d")], [])
    s.close()
    lines = p.read_text().splitlines()
    assert json.loads(lines[0])["keibi"]["alert"]["id"] == "a"
    assert json.loads(lines[-1])["keibi"]["alert"]["id"] == "d"
