"""Live: `keibi run` raises the indicator-removal alert (T1070.002), and only for that.

The agent follows a temporary auth log, secure log and audit log and watches a wtmp.
The auth log is first rotated by the real logrotate, both ways (rename+create with
delaycompress, then copytruncate), with lines written around each rotation: no alert.
Then `truncate -s 0` on the auth log must raise the tampering alert within 2 s; so must
`truncate -s 0` on the wtmp, `ln -sf /dev/null` over the audit log, and `rm` of the
secure log once the rotate wait (5 s) has passed with nothing in its place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.live.agent import RunningAgent, alerts, search, wait_running, wait_search

pytestmark = pytest.mark.slow

RULE = "Log File Cleared, Deleted Or Replaced By A Link"


def _tampering(data: Path) -> dict[str, dict[str, Any]]:
    return {a["file"]["path"]: a for a in alerts(data) if a["rule"]["name"] == RULE}


def _wait_tampering(data: Path, path: Path, since: float, timeout: float) -> float:
    while True:
        got = _tampering(data)
        elapsed = time.monotonic() - since
        if str(path) in got:
            return elapsed
        assert elapsed < timeout, f"no tampering alert for {path} within {timeout}s: {got}"
        time.sleep(0.05)


class Auth:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0

    def write(self, k: int) -> None:
        with self.path.open("a") as fh:  # a writer that reopens for every line (rsyslog HUP)
            for _ in range(k):
                self.n += 1
                now = datetime.now(UTC)
                fh.write(f"{now:%Y-%m-%dT%H:%M:%S.%f}+00:00 web01 sshd[{1000 + self.n}]: "
                         f"Connection closed by 192.0.2.{self.n % 250} port {20000 + self.n}"
                         " [preauth]\n")


def _logrotate(tmp: Path, log: Path, how: str) -> None:
    conf = tmp / f"logrotate-{how}.conf"
    conf.write_text(f"{log} {{\n  rotate 4\n  {how}\n  compress\n  delaycompress\n"
                    "  missingok\n}\n")
    subprocess.run(["logrotate", "-f", "-s", str(tmp / "logrotate.state"), str(conf)],
                   check=True, capture_output=True, timeout=30)


def test_truncation_deletion_and_link_alert_and_rotations_do_not(tmp_path: Path) -> None:
    assert shutil.which("logrotate"), "logrotate is needed (apt-get install logrotate)"
    data = tmp_path / "data"
    auth = Auth(tmp_path / "auth.log")
    secure = tmp_path / "secure"
    audit = tmp_path / "audit.log"
    wtmp = tmp_path / "wtmp"
    for p in (secure, audit):
        p.write_text("Nov 20 10:00:00 web01 sshd[1]: Server listening on 0.0.0.0 port 22.\n")
    wtmp.write_bytes(b"\x07\0\0\0" + b"\1" * 380)
    auth.write(5)
    agent = RunningAgent(data, [f"{auth.path}:auth", f"{secure}:auth", f"{audit}:auth",
                                f"{wtmp}:watch"])
    try:
        wait_running(agent)
        wait_search(data, "event.action=ssh-connection-closed", pred=lambda e: len(e) >= 5,
                    timeout=10)
        # logrotate, rename + create: the next lines go to the new file
        _logrotate(tmp_path, auth.path, "create")
        assert (tmp_path / "auth.log.1").exists()
        auth.write(5)
        wait_search(data, "event.action=ssh-connection-closed", pred=lambda e: len(e) >= 10,
                    timeout=10)
        # logrotate, copytruncate (auth.log.1 is compressed to .2.gz on the way)
        _logrotate(tmp_path, auth.path, "copytruncate")
        assert (tmp_path / "auth.log.2.gz").exists() and auth.path.stat().st_size == 0
        auth.write(5)
        wait_search(data, "event.action=ssh-connection-closed", pred=lambda e: len(e) >= 15,
                    timeout=10)
        time.sleep(1.0)
        assert _tampering(data) == {}, "a rotation was reported as tampering"
        assert search(data, "event.dataset=keibi.agent") == []

        start = time.monotonic()
        subprocess.run(["truncate", "-s", "0", str(auth.path)], check=True)
        elapsed = _wait_tampering(data, auth.path, start, 2.0)
        print(f"\ntruncate -s 0 auth.log -> alert in {elapsed:.2f}s")

        start = time.monotonic()
        subprocess.run(["truncate", "-s", "0", str(wtmp)], check=True)
        _wait_tampering(data, wtmp, start, 2.0)

        start = time.monotonic()
        subprocess.run(["ln", "-sf", "/dev/null", str(audit)], check=True)
        _wait_tampering(data, audit, start, 2.0)

        start = time.monotonic()
        os.unlink(secure)
        elapsed = _wait_tampering(data, secure, start, 5.0 + 2.0)  # after the rotate wait
        assert elapsed >= 4.5, "reported before the rotate wait was over"
    finally:
        agent.stop()
    got = _tampering(data)
    assert {p: a["event"]["action"] for p, a in got.items()} == {
        str(auth.path): "log-truncated", str(wtmp): "log-truncated",
        str(audit): "log-replaced-by-symlink", str(secure): "log-deleted"}
    for a in got.values():
        assert a["threat"]["technique"]["id"] == ["T1070.002"]
        assert a["keibi"]["alert"]["severity"] == "high"
        assert a["keibi"]["alert"]["count"] == 1
    events = search(data, "event.dataset=keibi.agent")
    assert len(events) == 4
    # nothing was lost or read twice across the two rotations
    assert len(search(data, "event.action=ssh-connection-closed")) == 15
