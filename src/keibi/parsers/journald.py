"""journald records as ``journalctl -o json`` writes them: one JSON object per line.

Field values are strings, ``null`` (a value of 4096 bytes or more, unless ``--all``), an
array of byte values (a value that is not printable UTF-8: invalid bytes, control
characters other than tab and newline), or an array of these when the field repeats.
Byte arrays are decoded as UTF-8 with invalid bytes and NULs replaced by U+FFFD, the
rules every file source applies.

**One record, same events as its syslog line.** A record becomes a syslog
:class:`~keibi.parsers.syslog.Header`: ``__REALTIME_TIMESTAMP`` (microseconds), host
``_HOSTNAME``, program ``SYSLOG_IDENTIFIER`` (else ``_COMM``), pid the trusted ``_PID``
(else ``SYSLOG_PID``) and ``MESSAGE``; it then goes to the parsers the syslog dispatcher
uses (auth families, cron, generic syslog), so an sshd record gives the event its
auth.log line gives, except that ``event.original`` is the JSON line and these are added:
``journald.cursor``, ``journald.transport``, ``journald.unit`` (``_SYSTEMD_UNIT``),
``journald.syslog_pid`` (when it differs from ``_PID``), ``log.level`` (``PRIORITY``),
``user.audit.id`` (``_AUDIT_LOGINUID``); when the event's process is the sender
(``process.pid`` == ``_PID``): ``process.executable`` (``_EXE``) and ``process.user.id``
(``_UID``); for a generic ``log-line`` event without a user, ``user.id`` (``_UID``).

**Forged identifiers.** Anyone can log under any ``SYSLOG_IDENTIFIER``; journald adds
fields the sender cannot choose: ``_UID``/``_GID``/``_PID`` (kernel credentials, always
right), ``_COMM`` (settable by the sender with ``prctl``) and ``_EXE`` (the kernel's, but
missing when the sender exited before journald looked, which a forger can arrange). A
record claiming a program of :data:`PRIVILEGED` (by any of its identifiers, or the
``_COMM`` it is parsed under when it has none, or the PAM service of a
``pam_*(SERVICE:...)`` message) is forged (``keibi.forgery.reason`` in brackets) when:

- it claims ``kernel`` (``audit``) but did not come by the kernel (audit) transport
  [``transport``];
- it has no ``_UID`` [``no-sender``]; ``_COMM`` is known and is not that program
  [``comm``]; ``_EXE`` is known and is not that program in a system directory
  (``/usr/sbin``, ``/usr/bin``...) [``exe``];
- ``_UID`` is not 0 and the program only ever runs as root (``login``,
  ``systemd-logind``, ``useradd`` and friends, cron, journald) [``uid``], or neither
  ``_COMM`` nor ``_EXE`` is known [``unknown-sender``];
- the sender is an unprivileged sshd (its post-authentication child runs as the user)
  and the record is anything but a disconnect: only sshd's root monitor decides logins
  [``uid``].

Setuid programs (``sudo``, ``su``, ``passwd``...), sshd's post-authentication child,
``polkitd`` and user managers (``systemd --user``) genuinely log with a non-zero
``_UID`` (sudo and su with the invoking user's, as seen on Debian 12); theirs are
accepted when ``_COMM`` and ``_EXE`` match, and when only ``_COMM`` is known they are
parsed but flagged ``unverified-sender``, as is a PAM line of a service not in the
table sent by a non-root process (a screen locker's, or anyone's: its ``rhost`` is the
sender's word). A root sender whose process exited before journald read it (no
``_COMM``, no ``_EXE``), and a record that came by the kernel transport (written to
``/dev/kmsg``, which only root can: early boot messages of systemd), are accepted: root
can write the journal files anyway.

A forged record is not given to the daemon's parser at all (so ``logger -t sshd "Failed
password for root from ..."`` is never a failed SSH login): it becomes one
``log-forgery`` event (dataset ``keibi.journald``, category ``process``) naming the
trusted sender (``process.name`` ``_COMM``, ``process.pid``, ``process.executable``,
``user.id`` ``_UID``...), with ``keibi.claimed_program``, ``keibi.forgery.reason`` and
the flag ``forged-identifier``.

**Malformed input never raises.** A line that is not a JSON object, or a record without
a ``MESSAGE`` (or with one too large to export), with several different identifiers or
messages, gives one ``log-line`` event of dataset ``keibi.journald`` flagged
``malformed``; a record without a valid time stamp is parsed at ``ctx.ref_time`` and
flagged ``malformed``.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgspec

from keibi.events.model import Event
from keibi.parsers.auth import PROGRAMS as AUTH_HANDLERS
from keibi.parsers.auth import pam
from keibi.parsers.auth.generic import generic_event
from keibi.parsers.context import LineContext
from keibi.parsers.cron import PROGRAMS as CRON_PROGRAMS
from keibi.parsers.cron import parse_cron_message
from keibi.parsers.syslog import Header
from keibi.parsers.syslog_generic import log_line_event, parse_syslog_message

__all__ = [
    "DATASET",
    "FORGED",
    "PRIVILEGED",
    "UNVERIFIED",
    "Claim",
    "parse_journal_line",
    "parse_journal_record",
]

DATASET = "keibi.journald"
FORGED = "forged-identifier"
UNVERIFIED = "unverified-sender"
_MALFORMED = ("malformed",)
_PARSE_ERROR = ("malformed", "parse-error")
_PROCESS = ("process",)
_INFO = ("info",)
_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_COMM_MAX = 15  # the kernel keeps 15 bytes of a process name
_DELETED = " (deleted)"  # /proc/PID/exe of a binary replaced since it started
_MAX_USEC = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z

#: Directories only root can write, where privileged programs live.
SYSTEM_DIRS = frozenset(
    {
        "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/openssh", "/usr/libexec/openssh",
        "/usr/libexec", "/usr/lib/systemd", "/lib/systemd", "/usr/lib/polkit-1",
        "/usr/libexec/polkit-1", "/usr/lib/policykit-1",
    }
)  # fmt: skip


class Claim(NamedTuple):
    """Who may write as a program: its process names (``_COMM``, ``_EXE`` base name),
    whether it only runs as root, and whether it is sshd (see the module docstring)."""

    names: frozenset[str]
    root_only: bool
    sshd: bool = False


def _claims() -> dict[str, Claim]:
    sshd = Claim(frozenset({"sshd", "sshd-session", "sshd-auth"}), False, True)
    cron = Claim(frozenset({"cron"}), True)
    crond = Claim(frozenset({"crond"}), True)
    out = {name: sshd for name in sshd.names}
    out.update({"CRON": cron, "cron": cron, "crond": crond, "CROND": crond})
    for name in ("login", "systemd-logind", "systemd-journald", "useradd", "userdel",
                 "usermod", "groupadd", "groupdel", "groupmod", "chpasswd", "chgpasswd",
                 "newusers", "groupmems"):  # fmt: skip
        out[name] = Claim(frozenset({name}), True)
    # setuid programs log with the invoking user's uid; polkitd and user managers
    # (systemd --user) run unprivileged
    for name in ("sudo", "su", "passwd", "gpasswd", "chage", "chsh", "chfn", "newgrp",
                 "polkitd", "systemd"):  # fmt: skip
        out[name] = Claim(frozenset({name}), False)
    return out


#: The programs whose records are checked against journald's trusted fields.
PRIVILEGED: dict[str, Claim] = _claims()
# Records only the kernel writes: the transports they must come by.
_KERNEL_TRANSPORTS = {"kernel": ("kernel",), "audit": ("audit", "kernel")}
# PAM service -> the program that uses it.
_PAM_SERVICES = {
    "sshd": "sshd", "sudo": "sudo", "sudo-i": "sudo", "su": "su", "su-l": "su",
    "login": "login", "cron": "cron", "crond": "crond", "passwd": "passwd",
    "chpasswd": "chpasswd", "newusers": "newusers", "chsh": "chsh", "chfn": "chfn",
}  # fmt: skip
_PAM_SERVICE = re.compile(r"pam_[\w-]{1,64}\(([^:()\s]{1,64}):")


class Sender(NamedTuple):
    """journald's trusted fields about the process that sent a record."""

    pid: int | None
    uid: str | None
    gid: str | None
    comm: str | None
    exe: str | None
    cmdline: str | None
    loginuid: str | None
    transport: str | None


# -- field values ------------------------------------------------------------------------


def _decode_bytes(value: list[Any]) -> str | None:
    try:
        raw = bytes(value)
    except (TypeError, ValueError):
        return None
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _values(value: Any) -> list[str]:
    """Every value of a field: a string, a byte array, or an array of them (repeated)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if isinstance(value[0], int):
            text = _decode_bytes(value)
            return [] if text is None else [text]
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list):
                text = _decode_bytes(item) if item else ""
                if text is not None:
                    out.append(text)
        return out
    return []  # null (too large to export), or what journalctl never writes


def _first(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if isinstance(value, str):  # the common case
        return value
    values = _values(value)
    return values[0] if values else None


def _number(text: str | None, limit: int = 10) -> int | None:
    if text is None or not (0 < len(text) <= limit) or not text.isdigit() or not text.isascii():
        return None
    return int(text)


def _sender(record: dict[str, Any]) -> Sender:
    loginuid = _first(record, "_AUDIT_LOGINUID")
    if loginuid == "4294967295" or _number(loginuid) is None:
        loginuid = None
    uid = _first(record, "_UID")
    return Sender(
        pid=_number(_first(record, "_PID")),
        uid=uid if _number(uid) is not None else None,
        gid=_first(record, "_GID"),
        comm=_first(record, "_COMM"),
        exe=_first(record, "_EXE"),
        cmdline=_first(record, "_CMDLINE"),
        loginuid=loginuid,
        transport=_first(record, "_TRANSPORT"),
    )


# -- forgery -----------------------------------------------------------------------------


def _genuine_exe(exe: str, names: frozenset[str]) -> bool:
    if exe.endswith(_DELETED):
        exe = exe[: -len(_DELETED)]
    directory, _, base = exe.rpartition("/")
    return directory in SYSTEM_DIRS and base in names


def _check(program: str, s: Sender) -> tuple[str | None, bool]:
    """(why a record claiming ``program`` is forged, or None; whether unverified)."""
    kernel = _KERNEL_TRANSPORTS.get(program)
    if kernel is not None:
        return (None if s.transport in kernel else "transport"), False
    claim = PRIVILEGED.get(program)
    if claim is None and "(" in program:  # "CRON(x)": dispatched as cron
        claim = PRIVILEGED.get(program.partition("(")[0])
    if claim is None:
        return None, False
    if s.transport == "kernel":  # written to /dev/kmsg, which only root can
        return None, False
    if s.uid is None:
        return "no-sender", False
    if s.comm is not None and s.comm not in {n[:_COMM_MAX] for n in claim.names}:
        return "comm", False
    if s.exe is not None and not _genuine_exe(s.exe, claim.names):
        return "exe", False
    if s.uid == "0":
        return None, False
    if claim.root_only:
        return "uid", False
    if s.comm is None and s.exe is None:
        return "unknown-sender", False
    return None, s.exe is None


def _claimed(names: list[str], message: str | None) -> tuple[list[str], bool]:
    """The programs a record claims (its identifiers, else the ``_COMM`` it is parsed
    under, and its PAM service's program), and whether it is a PAM line of a service
    keibi does not know."""
    claimed = list(names)
    if message is None or message[:4] != "pam_":
        return claimed, False
    m = _PAM_SERVICE.match(message)
    program = _PAM_SERVICES.get(m[1]) if m is not None else None
    if program is not None and program not in claimed:
        claimed.append(program)
    return claimed, program is None


# -- events ------------------------------------------------------------------------------


def _dispatch(h: Header, line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """What :func:`keibi.parsers.syslog_dispatch.parse_syslog_any` does with a split line."""
    prog, msg = h.program, h.message
    handler = AUTH_HANDLERS.get(prog) if prog is not None else None
    if handler is not None:
        events = handler(h, line, offset, ctx, msg)
        return events if events is not None else [generic_event(h, line, offset, ctx, msg)]
    if prog is not None:
        base = prog.split("(", 1)[0] if "(" in prog else prog
        if base in CRON_PROGRAMS:
            events = parse_cron_message(h, line, offset, ctx)
            if events is not None:
                return events
    if msg[:4] == "pam_":
        events = pam.parse(h, line, offset, ctx, msg)
        return events if events is not None else [generic_event(h, line, offset, ctx, msg)]
    events = parse_syslog_message(h, line, offset, ctx)
    return events if events else [log_line_event(h, line, offset, ctx)]


def _unprivileged_sshd_ok(events: list[Event]) -> bool:
    """Whether an unprivileged sshd (the post-authentication child) could have written
    these: disconnects and lines no family understood, nothing else."""
    return all(
        e.action == "log-line" or (e.category == ("network",) and e.type == ("end",))
        for e in events
    )


def _extra(record: dict[str, Any], s: Sender, syslog_pid: int | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    cursor = _first(record, "__CURSOR")
    if cursor is not None:
        extra["journald.cursor"] = cursor
    if s.transport is not None:
        extra["journald.transport"] = s.transport
    unit = _first(record, "_SYSTEMD_UNIT")
    if unit is not None:
        extra["journald.unit"] = unit
    if syslog_pid is not None and s.pid is not None and syslog_pid != s.pid:
        extra["journald.syslog_pid"] = syslog_pid
    return extra


def _enrich(
    e: Event,
    s: Sender,
    extra: dict[str, Any],
    level: str | None,
    flags: tuple[str, ...],
) -> Event:
    merged = {**e.extra, **extra} if e.extra else dict(extra)
    changes: dict[str, Any] = {}
    if s.pid is not None and e.process_pid == s.pid:
        if e.process_executable is None and s.exe is not None:
            changes["process_executable"] = s.exe
        if s.uid is not None:
            merged["process.user.id"] = s.uid
            if e.action == "log-line" and e.user_name is None and e.user_id is None:
                changes["user_id"] = s.uid
    if s.loginuid is not None and e.user_audit_id is None:
        changes["user_audit_id"] = s.loginuid
    if level is not None and e.log_level is None:
        changes["log_level"] = level
    if flags:
        changes["flags"] = (*(e.flags or ()), *flags)
    if e.host_name == "":
        changes["host_name"] = None
    return msgspec.structs.replace(e, extra=merged or None, **changes)


def _own_event(
    ts: float,
    host: str | None,
    s: Sender,
    line: str,
    offset: int | None,
    ctx: LineContext,
    message: str | None,
    level: str | None,
    extra: dict[str, Any],
    *,
    action: str,
    program: str | None,
    flags: tuple[str, ...],
) -> Event:
    """An event keibi makes of the record itself: ``log-forgery`` or a malformed ``log-line``."""
    return Event(
        timestamp=ts,
        category=_PROCESS if action == "log-forgery" else (),
        type=_INFO,
        action=action,
        dataset=DATASET,
        original=line,
        message=message,
        host_name=host,
        user_id=s.uid,
        group_id=s.gid,
        user_audit_id=s.loginuid,
        process_pid=s.pid,
        process_name=program,
        process_executable=s.exe,
        process_command_line=s.cmdline if action == "log-forgery" else None,
        log_file_path=ctx.path,
        log_offset=offset,
        log_level=level,
        flags=flags,
        extra=extra or None,
    )


def _timestamp(record: dict[str, Any]) -> float | None:
    usec = _number(_first(record, "__REALTIME_TIMESTAMP"), 18)
    return None if usec is None or usec > _MAX_USEC else usec / 1_000_000


def parse_journal_record(
    record: dict[str, Any], line: str, offset: int | None, ctx: LineContext
) -> list[Event]:
    """The events of one decoded journal record (``line`` is its JSON text)."""
    s = _sender(record)
    ts = _timestamp(record)
    bad_time = ts is None
    if ts is None:
        ts = round(ctx.ref_time, 6)
    host = _first(record, "_HOSTNAME") or ctx.hostname
    idents = _values(record.get("SYSLOG_IDENTIFIER"))
    messages = _values(record.get("MESSAGE"))
    message = "\n".join(messages) if messages else None
    syslog_pid = _number(_first(record, "SYSLOG_PID"))
    priority = _number(_first(record, "PRIORITY"), 1)
    level = _LEVELS[priority] if priority is not None and priority < 8 else None
    extra = _extra(record, s, syslog_pid)
    program = idents[0] if idents else s.comm
    if program is None and s.transport in _KERNEL_TRANSPORTS:
        program = s.transport

    claims, unknown_pam = _claimed(idents or ([program] if program else []), message)
    # a PAM line of an unknown service from an unprivileged process: its rhost is its word
    unverified = unknown_pam and s.uid != "0"
    for claimed in claims:
        reason, weak = _check(claimed, s)
        if reason is not None:
            return [_forgery(ts, host, s, line, offset, ctx, message, level, extra,
                             claimed, reason)]  # fmt: skip
        unverified = unverified or weak

    if message is None or len(set(idents)) > 1 or len(messages) > 1:
        return [_own_event(ts, host, s, line, offset, ctx, message, level, extra,
                           action="log-line", program=program, flags=_MALFORMED)]  # fmt: skip

    pid = s.pid if s.pid is not None else syslog_pid
    h = Header(ts, host or "", program, pid, message)
    events = _dispatch(h, line, offset, ctx)
    if (
        program in PRIVILEGED
        and PRIVILEGED[program].sshd
        and s.uid != "0"
        and not _unprivileged_sshd_ok(events)
    ):
        return [_forgery(ts, host, s, line, offset, ctx, message, level, extra, program, "uid")]
    flags = (UNVERIFIED,) if unverified else ()
    if bad_time:
        flags = (*flags, *_MALFORMED)
    return [_enrich(e, s, extra, level, flags) for e in events]


def _forgery(
    ts: float,
    host: str | None,
    s: Sender,
    line: str,
    offset: int | None,
    ctx: LineContext,
    message: str | None,
    level: str | None,
    extra: dict[str, Any],
    claimed: str,
    reason: str,
) -> Event:
    extra = {**extra, "keibi.claimed_program": claimed, "keibi.forgery.reason": reason}
    return _own_event(ts, host, s, line, offset, ctx, message, level, extra,
                      action="log-forgery", program=s.comm, flags=(FORGED,))  # fmt: skip


_decode = msgspec.json.Decoder().decode


def _malformed(line: str, offset: int | None, ctx: LineContext, flags: tuple[str, ...]) -> Event:
    return Event(
        timestamp=round(ctx.ref_time, 6),
        type=_INFO,
        action="log-line",
        dataset=DATASET,
        original=line,
        message=line,
        host_name=ctx.hostname,
        log_file_path=ctx.path,
        log_offset=offset,
        flags=flags,
    )


def parse_journal_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one ``journalctl -o json`` line (a :class:`LineParser`); never raises.

    An empty line gives none; a line that is not a JSON object one ``log-line`` event
    flagged ``malformed``.
    """
    if line[-1:] == "\n":
        line = line[:-2] if line[-2:] == "\r\n" else line[:-1]
    if not line.strip():
        return []
    try:
        record = _decode(line)
    except (msgspec.DecodeError, RecursionError, UnicodeEncodeError):
        return [_malformed(line, offset, ctx, _MALFORMED)]
    if not isinstance(record, dict):
        return [_malformed(line, offset, ctx, _MALFORMED)]
    try:
        return parse_journal_record(record, line, offset, ctx)
    except Exception:  # a bug must not lose the record: keep it, flagged
        return [_malformed(line, offset, ctx, _PARSE_ERROR)]
