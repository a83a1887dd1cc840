"""Events/s per parser, one report: auth, syslog, cron, dpkg, apt, audit assembly, journald.

    python bench/bench_parsers.py [--lines 200000] [--seed 7] [--repeat 3]

Each parser is run the way ``keibi hunt`` and ``keibi run`` run it: the stream parser
the source registry makes for the type (``parsers.registry``), fed line by line with
offsets, then flushed. The data is generated: the auth log by bench/gen_authlog.py, the
audit records (enriched format, SYSCALL+EXECVE+CWD+PATH+PROCTITLE, PAM, connect...,
a little interleaving) by bench/bench_audit.py, syslog/cron/dpkg/apt by
bench/bench_pkg_cron_syslog.py, and ``journalctl -o json`` records here (sshd, sudo,
cron, kernel, systemd and other programs, with the trusted fields journald adds).
Times are CPU time (process_time), best of ``--repeat``. The issue's targets are
printed beside: audit assembly at least 50,000 records/s, line parsers at least
150,000 lines/s. Exit status 1 when a parser is below its target.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from keibi.parsers.context import LineContext
from keibi.parsers.registry import source_type

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_audit import generate as gen_audit_events
from bench_pkg_cron_syslog import gen_apt, gen_cron, gen_dpkg, gen_syslog
from gen_authlog import build as gen_auth

LINE_TARGET = 150_000
AUDIT_TARGET = 50_000
REF = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()
BOOT = "c4e8a6d2cdf841bfa56fb4c015d9f0f1"
MACHINE = "3d1219c7c4c5404aaa1f6d2a48adfda4"


def gen_auth_lines(n: int, rnd: random.Random) -> list[str]:
    return gen_auth(n, rnd.randrange(1 << 30))[0][:n]


def gen_audit(n: int, rnd: random.Random) -> list[str]:
    # about 4.3 records per event in bench_audit's mix
    return gen_audit_events(n // 4 + 1, rnd.randrange(1 << 30))[:n]


_SSHD = ["Failed password for invalid user {u} from 203.0.113.{a} port {p} ssh2",
         "Accepted publickey for {u} from 198.51.100.{a} port {p} ssh2: ED25519 "
         "SHA256:Vt9dG6qFb0Rz5hD0H3kP2mQqS7xYk3QeWm1n8c2b4aE",
         "Connection closed by authenticating user {u} 203.0.113.{a} port {p} [preauth]",
         "pam_unix(sshd:session): session opened for user {u}(uid=1000) by (uid=0)",
         "Invalid user {u} from 203.0.113.{a} port {p}"]
_OTHER = [("sudo", "/usr/bin/sudo", "0", "sudo.service",
           "   {u} : TTY=pts/0 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/systemctl "
           "restart nginx"),
          ("cron", "/usr/sbin/cron", "0", "cron.service", "({u}) CMD (run-parts /etc/cron.d)"),
          ("systemd", "/usr/lib/systemd/systemd", "0", "init.scope",
           "Started session-{a}.scope - Session {a} of User {u}."),
          ("nginx", "/usr/sbin/nginx", "33", "nginx.service",
           "2026/11/20 10:00:00 [error] {a}#0: *{p} open() failed"),
          ("python3", "/usr/bin/python3.11", "1000", "app.service",
           "worker {a} handled request {p} in 12ms")]


def gen_journald(n: int, rnd: random.Random) -> list[str]:
    """``journalctl -o json`` lines: records of sshd, sudo, cron, systemd, the kernel and
    ordinary programs, with the trusted fields (``_COMM``, ``_UID``, ``_PID``...)."""
    out = []
    t = int(REF * 1e6) - n * 1000
    for i in range(n):
        t += rnd.randrange(1, 2000)
        u, a, p = rnd.choice(["root", "alice", "admin", "oracle"]), rnd.randrange(1, 255), \
            rnd.randrange(1024, 65535)
        rec: dict[str, str] = {
            "__CURSOR": f"s=6e59877206c6499ab3a8f5ba65db0eeb;i={i:x};b={BOOT};m={i * 977:x};"
                        f"t={t:x};x={rnd.getrandbits(64):016x}",
            "__REALTIME_TIMESTAMP": str(t), "__MONOTONIC_TIMESTAMP": str(i * 977),
            "_BOOT_ID": BOOT, "_MACHINE_ID": MACHINE, "_HOSTNAME": "web01",
            "_RUNTIME_SCOPE": "system",
        }
        kind = rnd.random()
        if kind < 0.1:
            rec.update({"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "PRIORITY": "4",
                        "SYSLOG_FACILITY": "0",
                        "MESSAGE": f"a.out[{p}]: segfault at 0 ip 0000555555555131 sp "
                                   f"00007ffd3c2b1e30 error 6 in a.out[555555555000+1000]"})
        else:
            if kind < 0.55:
                comm, exe, uid, unit, msg = ("sshd", "/usr/sbin/sshd", "0", "ssh.service",
                                             rnd.choice(_SSHD))
            else:
                comm, exe, uid, unit, msg = rnd.choice(_OTHER)
            rec.update({"_TRANSPORT": "syslog", "SYSLOG_IDENTIFIER": comm, "PRIORITY": "6",
                        "SYSLOG_FACILITY": "4", "SYSLOG_PID": str(p), "_PID": str(p),
                        "_UID": uid, "_GID": uid, "_COMM": comm, "_EXE": exe,
                        "_CMDLINE": f"{exe} -D", "_CAP_EFFECTIVE": "1fffeffffff",
                        "_SYSTEMD_UNIT": unit, "_SYSTEMD_SLICE": "system.slice",
                        "_SYSTEMD_CGROUP": f"/system.slice/{unit}",
                        "_SOURCE_REALTIME_TIMESTAMP": str(t - 17),
                        "SYSLOG_TIMESTAMP": "Nov 26 07:57:36 ",
                        "MESSAGE": msg.format(u=u, a=a, p=p)})
        out.append(json.dumps(rec, separators=(",", ":")))
    return out


#: (report name, source type, generator, unit, target)
BENCHES: list[tuple[str, str, Callable[[int, random.Random], list[str]], str, int]] = [
    ("auth (auth.log, sshd-heavy)", "auth", gen_auth_lines, "lines", LINE_TARGET),
    ("syslog (dispatcher, mixed)", "syslog", gen_syslog, "lines", LINE_TARGET),
    ("cron (syslog + /var/log/cron)", "cron", gen_cron, "lines", LINE_TARGET),
    ("dpkg (dpkg.log)", "dpkg", gen_dpkg, "lines", LINE_TARGET),
    ("apt (history.log blocks)", "apt", gen_apt, "lines", LINE_TARGET),
    ("journald (journalctl -o json)", "journald", gen_journald, "lines", LINE_TARGET),
    ("audit assembly (enriched)", "audit", gen_audit, "records", AUDIT_TARGET),
]


def run(stype: str, lines: list[str], repeat: int) -> tuple[float, int]:
    """Best CPU seconds over ``repeat`` runs, and the events one run gives."""
    st = source_type(stype)
    best, events = float("inf"), 0
    for _ in range(repeat):
        parser = st.make_parser()
        ctx = LineContext(path=f"/var/log/{stype}", ref_time=REF, zone=UTC,
                          dataset=st.dataset, hostname="web01")
        feed = parser.feed
        offset = n = 0
        t0 = time.process_time()
        for line in lines:
            n += len(feed(line, offset, ctx))
            offset += len(line) + 1
        n += len(parser.flush())
        best = min(best, time.process_time() - t0)
        events = n
    return best, events


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"python {sys.version.split()[0]} ({sys.executable}), {a.lines:,} lines per "
          f"parser, best of {a.repeat}, CPU time")
    print(f"{'parser':32} {'in/s':>12} {'events/s':>12} {'us/in':>7} {'target':>16}")
    below = 0
    for name, stype, gen, unit, target in BENCHES:
        lines = gen(a.lines, random.Random(a.seed))
        secs, events = run(stype, lines, a.repeat)
        rate = len(lines) / secs
        ok = rate >= target
        below += not ok
        print(f"{name:32} {rate:>12,.0f} {events / secs:>12,.0f} {secs / len(lines) * 1e6:>7.2f}"
              f" {f'>= {target:,} {unit}/s':>16} {'ok' if ok else 'BELOW TARGET'}")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
