"""Start and stop the real `keibi run` as a child process, and read its store via the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

KEIBI = [sys.executable, "-m", "keibi.cli.main"]


def keibi(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KEIBI, *args], capture_output=True, text=True, check=check,
                          timeout=120)


class RunningAgent:
    def __init__(self, data_dir: Path, follow: list[str], *extra: str) -> None:
        self.data_dir = data_dir
        argv = [*KEIBI, "run", "--data-dir", str(data_dir), "--no-dashboard", *extra]
        for f in follow:
            argv += ["--follow", f]
        self.log = (data_dir.parent / f"agent-{time.monotonic_ns()}.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()


def alerts(data_dir: Path) -> list[dict[str, Any]]:
    r = keibi("alerts", "--json", "--data-dir", str(data_dir), "--limit", "10000", check=False)
    if r.returncode != 0:
        return []
    return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]


def jsonl_alerts(data_dir: Path) -> list[dict[str, Any]]:
    p = data_dir / "alerts.jsonl"
    if not p.exists():
        return []
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


def wait_alerts(data_dir: Path, pred: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    got: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        got = alerts(data_dir)
        if pred(got):
            return got
        time.sleep(0.3)
    raise AssertionError(f"alerts never satisfied the condition; last seen: "
                         f"{[(a['rule']['id'], a.get('source', {}).get('ip')) for a in got]}")


def alert_kind(alert: dict[str, Any]) -> str:
    """brute-force, takeover, spray or the rule's name, from the rule's title."""
    name = str(alert["rule"]["name"]).lower()
    if "after" in name and "brute" in name:
        return "takeover"
    if "brute" in name:
        return "brute-force"
    if "spray" in name:
        return "spray"
    return name
