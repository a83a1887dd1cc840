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


def search(data_dir: Path, *filters: str, limit: int = 10000) -> list[dict[str, Any]]:
    """`keibi search --json FILTER...` (nothing while the store does not exist yet)."""
    r = keibi("search", *filters, "--json", "--data-dir", str(data_dir), "--limit", str(limit),
              check=False)
    if r.returncode != 0:
        return []
    return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]


def wait_search(data_dir: Path, *filters: str, pred: Any = bool, timeout: float = 10.0,
                since: float | None = None) -> tuple[list[dict[str, Any]], float]:
    """Poll `keibi search --json` until ``pred(events)``; (events, seconds since
    ``since``, default now). Fails with what was seen when ``timeout`` passes."""
    start = time.monotonic() if since is None else since
    got: list[dict[str, Any]] = []
    while True:
        got = search(data_dir, *filters)
        elapsed = time.monotonic() - start
        if pred(got):
            return got, elapsed
        if elapsed > timeout:
            raise AssertionError(f"`keibi search {' '.join(filters)}` did not show it within "
                                 f"{timeout}s; last seen {len(got)} events")
        time.sleep(0.05)


def status(data_dir: Path) -> dict[str, Any] | None:
    r = keibi("status", "--json", "--data-dir", str(data_dir), check=False)
    if r.returncode != 0:
        return None
    st: dict[str, Any] = json.loads(r.stdout)
    return st


def wait_running(agent: RunningAgent, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until `keibi status` shows this agent running (its sources are open then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.proc.poll() is not None:
            raise AssertionError(f"keibi run exited with {agent.proc.returncode}")
        st = status(agent.data_dir)
        if st and st["running"] and st["agent"]["pid"] == agent.proc.pid:
            return st
        time.sleep(0.1)
    raise AssertionError("keibi run never reported its status")
