"""`keibi run` applies suppressions before its sinks and counts every alert it holds back.

A temporary auth log gets brute forces from a vulnerability scanner (allow-listed with
`keibi suppress add` while the agent runs) and from an attacker. Only the attacker's
alert reaches the store and alerts.jsonl; the scanner's is counted against the
suppression (`keibi suppress list`, `keibi status`). After `keibi suppress remove`, the
scanner's next burst alerts again.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.live.agent import RunningAgent, alerts, jsonl_alerts, keibi, wait_alerts, wait_running

pytestmark = pytest.mark.slow

SCANNER, ATTACKER = "10.20.30.40", "203.0.113.66"


def write_failures(path: Path, ip: str, n: int, start_pid: int) -> None:
    now = datetime.now(UTC)
    with path.open("a") as fh:
        for i in range(n):
            fh.write(f"{now:%Y-%m-%dT%H:%M:%S.%f}+00:00 web01 sshd[{start_pid + i}]: "
                     f"Failed password for root from {ip} port {41000 + i} ssh2\n")


def suppressions(data: Path) -> list[dict[str, object]]:
    r = keibi("suppress", "list", "--all", "--json", "--data-dir", str(data))
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_agent_holds_back_suppressed_alerts_and_counts_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "auth.log"
    log.touch()
    agent = RunningAgent(data, [f"{log}:auth"])
    try:
        wait_running(agent)
        r = keibi("suppress", "add", "--rule", "ssh_brute_force", "--field",
                  "source.ip=10.0.0.0/8", "--for", "1h", "--reason", "internal scanner",
                  "--json", "--data-dir", str(data))
        sid = json.loads(r.stdout)["id"]
        time.sleep(2.5)  # the agent re-reads suppressions every 2 s
        write_failures(log, SCANNER, 8, 5000)
        write_failures(log, ATTACKER, 8, 6000)
        wait_alerts(data, lambda al: any(a.get("source", {}).get("ip") == ATTACKER for a in al))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not suppressions(data)[0]["hits"]:
            time.sleep(0.2)
        (s,) = suppressions(data)
        assert s["hits"] == 1 and s["state"] == "active"
        assert "SSH Brute Force" in str(s["last_alert"])
        st = json.loads(keibi("status", "--json", "--data-dir", str(data)).stdout)
        assert st["suppressions"]["alerts_suppressed"] == 1
        ips = [a.get("source", {}).get("ip") for a in alerts(data)]
        assert ips == [ATTACKER]
        # removed: the scanner alerts again (a new burst, a new alert)
        keibi("suppress", "remove", str(sid), "--data-dir", str(data))
        time.sleep(2.5)
        write_failures(log, SCANNER, 8, 7000)
        wait_alerts(data, lambda al: any(a.get("source", {}).get("ip") == SCANNER for a in al))
    finally:
        agent.stop()
    assert sorted(a["source"]["ip"] for a in jsonl_alerts(data)) == sorted([ATTACKER, SCANNER])
    assert suppressions(data)[0]["hits"] == 1
