"""The agent turns the readers' indicator-removal notices into stored events and alerts,
and plans the sources `--follow` names (files, watched files, a journal, audit)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from keibi.agent.runner import Agent
from keibi.agent.sources import PlannedSource, parse_follow, plan_sources
from keibi.config import Config
from keibi.detection import build_engine
from keibi.engine.clock import WallClock
from keibi.platform.distro import Distro, detect
from keibi.store.query import parse_filters
from keibi.store.sqlite import Store


def _agent(tmp: Path, planned: list[PlannedSource]) -> Agent:
    store = Store(tmp / "keibi.db")
    engine = build_engine(Config(), clock=WallClock())
    return Agent(store=store, engine=engine, sources=planned, sinks=[], host_name="web01")


def _actions(agent: Agent) -> list[str]:
    return [e.action or "" for e in agent.store.search(
        parse_filters(["event.dataset=keibi.agent"]), limit=100)]


def test_truncated_log_becomes_an_event_and_an_alert(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 20 10:00:00 web01 sshd[1]: Server listening on 0.0.0.0 port 22.\n")
    wtmp = tmp_path / "wtmp"
    wtmp.write_bytes(b"\1" * 768)
    agent = _agent(tmp_path, [
        PlannedSource(str(log), "auth", "command line", True),
        PlannedSource(str(wtmp), "watch", "command line", True, "watch"),
    ])
    try:
        agent.step()
        assert _actions(agent) == []
        os.truncate(log, 0)
        os.truncate(wtmp, 0)
        agent.step()
        events = agent.store.search(parse_filters(["event.dataset=keibi.agent"]), limit=10)
        by_path = {e.file_path: e for e in events}
        assert set(by_path) == {str(log), str(wtmp)}
        ev = by_path[str(log)]
        assert (ev.action, ev.category, ev.type) == ("log-truncated", ("file",), ("deletion",))
        assert ev.host_name == "web01" and ev.get("file.size") == 0
        alerts = agent.store.list_alerts(limit=10)
        assert sorted(a.file_path or "" for a in alerts) == sorted([str(log), str(wtmp)])
        assert {a.rule_name for a in alerts} == {
            "Log File Cleared, Deleted Or Replaced By A Link"}
        assert all(a.threat_technique_id == ("T1070.002",) and a.alert_severity == "high"
                   for a in alerts)
        st = agent.status()
        assert st["log_notices"] == 2
        kinds = {s["path"]: (s["kind"], s["active"]) for s in st["sources"]}
        assert kinds[str(wtmp)] == ("watch", True)
    finally:
        agent.store.close()


def test_rotation_makes_no_event(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 20 10:00:00 web01 sshd[1]: Server listening on 0.0.0.0 port 22.\n")
    agent = _agent(tmp_path, [PlannedSource(str(log), "auth", "command line", True)])
    try:
        agent.step()
        shutil.copyfile(log, f"{log}.1")
        os.truncate(log, 0)
        agent.step()
        os.rename(log, f"{log}.2")
        log.write_text("")
        agent.step()
        assert _actions(agent) == [] and agent.store.list_alerts(limit=10) == []
    finally:
        agent.store.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("/var/log/auth.log", ("/var/log/auth.log", "auth")),
    ("/var/log/dpkg.log:dpkg", ("/var/log/dpkg.log", "dpkg")),
    ("/var/log/wtmp:watch", ("/var/log/wtmp", "watch")),
    ("journald", ("", "journald")),
    ("journald:/tmp/j", ("/tmp/j", "journald")),
    ("/tmp/j:journald", ("/tmp/j", "journald")),
    ("audit-netlink", ("", "audit-netlink")),
    ("odd:name", ("odd:name", "auth")),
])
def test_parse_follow(text: str, expected: tuple[str, str]) -> None:
    assert parse_follow(text) == expected


def test_plan_command_line_kinds(tmp_path: Path) -> None:
    jdir = tmp_path / "journal"
    (jdir / "0123456789abcdef").mkdir(parents=True)
    (jdir / "0123456789abcdef" / "system.journal").write_bytes(b"LPKSHHRH")
    export = tmp_path / "export.json"
    export.write_text("")
    follow = [parse_follow(x) for x in (f"journald:{jdir}", f"{export}:journald",
                                         "audit-netlink", f"{tmp_path}/wtmp:watch")]
    planned, _ = plan_sources(Config(), detect(), follow)
    got = [(p.kind, p.type, p.path, p.found) for p in planned]
    assert got == [("journald", "journald", str(jdir), True),
                   ("file", "journald", str(export), True),  # an export file is tailed
                   ("audit-netlink", "audit", "audit-netlink", True),
                   ("watch", "watch", f"{tmp_path}/wtmp", False)]


def test_distro_watch_only_and_config_override(tmp_path: Path) -> None:
    deb = detect(str(tmp_path / "none"))  # Debian's layout when nothing matches
    assert deb.watch_only == ("/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog")
    off = Config(journald="off", audit_netlink="off")
    planned, _ = plan_sources(off, deb, [])
    assert [p.path for p in planned if p.kind == "watch"] == list(deb.watch_only)
    mine = Config(journald="off", audit_netlink="off", watch_only=[str(tmp_path / "w")])
    planned, _ = plan_sources(mine, Distro("x", "x", {}, ("/var/log/wtmp",)), [])
    assert [(p.path, p.origin) for p in planned] == [(str(tmp_path / "w"), "config")]
    planned, _ = plan_sources(Config(journald="off", audit_netlink="off", watch_only=[]),
                              deb, [])
    assert not [p for p in planned if p.kind == "watch"]
