"""ECS events from assembled audit records (one kernel or user-space audit event).

:func:`build_event` takes the records of one event (``SYSCALL`` + ``EXECVE`` + ``CWD`` +
``PATH``... or a single ``USER_LOGIN``...) and returns one :class:`Event` with dataset
``keibi.audit``, module ``auditd``, ``auditd.message_type`` (the primary record's type, in
lower case), ``auditd.sequence`` (the serial), ``auditd.key`` (the rule key),
``auditd.session`` and ``auditd.data.*``: every field of the primary record that no ECS
field took.

The primary record is the first one that is not a syscall auxiliary record (so
``CONFIG_CHANGE`` or ``AVC`` before their ``SYSCALL``), else the ``SYSCALL``. The subject
(``process.*``, ``user.*``) comes from the ``SYSCALL`` record when there is one.

Actions (``event.action``):

- syscalls: ``process-started`` (execve/execveat), ``network-<syscall>`` (connect, accept,
  accept4, bind, sendto, sendmsg, recvfrom, recvmsg with a ``SOCKADDR``), ``file-<syscall>``
  (any syscall with ``PATH`` records, e.g. ``file-openat``, ``file-unlinkat``), else
  ``syscall-<name>``;
- PAM and logins: ``user-auth``, ``user-account-check``, ``credentials-acquired``,
  ``credentials-disposed``, ``credentials-refreshed``, ``user-login``, ``user-logout``,
  ``user-session-start``, ``user-session-end``, ``user-error``, ``group-auth``,
  ``login-uid-set`` (LOGIN), ``user-command`` (USER_CMD: sudo), ``tty-input`` (TTY,
  USER_TTY);
- accounts: ``user-created``, ``user-deleted``, ``user-modified``, ``password-changed``,
  ``group-created``, ``group-deleted``, ``group-modified``, ``group-password-changed``,
  ``user-locked``, ``user-unlocked``, ``user-role-changed``;
- audit itself: ``audit-config-changed`` (CONFIG_CHANGE, FEATURE_CHANGE),
  ``audit-daemon-start``, ``audit-daemon-stop``, ``audit-daemon-abort``,
  ``audit-daemon-<other>``;
- ``anomaly-<kind>`` (ANOM_*: ``anomaly-abend``, ``anomaly-promiscuous``,
  ``anomaly-login-failures``...);
- access control: ``mac-denied``, ``mac-allowed``, ``mac-audit``, ``mac-policy-changed``,
  ``mac-policy-loaded``, ``mac-status-changed``, ``mac-config-changed``;
- ``service-started``, ``service-stopped``, ``system-boot``, ``system-shutdown``,
  ``system-runlevel-changed``, ``system-time-changed``, ``kernel-module-loaded``,
  ``netfilter-config-changed``, ``bpf-program-<op>``, ``software-updated``;
- anything else: ``audit-<type>`` (e.g. ``audit-integrity-rule``); nothing is dropped.

``user.id``/``user.name`` is the acting user (``uid``) for syscalls, commands and account
management, and the account being authenticated (``acct=``) for PAM and login records,
whose sender's uid goes to ``process.user.*``. ``user.audit.*`` is the login user
(``auid``), absent when unset. Names come only from the ENRICHED part of the records, never
from this host's passwd. ``process.name`` is the base name of ``exe`` (``comm`` is
truncated to 15 characters by the kernel and stays in ``auditd.data.comm``).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Sequence
from typing import Any

from keibi.events.model import Event
from keibi.parsers.audit_record import (
    SYSCALL_AUX_TYPES,
    UNSET_ID,
    AuditRecord,
    arch_name,
    execve_args,
    syscall_name,
)

__all__ = ["DATASET", "MODULE", "build_event", "command_line", "decode_sockaddr"]

DATASET = "keibi.audit"
MODULE = "auditd"

_AUX = SYSCALL_AUX_TYPES
_EXEC = frozenset({"execve", "execveat"})
_NET = frozenset(
    {"connect", "accept", "accept4", "bind", "sendto", "sendmsg", "recvfrom", "recvmsg"}
)
_NET_PEER_IS_SOURCE = frozenset({"accept", "accept4", "recvfrom", "recvmsg", "bind"})
_CHMOD_MODE_ARG = {"chmod": "a1", "fchmod": "a1", "fchmodat": "a2", "fchmodat2": "a2"}
_FILE_CHANGE = frozenset(
    {
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
        "truncate", "ftruncate", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
        "lremovexattr", "fremovexattr", "utime", "utimes", "utimensat", "futimesat",
        "rename", "renameat", "renameat2",
    }
)  # fmt: skip
_AT_FDCWD = "ffffff9c"
# The directory-fd arguments of the *at syscalls (AT_FDCWD: relative to the cwd).
_DIRFD_ARGS: dict[str, tuple[str, ...]] = {
    "openat": ("a0",), "openat2": ("a0",), "mkdirat": ("a0",), "mknodat": ("a0",),
    "fchownat": ("a0",), "futimesat": ("a0",), "newfstatat": ("a0",), "unlinkat": ("a0",),
    "renameat": ("a0", "a2"), "renameat2": ("a0", "a2"), "linkat": ("a0", "a2"),
    "symlinkat": ("a1",), "readlinkat": ("a0",), "fchmodat": ("a0",), "fchmodat2": ("a0",),
    "faccessat": ("a0",), "faccessat2": ("a0",), "execveat": ("a0",), "utimensat": ("a0",),
    "statx": ("a0",), "name_to_handle_at": ("a0",), "open_tree": ("a0",),
}  # fmt: skip
_EINPROGRESS = "-115"

# PAM, login and session records: (category, type, action); user.name is acct=.
_AUTH: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "USER_AUTH": (("authentication",), ("info",), "user-auth"),
    "USER_ACCT": (("authentication",), ("info",), "user-account-check"),
    "CRED_ACQ": (("authentication",), ("info",), "credentials-acquired"),
    "CRED_DISP": (("authentication",), ("info",), "credentials-disposed"),
    "CRED_REFR": (("authentication",), ("info",), "credentials-refreshed"),
    "USER_LOGIN": (("authentication", "session"), ("start",), "user-login"),
    "USER_LOGOUT": (("session",), ("end",), "user-logout"),
    "USER_START": (("session",), ("start",), "user-session-start"),
    "USER_END": (("session",), ("end",), "user-session-end"),
    "USER_ERR": (("authentication",), ("info",), "user-error"),
    "GRP_AUTH": (("authentication",), ("info",), "group-auth"),
}
# Account management: (event.type, action, whether acct/id name a group).
_IAM: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "ADD_USER": (("user", "creation"), "user-created", False),
    "DEL_USER": (("user", "deletion"), "user-deleted", False),
    "USER_MGMT": (("user", "change"), "user-modified", False),
    "USER_CHAUTHTOK": (("user", "change"), "password-changed", False),
    "ACCT_LOCK": (("user", "change"), "user-locked", False),
    "ACCT_UNLOCK": (("user", "change"), "user-unlocked", False),
    "CHUSER_ID": (("user", "change"), "user-id-changed", False),
    "USER_ROLE_CHANGE": (("user", "change"), "user-role-changed", False),
    "ROLE_ASSIGN": (("user", "change"), "user-role-changed", False),
    "ROLE_REMOVE": (("user", "change"), "user-role-changed", False),
    "ADD_GROUP": (("group", "creation"), "group-created", True),
    "DEL_GROUP": (("group", "deletion"), "group-deleted", True),
    "GRP_MGMT": (("group", "change"), "group-modified", True),
    "GRP_CHAUTHTOK": (("group", "change"), "group-password-changed", True),
    "CHGRP_ID": (("group", "change"), "group-id-changed", True),
}
# Other single-purpose records: (category, type, action).
_SIMPLE: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "CONFIG_CHANGE": (("configuration",), ("change",), "audit-config-changed"),
    "FEATURE_CHANGE": (("configuration",), ("change",), "audit-config-changed"),
    "DAEMON_START": (("process",), ("start",), "audit-daemon-start"),
    "DAEMON_END": (("process",), ("end",), "audit-daemon-stop"),
    "DAEMON_ABORT": (("process",), ("end",), "audit-daemon-abort"),
    "LOGIN": (("session",), ("start",), "login-uid-set"),
    "TTY": (("process",), ("info",), "tty-input"),
    "USER_TTY": (("process",), ("info",), "tty-input"),
    "SERVICE_START": (("process",), ("start",), "service-started"),
    "SERVICE_STOP": (("process",), ("end",), "service-stopped"),
    "SYSTEM_BOOT": (("host",), ("start",), "system-boot"),
    "SYSTEM_SHUTDOWN": (("host",), ("end",), "system-shutdown"),
    "SYSTEM_RUNLEVEL": (("host",), ("change",), "system-runlevel-changed"),
    "TIME_INJOFFSET": (("host",), ("change",), "system-time-changed"),
    "TIME_ADJNTPVAL": (("host",), ("change",), "system-time-changed"),
    "KERN_MODULE": (("driver",), ("info",), "kernel-module-loaded"),
    "NETFILTER_CFG": (("configuration",), ("change",), "netfilter-config-changed"),
    "SOFTWARE_UPDATE": (("package",), ("change",), "software-updated"),
    "MAC_POLICY_LOAD": (("configuration",), ("change",), "mac-policy-loaded"),
    "USER_MAC_POLICY_LOAD": (("configuration",), ("change",), "mac-policy-loaded"),
    "MAC_STATUS": (("configuration",), ("change",), "mac-status-changed"),
    "USER_MAC_STATUS": (("configuration",), ("change",), "mac-status-changed"),
    "MAC_CONFIG_CHANGE": (("configuration",), ("change",), "mac-config-changed"),
    "USER_MAC_CONFIG_CHANGE": (("configuration",), ("change",), "mac-config-changed"),
    "APPARMOR_STATUS": (("configuration",), ("change",), "mac-policy-changed"),
    "ANOM_ABEND": (("process",), ("end",), "anomaly-abend"),
    "ANOM_PROMISCUOUS": (("host",), ("change",), "anomaly-promiscuous"),
    "ANOM_LINK": (("file",), ("denied",), "anomaly-link"),
    "ANOM_CREAT": (("file",), ("denied",), "anomaly-creat"),
}
_MAC = frozenset(
    {
        "AVC", "USER_AVC", "SELINUX_ERR", "USER_SELINUX_ERR", "APPARMOR", "APPARMOR_AUDIT",
        "APPARMOR_ALLOWED", "APPARMOR_DENIED", "APPARMOR_HINT", "APPARMOR_ERROR",
        "APPARMOR_KILL",
    }
)  # fmt: skip
_FILE_CLASSES = frozenset(
    {"file", "dir", "lnk_file", "chr_file", "blk_file", "sock_file", "fifo_file"}
)
_CONFIG_LISTS = {"0": "user", "1": "task", "2": "entry", "3": "watch", "4": "exit",
                 "5": "exclude", "6": "filesystem", "7": "io_uring"}  # fmt: skip

# What sshd and PAM write as acct= when the account does not exist.
_NO_USER = frozenset({None, "?", "(unknown)", "(invalid user)", "unknown"})

_OK = frozenset({"success", "yes", "1"})
_FAILED = frozenset({"failed", "fail", "no", "0"})


def _outcome(value: str | None) -> str | None:
    if value is None:
        return None
    if value in _OK:
        return "success"
    if value in _FAILED:
        return "failure"
    return "unknown"


def _int(value: str | None) -> int | None:
    if value is not None and value.isdigit() and len(value) <= 10:
        return int(value)
    return None


def _name(value: str | None) -> str | None:
    """An enriched user or group name, None for unset and unresolved ids."""
    if value is None or value == "unset" or value.startswith("unknown("):
        return None
    return value


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+")


def _quote(arg: str) -> str:
    if _SHELL_SAFE.fullmatch(arg) is not None:
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def command_line(args: Sequence[str]) -> str:
    """argv joined by spaces, each argument that needs it single-quoted (POSIX shell)."""
    return " ".join(_quote(a) for a in args)


def decode_sockaddr(hexed: str) -> dict[str, Any] | None:
    """The family and address of a SOCKADDR ``saddr`` (hex of a struct sockaddr).

    Returns ``{"family": "inet", "ip": ..., "port": ...}`` for AF_INET/AF_INET6,
    ``{"family": "unix", "path": ...}`` (``@name`` for abstract sockets),
    ``{"family": "netlink", "pid": ...}`` or ``{"family": "<number>"}``; None when not hex.
    """
    try:
        raw = bytes.fromhex(hexed)
    except ValueError:
        return None
    if len(raw) < 2:
        return None
    family = int.from_bytes(raw[:2], "little")
    if family > 0xFF:  # written by a big-endian host
        family = int.from_bytes(raw[:2], "big")
    if family == 2 and len(raw) >= 8:
        return {
            "family": "inet",
            "port": int.from_bytes(raw[2:4], "big"),
            "ip": str(ipaddress.IPv4Address(raw[4:8])),
        }
    if family == 10 and len(raw) >= 24:
        ip6 = ipaddress.IPv6Address(raw[8:24])
        mapped = ip6.ipv4_mapped
        return {
            "family": "inet6",
            "port": int.from_bytes(raw[2:4], "big"),
            "ip": str(mapped) if mapped is not None else str(ip6),
        }
    if family == 1:
        path = raw[2:]
        if path[:1] == b"\x00":
            text = "@" + path[1:].rstrip(b"\x00").decode("utf-8", "replace")
        else:
            text = path.split(b"\x00", 1)[0].decode("utf-8", "replace")
        return {"family": "unix", "path": text}
    if family == 16 and len(raw) >= 8:
        return {"family": "netlink", "pid": int.from_bytes(raw[4:8], "little")}
    return {"family": str(family)}


class _B:
    """The attributes and extra fields of the event being built."""

    __slots__ = ("f", "used", "x")

    def __init__(self) -> None:
        self.f: dict[str, Any] = {}
        self.x: dict[str, Any] = {}
        self.used: set[str] = set()

    def set(self, attr: str, value: Any) -> None:
        if value is not None and value != "":
            self.f[attr] = value

    def extra(self, name: str, value: Any) -> None:
        if value is not None and value != "":
            self.x[name] = value


def _subject(b: _B, rec: AuditRecord, *, user: bool = True, key: bool = True) -> None:
    """process.* and user.* from the record that describes the acting process."""
    fl, en = rec.fields, rec.enriched
    b.set("process_pid", _int(fl.get("pid")))
    b.set("process_parent_pid", _int(fl.get("ppid")))
    exe = fl.get("exe")
    if exe is not None:
        b.set("process_executable", exe)
        b.set("process_name", posixpath.basename(exe) or exe)
    elif "comm" in fl:
        b.set("process_name", fl["comm"])
    if user:
        b.set("user_id", fl.get("uid"))
        b.set("user_name", _name(en.get("UID")))
    else:
        b.extra("process.user.id", fl.get("uid"))
        b.set("process_user_name", _name(en.get("UID")))
    b.set("user_effective_id", fl.get("euid"))
    b.set("user_effective_name", _name(en.get("EUID")))
    auid = fl.get("auid")
    if auid is not None and auid != UNSET_ID:
        b.set("user_audit_id", auid)
        b.set("user_audit_name", _name(en.get("AUID")))
    b.set("group_id", fl.get("gid"))
    b.set("group_name", _name(en.get("GID")))
    ses = fl.get("ses")
    if ses is not None and ses != UNSET_ID:
        b.extra("auditd.session", ses)
    b.used.update(("pid", "ppid", "exe", "uid", "euid", "auid", "gid", "ses"))
    if key:
        # CONFIG_CHANGE's key= names the rule changed, not a rule that fired: data.
        b.extra("auditd.key", fl.get("key"))
        b.used.add("key")


def _by_type(records: Sequence[AuditRecord]) -> dict[str, list[AuditRecord]]:
    out: dict[str, list[AuditRecord]] = {}
    for r in records:
        out.setdefault(r.type, []).append(r)
    return out


def _merged(records: list[AuditRecord] | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    for r in records or ():
        merged.update(r.fields)
    return merged


def _resolve(name: str, cwd: str | None, relative_ok: bool) -> str:
    if name.startswith("/"):
        return posixpath.normpath(name)
    if cwd and relative_ok:
        return posixpath.normpath(posixpath.join(cwd, name))
    return name


def _paths(groups: dict[str, list[AuditRecord]], syscall: dict[str, str], name: str) -> list[
    dict[str, str]
]:
    """PATH fields in item order, names made absolute against CWD where that is sound."""
    cwd = _merged(groups.get("CWD")).get("cwd")
    # A relative name given to an *at syscall is relative to its dirfd, not to the cwd.
    dirfds = _DIRFD_ARGS.get(name, ())
    relative_ok = all(syscall.get(a, _AT_FDCWD) == _AT_FDCWD for a in dirfds)
    items = [dict(r.fields) for r in groups.get("PATH", ())]
    items.sort(key=lambda p: _int(p.get("item")) or 0)
    for p in items:
        if "name" in p:
            p["name"] = _resolve(p["name"], cwd, relative_ok)
    return items


def _file(b: _B, groups: dict[str, list[AuditRecord]], syscall: dict[str, str],
          name: str) -> None:  # fmt: skip
    items = [p for p in _paths(groups, syscall, name) if "name" in p]
    by_kind: dict[str, dict[str, str]] = {}
    for p in items:
        by_kind.setdefault(p.get("nametype", "NORMAL"), p)
    obj = (
        by_kind.get("CREATE")
        or by_kind.get("DELETE")
        or by_kind.get("NORMAL")
        or by_kind.get("UNKNOWN")
        or by_kind.get("PARENT")
        or (items[0] if items else None)
    )
    kind = "PARENT"
    if obj is not None:
        kind = obj.get("nametype", "NORMAL")
        b.set("file_path", obj["name"])
        b.extra("file.inode", obj.get("inode"))
        b.extra("file.uid", obj.get("ouid"))
        b.extra("file.gid", obj.get("ogid"))
        mode = obj.get("mode")
        if mode is not None and mode.isdigit():
            b.set("file_mode", f"{int(mode, 8) & 0o7777:04o}")
    if name in ("rename", "renameat", "renameat2", "link", "linkat"):
        old = by_kind.get("DELETE") if name.startswith("rename") else by_kind.get("NORMAL")
        if old is not None and obj is not None and old is not obj:
            b.extra("auditd.data.old_path", old["name"])
    arg = _CHMOD_MODE_ARG.get(name)
    new_mode = syscall.get(arg, "") if arg is not None else ""
    if new_mode and all(c in "0123456789abcdefABCDEF" for c in new_mode):
        b.set("file_mode", f"{int(new_mode, 16) & 0o7777:04o}")
    if name.startswith("rename") or name in _FILE_CHANGE:
        etype = "change"
    elif kind == "CREATE":
        etype = "creation"
    elif kind == "DELETE":
        etype = "deletion"
    else:
        etype = "access"
    b.set("category", ("file",))
    b.set("type", (etype,))
    b.set("action", "file-" + name.replace("_", "-"))
    if obj is not None:
        for p_rec in groups.get("PATH", ()):
            if p_rec.fields.get("item") == obj.get("item"):
                b.set("file_owner", _name(p_rec.enriched.get("OUID")))
                break


def _network(b: _B, addr: dict[str, Any], name: str) -> None:
    family = addr["family"]
    b.extra("auditd.data.socket.family", family)
    as_source = name in _NET_PEER_IS_SOURCE
    if family in ("inet", "inet6"):
        b.extra("network.type", "ipv4" if "." in addr["ip"] else "ipv6")
        if as_source:
            b.set("source_ip", addr["ip"])
            b.set("source_port", addr["port"])
        else:
            b.set("destination_ip", addr["ip"])
            b.set("destination_port", addr["port"])
    elif family == "unix":
        b.extra("source.address" if as_source else "destination.address", addr["path"])
    elif family == "netlink":
        b.extra("auditd.data.socket.netlink_pid", addr["pid"])
    b.set("category", ("network",))
    if name in ("connect", "accept", "accept4"):
        b.set("type", ("connection", "start"))
    else:
        b.set("type", ("info",))
    b.set("action", "network-" + name)


def _exec(b: _B, groups: dict[str, list[AuditRecord]], syscall: dict[str, str],
          name: str) -> None:  # fmt: skip
    args = execve_args(_merged(groups.get("EXECVE")))
    ok = syscall.get("success", "yes") == "yes" or not syscall
    if ok and args is not None:
        b.set("process_args", tuple(args))
        b.set("process_command_line", command_line(args))
        b.extra("process.args_count", len(args))
        if "process_executable" not in b.f and args and args[0].startswith("/"):
            b.set("process_executable", args[0])
            b.set("process_name", posixpath.basename(args[0]))
    cwd = _merged(groups.get("CWD")).get("cwd")
    b.set("process_working_directory", cwd)
    if not ok:
        items = [p for p in _paths(groups, syscall, name) if "name" in p]
        if items:
            b.set("file_path", items[0]["name"])
    b.set("category", ("process",))
    b.set("type", ("start",))
    b.set("action", "process-started")


def _syscall_event(b: _B, groups: dict[str, list[AuditRecord]], sysrec: AuditRecord | None) -> None:
    syscall = sysrec.fields if sysrec is not None else {}
    enriched = sysrec.enriched if sysrec is not None else {}
    arch = syscall.get("arch", "")
    name = enriched.get("SYSCALL") or syscall_name(arch, syscall.get("syscall", "")) or "unknown"
    if sysrec is not None:
        b.extra("auditd.data.syscall", name)
        b.extra("auditd.data.arch", enriched.get("ARCH") or arch_name(arch))
        b.used.update(("syscall", "arch", "success"))
        success = syscall.get("success")
        if success == "no" and syscall.get("exit") == _EINPROGRESS:
            b.set("outcome", "unknown")
        else:
            b.set("outcome", _outcome(success))
    if name in _EXEC or (sysrec is None and "EXECVE" in groups):
        _exec(b, groups, syscall, name)
        return
    if name in _NET and "SOCKADDR" in groups:
        addr = decode_sockaddr(groups["SOCKADDR"][0].fields.get("saddr", ""))
        if addr is not None:
            _network(b, addr, name)
            _title(b, groups)
            return
    if "PATH" in groups:
        _file(b, groups, syscall, name)
        _title(b, groups)
        return
    b.set("category", ("process",))
    b.set("type", ("info",))
    b.set("action", "syscall-" + name.replace("_", "-"))
    _title(b, groups)


def _title(b: _B, groups: dict[str, list[AuditRecord]]) -> None:
    title = _merged(groups.get("PROCTITLE")).get("proctitle")
    b.extra("process.title", title)


def _user_source(b: _B, fl: dict[str, str]) -> None:
    addr = _ip(fl.get("addr"))
    host = fl.get("hostname")
    if addr is None:
        addr = _ip(host)
    if addr is not None:
        b.set("source_ip", addr)
        b.used.add("addr")
    if host is not None and _ip(host) is None:
        b.set("source_domain", host)
    b.used.add("hostname")
    b.set("outcome", _outcome(fl.get("res")))
    b.used.add("res")


def _auth(b: _B, rec: AuditRecord) -> None:
    fl = rec.fields
    category, etype, action = _AUTH[rec.type]
    _subject(b, rec, user=False)
    acct = fl.get("acct")
    if acct not in _NO_USER:
        b.set("user_name", acct)
        b.used.add("acct")
    b.set("user_id", fl.get("id"))
    if "id" in fl and "acct" not in fl:
        b.set("user_name", _name(rec.enriched.get("ID")))
    b.used.add("id")
    _user_source(b, fl)
    b.set("category", category)
    b.set("type", etype)
    b.set("action", action)


def _iam(b: _B, rec: AuditRecord) -> None:
    fl = rec.fields
    etype, action, group = _IAM[rec.type]
    _subject(b, rec)
    name = fl.get("acct") or _name(rec.enriched.get("ID"))
    if group:
        b.set("group_name", name)
        b.set("group_id", fl.get("id"))
    else:
        b.set("user_target_name", name)
        b.set("user_target_id", fl.get("id"))
    b.used.update(("acct", "id"))
    if rec.type == "USER_CHAUTHTOK" and "password" not in fl.get("op", "password"):
        action = "user-modified"
    _user_source(b, fl)
    b.set("category", ("iam",))
    b.set("type", etype)
    b.set("action", action)


def _command(b: _B, rec: AuditRecord) -> None:
    fl = rec.fields
    _subject(b, rec)
    for attr in ("process_pid", "process_executable", "process_name"):
        b.f.pop(attr, None)
    exe = fl.get("exe")
    b.set("process_parent_pid", _int(fl.get("pid")))
    b.set("process_parent_executable", exe)
    if exe is not None:
        b.set("process_parent_name", posixpath.basename(exe))
    cmd = fl.get("cmd")
    b.set("process_command_line", cmd)
    first = cmd.split(" ", 1)[0] if cmd else ""
    if first.startswith("/"):
        b.set("process_executable", first)
    if first:
        b.set("process_name", posixpath.basename(first))
    b.set("process_working_directory", fl.get("cwd"))
    b.used.update(("cmd", "cwd"))
    _user_source(b, fl)
    b.set("category", ("process",))
    b.set("type", ("start",))
    b.set("action", "user-command")


def _mac(b: _B, rec: AuditRecord, groups: dict[str, list[AuditRecord]]) -> None:
    fl = rec.fields
    result = (fl.get("seresult") or fl.get("apparmor") or "").lower()
    if rec.type == "APPARMOR_DENIED" or result == "denied" or rec.type.endswith("SELINUX_ERR"):
        action, etype, outcome = "mac-denied", "denied", "failure"
    elif result == "status" or rec.type == "APPARMOR_STATUS":
        action, etype, outcome = "mac-policy-changed", "change", "success"
    elif result in ("allowed", "granted") or rec.type == "APPARMOR_ALLOWED":
        action, etype, outcome = "mac-allowed", "allowed", "success"
    else:
        action, etype, outcome = "mac-audit", "info", "unknown"
    tclass = fl.get("tclass", "")
    path = fl.get("path") or fl.get("name")
    if etype == "change":
        category = "configuration"
    elif tclass in _FILE_CLASSES or (not tclass and path and path.startswith("/")):
        category = "file"
    elif tclass.endswith("socket"):
        category = "network"
    elif tclass == "process" or fl.get("operation") == "exec":
        category = "process"
    else:
        category = "host"
    if etype == "change":
        pass  # AppArmor STATUS: name= is the profile loaded, not a file accessed
    elif path is not None and path.startswith("/"):
        b.set("file_path", path)
        b.used.add("path" if "path" in fl else "name")
    elif "PATH" in groups:
        # SELinux gives only the last name component; the syscall's PATH has the rest.
        sysfl = _merged(groups.get("SYSCALL"))
        items = [p for p in _paths(groups, sysfl, "") if "name" in p]
        if items:
            b.set("file_path", items[0]["name"])
    b.set("category", (category,))
    b.set("type", (etype,))
    b.set("action", action)
    b.set("outcome", outcome)


def _simple(b: _B, rec: AuditRecord) -> None:
    category, etype, action = _SIMPLE[rec.type]
    fl = rec.fields
    if rec.type == "CONFIG_CHANGE":
        lst = fl.get("list")
        if lst is not None:
            b.extra("auditd.data.list_name", _CONFIG_LISTS.get(lst))
    elif rec.type.startswith("SERVICE_"):
        b.set("service_name", fl.get("unit"))
        b.used.add("unit")
    b.set("category", category)
    b.set("type", etype)
    b.set("action", action)
    if fl.get("res") is not None:
        b.set("outcome", _outcome(fl["res"]))
        b.used.add("res")


def _generic(b: _B, rec: AuditRecord) -> None:
    t = rec.type
    if t.startswith("ANOM_"):
        b.set("category", ("authentication",) if "LOGIN" in t else ("host",))
        b.set("type", ("info",))
        b.set("action", "anomaly-" + t[5:].lower().replace("_", "-"))
    elif t.startswith("DAEMON_"):
        b.set("category", ("process",))
        b.set("type", ("info",))
        b.set("action", "audit-daemon-" + t[7:].lower().replace("_", "-"))
    elif t == "BPF":
        op = rec.fields.get("op", "event").lower()
        b.set("category", ("process",))
        b.set("type", ("info",))
        b.set("action", "bpf-program-" + op)
    else:
        b.set("category", ("host",))
        b.set("type", ("info",))
        b.set("action", "audit-" + t.lower().replace("_", "-").replace("[", "-").rstrip("]"))
    res = rec.fields.get("res")
    if res is not None:
        b.set("outcome", _outcome(res))
        b.used.add("res")


def _primary(records: Sequence[AuditRecord]) -> AuditRecord:
    sysrec: AuditRecord | None = None
    for r in records:
        if r.type not in _AUX:
            return r
        if r.type == "SYSCALL" and sysrec is None:
            sysrec = r
    return sysrec if sysrec is not None else records[0]


def build_event(
    records: Sequence[AuditRecord],
    *,
    flags: Sequence[str] = (),
    path: str | None = None,
    hostname: str | None = None,
) -> Event:
    """One ECS event from the records of one audit event (at least one record)."""
    primary = _primary(records)
    groups = _by_type(records)
    sysrec = groups["SYSCALL"][0] if "SYSCALL" in groups else None
    b = _B()
    t = primary.type
    if sysrec is not None:
        _subject(b, sysrec)
        if primary is not sysrec:
            b.used = set()  # from here on, what the primary record's fields gave
    if primary is sysrec or t in _AUX:
        _syscall_event(b, groups, sysrec)
    elif t in _AUTH:
        _auth(b, primary)
    elif t in _IAM:
        _iam(b, primary)
    elif t == "USER_CMD":
        _command(b, primary)
    else:
        if sysrec is None:
            _subject(b, primary, key=t != "CONFIG_CHANGE")
        else:
            _subject_fill(b, primary)
        if t in _MAC:
            _mac(b, primary, groups)
        elif t in _SIMPLE:
            _simple(b, primary)
        else:
            _generic(b, primary)
    if primary is not sysrec and t not in _AUX:
        for name, value in primary.fields.items():
            if name not in b.used:
                b.x[f"auditd.data.{name}"] = value
    elif sysrec is not None:
        for name, value in sysrec.fields.items():
            if name not in b.used:
                b.x[f"auditd.data.{name}"] = value
    b.x["auditd.message_type"] = t.lower()
    b.x["auditd.sequence"] = primary.serial
    b.x["auditd.record_types"] = [name for name in groups if name != "EOE"]
    related_user = _unique(
        b.f.get(a)
        for a in ("user_name", "user_effective_name", "user_audit_name", "user_target_name")
    )
    related_ip = _unique(b.f.get(a) for a in ("source_ip", "destination_ip"))
    offset = next((r.offset for r in records if r.offset is not None), None)
    return Event(
        timestamp=primary.timestamp,
        dataset=DATASET,
        module=MODULE,
        original="\n".join(r.raw for r in records),
        host_name=primary.node or hostname,
        log_file_path=path,
        log_offset=offset,
        related_user=related_user,
        related_ip=related_ip,
        flags=tuple(flags) or None,
        extra=b.x,
        **b.f,
    )


def _subject_fill(b: _B, rec: AuditRecord) -> None:
    """Subject fields of a primary record that the SYSCALL record did not give."""
    fl, en = rec.fields, rec.enriched
    if "process_pid" not in b.f:
        b.set("process_pid", _int(fl.get("pid")))
    auid = fl.get("auid")
    if "user_audit_id" not in b.f and auid is not None and auid != UNSET_ID:
        b.set("user_audit_id", auid)
        b.set("user_audit_name", _name(en.get("AUID")))
    # The primary's own copies of these are the same as the SYSCALL's.
    b.used.update(("pid", "uid", "auid", "ses", "gid", "euid"))


def _unique(values: Any) -> tuple[str, ...] | None:
    out: list[str] = []
    for v in values:
        if v is not None and v not in out:
            out.append(v)
    return tuple(out) or None
