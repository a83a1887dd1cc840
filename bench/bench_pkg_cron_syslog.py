"""Throughput of the package-manager, cron and generic syslog parsers on generated logs.

    python bench/bench_pkg_cron_syslog.py [--lines 200000] [--seed 7] [--repeat 3]

For each parser, a realistic mix in its own format (dpkg.log runs; apt history blocks;
yum.log; dnf.rpm.log and dnf.log; zypper's history; cron in syslog and /var/log/cron;
a syslog mix of kernel, systemd, logger and clock records with generic lines from other
programs), one second apart. Prints lines/s and events/s (best of ``--repeat`` runs, CPU
time); the target is 150,000 lines/s for each.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from keibi.events.model import Event
from keibi.parsers.apt_history import AptHistoryAssembler
from keibi.parsers.context import LineContext
from keibi.parsers.cron import parse_cron_line
from keibi.parsers.dpkg import parse_dpkg_line
from keibi.parsers.rpm import parse_dnf_line, parse_yum_line, parse_zypper_line
from keibi.parsers.syslog_generic import parse_syslog_line

TARGET = 150_000
START = datetime(2026, 11, 1, tzinfo=UTC)
REF = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()
PKGS = ["openssl", "libssl3", "curl", "bash", "nginx", "python3.11", "libc6", "tzdata",
        "linux-image-6.1.0-27-amd64", "nmap", "libfoo1", "openssh-server", "sudo", "vim"]
USERS = ["root", "alice", "bob", "www-data", "backup"]


def _times(n: int) -> list[datetime]:
    return [START + timedelta(seconds=i) for i in range(n)]


def gen_dpkg(n: int, rnd: random.Random) -> list[str]:
    out = []
    for t in _times(n):
        p, v = rnd.choice(PKGS), f"{rnd.randrange(1, 9)}.{rnd.randrange(20)}-{rnd.randrange(9)}"
        stamp = f"{t:%Y-%m-%d %H:%M:%S}"
        out.append(rnd.choice([
            f"{stamp} install {p}:amd64 <none> {v}",
            f"{stamp} upgrade {p}:amd64 {v} {v}+deb12u1",
            f"{stamp} status half-configured {p}:amd64 {v}",
            f"{stamp} status installed {p}:amd64 {v}",
            f"{stamp} status unpacked {p}:amd64 {v}",
            f"{stamp} configure {p}:amd64 {v} <none>",
            f"{stamp} trigproc man-db:amd64 2.11.2-2 <none>",
            f"{stamp} conffile /etc/{p}/{p}.conf keep",
            f"{stamp} startup packages configure",
            f"{stamp} remove {p}:amd64 {v} <none>",
        ]))
    return out


def gen_apt(n: int, rnd: random.Random) -> list[str]:
    out: list[str] = []
    t = START
    while len(out) < n:
        user = rnd.choice(USERS)
        items = ", ".join(
            f"{rnd.choice(PKGS)}:amd64 (1.{rnd.randrange(9)}-{rnd.randrange(9)}"
            + (", automatic)" if rnd.random() < 0.3 else ")")
            for _ in range(rnd.randrange(1, 6))
        )
        upgrades = ", ".join(f"{p}:amd64 (1.0-1, 1.0-2)" for p in rnd.sample(PKGS, 3))
        out += [
            "",
            f"Start-Date: {t:%Y-%m-%d  %H:%M:%S}",
            f"Commandline: apt-get install -y {rnd.choice(PKGS)}",
            f"Requested-By: {user} (1000)",
            f"Install: {items}",
            f"Upgrade: {upgrades}",
            f"End-Date: {t + timedelta(seconds=5):%Y-%m-%d  %H:%M:%S}",
        ]
        t += timedelta(minutes=7)
    return out[:n]


def gen_yum(n: int, rnd: random.Random) -> list[str]:
    verbs = ["Installed", "Updated", "Erased"]
    return [
        f"{t:%b %d %H:%M:%S} {rnd.choice(verbs)}: "
        f"{rnd.choice(['', '1:'])}{rnd.choice(PKGS)}-{rnd.randrange(9)}.{rnd.randrange(30)}"
        f"-{rnd.randrange(200)}.el7_9.{rnd.choice(['x86_64', 'noarch'])}"
        for t in _times(n)
    ]


def gen_dnf(n: int, rnd: random.Random) -> list[str]:
    out = []
    for t in _times(n):
        stamp = f"{t:%Y-%m-%dT%H:%M:%S}+0000"
        pkg = f"{rnd.choice(PKGS)}-{rnd.randrange(9)}.{rnd.randrange(9)}-{rnd.randrange(9)}.fc39"
        out.append(rnd.choice([
            f"{stamp} SUBDEBUG Upgrade: {pkg}.x86_64",
            f"{stamp} SUBDEBUG Upgraded: {pkg}.x86_64",
            f"{stamp} SUBDEBUG Installed: {pkg}.noarch",
            f"{stamp} SUBDEBUG Erase: {pkg}.x86_64",
            f"{stamp} INFO --- logging initialized ---",
            f"{stamp} DDEBUG Command: dnf install -y {rnd.choice(PKGS)}",
            f"{stamp} DEBUG Loaded plugins: builddep, changelog, config-manager",
        ]))
    return out


def gen_zypper(n: int, rnd: random.Random) -> list[str]:
    out = []
    for t in _times(n):
        stamp = f"{t:%Y-%m-%d %H:%M:%S}"
        p = rnd.choice(PKGS)
        out.append(rnd.choice([
            f"{stamp}|install|{p}|1.{rnd.randrange(9)}-1.2|x86_64|root@suse1|repo-oss|4f1c9b2e0d6a|",
            f"{stamp}|install|{p}|1.{rnd.randrange(9)}-1.2|x86_64||repo-oss|aa5d0c8e4f3b|",
            f"{stamp}|remove |{p}|1.{rnd.randrange(9)}-1.2|x86_64|root@suse1|",
            f"{stamp}|command|root@suse1|'zypper' 'in' '{p}'|",
            f"# {stamp} {p}-1.0-1.2.x86_64.rpm installed ok",
        ]))
    return out


def gen_cron(n: int, rnd: random.Random) -> list[str]:
    out = []
    for i, t in enumerate(_times(n)):
        stamp, pid, user = f"{t:%b %d %H:%M:%S}", 1000 + i % 30000, rnd.choice(USERS)
        out.append(rnd.choice([
            f"{stamp} deb12 CRON[{pid}]: ({user}) CMD (cd / && run-parts --report /etc/cron.d)",
            f"{stamp} deb12 CRON[{pid}]: pam_unix(cron:session): session opened for user "
            f"{user}(uid=0) by (uid=0)",
            f"{stamp} deb12 CRON[{pid}]: pam_unix(cron:session): session closed for user {user}",
            f"{stamp} rhel9 CROND[{pid}]: ({user}) CMD (/usr/lib64/sa/sa1 1 1)",
            f"{stamp} rhel9 CROND[{pid}]: ({user}) CMDEND (/usr/lib64/sa/sa1 1 1)",
            f"{stamp} deb12 crontab[{pid}]: ({user}) REPLACE ({user})",
            f"{stamp} deb12 cron[611]: ({user}) RELOAD (crontabs/{user})",
            f"{stamp} deb12 anacron[{pid}]: Job `cron.daily' started",
            f"{stamp} rhel9 run-parts[{pid}]: (/etc/cron.hourly) starting 0anacron",
            f"{stamp} deb12 cron[611]: (CRON) INFO (pidfile fd = 3)",
        ]))
    return out


def gen_syslog(n: int, rnd: random.Random) -> list[str]:
    special = [
        "kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 "
        "SRC=203.0.113.{a} DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=54321 DF "
        "PROTO=TCP SPT={p} DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
        "systemd[1]: Started session-{a}.scope - Session {a} of User alice.",
        "systemd[1]: Started phpsessionclean.service - Clean php session files.",
        "systemd[1]: phpsessionclean.service: Deactivated successfully.",
        "systemd[1]: foo.service: Main process exited, code=exited, status=1/FAILURE",
        "systemd[1]: foo.service: Failed with result 'exit-code'.",
        'kernel: audit: type=1400 audit(1795687560.123:{a}): apparmor="DENIED" operation="open" '
        'class="file" profile="/usr/sbin/cupsd" name="/etc/shadow" pid={p} comm="cupsd" '
        'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
        "kernel: a.out[{p}]: segfault at 0 ip 0000555555555131 sp 00007ffd3c2b1e30 error 6 in "
        "a.out[555555555000+1000] likely on CPU 2 (core 2, socket 0)",
        "kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex",
        "systemd-journald[300]: Suppressed {a} messages from noisy.service",
        "rsyslogd[700]: imjournal: {a} messages lost due to rate-limiting",
        "chronyd[600]: Selected source 192.0.2.{a} (2.debian.pool.ntp.org)",
    ]
    generic = [
        "dbus-daemon[900]: [system] Activating via systemd: service name='org.freedesktop.{a}'",
        "NetworkManager[800]: <info>  [1795687560.{p}] dhcp4 (eth0): state changed new lease",
        "postfix/smtpd[{p}]: connect from unknown[198.51.100.{a}]",
        "sshd[{p}]: Connection closed by 198.51.100.{a} port {p} [preauth]",
        "nginx[{p}]: 2026/11/20 10:00:00 [error] {a}#0: *1 open() failed",
    ]
    out = []
    for t in _times(n):
        pool = special if rnd.random() < 0.5 else generic
        msg = rnd.choice(pool).format(a=rnd.randrange(1, 255), p=rnd.randrange(1024, 65535))
        out.append(f"{t:%b %d %H:%M:%S} web1 {msg}")
    return out


def _apt_parse(lines: list[str], ctx: LineContext) -> int:
    assembler = AptHistoryAssembler(ctx)
    offset = events = 0
    for line in lines:
        events += len(assembler.feed(line, offset, ctx))
        offset += len(line) + 1
    return events + len(assembler.flush())


def _lines(parse: Callable[[str, int | None, LineContext], list[Event]]) -> Callable[
    [list[str], LineContext], int
]:
    def run(lines: list[str], ctx: LineContext) -> int:
        offset = events = 0
        for line in lines:
            events += len(parse(line, offset, ctx))
            offset += len(line) + 1
        return events

    return run


BENCHES: list[tuple[str, Callable[[int, random.Random], list[str]], Callable[
    [list[str], LineContext], int
]]] = [
    ("dpkg.log", gen_dpkg, _lines(parse_dpkg_line)),
    ("apt history.log", gen_apt, _apt_parse),
    ("yum.log", gen_yum, _lines(parse_yum_line)),
    ("dnf.rpm.log + dnf.log", gen_dnf, _lines(parse_dnf_line)),
    ("zypp/history", gen_zypper, _lines(parse_zypper_line)),
    ("cron (syslog + /var/log/cron)", gen_cron, _lines(parse_cron_line)),
    ("syslog (kernel, systemd, ...)", gen_syslog, _lines(parse_syslog_line)),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    slow = 0
    print(f"{'parser':32} {'lines/s':>10} {'events/s':>10}  (target {TARGET:,} lines/s)")
    for name, gen, run in BENCHES:
        lines = gen(a.lines, random.Random(a.seed))
        best, events = float("inf"), 0
        for _ in range(a.repeat):
            ctx = LineContext(path="/var/log/x", ref_time=REF, zone=UTC)
            t0 = time.process_time()
            events = run(lines, ctx)
            best = min(best, time.process_time() - t0)
        rate = len(lines) / best
        slow += rate < TARGET
        mark = "" if rate >= TARGET else "  BELOW TARGET"
        print(f"{name:32} {rate:>10,.0f} {events / best:>10,.0f}{mark}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
