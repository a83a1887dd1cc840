"""Throughput of audit parsing + assembly + event building on generated audit.log data.

    python bench/bench_audit.py [--events 40000] [--seed 7] [--repeat 3]

The data mimics a busy host under a typical rule set: execve events (SYSCALL, EXECVE,
CWD, two PATH, PROCTITLE; some with hex-encoded arguments), connect() with SOCKADDR,
file syscalls with PARENT/CREATE PATH records, PAM records (USER_AUTH, USER_START...) and
a few CONFIG_CHANGE, in auditd's ENRICHED format and again in RAW format; neighbouring
events' records interleave a little as they do on a multi-CPU host. Prints records/s
and events/s for each (best of ``--repeat`` runs, CPU time). Target: 50,000 records/s.
"""

from __future__ import annotations

import argparse
import random
import time

from keibi.parsers.audit_assembly import AuditAssembler, parse_audit_lines
from keibi.parsers.context import LineContext

TARGET = 50_000
GS = "\x1d"
IDS = '\x1dARCH=x86_64 SYSCALL={sc} AUID="alice" UID="root" GID="root" EUID="root" SUID="root" FSUID="root" EGID="root" SGID="root" FSGID="root"'  # noqa: E501


def _hex(text: str) -> str:
    return text.encode().hex().upper()


def _syscall(head: str, sc: int, name: str, items: int, comm: str, exe: str, key: str,
             rnd: random.Random, success: str = "yes", exit_: str = "0") -> str:  # fmt: skip
    pid = rnd.randrange(1000, 60000)
    return (
        f"type=SYSCALL msg={head} arch=c000003e syscall={sc} success={success} exit={exit_} "
        f"a0=55d1c0a0 a1=55d1c0b0 a2=55d1c0c0 a3=0 items={items} ppid={pid - 1} pid={pid} "
        f"auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 "
        f'comm="{comm}" exe="{exe}" subj=unconfined key="{key}"' + IDS.format(sc=name)
    )


def _execve(head: str, rnd: random.Random) -> list[str]:
    prog = rnd.choice(["ls", "cat", "grep", "curl", "python3", "bash", "ssh"])
    argv = [prog] + [rnd.choice(["-la", "/etc/passwd", "-c", "x", "http://h/p", "a b"])
                     for _ in range(rnd.randrange(1, 5))]  # fmt: skip
    args = " ".join(
        f"a{i}={_hex(a)}" if " " in a else f'a{i}="{a}"' for i, a in enumerate(argv)
    )
    return [
        _syscall(head, 59, "execve", 2, prog, f"/usr/bin/{prog}", "exec", rnd),
        f"type=EXECVE msg={head} argc={len(argv)} {args}",
        f'type=CWD msg={head} cwd="/home/alice"',
        f'type=PATH msg={head} item=0 name="/usr/bin/{prog}" inode=260958 dev=fe:00 '
        "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
        f'cap_fver=0 cap_frootid=0{GS}OUID="root" OGID="root"',
        f'type=PATH msg={head} item=1 name="/lib64/ld-linux-x86-64.so.2" inode=338944 '
        "dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 "
        f'cap_fe=0 cap_fver=0 cap_frootid=0{GS}OUID="root" OGID="root"',
        f"type=PROCTITLE msg={head} proctitle={_hex(chr(0).join(argv))}",
    ]


def _connect(head: str, rnd: random.Random) -> list[str]:
    port = rnd.randrange(1, 65535)
    saddr = "0200" + f"{port:04X}" + "CB007109" + "0" * 16
    return [
        _syscall(head, 42, "connect", 0, "curl", "/usr/bin/curl", "net", rnd),
        f"type=SOCKADDR msg={head} saddr={saddr}{GS}SADDR={{ saddr_fam=inet "
        f"laddr=203.0.113.9 lport={port} }}",
        f"type=PROCTITLE msg={head} proctitle={_hex('curl' + chr(0) + 'http://x')}",
    ]


def _file(head: str, rnd: random.Random) -> list[str]:
    return [
        _syscall(head, 257, "openat", 2, "touch", "/usr/bin/touch", "file", rnd),
        f'type=CWD msg={head} cwd="/tmp"',
        f'type=PATH msg={head} item=0 name="/tmp/" inode=1 dev=fe:00 mode=041777 ouid=0 '
        f'ogid=0 rdev=00:00 nametype=PARENT{GS}OUID="root" OGID="root"',
        f'type=PATH msg={head} item=1 name="f{rnd.randrange(999)}" inode=2 dev=fe:00 '
        f'mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE{GS}OUID="root" OGID="root"',
        f"type=PROCTITLE msg={head} proctitle={_hex('touch' + chr(0) + 'f')}",
    ]


def _pam(head: str, rnd: random.Random) -> list[str]:
    kind = rnd.choice(["USER_AUTH", "USER_ACCT", "USER_START", "CRED_ACQ", "USER_END"])
    res = rnd.choice(["success", "success", "failed"])
    return [
        f"type={kind} msg={head} pid=2211 uid=0 auid=4294967295 ses=4294967295 "
        f"subj=unconfined msg='op=PAM:authentication grantors=pam_unix acct=\"alice\" "
        f'exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh '
        f"res={res}'{GS}UID=\"root\" AUID=\"unset\""
    ]


def _config(head: str, rnd: random.Random) -> list[str]:
    return [
        f'type=CONFIG_CHANGE msg={head} auid=1000 ses=3 op=remove_rule key="exec" list=4 '
        f'res=1{GS}AUID="alice"',
        _syscall(head, 44, "sendto", 0, "auditctl", "/usr/sbin/auditctl", "(null)", rnd),
        f"type=SOCKADDR msg={head} saddr=100000000000000000000000",
        f"type=PROCTITLE msg={head} proctitle={_hex('auditctl' + chr(0) + '-D')}",
    ]


def generate(events: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    makers = [(_execve, 50), (_connect, 20), (_file, 15), (_pam, 14), (_config, 1)]
    population = [m for m, w in makers for _ in range(w)]
    lines: list[str] = []
    ts = 1764138049.0
    prev: list[str] = []
    for serial in range(1000, 1000 + events):
        ts += rnd.random() * 0.01
        head = f"audit({ts:.3f}:{serial}):"
        recs = rnd.choice(population)(head, rnd)
        # a little interleaving: the previous event's last record comes after our first
        if prev and rnd.random() < 0.1 and len(recs) > 1:
            lines.append(recs[0])
            lines.extend(prev)
            lines.extend(recs[1:])
            prev = []
            continue
        lines.extend(prev)
        prev = recs
    lines.extend(prev)
    return lines


def run(lines: list[str], repeat: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    data = [(line, i) for i, line in enumerate(lines)]
    for _ in range(repeat):
        ctx = LineContext(path="/var/log/audit/audit.log", hostname="bench")
        asm = AuditAssembler(ctx=ctx)
        start = time.process_time()
        count = sum(1 for _ in parse_audit_lines(data, ctx, asm))
        best = min(best, time.process_time() - start)
        stats = asm.stats()
        assert stats["garbage"] == 0 and stats["pending"] == 0, stats
    return best, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    enriched = generate(args.events, args.seed)
    raw = [line.split(GS, 1)[0] for line in enriched]
    worst = float("inf")
    for name, lines in (("enriched", enriched), ("raw", raw)):
        secs, events = run(lines, args.repeat)
        rate = len(lines) / secs
        worst = min(worst, rate)
        print(
            f"audit {name:8s}: {len(lines):7d} records {events:6d} events in {secs:.3f}s "
            f"= {rate:,.0f} records/s, {events / secs:,.0f} events/s"
        )
    verdict = "ok" if worst >= TARGET else "BELOW TARGET"
    print(f"target {TARGET:,} records/s: {verdict}")


if __name__ == "__main__":
    main()
