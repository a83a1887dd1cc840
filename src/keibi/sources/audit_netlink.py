"""Live audit records from the kernel, read from the audit netlink multicast group.

:class:`AuditNetlinkReader` joins ``AUDIT_NLGRP_READLOG`` on a ``NETLINK_AUDIT`` socket:
a read-only copy of every record the kernel emits, whether or not auditd runs (and
without disturbing it). It needs ``CAP_AUDIT_READ``. The kernel only emits records when
audit is enabled (``auditctl -e 1``) and, for syscalls, when a rule matches; keibi never
changes either on its own. :func:`follow` turns the records into events through an
:class:`~keibi.parsers.audit_assembly.AuditAssembler` on the monotonic clock.

The rule helpers (:func:`temporary_rule`, :func:`audit_status`...) drive ``auditctl`` with
argument lists; they exist for tests and for operators who ask for them, and always put
back what they changed: exactly the rule they added, and the previous enabled flag.
"""

from __future__ import annotations

import errno
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from keibi.events.model import Event
from keibi.parsers.audit_assembly import AuditAssembler
from keibi.parsers.audit_record import AuditRecord, parse_audit_record

__all__ = [
    "AUDIT_NLGRP_READLOG",
    "NETLINK_AUDIT",
    "AuditControlError",
    "AuditNetlinkError",
    "AuditNetlinkReader",
    "add_rule",
    "audit_status",
    "delete_rule",
    "execve_rule",
    "follow",
    "set_enabled",
    "temporary_rule",
]

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
_SO_RCVBUFFORCE = 33
_NLMSG_HDR = struct.Struct("=IHHII")
_FIRST_AUDIT_TYPE = 1000


class AuditNetlinkError(OSError):
    """The audit multicast group cannot be read (no audit in this kernel, no privilege)."""


class AuditControlError(RuntimeError):
    """``auditctl`` failed or audit rules are locked."""


class AuditNetlinkReader:
    """A socket on the audit multicast group; yields ``(type number, text)`` records.

    Use as a context manager or call :meth:`open` and :meth:`close`.
    """

    def __init__(self, rcvbuf: int = 8 << 20) -> None:
        self.rcvbuf = rcvbuf
        self._sock: socket.socket | None = None
        self.messages = 0
        #: receive-buffer overruns (ENOBUFS): records the kernel dropped for us.
        self.overruns = 0
        #: messages that were not audit records.
        self.skipped = 0

    def open(self) -> AuditNetlinkReader:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        except OSError as exc:
            raise AuditNetlinkError(
                exc.errno, f"cannot open a NETLINK_AUDIT socket (no audit in this kernel?): {exc}"
            ) from exc
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, self.rcvbuf)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.bind((0, AUDIT_NLGRP_READLOG))
        except OSError as exc:
            sock.close()
            hint = " (needs CAP_AUDIT_READ)" if exc.errno in (errno.EPERM, errno.EACCES) else ""
            raise AuditNetlinkError(
                exc.errno, f"cannot join the audit multicast group{hint}: {exc}"
            ) from exc
        sock.setblocking(False)
        self._sock = sock
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> AuditNetlinkReader:
        return self.open() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        if self._sock is None:
            raise ValueError("reader is closed")
        return self._sock.fileno()

    def read(self, timeout: float | None = 0.25) -> list[tuple[int, str]]:
        """The records waiting now, waiting up to ``timeout`` seconds for the first."""
        sock = self._sock
        if sock is None:
            raise ValueError("reader is closed")
        out: list[tuple[int, str]] = []
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            return out
        while True:
            try:
                data = sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                raise
            self._split(data, out)
            if len(out) >= 4096:
                break
        return out

    def _split(self, data: bytes, out: list[tuple[int, str]]) -> None:
        pos, size = 0, len(data)
        while size - pos >= _NLMSG_HDR.size:
            length, mtype, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data, pos)
            rest = size - pos
            if _NLMSG_HDR.size <= length < rest and length + _NLMSG_HDR.size != rest:
                end = pos + length  # several messages in one datagram
            else:
                # One message; some kernels leave the header out of its length.
                end = size
            body = data[pos + _NLMSG_HDR.size : end]
            pos = (end + 3) & ~3 if end < size else size
            if mtype < _FIRST_AUDIT_TYPE:
                self.skipped += 1
                continue
            self.messages += 1
            out.append((mtype, body.rstrip(b"\x00\n").decode("utf-8", "replace")))

    def records(self, timeout: float | None = 0.25) -> list[AuditRecord]:
        """Like :meth:`read`, parsed; unparsable messages are counted in ``skipped``."""
        out: list[AuditRecord] = []
        for mtype, text in self.read(timeout):
            rec = parse_audit_record(text, None, mtype)
            if rec is None:
                self.skipped += 1
            else:
                out.append(rec)
        return out


def follow(
    reader: AuditNetlinkReader,
    assembler: AuditAssembler,
    *,
    stop: threading.Event | Callable[[], bool] | None = None,
    poll: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """Events from a live reader until ``stop`` is set (then every open event is closed)."""

    def stopped() -> bool:
        if stop is None:
            return False
        return stop.is_set() if isinstance(stop, threading.Event) else stop()

    while not stopped():
        for rec in reader.records(poll):
            yield from assembler.feed(rec, clock())
        yield from assembler.flush(clock())
    yield from assembler.flush_all()


# -- auditctl ----------------------------------------------------------------------------

_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def _auditctl() -> str:
    found = shutil.which("auditctl")
    if found is None:
        for candidate in ("/usr/sbin/auditctl", "/sbin/auditctl"):
            if os.access(candidate, os.X_OK):
                return candidate
        raise AuditControlError("auditctl not found (install the auditd package)")
    return found


def _run(args: Sequence[str]) -> str:
    proc = subprocess.run(
        [_auditctl(), *args], capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        raise AuditControlError(
            f"auditctl {' '.join(args)} failed ({proc.returncode}): "
            f"{reason[-1] if reason else 'no message'}"
        )
    return proc.stdout


def audit_status() -> dict[str, str]:
    """``auditctl -s`` as a dict: ``enabled`` (0, 1, 2 = locked), ``pid``, ``lost``..."""
    out: dict[str, str] = {}
    for line in _run(["-s"]).splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            out[key] = value.strip()
    return out


def set_enabled(flag: int) -> None:
    """``auditctl -e flag`` (0 or 1)."""
    if flag not in (0, 1):
        raise ValueError("enabled flag must be 0 or 1")
    _run(["-e", str(flag)])


def add_rule(rule: Sequence[str]) -> None:
    """``auditctl -a <rule...>``, e.g. ``("always,exit", "-F", "arch=b64", "-S", "execve")``."""
    _run(["-a", *rule])


def delete_rule(rule: Sequence[str]) -> None:
    """``auditctl -d <rule...>``: removes exactly the rule :func:`add_rule` added."""
    _run(["-d", *rule])


def execve_rule(key: str, arch: str = "b64") -> tuple[str, ...]:
    """An exit rule on execve and execveat for ``arch`` (b64 or b32), tagged ``key``."""
    if _KEY.fullmatch(key) is None:
        raise ValueError(f"bad audit key {key!r}")
    if arch not in ("b64", "b32"):
        raise ValueError(f"bad audit arch {arch!r}")
    return ("always,exit", "-F", f"arch={arch}", "-S", "execve,execveat", "-F", f"key={key}")


@contextmanager
def temporary_rule(rule: Sequence[str]) -> Iterator[None]:
    """Enable audit if needed and add ``rule``; on exit remove it and restore the flag."""
    previous = audit_status().get("enabled", "")
    if previous == "2":
        raise AuditControlError("audit rules are locked (enabled 2): cannot add a rule")
    if previous not in ("0", "1"):
        raise AuditControlError(f"unexpected audit enabled flag {previous!r}")
    if previous == "0":
        set_enabled(1)
    try:
        add_rule(rule)
        try:
            yield
        finally:
            delete_rule(rule)
    finally:
        if previous == "0":
            set_enabled(0)
