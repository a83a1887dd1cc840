"""`keibi baseline check|learn|show|reset` on two days of constructed logs.

Day 1 is the normal host: alice logs in from 10.0.0.0/24 during office hours and runs
sudo, nginx runs its helpers, sshd listens on 22, apt talks to its mirror. Day 2 holds
the same plus what a baseline must point out, each with what it expected: alice from
198.51.100.4 at 03:00, bob's first sudo, nginx starting a shell, nc listening on 4444,
curl reaching a never-seen address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.chain_logs import LogSet

DAY = 86400
START = datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)


def normal_day(s: LogSet, day: int) -> None:
    base = day * DAY
    s.ssh_listening(base + 60)
    for hour in (8, 9, 10, 13, 17):
        s.ssh_login(base + hour * 3600, "10.0.0.5", "alice", "publickey")
    s.sudo(base + 9 * 3600 + 60, "alice", "/usr/bin/systemctl reload nginx")
    nginx = s.exec(base + 100, ["/usr/sbin/nginx"], auid=None)
    s.exec(base + 200, ["/usr/bin/logger", "-t", "nginx", "rotated"], auid=None, ppid=nginx)
    apt = s.exec(base + 6 * 3600, ["/usr/bin/apt", "update"], auid=None)
    s.connect(base + 6 * 3600 + 1, "151.101.2.132", 443, exe="/usr/bin/apt", pid=apt,
              auid=None)
    curl = s.exec(base + 10 * 3600, ["/usr/bin/curl", "-s", "https://10.0.0.9/health"],
                  auid="alice", uid="alice")
    s.connect(base + 10 * 3600 + 1, "10.0.0.9", 443, exe="/usr/bin/curl", pid=curl,
              auid="alice", uid="alice")


def build(directory: Path) -> Path:
    s = LogSet(START)
    normal_day(s, 0)
    normal_day(s, 1)
    d2 = DAY
    s.ssh_login(d2 + 3 * 3600, "198.51.100.4", "alice", "password")
    s.sudo(d2 + 3 * 3600 + 300, "bob", "/usr/bin/cat /etc/shadow")
    shell = s.exec(d2 + 3 * 3600 + 400, ["/usr/bin/dash", "-c", "id"], auid=None,
                   ppid=s.exec(d2 + 3 * 3600 + 399, ["/usr/sbin/nginx"], auid=None))
    nc = s.exec(d2 + 3 * 3600 + 500, ["/usr/bin/nc", "-lp", "4444"], auid=None, ppid=shell)
    s.bind(d2 + 3 * 3600 + 501, 4444, exe="/usr/bin/nc", pid=nc, auid=None)
    curl = s.exec(d2 + 3 * 3600 + 600, ["/usr/bin/curl", "-s", "http://198.51.100.23/x"],
                  auid="alice", uid="alice")
    s.connect(d2 + 3 * 3600 + 601, "198.51.100.23", 80, exe="/usr/bin/curl", pid=curl,
              auid="alice", uid="alice")
    return s.write(directory)


def keibi(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run([sys.executable, "-m", "keibi.cli.main", *args],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("baseline") / "log")


def _anomalies(r: subprocess.CompletedProcess[str]) -> dict[str, list[dict[str, Any]]]:
    assert r.returncode == 0, r.stderr
    out: dict[str, list[dict[str, Any]]] = {}
    for line in r.stdout.splitlines():
        e = json.loads(line)
        out.setdefault(e["event"]["action"], []).append(e)
    return out


EXPECTED = {
    "first-seen-login-source": ["alice logged in from 198.51.100.4; seen before: 10.0.0.0/24"],
    "unusual-login-hour": ["alice logged in at 03:xx UTC; usual hours: 08-10, 13, 17 "
                           "(5 logins)"],
    "first-sudo": ["bob ran sudo for the first time (/usr/bin/cat /etc/shadow); users seen "
                   "running sudo: alice"],
    "first-seen-parent-child": [
        "/usr/sbin/nginx started /usr/bin/dash for the first time; it started before: "
        "/usr/bin/logger",
        "/usr/bin/dash started /usr/bin/nc for the first time; it started before: none"],
    "first-seen-executable": [
        "/usr/bin/dash ran for the first time on web01 (4 executables seen before)",
        "/usr/bin/nc ran for the first time on web01 (5 executables seen before)"],
    "first-seen-listening-port": [
        "/usr/bin/nc listens on port 4444 for the first time; ports seen before: 22"],
    "first-seen-outbound-destination": [
        "/usr/bin/curl connected to 198.51.100.23:80 for the first time; destinations "
        "seen before: 10.0.0.0/24:443"],
}


def test_check_learns_the_first_day_then_explains_each_novelty(logs: Path) -> None:
    got = _anomalies(keibi("baseline", "check", "--json", "--learning", "24h", str(logs)))
    assert {k: [e["message"] for e in v] for k, v in got.items()} == EXPECTED
    login = got["first-seen-login-source"][0]
    assert login["user"]["name"] == "alice" and login["source"]["ip"] == "198.51.100.4"
    assert login["keibi"]["baseline"]["expected"] == ["10.0.0.0/24"]
    assert login["event"]["dataset"] == "keibi.baseline"
    # too short a log for the learning period: nothing judged, and said so
    r = keibi("baseline", "check", "--learning", "7d", str(logs))
    assert r.returncode == 0 and r.stdout == "" and "still learning" in r.stderr


def test_learn_show_check_stored_and_reset(logs: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    day1 = tmp_path / "day1"
    s = LogSet(START)
    normal_day(s, 0)
    s.write(day1)
    r = keibi("baseline", "learn", str(day1), "--data-dir", data)
    assert r.returncode == 0, r.stderr
    r = keibi("baseline", "show", "--json", "--data-dir", data)
    shown = json.loads(r.stdout)
    assert not shown["learning"]
    assert shown["entries"]["login-source"] == {"web01/alice": ["10.0.0.0/24"]}
    assert shown["entries"]["sudo-user"] == {"web01": ["alice"]}
    assert shown["entries"]["listening-port"] == {"web01": ["22"]}
    r = keibi("baseline", "show", "--kind", "login-hour", "--data-dir", data)
    assert "web01/alice: 08-10, 13, 17" in r.stdout
    # judging the whole two days against the stored baseline: day 2's novelties only
    got = _anomalies(keibi("baseline", "check", "--stored", "--json", str(logs),
                           "--data-dir", data))
    assert set(got) == set(EXPECTED)
    # forgetting the sudo users makes bob's sudo (and alice's) nothing to report... until
    # learned again: a reset of one kind keeps the rest and the end of learning
    r = keibi("baseline", "reset", "--kind", "sudo-user", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    shown = json.loads(keibi("baseline", "show", "--json", "--data-dir", data).stdout)
    assert shown["entries"]["sudo-user"] == {} and not shown["learning"]
    assert shown["entries"]["login-source"]
    r = keibi("baseline", "reset", "--data-dir", data)
    shown = json.loads(keibi("baseline", "show", "--json", "--data-dir", data).stdout)
    assert shown["learning"] and shown["started"] is None
    r = keibi("baseline", "reset", "--kind", "nope", "--data-dir", data)
    assert r.returncode == 2
