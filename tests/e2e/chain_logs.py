"""Constructed multi-source log sets for the cross-source chains (``keibi hunt`` input).

A :class:`LogSet` collects records at second offsets from a start time and writes them
in each source's real format, as a Debian 12 host with rsyslog and auditd
(``log_format = ENRICHED``) leaves them under ``/var/log``:

* ``auth.log`` -- sshd, sudo, useradd (RFC 3339 timestamps, rsyslog's default);
* ``syslog`` -- crontab edits;
* ``dpkg.log`` and ``apt/history.log`` -- local time without a zone (run keibi with
  ``TZ=UTC``);
* ``audit/audit.log`` -- SYSCALL + EXECVE/CWD/PATH/SOCKADDR/PROCTITLE events, ADD_USER,
  USER_CMD, each with its enriched part after the 0x1d separator.

Audit serials and pids are handed out in order, so a set is deterministic.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

GS = "\x1d"
HOST = "web01"
ARCH = "c000003e"
SYSCALLS = {"execve": 59, "connect": 42, "bind": 49, "openat": 257, "fchmodat": 268,
            "rename": 82}
UIDS = {"root": 0, "deploy": 1001, "alice": 1000, "www-data": 33, "backdoor": 1002}


def _hex(text: str) -> str:
    return text.encode().hex().upper()


def sockaddr(ip: str, port: int) -> str:
    """A SOCKADDR ``saddr`` for an IPv4 address (struct sockaddr_in, as the kernel logs)."""
    raw = (2).to_bytes(2, "little") + port.to_bytes(2, "big")
    raw += ipaddress.IPv4Address(ip).packed + bytes(8)
    return raw.hex().upper()


class LogSet:
    """Records of several logs of one host, written by :meth:`write`."""

    def __init__(self, start: datetime) -> None:
        self.start = start.timestamp()
        self.auth: list[tuple[float, str]] = []
        self.syslog: list[tuple[float, str]] = []
        self.dpkg: list[tuple[float, str]] = []
        self.apt: list[tuple[float, str]] = []
        self.audit: list[tuple[float, str]] = []
        self._serial = 1000
        self._pid = 20000

    # -- helpers ------------------------------------------------------------------------
    def _ts(self, t: float) -> datetime:
        return datetime.fromtimestamp(self.start + t, UTC)

    def _syslog_line(self, t: float, program: str, message: str) -> str:
        self._pid += 1
        return (f"{self._ts(t):%Y-%m-%dT%H:%M:%S.%f}+00:00 {HOST} "
                f"{program}[{self._pid}]: {message}")

    def next_pid(self) -> int:
        self._pid += 1
        return self._pid

    def _audit_head(self, kind: str, t: float) -> tuple[str, int]:
        self._serial += 1
        return f"type={kind} msg=audit({self.start + t:.3f}:{self._serial}):", self._serial

    @staticmethod
    def _ids(auid: str | None, uid: str) -> tuple[str, str]:
        """(raw id fields, enriched names) of a subject."""
        a = UIDS[auid] if auid is not None else 4294967295
        u = UIDS[uid]
        raw = (f"auid={a} uid={u} gid={u} euid={u} suid={u} fsuid={u} egid={u} sgid={u} "
               f"fsgid={u}")
        names = (f'AUID="{auid or "unset"}" UID="{uid}" GID="{uid}" EUID="{uid}" '
                 f'SUID="{uid}" FSUID="{uid}" EGID="{uid}" SGID="{uid}" FSGID="{uid}"')
        return raw, names

    def _syscall(self, t: float, name: str, *, pid: int, ppid: int, exe: str, auid: str | None,
                 uid: str, items: int, args: tuple[str, str, str, str] = ("3", "0", "0", "0"),
                 success: str = "yes", exit_: str = "0", key: str = "keibi") -> tuple[str, int]:
        head, serial = self._audit_head("SYSCALL", t)
        raw, names = self._ids(auid, uid)
        ses = 7 if auid is not None else 4294967295
        comm = exe.rsplit("/", 1)[-1][:15]
        a0, a1, a2, a3 = args
        line = (f"{head} arch={ARCH} syscall={SYSCALLS[name]} success={success} exit={exit_} "
                f"a0={a0} a1={a1} a2={a2} a3={a3} items={items} ppid={ppid} pid={pid} {raw} "
                f"tty=pts0 ses={ses} comm=\"{comm}\" exe=\"{exe}\" key=\"{key}\""
                f"{GS}ARCH=x86_64 SYSCALL={name} {names}")
        return line, serial

    def _aux(self, kind: str, t: float, serial: int, body: str) -> str:
        return f"type={kind} msg=audit({self.start + t:.3f}:{serial}): {body}"

    def _path(self, t: float, serial: int, item: int, name: str, nametype: str,
              mode: str = "0100755", owner: str = "root") -> str:
        return self._aux("PATH", t, serial,
                         f'item={item} name="{name}" inode={4000 + serial} dev=fe:00 '
                         f"mode={mode} ouid={UIDS[owner]} ogid={UIDS[owner]} rdev=00:00 "
                         f"nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
                         f'cap_frootid=0{GS}OUID="{owner}" OGID="{owner}"')

    # -- auth.log / syslog ----------------------------------------------------------------
    def ssh_failures(self, t: float, ip: str, users: list[str], every: float = 5) -> None:
        for i, user in enumerate(users):
            port = 40000 + len(self.auth)
            self.auth.append((t + i * every, self._syslog_line(
                t + i * every, "sshd", f"Failed password for {user} from {ip} port {port} ssh2")))

    def ssh_login(self, t: float, ip: str, user: str, method: str = "password") -> None:
        port = 41000 + len(self.auth)
        self.auth.append((t, self._syslog_line(
            t, "sshd", f"Accepted {method} for {user} from {ip} port {port} ssh2")))

    def ssh_listening(self, t: float, port: int = 22) -> None:
        self.auth.append((t, self._syslog_line(
            t, "sshd", f"Server listening on 0.0.0.0 port {port}.")))

    def sudo(self, t: float, user: str, command: str, cwd: str = "/home") -> None:
        self.auth.append((t, self._syslog_line(
            t, "sudo", f"{user:>8} : TTY=pts/0 ; PWD={cwd} ; USER=root ; COMMAND={command}")))

    def useradd(self, t: float, name: str) -> None:
        uid = UIDS.get(name, 1500)
        self.auth.append((t, self._syslog_line(
            t, "useradd", f"new user: name={name}, UID={uid}, GID={uid}, home=/home/{name}, "
                          f"shell=/bin/bash, from=/dev/pts/0")))

    def crontab_replace(self, t: float, user: str) -> None:
        self.syslog.append((t, self._syslog_line(t, "crontab", f"({user}) REPLACE ({user})")))

    # -- package logs ---------------------------------------------------------------------
    def dpkg_install(self, t: float, package: str, version: str) -> None:
        ts = f"{self._ts(t):%Y-%m-%d %H:%M:%S}"
        self.dpkg += [(t, f"{ts} startup archives unpack"),
                      (t, f"{ts} install {package}:amd64 <none> {version}"),
                      (t, f"{ts} status half-installed {package}:amd64 {version}"),
                      (t, f"{ts} status installed {package}:amd64 {version}")]

    def apt_install(self, t: float, package: str, version: str, user: str) -> None:
        start, end = self._ts(t), self._ts(t + 3)
        self.apt.append((t, "\n".join([
            f"Start-Date: {start:%Y-%m-%d  %H:%M:%S}",
            f"Commandline: apt-get install -y {package}",
            f"Requested-By: {user} ({UIDS[user]})",
            f"Install: {package}:amd64 ({version})",
            f"End-Date: {end:%Y-%m-%d  %H:%M:%S}",
            ""])))
        self.dpkg_install(t + 1, package, version)

    # -- audit.log ------------------------------------------------------------------------
    def exec(self, t: float, args: list[str], *, exe: str | None = None, auid: str | None,
             uid: str = "root", pid: int | None = None, ppid: int = 1,
             cwd: str = "/root") -> int:
        """An execve; returns the new process's pid."""
        pid = pid if pid is not None else self.next_pid()
        exe = exe or args[0]
        line, serial = self._syscall(t, "execve", pid=pid, ppid=ppid, exe=exe, auid=auid,
                                     uid=uid, items=2, args=("55d0c0a0", "55d0c0b0",
                                                             "55d0c0c0", "0"))
        argv = " ".join(f'a{i}="{a}"' for i, a in enumerate(args))
        self.audit += [
            (t, line),
            (t, self._aux("EXECVE", t, serial, f"argc={len(args)} {argv}")),
            (t, self._aux("CWD", t, serial, f'cwd="{cwd}"')),
            (t, self._path(t, serial, 0, exe, "NORMAL")),
            (t, self._aux("PROCTITLE", t, serial, "proctitle=" + _hex("\0".join(args)))),
        ]
        return pid

    def connect(self, t: float, ip: str, port: int, *, exe: str, pid: int, auid: str | None,
                uid: str = "root") -> None:
        line, serial = self._syscall(t, "connect", pid=pid, ppid=1, exe=exe, auid=auid,
                                     uid=uid, items=0, args=("3", "7ffc2e1f8ce0", "10", "0"))
        self.audit += [
            (t, line),
            (t, self._aux("SOCKADDR", t, serial,
                          f"saddr={sockaddr(ip, port)}{GS}SADDR={{ saddr_fam=inet "
                          f"laddr={ip} lport={port} }}")),
            (t, self._aux("PROCTITLE", t, serial, "proctitle=" + _hex(exe))),
        ]

    def bind(self, t: float, port: int, *, exe: str, pid: int, auid: str | None,
             uid: str = "root") -> None:
        """bind() to 0.0.0.0:``port`` (a server about to listen)."""
        line, serial = self._syscall(t, "bind", pid=pid, ppid=1, exe=exe, auid=auid,
                                     uid=uid, items=0, args=("3", "7ffc2e1f8ce0", "10", "0"))
        self.audit += [
            (t, line),
            (t, self._aux("SOCKADDR", t, serial,
                          f"saddr={sockaddr('0.0.0.0', port)}{GS}SADDR={{ saddr_fam=inet "
                          f"laddr=0.0.0.0 lport={port} }}")),
            (t, self._aux("PROCTITLE", t, serial, "proctitle=" + _hex(exe))),
        ]

    def create_file(self, t: float, path: str, *, exe: str, auid: str | None,
                    uid: str = "root", mode: str = "0100644") -> None:
        """openat(O_WRONLY|O_CREAT|O_TRUNC) creating ``path``."""
        directory = path.rsplit("/", 1)[0] or "/"
        line, serial = self._syscall(t, "openat", pid=self.next_pid(), ppid=1, exe=exe,
                                     auid=auid, uid=uid, items=2,
                                     args=("ffffff9c", "7ffda528aacc", "241", "1b6"),
                                     exit_="3")
        self.audit += [
            (t, line),
            (t, self._aux("CWD", t, serial, f'cwd="{directory}"')),
            (t, self._path(t, serial, 0, directory, "PARENT", mode="041777")),
            (t, self._path(t, serial, 1, path, "CREATE", mode=mode, owner=uid)),
            (t, self._aux("PROCTITLE", t, serial, "proctitle=" + _hex(exe))),
        ]

    def append_file(self, t: float, path: str, *, exe: str, auid: str | None,
                    uid: str = "root") -> None:
        """openat(O_WRONLY|O_APPEND) of an existing ``path`` (``echo ... >> path``)."""
        line, serial = self._syscall(t, "openat", pid=self.next_pid(), ppid=1, exe=exe,
                                     auid=auid, uid=uid, items=1,
                                     args=("ffffff9c", "7ffda528aacc", "441", "1b6"),
                                     exit_="3")
        self.audit += [
            (t, line),
            (t, self._aux("CWD", t, serial, 'cwd="/root"')),
            (t, self._path(t, serial, 0, path, "NORMAL", mode="0100600", owner=uid)),
            (t, self._aux("PROCTITLE", t, serial, "proctitle=" + _hex(exe))),
        ]

    def chmod(self, t: float, path: str, mode: int, *, auid: str | None,
              uid: str = "root") -> None:
        line, serial = self._syscall(t, "fchmodat", pid=self.next_pid(), ppid=1,
                                     exe="/usr/bin/chmod", auid=auid, uid=uid, items=1,
                                     args=("ffffff9c", "5650c393fc20", f"{mode:x}", "0"))
        self.audit += [
            (t, line),
            (t, self._aux("CWD", t, serial, 'cwd="/"')),
            (t, self._path(t, serial, 0, path, "NORMAL", mode="0100644", owner=uid)),
            (t, self._aux("PROCTITLE", t, serial, "proctitle=" + _hex(f"chmod\0{mode:o}\0{path}"))),
        ]

    def add_user(self, t: float, name: str, *, auid: str) -> None:
        head, _ = self._audit_head("ADD_USER", t)
        uid = UIDS.get(name, 1500)
        self.audit.append((t, (
            f"{head} pid={self.next_pid()} uid=0 auid={UIDS[auid]} ses=7 msg='op=adding user "
            f'id={uid} exe="/usr/sbin/useradd" hostname=? addr=? terminal=pts/0 res=success\''
            f'{GS}UID="root" AUID="{auid}" ID="{name}"')))

    def user_cmd(self, t: float, command: str, *, auid: str) -> None:
        head, _ = self._audit_head("USER_CMD", t)
        u = UIDS[auid]
        self.audit.append((t, (
            f"{head} pid={self.next_pid()} uid={u} auid={u} ses=7 msg='cwd=\"/home/{auid}\" "
            f'cmd={_hex(command)} exe="/usr/bin/sudo" terminal=pts/0 res=success\''
            f'{GS}UID="{auid}" AUID="{auid}"')))

    # -- output ---------------------------------------------------------------------------
    def write(self, directory: Path) -> Path:
        """Write every log under ``directory`` (created); returns it."""
        (directory / "apt").mkdir(parents=True, exist_ok=True)
        (directory / "audit").mkdir(exist_ok=True)

        def lines(items: list[tuple[float, str]]) -> str:
            items = sorted(items, key=lambda x: x[0])  # stable: records of one event stay
            return "".join(text + "\n" for _, text in items)

        (directory / "auth.log").write_text(lines(self.auth))
        (directory / "syslog").write_text(lines(self.syslog))
        (directory / "dpkg.log").write_text(lines(self.dpkg))
        (directory / "apt" / "history.log").write_text(
            "\n" + "\n".join(text for _, text in sorted(self.apt, key=lambda x: x[0])))
        (directory / "audit" / "audit.log").write_text(lines(self.audit))
        return directory
