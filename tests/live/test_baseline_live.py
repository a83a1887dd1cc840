"""`keibi run` with a baseline learned from logs reports first-seen activity at once.

`keibi baseline learn` builds the baseline from yesterday's auth log (alice from
10.0.0.0/24, sudo by alice); the agent then follows today's log: alice from an address
never seen and bob's first sudo become alerts that say what was expected, while alice's
usual login does not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.live.agent import RunningAgent, keibi, wait_alerts, wait_running

pytestmark = pytest.mark.slow


def line(ts: datetime, program: str, pid: int, msg: str) -> str:
    return f"{ts:%Y-%m-%dT%H:%M:%S.%f}+00:00 web01 {program}[{pid}]: {msg}\n"


def test_learned_baseline_flags_new_login_source_and_first_sudo(tmp_path: Path) -> None:
    data = tmp_path / "data"
    yesterday = datetime.now(UTC) - timedelta(days=1)
    old = tmp_path / "old" / "auth.log"
    old.parent.mkdir()
    old.write_text("".join(
        line(yesterday + timedelta(minutes=i), "sshd", 100 + i,
             f"Accepted publickey for alice from 10.0.0.{5 + i} port 5000{i} ssh2")
        for i in range(3)) + line(yesterday + timedelta(minutes=9), "sudo", 200,
                                  "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
                                  "COMMAND=/usr/bin/id"))
    r = keibi("baseline", "learn", str(old), "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    log = tmp_path / "auth.log"
    log.touch()
    agent = RunningAgent(data, [f"{log}:auth"])
    try:
        wait_running(agent)
        now = datetime.now(UTC)
        with log.open("a") as fh:
            fh.write(line(now, "sshd", 300, "Accepted publickey for alice from 10.0.0.9 "
                                            "port 50100 ssh2"))
            fh.write(line(now, "sshd", 301, "Accepted password for alice from 198.51.100.4 "
                                            "port 50101 ssh2"))
            fh.write(line(now, "sudo", 302, "     bob : TTY=pts/1 ; PWD=/home/bob ; "
                                            "USER=root ; COMMAND=/usr/bin/cat /etc/shadow"))
        got = wait_alerts(data, lambda al: len({a["rule"]["name"] for a in al}) >= 2)
    finally:
        agent.stop()
    by_rule = {a["rule"]["name"]: a for a in got}
    login = by_rule["Login From A New Place Or At An Unusual Hour"]
    assert login["message"] == "alice logged in from 198.51.100.4; seen before: 10.0.0.0/24"
    sudo = by_rule["User Running Sudo For The First Time"]
    assert sudo["message"].startswith("bob ran sudo for the first time")
    assert "users seen running sudo: alice" in sudo["message"]
    assert len(got) == 2, [a["message"] for a in got]
    shown = json.loads(keibi("baseline", "show", "--json", "--data-dir", str(data)).stdout)
    assert shown["entries"]["sudo-user"] == {"web01": ["alice", "bob"]}
