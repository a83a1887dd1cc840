"""`keibi run` follows a log through rotations and kills and raises every alert once.

A temporary auth log gets brute-force attempts from three addresses and a takeover
login, while the file is rotated by rename+create and by copytruncate, and the agent is
killed with SIGKILL and restarted in the middle. At the end every expected alert is in
`keibi alerts --json` and in alerts.jsonl exactly once, with exact attempt counts.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.live.agent import RunningAgent, alert_kind, alerts, jsonl_alerts, keibi, wait_alerts

pytestmark = pytest.mark.slow

A, B, C = "203.0.113.10", "198.51.100.23", "2001:db8::bad:1"


class Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid = 4000
        path.touch()

    def write(self, *msgs: str) -> None:
        now = datetime.now(UTC)
        with self.path.open("a") as fh:
            for msg in msgs:
                self.pid += 1
                fh.write(f"{now:%Y-%m-%dT%H:%M:%S.%f}+00:00 web01 sshd[{self.pid}]: {msg}\n")

    def failures(self, ip: str, n: int, user: str = "oracle") -> None:
        for i in range(n):
            self.write(f"Invalid user {user} from {ip} port {40000 + i}",
                       f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                       f"tty=ssh ruser= rhost={ip}",
                       f"Failed password for invalid user {user} from {ip} port {40000 + i} ssh2",
                       f"Connection closed by invalid user {user} {ip} port {40000 + i} [preauth]")


def _stored(data: Path, ip: str, n_lines: int) -> bool:
    r = keibi("search", f"source.ip={ip}", "event.action=ssh-login", "--json",
              "--data-dir", str(data), "--limit", "100000", check=False)
    return r.returncode == 0 and len(r.stdout.splitlines()) >= n_lines


def test_rotation_kill_restart_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = Log(tmp_path / "auth.log")
    agent = RunningAgent(data, [f"{log.path}:auth"])
    try:
        log.failures(A, 8)
        wait_alerts(data, lambda al: any(a.get("source", {}).get("ip") == A for a in al))
        # rename + create, then a slow start for B
        os.rename(log.path, tmp_path / "auth.log.1")
        log.path.touch()
        log.failures(B, 3)
        time.sleep(0.5)
        # B finishes and A logs in while the agent dies mid-read
        log.failures(B, 4)
        log.write(f"Accepted password for admin from {A} port 41999 ssh2")
        agent.kill9()
        agent = RunningAgent(data, [f"{log.path}:auth"])
        wait_alerts(data, lambda al: {("brute-force", B), ("takeover", A)} <= {
            (alert_kind(a), a.get("source", {}).get("ip")) for a in al})
        # copytruncate, once the agent has read everything (what logrotate's
        # copytruncate loses otherwise is lost for every reader)
        deadline = time.monotonic() + 20
        while not _stored(data, B, 7) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.copyfile(log.path, tmp_path / "auth.log.2")
        with log.path.open("r+") as fh:
            fh.truncate(0)
        log.failures(C, 7)
        wait_alerts(data, lambda al: ("brute-force", C) in {
            (alert_kind(a), a.get("source", {}).get("ip")) for a in al})
        agent.stop()
        # a clean restart reads nothing twice
        agent = RunningAgent(data, [f"{log.path}:auth"])
        time.sleep(2)
    finally:
        agent.stop()
    got = alerts(data)
    seen = sorted((alert_kind(a), a["source"]["ip"], a["keibi"]["alert"]["count"]) for a in got)
    assert seen == sorted([("brute-force", A, 8), ("takeover", A, 1), ("brute-force", B, 7),
                           ("brute-force", C, 7)]), seen
    lines = jsonl_alerts(data)
    ids = [a["keibi"]["alert"]["id"] for a in lines]
    assert sorted(ids) == sorted(a["keibi"]["alert"]["id"] for a in got)
    assert len(ids) == len(set(ids))
    # every attempt line was stored once: 8 + 7 + 7 failures and the success
    r = keibi("search", "event.action=ssh-login", "--json", "--data-dir", str(data),
              "--limit", "100000")
    assert len(r.stdout.splitlines()) == 8 + 7 + 7 + 1
