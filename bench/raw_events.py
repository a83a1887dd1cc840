"""The engine benches' mixed stream as a host writes it, parsed by keibi's own parsers.

:func:`parsed_mixed` writes the same mix as ``bench_engine_scaling.mixed`` (sshd, sudo
and cron lines in auth.log; execve, connect and file-creating syscalls in audit.log;
systemd, kernel and dbus lines in syslog) as raw lines, and parses them with the parsers
``keibi hunt`` and ``keibi run`` use. The events then carry what real ones carry: the raw
records as ``event.original`` (an audit event's five records, about 900 characters in
auditd's default ENRICHED format), the SYSCALL record's other fields in ``extra`` with
``a0``..``a3`` new per event (pointers differ from run to run), sequence numbers, pids
and times that differ in every line.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.registry import source_type

T = TypeVar("T")
GS = "\x1d"  # auditd's ENRICHED format: the interpreted fields follow this separator
_NAMES = GS + ('ARCH=x86_64 SYSCALL={sc} AUID="{user}" UID="root" GID="root" EUID="root" '
               'SUID="root" FSUID="root" EGID="root" SGID="root" FSGID="root"')


def _hex(text: str) -> str:
    return text.encode().hex().upper()


def _pointer(rng: random.Random) -> str:
    return f"{rng.getrandbits(44) | 1 << 44:x}"


class _Writer:
    """Raw lines per source file, from one random stream."""

    def __init__(self, rng: random.Random, programs: Sequence[tuple[str, list[str]]],
                 parents: Sequence[str], users: Sequence[str], hosts: Sequence[str],
                 paths: Sequence[str]) -> None:
        self.rng = rng
        self.programs, self.parents, self.users = programs, parents, users
        self.hosts, self.paths = hosts, paths
        self.lines: dict[str, list[str]] = {"auth": [], "audit": [], "syslog": []}
        self.serial = 1000

    def _header(self, ts: float, program: str) -> str:
        stamp = datetime.fromtimestamp(ts, UTC).strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)
        pid = self.rng.randint(300, 99999)
        return f"{stamp} {self.rng.choice(self.hosts)} {program}[{pid}]: "

    def _ip(self) -> str:
        r = self.rng
        return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def auth(self, ts: float) -> None:
        r = self.rng
        x = r.random()
        if x < 0.4:
            line = (self._header(ts, "CRON") + "pam_unix(cron:session): session opened for "
                    "user root(uid=0) by (uid=0)")
        elif x < 0.7:
            user, port = r.choice(self.users), r.randint(1024, 65535)
            if r.random() < 0.5:
                what = f"Accepted publickey for {user} from {self._ip()} port {port} ssh2"
            else:
                what = f"Failed password for invalid user {user} from {self._ip()} port {port} ssh2"
            line = self._header(ts, "sshd") + what
        else:
            user = r.choice(self.users)
            line = (self._header(ts, "sudo") + f"   {user} : TTY=pts/0 ; PWD=/home/{user} ; "
                    "USER=root ; COMMAND=/usr/bin/systemctl restart nginx")
        self.lines["auth"].append(line)

    def syslog(self, ts: float) -> None:
        program, text = self.rng.choice((
            ("systemd", "Started Session 42 of user alice."),
            ("kernel", "eth0: link up, 1000 Mbps, full duplex"),
            ("dbus-daemon", "[system] Reloading configuration")))
        self.lines["syslog"].append(self._header(ts, program) + text)

    def _syscall(self, head: str, number: int, name: str, items: int, exe: str,
                 key: str, success: str = "yes", exit_: str = "0") -> str:
        r = self.rng
        pid = r.randint(300, 99999)
        a = " ".join(f"a{i}={_pointer(r)}" for i in range(4))
        return (f"type=SYSCALL msg={head} arch=c000003e syscall={number} success={success} "
                f"exit={exit_} {a} items={items} ppid={r.randint(1, 3000)} pid={pid} "
                f"auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 "
                f'ses=3 comm="{exe.rsplit("/", 1)[1][:15]}" exe="{exe}" key="{key}"'
                + _NAMES.format(sc=name, user=r.choice(self.users)))

    def _head(self, ts: float) -> str:
        self.serial += 1
        return f"audit({ts:.3f}:{self.serial}):"

    def _path(self, head: str, item: int, name: str, nametype: str, mode: str) -> str:
        inode = self.rng.randint(2, 10**7)
        return (f'type=PATH msg={head} item={item} name="{name}" inode={inode} '
                f"dev=fe:00 mode={mode} ouid=0 ogid=0 rdev=00:00 nametype={nametype} cap_fp=0 "
                f'cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0{GS}OUID="root" OGID="root"')

    def process(self, ts: float) -> None:
        r = self.rng
        exe, words = r.choice(self.programs)
        argv = [exe.rsplit("/", 1)[1], *r.sample(words, k=r.randint(1, len(words)))]
        head = self._head(ts)
        args = " ".join(f"a{i}={_hex(a)}" if " " in a or '"' in a else f'a{i}="{a}"'
                        for i, a in enumerate(argv))
        self.lines["audit"] += [
            self._syscall(head, 59, "execve", 2, exe, "exec"),
            f"type=EXECVE msg={head} argc={len(argv)} {args}",
            f'type=CWD msg={head} cwd="/home/{r.choice(self.users)}"',
            self._path(head, 0, exe, "NORMAL", "0100755"),
            self._path(head, 1, "/lib64/ld-linux-x86-64.so.2", "NORMAL", "0100755"),
            f"type=PROCTITLE msg={head} proctitle={_hex(chr(0).join(argv))}",
            f"type=EOE msg={head} ",
        ]

    def network(self, ts: float) -> None:
        r = self.rng
        exe, _ = r.choice(self.programs)
        head = self._head(ts)
        ip, port = self._ip(), r.choice((443, 80, 5432, 22, 53))
        saddr = "0200" + f"{port:04X}" + "".join(f"{int(o):02X}" for o in ip.split(".")) + "0" * 16
        self.lines["audit"] += [
            self._syscall(head, 42, "connect", 0, exe, "net"),
            f"type=SOCKADDR msg={head} saddr={saddr}{GS}SADDR={{ saddr_fam=inet laddr={ip} "
            f"lport={port} }}",
            f"type=PROCTITLE msg={head} proctitle={_hex(exe.rsplit('/', 1)[1])}",
            f"type=EOE msg={head} ",
        ]

    def file(self, ts: float) -> None:
        r = self.rng
        exe, _ = r.choice(self.programs)
        head = self._head(ts)
        path = r.choice(self.paths)
        parent, name = path.rsplit("/", 1)
        self.lines["audit"] += [
            self._syscall(head, 257, "openat", 2, exe, "file", exit_="3"),
            f'type=CWD msg={head} cwd="{parent}"',
            self._path(head, 0, parent + "/", "PARENT", "040755"),
            self._path(head, 1, name, "CREATE", "0100644"),
            f"type=PROCTITLE msg={head} proctitle={_hex(exe.rsplit('/', 1)[1])}",
            f"type=EOE msg={head} ",
        ]


def parse(source: str, lines: list[str], ref_time: float) -> list[Event]:
    """``lines`` of one file of source type ``source``, parsed as ``keibi hunt`` does."""
    st = source_type(source)
    parser = st.make_parser()
    ctx = LineContext(path=f"/var/log/{source}.log", ref_time=ref_time, zone=UTC,
                      dataset=st.dataset)
    out: list[Event] = []
    offset = 0
    for line in lines:
        out += parser.feed(line + "\n", offset, ctx)
        offset += len(line) + 1
    out += parser.flush(None)
    return out


def draw(rng: random.Random, n: int, start: float, mix: Sequence[tuple[float, T]],
         positives: bool) -> Iterator[tuple[float, T | None]]:
    """``n`` draws of the mixed stream: a time (about 20 events per second) and a kind
    of ``mix`` (share, kind) by its share, or None for about 1% (a SigmaHQ positive, when
    there are ``positives``)."""
    ts = start
    for _ in range(n):
        ts += rng.expovariate(1 / 0.05)
        if positives and rng.random() < 0.01:
            yield ts, None
            continue
        r = rng.random()
        for share, kind in mix:
            if r < share:
                yield ts, kind
                break
            r -= share


def parsed_mixed(rng: random.Random, n: int, positives: list[Event], start: float,
                 **vocabulary: Any) -> list[Event]:
    """About ``n`` events (sorted by time): the mix, as parsed from raw lines, about 1%
    of them ``positives`` (generated events some SigmaHQ rule fires on)."""
    writer = _Writer(rng, **vocabulary)
    mix: tuple[tuple[float, Callable[[float], None]], ...] = (
        (0.30, writer.auth), (0.35, writer.process), (0.12, writer.network),
        (0.13, writer.file), (0.10, writer.syslog))
    events: list[Event] = []
    ts = start
    for ts, write in draw(rng, n, start, mix, bool(positives)):
        if write is None:
            events.append(msgspec.structs.replace(rng.choice(positives), timestamp=ts))
        else:
            write(ts)
    for source, lines in writer.lines.items():
        events += parse(source, lines, ts + 1)
    events.sort(key=lambda e: e.timestamp)
    return events
