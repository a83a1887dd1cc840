"""Live torture: 100,000 lines through the real `keibi run`, exactly once each.

A writer appends syslog lines to a temporary file in bursts while the file is rotated
both ways, again and again, the way logrotate does it (rename + create with the writer
reopening late, as rsyslog does at its HUP; copytruncate; older files compressed, with
delaycompress), and the agent is restarted twice: once with SIGTERM and once with
SIGKILL, each time while the writer goes on rotating. At the end the store holds one
event per line written: the same (log.offset, event.original) pairs, none missing and
none twice, and no indicator-removal event (rotations are not tampering).
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from keibi.events.encoding import loads
from keibi.store.sqlite import Store
from tests.live.agent import KEIBI, RunningAgent, wait_running

pytestmark = pytest.mark.slow

TOTAL = 100_000
KEEP = 40  # rotated files kept: none is deleted before the agent has read it


class Writer:
    """A logging daemon: appends to the file it opened, reopens when told."""

    def __init__(self, path: Path, rng: random.Random) -> None:
        self.path = path
        self.rng = rng
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.n = 0
        self.written: list[tuple[int, str]] = []  # (offset in its file, line)

    def burst(self, k: int) -> None:
        k = min(k, TOTAL - self.n)
        pos = os.fstat(self.fd).st_size
        chunk = []
        for _ in range(k):
            self.n += 1
            pad = "x" * self.rng.randint(0, 60)
            line = (f"2026-11-26T10:00:{self.n % 60:02d}.{self.n:06d}+00:00 web01 "
                    f"app[{1000 + self.n % 5000}]: seq={self.n:06d} {pad}")
            self.written.append((pos, line))
            data = line.encode() + b"\n"
            pos += len(data)
            chunk.append(data)
        os.write(self.fd, b"".join(chunk))

    def reopen(self) -> None:
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def close(self) -> None:
        os.close(self.fd)


def _shift(path: Path) -> None:
    """Make room for a new path.1: .N.gz -> .N+1.gz, .1 -> .2.gz (delaycompress)."""
    for n in range(KEEP - 1, 1, -1):
        older = Path(f"{path}.{n}.gz")
        if older.exists():
            older.rename(f"{path}.{n + 1}.gz")
    one = Path(f"{path}.1")
    if one.exists():
        tmp = Path(f"{path}.2.gz.tmp")
        tmp.write_bytes(gzip.compress(one.read_bytes(), compresslevel=1))
        tmp.rename(f"{path}.2.gz")
        one.unlink()


def _stored(data: Path) -> int:
    try:
        with Store.open_readonly(data / "keibi.db") as store:
            return store.stats().events
    except Exception:
        return 0


def test_100k_lines_rotations_and_restarts_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    log = tmp_path / "app.log"
    data = tmp_path / "data"
    follow = [f"{log}:syslog"]
    writer = Writer(log, rng)
    started = time.monotonic()
    agent = RunningAgent(data, follow)
    wait_running(agent)
    rotations = Counter[str]()
    late_reopen = -1
    # about 200 bursts of 500 lines, 75 ms apart; a rotation every 8 bursts, the two
    # kinds in turn (a copytruncate of a file nobody has looked at yet cannot be told
    # from growth: real rotations are hours apart, these 0.6 s); SIGTERM at 35% and
    # SIGKILL at 70% of the lines, each down for 12 bursts (a rotation or two)
    restarts = {35_000: "term", 70_000: "kill"}
    down_until = -1
    try:
        step = 0
        while writer.n < TOTAL:
            step += 1
            writer.burst(rng.randint(300, 700))
            if step == late_reopen:
                writer.reopen()
            for at, how in list(restarts.items()):
                if writer.n >= at:
                    del restarts[at]
                    if how == "term":
                        assert agent.stop() == 0
                    else:
                        agent.kill9()
                    down_until = step + 12
            if step == down_until:
                agent = RunningAgent(data, follow)
            if step % 16 == 0:  # logrotate, create: the writer reopens a burst later
                _shift(log)
                log.rename(f"{log}.1")
                log.touch(mode=0o640)
                late_reopen = step + 1
                rotations["rename+create"] += 1
            elif step % 16 == 8:  # logrotate, copytruncate
                _shift(log)
                shutil.copyfile(log, f"{log}.1")
                os.truncate(log, 0)
                rotations["copytruncate"] += 1
            time.sleep(0.075)
        writer.close()
        assert rotations["rename+create"] >= 5 and rotations["copytruncate"] >= 5, rotations
        assert agent.proc.poll() is None and not restarts
        deadline = time.monotonic() + 30
        while _stored(data) < TOTAL and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything more (a line twice) would come now
    finally:
        agent.stop()
    elapsed = time.monotonic() - started
    print(f"\n{TOTAL} lines, {dict(rotations)}, 2 restarts: stored in {elapsed:.1f}s")

    r = subprocess.run([*KEIBI, "search", "--json", "--data-dir", str(data), "--limit",
                        "200000", "event.dataset=keibi.syslog"],
                       capture_output=True, check=True, timeout=120)
    got = Counter()
    for line in r.stdout.splitlines():
        ev = loads(line)
        got[(ev.log_offset, ev.original)] += 1
    want = Counter(writer.written)
    assert sum(got.values()) == TOTAL, (sum(got.values()), TOTAL)
    twice = [k for k, c in got.items() if c > 1]
    assert not twice, f"{len(twice)} lines stored more than once, e.g. {twice[:3]}"
    missing = want - got
    assert not missing, f"{len(missing)} lines lost, e.g. {sorted(missing)[:3]}"
    assert got == want
    with Store.open_readonly(data / "keibi.db") as store:
        assert store.stats().events == TOTAL  # nothing else: no tampering events
    assert elapsed < 60, elapsed
