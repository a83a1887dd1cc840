"""Security-relevant records of syslog, kern.log and journald text (dataset ``keibi.syslog``).

The kernel (segfaults and traps, OOM kills, USB devices, tainting module loads, firewall
LOG lines, AppArmor and SELinux denials), systemd (services started, stopped, failed),
the loggers themselves (rsyslogd and journald starting, stopping, dropping messages) and
the clock (timesyncd, chronyd, ntpd, journald) are turned into typed events; every other
record becomes a ``log-line`` event, so nothing is dropped.

:func:`parse_syslog_message` is the catch-all of the syslog dispatcher: it takes any
program and never returns None. :data:`PROGRAMS` names the programs it has specific
knowledge of. A ``kernel`` record that carries a pid was not written by the kernel (any
user can log under that name) and is flagged ``log-injection``.

Key=value payloads (audit, firewall) are split by a linear scanner, never by a
backtracking pattern, so a hostile 1 MB line costs linear time.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import msgspec

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes
from keibi.parsers.syslog import Header, split_header

__all__ = [
    "DATASET",
    "PROGRAMS",
    "generic_outcomes",
    "log_line_event",
    "no_header_event",
    "parse_syslog_line",
    "parse_syslog_message",
    "program_generic_outcomes",
]

DATASET = "keibi.syslog"
PROGRAMS: frozenset[str] = frozenset(
    {
        "kernel", "audit", "systemd", "systemd-journald", "systemd-timesyncd",
        "systemd-modules-load", "rsyslogd", "chronyd", "ntpd",
    }
)

_INFO = ("info",)
_START = ("start",)
_END = ("end",)
_CHANGE = ("change",)
_DENIED = ("denied",)
_ALLOWED = ("allowed",)
_PROCESS = ("process",)
_HOST = ("host",)
_FILE = ("file",)
_NETWORK = ("network",)
_DRIVER = ("driver",)
_CONFIG = ("configuration",)
_MALFORMED = ("malformed",)
_INJECTED = ("log-injection",)

_UPTIME = re.compile(r"\[\s*\d{1,10}\.\d{1,9}\] ?")
_SEGV = re.compile(
    r"(.{1,64}?)\[(\d{1,10})\]: segfault at (\S+) ip (\S+) sp (\S+) error (\S+)"
    r"(?: in ([^\[\s]+))?"
)
_TRAP = re.compile(
    r"traps: (.{1,64}?)\[(\d{1,10})\] (general protection fault|trap [^:]{1,40}?) "
    r"ip:(\S+) sp:(\S+) error:(\S+)(?: in ([^\[\s]+))?"
)
_OOM = re.compile(r"Killed process (\d{1,10}) \((.{0,64}?)\)(?=[ ,]|$)")
_KB = re.compile(r"(total-vm|anon-rss):(\d{1,20})kB")
_UID = re.compile(r"\b[Uu][Ii][Dd]:(\d{1,10})")
_USB_NEW = re.compile(
    r"usb (\S{1,32}): New USB device found, idVendor=([0-9a-fA-F]{4}), "
    r"idProduct=([0-9a-fA-F]{4})(?:, bcdDevice=\s?(\S{1,16}))?"
)
_USB_STRING = re.compile(r"usb (\S{1,32}): (Product|Manufacturer|SerialNumber): (.*)", re.S)
_USB_GONE = re.compile(r"usb (\S{1,32}): USB disconnect, device number (\d{1,10})")
_USB_PLUG = re.compile(r"usb (\S{1,32}): new (\S{1,32}) USB device number (\d{1,10})")
_MODULE = re.compile(
    r"([\w-]{1,64}): (?:(loading out-of-tree module taints kernel)"
    r"|(module verification failed)|module license '([^']{0,64})' taints kernel)"
)
_LOADED = re.compile(r"(?:Loaded|Inserted) module:? '?([\w-]{1,64})'?")
_AVC = re.compile(r"avc:\s+(denied|granted)\s+\{\s*([^}]{0,512}?)\s*\}\s+for\s")
_EXIT = re.compile(r"code=(\w{1,16}), status=(\d{1,10})(?:/(\w{1,32}))?")
_COUNT = re.compile(r"(\d{1,20}) messages")
_FROM_PID = re.compile(r"from pid (\d{1,10})")
_OFFSET = re.compile(r"(?:wrong by|stepped by|offset|time reset) ([+-]?\d{1,12}(?:\.\d{1,12})?) s")
_SIGNAL = re.compile(r"exiting on signal (\d{1,3})")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_X_PID = re.compile(r'x-pid="(\d{1,10})"')

_UNIT_SUFFIXES = (".service",)
_UNIT_TYPES = (
    ".service", ".socket", ".target", ".device", ".mount", ".automount", ".swap", ".timer",
    ".path", ".slice", ".scope",
)
# legacy (description only) messages that are about something other than a service
_NOT_SERVICES = ("target ", "Session ", "User Manager for UID", "User Runtime Directory")
_FILE_CLASSES = frozenset(
    {"file", "dir", "lnk_file", "chr_file", "blk_file", "sock_file", "fifo_file"}
)
_DROP_WORDS = ("BLOCK", "DROP", "REJECT", "DENY", "DENIED")
_ALLOW_WORDS = ("ALLOW", "ACCEPT")
_TRANSPORTS = {"icmpv6": "ipv6-icmp", "ipv6-icmp": "ipv6-icmp"}
_HEXCHARS = frozenset("0123456789ABCDEFabcdef")


# -- building events ---------------------------------------------------------------------


def log_line_event(
    header: Header,
    line: str,
    offset: int | None,
    ctx: LineContext,
    dataset: str = DATASET,
    flags: tuple[str, ...] | None = None,
) -> Event:
    """The generic ``log-line`` event of a syslog record nobody has a better use for."""
    return Event(
        timestamp=header.timestamp,
        type=_INFO,
        action="log-line",
        dataset=dataset,
        original=line,
        message=header.message,
        host_name=header.host or None,
        process_name=header.program,
        process_pid=header.pid,
        log_file_path=ctx.path,
        log_offset=offset,
        flags=flags,
    )


def no_header_event(
    line: str, offset: int | None, ctx: LineContext, dataset: str = DATASET
) -> Event:
    """A line without a syslog header: ``log-line``, flagged ``malformed``, at ref_time."""
    return Event(
        timestamp=round(ctx.ref_time, 6),
        type=_INFO,
        action="log-line",
        dataset=dataset,
        original=line,
        message=line.rstrip("\r\n"),
        host_name=ctx.hostname,
        log_file_path=ctx.path,
        log_offset=offset,
        flags=_MALFORMED,
    )


def _event(
    h: Header, line: str, offset: int | None, ctx: LineContext, **fields: Any
) -> Event:
    return Event(
        timestamp=h.timestamp,
        dataset=DATASET,
        original=line,
        message=h.message,
        host_name=h.host or None,
        log_file_path=ctx.path,
        log_offset=offset,
        **fields,
    )


def _fields(text: str) -> tuple[dict[str, str], set[str]]:
    """``key=value`` and ``key="quoted"`` pairs (first one wins) and the quoted keys; linear."""
    out: dict[str, str] = {}
    quoted: set[str] = set()
    n = len(text)
    i = 0
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        space = text.rfind(" ", i, eq)
        key = text[space + 1 if space >= 0 else i : eq]
        is_quoted = text.startswith('"', eq + 1)
        if is_quoted:
            close = text.find('"', eq + 2)
            end = n if close < 0 else close
            value = text[eq + 2 : end]
        else:
            sp = text.find(" ", eq + 1)
            end = n if sp < 0 else sp
            value = text[eq + 1 : end]
        i = end + 1
        if key and key not in out:
            out[key] = value
            if is_quoted:
                quoted.add(key)
    return out, quoted


def _text(fields: dict[str, str], quoted: set[str], key: str) -> str | None:
    """An audit string field: quoted is literal, unquoted is hex (``2F746D70``)."""
    value = fields.get(key)
    if value is None or key in quoted:
        return value
    if value and len(value) % 2 == 0 and _HEXCHARS.issuperset(value):
        try:
            return bytes.fromhex(value).decode("utf-8", "replace")
        except ValueError:
            return value
    return value


def _ip(text: str) -> str | None:
    """``text`` as a canonical IP address, or None if it is not one."""
    if _IPV4.fullmatch(text):
        return text  # already canonical: no leading zeros, each part <= 255
    if ":" not in text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    if text is None or not text.isdigit() or not text.isascii() or len(text) > 10:
        return None
    return int(text)


# -- kernel ------------------------------------------------------------------------------


def _segfault(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    m = _SEGV.match(msg)
    if m is None:
        return None
    comm, pid, addr, ip, sp, error, module = m.groups()
    extra = {
        "keibi.fault.address": addr,
        "keibi.fault.ip": ip,
        "keibi.fault.sp": sp,
        "keibi.fault.error": error,
    }
    if module:
        extra["keibi.fault.module"] = module
    return _event(
        h, line, offset, ctx, category=_PROCESS, type=_END, action="process-segfault",
        process_name=comm, process_pid=int(pid), extra=extra,
    )


def _trap(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    m = _TRAP.match(msg)
    if m is None:
        return None
    comm, pid, kind, ip, sp, error, module = m.groups()
    extra = {
        "keibi.fault.kind": kind[5:] if kind.startswith("trap ") else kind,
        "keibi.fault.ip": ip,
        "keibi.fault.sp": sp,
        "keibi.fault.error": error,
    }
    if module:
        extra["keibi.fault.module"] = module
    return _event(
        h, line, offset, ctx, category=_PROCESS, type=_END, action="process-trap",
        process_name=comm, process_pid=int(pid), extra=extra,
    )


def _oom(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    if msg.startswith("oom-kill:"):
        # oom-kill:constraint=CONSTRAINT_NONE,...,task=foo,pid=123,uid=1000
        body = msg[9:].rstrip()
        t = body.rfind(",task=")
        p = body.rfind(",pid=")
        u = body.rfind(",uid=")
        if not (0 <= t < p < u):
            return None
        pid, uid = _int(body[p + 5 : u]), _int(body[u + 5 :])
        if pid is None or uid is None:
            return None
        extra: dict[str, Any] = {}
        if body.startswith("constraint="):
            extra["keibi.oom.constraint"] = body[11:].split(",", 1)[0]
        return _event(
            h, line, offset, ctx, category=_PROCESS, type=_INFO, action="oom-kill",
            process_name=body[t + 6 : p], process_pid=pid, user_id=str(uid),
            extra=extra or None,
        )
    m = _OOM.search(msg)
    if m is None:
        return None
    tail = msg[m.end() :]
    extra = {f"keibi.oom.{k.replace('-', '_')}_kb": int(v) for k, v in _KB.findall(tail)}
    uid_m = _UID.search(tail)
    return _event(
        h, line, offset, ctx, category=_PROCESS, type=_END, action="oom-kill",
        process_name=m.group(2), process_pid=int(m.group(1)),
        user_id=uid_m.group(1) if uid_m else None, extra=extra or None,
    )


def _usb(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    m = _USB_NEW.match(msg)
    if m is not None:
        port, vendor, product, bcd = m.groups()
        extra = {
            "keibi.usb.port": port,
            "keibi.usb.vendor_id": vendor.lower(),
            "keibi.usb.product_id": product.lower(),
        }
        if bcd:
            extra["keibi.usb.bcd_device"] = bcd.rstrip(",")
        return _event(
            h, line, offset, ctx, category=_HOST, type=_CHANGE,
            action="usb-device-attached", extra=extra,
        )
    m = _USB_STRING.match(msg)
    if m is not None:
        port, what, value = m.groups()
        key = "serial" if what == "SerialNumber" else what.lower()
        return _event(
            h, line, offset, ctx, category=_HOST, type=_INFO, action="usb-device-info",
            extra={"keibi.usb.port": port, f"keibi.usb.{key}": value.strip()},
        )
    m = _USB_GONE.match(msg)
    if m is not None:
        return _event(
            h, line, offset, ctx, category=_HOST, type=_CHANGE, action="usb-device-detached",
            extra={"keibi.usb.port": m.group(1), "keibi.usb.device_number": int(m.group(2))},
        )
    m = _USB_PLUG.match(msg)
    if m is not None:
        return _event(
            h, line, offset, ctx, category=_HOST, type=_INFO, action="usb-device-info",
            extra={
                "keibi.usb.port": m.group(1),
                "keibi.usb.speed": m.group(2),
                "keibi.usb.device_number": int(m.group(3)),
            },
        )
    return None


def _module(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    m = _MODULE.match(msg)
    if m is not None:
        name, out_of_tree, unsigned, license_ = m.groups()
        if out_of_tree:
            taint = "out-of-tree"
        elif unsigned:
            taint = "unsigned"
        else:
            taint = "proprietary"
        extra: dict[str, Any] = {"keibi.kernel.module": name, "keibi.kernel.taint": taint}
        if license_ is not None:
            extra["keibi.kernel.module_license"] = license_
    else:
        m = _LOADED.match(msg)
        if m is None:
            return None
        extra = {"keibi.kernel.module": m.group(1)}
    return _event(
        h, line, offset, ctx, category=_DRIVER, type=_START, action="kernel-module-loaded",
        extra=extra,
    )


def _firewall(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    at = msg.find("IN=")
    while at > 0 and msg[at - 1] != " ":
        at = msg.find("IN=", at + 1)
    if at < 0:
        return None
    prefix = msg[:at].strip()
    kv: dict[str, str] = {}
    for token in msg[at:].split(" "):
        key, eq, value = token.partition("=")
        if eq and key not in kv:
            kv[key] = value
    if "SRC" not in kv or "DST" not in kv:
        return None
    flags = None
    ips: list[str] = []
    addrs: list[str | None] = []
    for key in ("SRC", "DST"):
        addr = _ip(kv[key])
        addrs.append(addr)
        if addr is None:
            flags = _MALFORMED
        elif addr not in ips:
            ips.append(addr)
    upper = prefix.upper()
    if any(w in upper for w in _DROP_WORDS):
        action, types = "firewall-drop", _DENIED
    elif any(w in upper for w in _ALLOW_WORDS):
        action, types = "firewall-log", _ALLOWED
    else:
        action, types = "firewall-log", _INFO
    proto = kv.get("PROTO", "").lower()
    iface_in, iface_out = kv.get("IN", ""), kv.get("OUT", "")
    direction = None
    if iface_in and not iface_out:
        direction = "ingress"
    elif iface_out and not iface_in:
        direction = "egress"
    extra: dict[str, Any] = {}
    if prefix:
        extra["keibi.firewall.prefix"] = prefix
    if iface_in:
        extra["keibi.firewall.in_interface"] = iface_in
    if iface_out:
        extra["keibi.firewall.out_interface"] = iface_out
    return _event(
        h, line, offset, ctx, category=_NETWORK, type=types, action=action,
        source_ip=addrs[0], destination_ip=addrs[1],
        source_port=_int(kv.get("SPT")), destination_port=_int(kv.get("DPT")),
        network_transport=_TRANSPORTS.get(proto, proto) or None,
        network_direction=direction, related_ip=tuple(ips) or None,
        flags=flags, extra=extra or None,
    )


def _apparmor(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    kv, quoted = _fields(msg[msg.find("apparmor=") :])
    verdict = kv.get("apparmor", "")
    extra: dict[str, Any] = {}
    for key in ("operation", "profile", "requested_mask", "denied_mask", "capname", "info"):
        value = _text(kv, quoted, key) if key == "profile" else kv.get(key)
        if value is not None:
            extra[f"keibi.apparmor.{key}"] = value
    name = _text(kv, quoted, "name")
    if verdict == "STATUS":
        if name is not None:
            extra["keibi.apparmor.name"] = name
        return _event(
            h, line, offset, ctx, category=_CONFIG, type=_CHANGE, action="apparmor-status",
            process_pid=_int(kv.get("pid")), process_name=_text(kv, quoted, "comm"),
            extra=extra or None,
        )
    klass = kv.get("class")
    if klass == "net":
        category = _NETWORK
    elif name is not None and klass in (None, "file"):
        category = _FILE
    else:
        category = _PROCESS
    if verdict == "DENIED":
        action, types, outcome = "apparmor-denied", _DENIED, "failure"
    elif verdict == "ALLOWED":
        action, types, outcome = "apparmor-allowed", _ALLOWED, "success"
    else:
        action, types, outcome = "apparmor-audit", _INFO, None
    return _event(
        h, line, offset, ctx, category=category, type=types, action=action, outcome=outcome,
        process_pid=_int(kv.get("pid")), process_name=_text(kv, quoted, "comm"),
        file_path=name if category is _FILE else None, extra=extra or None,
    )


def _selinux(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    m = _AVC.search(msg)
    if m is None:
        return None
    verdict, perms = m.groups()
    kv, quoted = _fields(msg[m.end() :])
    tclass = kv.get("tclass")
    permissive = kv.get("permissive")
    extra: dict[str, Any] = {"keibi.selinux.permissions": perms.split()}
    for key in ("scontext", "tcontext", "tclass"):
        if key in kv:
            extra[f"keibi.selinux.{key}"] = kv[key]
    if permissive is not None:
        extra["keibi.selinux.permissive"] = permissive == "1"
    name = _text(kv, quoted, "name")
    if name is not None:
        extra["file.name"] = name
    denied = verdict == "denied"
    return _event(
        h, line, offset, ctx,
        category=_FILE if tclass in _FILE_CLASSES else _PROCESS,
        type=_DENIED if denied else _ALLOWED,
        action="selinux-denied" if denied else "selinux-granted",
        outcome=("failure" if permissive != "1" else "success") if denied else "success",
        process_pid=_int(kv.get("pid")), process_name=_text(kv, quoted, "comm"),
        process_executable=_text(kv, quoted, "exe"), file_path=_text(kv, quoted, "path"),
        extra=extra,
    )


def _audit(h: Header, msg: str, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    if "apparmor=" in msg:
        return _apparmor(h, msg, line, offset, ctx)
    if "avc:" in msg:
        return _selinux(h, msg, line, offset, ctx)
    return None


def _kernel(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg[:1] == "[":
        m = _UPTIME.match(msg)
        if m is not None:
            msg = msg[m.end() :]
    if msg.startswith("audit") or msg.startswith("AVC"):
        return _audit(h, msg, line, offset, ctx)
    if " segfault at " in msg:
        return _segfault(h, msg, line, offset, ctx)
    if msg.startswith("traps: "):
        return _trap(h, msg, line, offset, ctx)
    if "Killed process " in msg or msg.startswith("oom-kill:"):
        return _oom(h, msg, line, offset, ctx)
    if msg.startswith("usb "):
        return _usb(h, msg, line, offset, ctx)
    if "SRC=" in msg and "DST=" in msg:
        return _firewall(h, msg, line, offset, ctx)
    if (
        "taints kernel" in msg
        or "module verification failed" in msg
        or msg.startswith(("Loaded module", "Inserted module"))
    ):
        return _module(h, msg, line, offset, ctx)
    return None


# -- systemd, loggers, clocks ------------------------------------------------------------


def _unit_and_description(rest: str) -> tuple[str | None, str] | None:
    """``foo.service - Desc.`` (systemd >= 250) or ``Desc.`` (older: no unit name).

    None when the unit is not a service (a scope, target, timer, mount...).
    """
    unit, sep, desc = rest.partition(" - ")
    if sep and " " not in unit and unit.endswith(_UNIT_TYPES):
        return (unit, desc.rstrip(".")) if unit.endswith(".service") else None
    bare = rest.rstrip(".")
    if " " not in bare and bare.endswith(_UNIT_TYPES):
        return (bare, "") if bare.endswith(".service") else None
    if not bare or bare.startswith(_NOT_SERVICES):
        return None
    return None, bare


def _service(
    h: Header, line: str, offset: int | None, ctx: LineContext, action: str, rest: str
) -> Event | None:
    found = _unit_and_description(rest)
    if found is None:
        return None
    unit, desc = found
    failed = action == "service-failed"
    return _event(
        h, line, offset, ctx, category=_PROCESS,
        type=_START if action == "service-started" else _END, action=action,
        outcome="failure" if failed else "success", service_name=unit,
        extra={"keibi.service.description": desc} if desc else None,
    )


def _systemd(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg.startswith("Started "):
        return _service(h, line, offset, ctx, "service-started", msg[8:])
    if msg.startswith("Stopped "):
        return _service(h, line, offset, ctx, "service-stopped", msg[8:])
    if msg.startswith("Failed to start "):
        return _service(h, line, offset, ctx, "service-failed", msg[16:])
    if msg.startswith("Time has been changed"):
        return _clock(h, line, offset, ctx)
    unit, sep, what = msg.partition(": ")
    if not sep or " " in unit or not unit.endswith(_UNIT_SUFFIXES):
        return None
    if what.startswith(("Main process exited, ", "Control process exited, ")):
        m = _EXIT.search(what)
        if m is None:
            return None
        code, status, name = m.groups()
        ok = code == "exited" and status == "0"
        extra: dict[str, Any] = {"keibi.service.code": code}
        extra["keibi.service.status"] = f"{status}/{name}" if name else status
        return _event(
            h, line, offset, ctx, category=_PROCESS, type=_END,
            action="service-stopped" if ok else "service-failed",
            outcome="success" if ok else "failure", service_name=unit,
            process_exit_code=int(status) if code == "exited" else None, extra=extra,
        )
    if what.startswith("Failed with result '"):
        result = what[20:].split("'", 1)[0]
        return _event(
            h, line, offset, ctx, category=_PROCESS, type=_END, action="service-failed",
            outcome="failure", service_name=unit, extra={"keibi.service.result": result},
        )
    return None


def _clock(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event:
    m = _OFFSET.search(h.message)
    return _event(
        h, line, offset, ctx, category=_HOST, type=_CHANGE, action="time-changed",
        process_name=h.program, process_pid=h.pid,
        extra={"keibi.time.offset_seconds": float(m.group(1))} if m else None,
    )


def _logger(
    h: Header, line: str, offset: int | None, ctx: LineContext, action: str,
    pid: int | None = None, extra: dict[str, Any] | None = None,
) -> Event:
    types = {"logger-started": _START, "logger-stopped": _END}.get(action, _CHANGE)
    return _event(
        h, line, offset, ctx, category=_PROCESS, type=types, action=action,
        process_name=h.program, process_pid=h.pid if h.pid is not None else pid, extra=extra,
    )


def _suppressed(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str,
    service: str | None = None,
) -> Event:
    extra: dict[str, Any] = {}
    m = _COUNT.search(msg)
    if m is not None:
        extra["keibi.suppressed_count"] = int(m.group(1))
    m = _FROM_PID.search(msg)
    if m is not None:
        extra["keibi.suppressed_pid"] = int(m.group(1))
    return _event(
        h, line, offset, ctx, category=_HOST, type=_INFO, action="logs-suppressed",
        process_name=h.program, process_pid=h.pid, service_name=service, extra=extra or None,
    )


def _journald(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg.startswith("Journal started"):
        return _logger(h, line, offset, ctx, "logger-started")
    if msg.startswith("Journal stopped"):
        return _logger(h, line, offset, ctx, "logger-stopped")
    if msg.startswith("Suppressed "):
        source = msg.partition(" messages from ")[2].strip().rstrip(".")
        return _suppressed(h, line, offset, ctx, msg, source.rsplit("/", 1)[-1] or None)
    if msg.startswith("Forwarding to syslog missed "):
        return _suppressed(h, line, offset, ctx, msg)
    if msg.startswith("Time jumped backwards"):
        return _clock(h, line, offset, ctx)
    return None


def _rsyslogd(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg.startswith("[origin "):
        close = msg.find("] ")
        if close < 0:
            return None
        info, tail = msg[:close], msg[close + 2 :]
        m = _X_PID.search(info)
        pid = int(m.group(1)) if m else None
        if tail.startswith("start"):
            return _logger(h, line, offset, ctx, "logger-started", pid)
        m = _SIGNAL.match(tail)
        if m is not None:
            return _logger(
                h, line, offset, ctx, "logger-stopped", pid,
                {"keibi.logger.signal": int(m.group(1))},
            )
        if "HUPed" in tail:
            return _logger(h, line, offset, ctx, "logger-reloaded", pid)
        return None
    limited = "rate-limiting" in msg or "rate limiting" in msg
    if limited and ("lost" in msg or "drop" in msg):
        return _suppressed(h, line, offset, ctx, msg)
    return None


def _timesyncd(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg.startswith(("Initial clock synchronization", "Time has been changed")):
        return _clock(h, line, offset, ctx)
    return None


def _chronyd(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg.startswith(("System clock wrong by", "System clock was stepped by")) or (
        "time jump detected" in msg
    ):
        return _clock(h, line, offset, ctx)
    return None


def _ntpd(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    msg = h.message
    if msg.startswith(("step time server", "time reset", "time correction of")):
        return _clock(h, line, offset, ctx)
    return None


def _modules_load(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    return _module(h, h.message, line, offset, ctx)


def _audit_program(h: Header, line: str, offset: int | None, ctx: LineContext) -> Event | None:
    return _audit(h, h.message, line, offset, ctx)


_HANDLERS = {
    "kernel": _kernel,
    "audit": _audit_program,
    "systemd": _systemd,
    "systemd-journald": _journald,
    "systemd-timesyncd": _timesyncd,
    "systemd-modules-load": _modules_load,
    "rsyslogd": _rsyslogd,
    "chronyd": _chronyd,
    "ntpd": _ntpd,
}


# -- entry points ------------------------------------------------------------------------


def parse_syslog_message(
    header: Header, line: str, offset: int | None, ctx: LineContext
) -> list[Event] | None:
    """The events of one syslog record whose header is already split (never None).

    ``line`` is the whole record (``event.original``), ``header`` its
    :func:`~keibi.parsers.syslog.split_header`.
    """
    program = header.program
    event: Event | None = None
    try:
        if program is not None:
            handler = _HANDLERS.get(program)
            if handler is None and program.startswith("rsyslogd"):  # rsyslogd-2177
                handler = _rsyslogd
            if handler is not None:
                event = handler(header, line, offset, ctx)
    except Exception:  # never raise on input; the flag makes the bug visible
        return [log_line_event(header, line, offset, ctx, flags=("malformed", "parse-error"))]
    if event is None:
        event = log_line_event(header, line, offset, ctx)
    if program == "kernel" and header.pid is not None:
        event = msgspec.structs.replace(event, flags=(*(event.flags or ()), *_INJECTED))
    return [event]


_LOG_LINE: Outcomes = frozenset({("log-line", DATASET, ())})


def generic_outcomes(header: Header) -> Outcomes | None:
    """What :func:`parse_syslog_message` may give for a record with this header
    (:data:`~keibi.parsers.screen.Outcome`): one ``log-line`` event for a program it has
    no handler for, else None (not known before parsing)."""
    return program_generic_outcomes(header.program)


def program_generic_outcomes(program: str | None) -> Outcomes | None:
    """:func:`generic_outcomes` of a header with this program."""
    if program is not None and (program in _HANDLERS or program.startswith("rsyslogd")):
        return None
    return _LOG_LINE


def parse_syslog_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one whole syslog line (a :class:`~keibi.parsers.context.LineParser`).

    An empty line gives no event; a line without a syslog header gives a ``log-line``
    event flagged ``malformed``.
    """
    text = line.rstrip("\r\n")
    if not text.strip():
        return []
    try:
        header = split_header(text, ctx)
    except Exception:
        header = None
    if header is None:
        return [no_header_event(line, offset, ctx)]
    return parse_syslog_message(header, line, offset, ctx) or [no_header_event(line, offset, ctx)]
