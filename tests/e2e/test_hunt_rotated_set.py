"""`keibi hunt` over a rotated, partly gzipped auth-log set, across New Year.

The set is auth.log.2.gz (oldest, 31 Dec 2025), auth.log.1 and auth.log (1 Jan 2026).
Classic syslog lines carry no year: each file's year comes from its own mtime. A brute
force from 203.0.113.77 starts in auth.log.2.gz before midnight and goes on in auth.log.1
after it; the same address then logs in (auth.log). Around it: benign noise, a user who
mistypes a password once, a slow guesser staying at 5 attempts per 10 minutes, sudo
commands and cron sessions. Exactly one brute-force and one takeover alert must come
out, both for 203.0.113.77, and nothing else.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ATTACKER = "203.0.113.77"
SLOW = "198.51.100.9"


def _stamp(dt: datetime) -> str:
    return f"{dt:%b} {dt.day:>2} {dt:%H:%M:%S}"


def _lines(start: datetime, items: list[tuple[int, str]]) -> str:
    out = []
    for i, (secs, msg) in enumerate(items):
        ts = datetime.fromtimestamp(start.timestamp() + secs, UTC)
        out.append(f"{_stamp(ts)} bastion {msg.replace('PID', str(7000 + i))}")
    return "\n".join(out) + "\n"


def _attempt(ip: str, user: str, port: int) -> list[str]:
    return [f"sshd[PID]: Invalid user {user} from {ip} port {port}",
            "sshd[PID]: pam_unix(sshd:auth): check pass; user unknown",
            f"sshd[PID]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
            f"tty=ssh ruser= rhost={ip}",
            f"sshd[PID]: Failed password for invalid user {user} from {ip} port {port} ssh2"]


def _build(tmp: Path) -> Path:
    d = tmp / "log"
    d.mkdir()
    dec31 = datetime(2025, 12, 31, 23, 50, tzinfo=UTC)
    jan1 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    noise = [(0, "CRON[PID]: pam_unix(cron:session): session opened for user root(uid=0) "
                 "by (uid=0)"),
             (1, "CRON[PID]: pam_unix(cron:session): session closed for user root"),
             (30, "sshd[PID]: Accepted publickey for alice from 10.0.0.5 port 50022 ssh2: "
                  "ED25519 SHA256:Vt9dG6qFb0Rz5hD0H3kP2mQqS7xYk3QeWm1n8c2b4aE"),
             (31, "sshd[PID]: pam_unix(sshd:session): session opened for user alice(uid=1000) "
                  "by (uid=0)"),
             (40, "sudo[PID]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
                  "COMMAND=/usr/bin/systemctl restart nginx"),
             # alice mistypes once, then gets in: not an attack
             (60, "sshd[PID]: Failed password for alice from 10.0.0.5 port 50030 ssh2"),
             (63, "sshd[PID]: Accepted password for alice from 10.0.0.5 port 50030 ssh2")]
    # oldest file: the brute force starts at 23:57:00 with 4 attempts before midnight
    old = list(noise)
    for k in range(4):
        old += [(420 + 20 * k, ln) for ln in _attempt(ATTACKER, "oracle", 40100 + k)]
    # a slow guesser: 5 attempts, 130 s apart (never more than 5 in 10 minutes)
    for k in range(5):
        old += [(0 + 130 * k, ln) for ln in _attempt(SLOW, "admin", 40200 + k)]
    old.sort(key=lambda x: x[0])
    (d / "auth.log.2").write_text(_lines(dec31, old))
    with open(d / "auth.log.2", "rb") as src, gzip.open(d / "auth.log.2.gz", "wb") as dst:
        dst.write(src.read())
    os.unlink(d / "auth.log.2")
    # after midnight: 5 more attempts (9 in 3 minutes), then noise
    mid = []
    for k in range(5):
        mid += [(5 + 15 * k, ln) for ln in _attempt(ATTACKER, "test", 40300 + k)]
    mid += [(200 + s, m) for s, m in noise]
    (d / "auth.log.1").write_text(_lines(jan1, mid))
    # the attacker gets in 6 minutes later with a password
    last = [(600, f"sshd[PID]: Accepted password for deploy from {ATTACKER} port 40999 ssh2"),
            (600, "sshd[PID]: pam_unix(sshd:session): session opened for user deploy(uid=1001) "
                  "by (uid=0)")]
    last += [(700 + s, m) for s, m in noise]
    (d / "auth.log").write_text(_lines(jan1, last))
    os.utime(d / "auth.log.2.gz", (dec31.timestamp() + 700, dec31.timestamp() + 700))
    os.utime(d / "auth.log.1", (jan1.timestamp() + 300, jan1.timestamp() + 300))
    os.utime(d / "auth.log", (jan1.timestamp() + 900, jan1.timestamp() + 900))
    return d


def _keibi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keibi.cli.main", *args],
                          capture_output=True, text=True, timeout=120)


def _kind(alert: dict) -> str:
    name = alert["rule"]["name"].lower()
    return "takeover" if "after" in name else "brute-force" if "brute" in name else name


def test_hunt_finds_one_brute_force_and_one_takeover(tmp_path: Path) -> None:
    d = _build(tmp_path)
    files = [str(d / "auth.log"), str(d / "auth.log.1"), str(d / "auth.log.2.gz")]
    r = _keibi("hunt", "--json", *files)
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(x) for x in r.stdout.splitlines()]
    got = sorted((_kind(a), a["source"]["ip"]) for a in alerts)
    assert got == [("brute-force", ATTACKER), ("takeover", ATTACKER)], got
    brute = next(a for a in alerts if _kind(a) == "brute-force")
    # 9 attempts counted (not the 4 lines each attempt wrote), across the rotation
    assert brute["keibi"]["alert"]["count"] == 9
    # the first attempt was on 31 Dec 2025, the file's year from its mtime
    assert brute["event"]["start"].startswith("2025-12-31T23:57:")
    assert brute["event"]["end"].startswith("2026-01-01T00:01:")
    takeover = next(a for a in alerts if _kind(a) == "takeover")
    assert takeover["user"]["name"] == "deploy"
    assert takeover["@timestamp"].startswith("2026-01-01T00:10:")
    # the whole directory gives the same answer (set found by name, order by rotation)
    r2 = _keibi("hunt", "--json", str(d))
    assert sorted((_kind(a), a["source"]["ip"]) for a in map(json.loads, r2.stdout.splitlines())) \
        == got


def test_hunt_fail_on_and_usage_errors(tmp_path: Path) -> None:
    d = _build(tmp_path)
    r = _keibi("hunt", "-q", "--fail-on", "high", str(d))
    assert r.returncode == 1
    r = _keibi("hunt", "-q", "--fail-on", "critical", str(d))
    assert r.returncode == 0
    r = _keibi("hunt", str(tmp_path / "missing.log"))
    assert r.returncode == 2 and "no such file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_events_prints_every_line_as_ecs(tmp_path: Path) -> None:
    d = _build(tmp_path)
    r = _keibi("events", "--json", str(d / "auth.log.1"))
    assert r.returncode == 0, r.stderr
    events = [json.loads(x) for x in r.stdout.splitlines()]
    n_lines = len((d / "auth.log.1").read_text().splitlines())
    assert len(events) == n_lines
    assert all(e["event"]["kind"] == "event" for e in events)
    assert [e["log"]["offset"] for e in events] == sorted(e["log"]["offset"] for e in events)
