"""Throughput of the auth-log parser (syslog header included) on a generated mix.

    python bench/bench_auth_parser.py [--lines 200000] [--seed 7] [--repeat 3]

The lines come from bench/gen_authlog.py (an sshd-heavy auth.log: brute-force bursts,
sprays, logins with their sessions, sudo, cron, account changes), once as Debian's
classic ``Nov  1 00:00:00`` header and once as rsyslog's ISO ``2026-10-01T00:00:00.123456
+00:00`` header. Prints lines/s and events/s for each (best of ``--repeat`` runs); the
parser's budget is about 2 us a line (500,000 lines/s). Times are CPU time
(process_time), so other load on the machine skews them less.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from keibi.parsers.auth import parse_auth_line
from keibi.parsers.context import LineContext

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_authlog import build

TARGET = 500_000


def to_iso(line: str, i: int) -> str:
    """The same record with rsyslog's high-precision ISO header."""
    ts = datetime.strptime("2026 " + line[:15], "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    return f"{ts:%Y-%m-%dT%H:%M:%S}.{(i * 7919) % 1_000_000:06d}+00:00{line[15:]}"


def run(lines: list[str], repeat: int) -> tuple[float, int]:
    best = float("inf")
    events = 0
    for _ in range(repeat):
        ctx = LineContext(
            path="/var/log/auth.log",
            ref_time=datetime(2026, 11, 1, tzinfo=UTC).timestamp(),
            zone=UTC,
        )
        offset = 0
        events = 0
        t0 = time.process_time()
        for line in lines:
            events += len(parse_auth_line(line, offset, ctx))
            offset += len(line) + 1
        best = min(best, time.process_time() - t0)
    return best, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    classic, _truth = build(a.lines, a.seed)
    iso = [to_iso(line, i) for i, line in enumerate(classic)]
    print(f"{len(classic)} lines (gen_authlog seed {a.seed}), target {TARGET:,} lines/s")
    for name, lines in (("classic", classic), ("iso", iso)):
        secs, events = run(lines, a.repeat)
        rate = len(lines) / secs
        print(
            f"{name:8s} {rate:12,.0f} lines/s  {events / secs:12,.0f} events/s  "
            f"{secs / len(lines) * 1e6:5.2f} us/line  ({events} events)"
        )


if __name__ == "__main__":
    main()
