"""From Sigma's Linux taxonomy to keibi's ECS events: log sources and field names.

A Sigma rule names a log source (``category: process_creation``, ``service: auth``...)
and fields in that source's vocabulary (``Image``, ``CommandLine``, auditd's ``a0``).
This module is the processing table that maps both onto keibi events:

* each known log source becomes constraints on the event (``event.dataset`` equal to
  ``keibi.auth``, ``event.category`` containing ``process``...), ANDed to the rule's
  condition, so the index can route events to the rule cheaply;
* each Sigma field name becomes one ECS field (optionally with a value translation,
  e.g. ``Initiated: 'true'`` -> ``network.direction: outbound``).

Field names are looked up in the log source's table first; a name that is already an
ECS name (an :class:`~keibi.events.model.Event` attribute, or any dotted name) is used
as is, which is how keibi's own rules are written. Anything else is unmapped and makes
the rule "not evaluable" (with the reason), never a crash.

auditd (``service: auditd``): one audit record is one event. The record type is
``auditd.type`` (``SYSCALL``, ``EXECVE``, ``PATH``...) and every record field keeps its
audit name under ``auditd.data.`` in lower case: ``a0``..``a9`` -> ``auditd.data.a0``..,
``SYSCALL`` -> ``auditd.data.syscall``, ``exe``, ``comm``, ``key``, ``name``,
``nametype``, ``euid``... -> ``auditd.data.exe`` etc. (see :data:`AUDITD_FIELDS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from keibi.events.model import FIELD_ATTRS, Event


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One Sigma field -> one ECS field, with an optional value translation."""

    target: str
    # lower-cased Sigma value -> event value (e.g. {"true": "outbound"})
    values: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class LogSource:
    """How one Sigma log source shows up in keibi events."""

    name: str
    # ECS field -> allowed values (case-insensitive), all ANDed to the rule's condition
    constraints: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fields: Mapping[str, FieldMapping] = field(default_factory=dict)


def _m(**names: str) -> dict[str, FieldMapping]:
    return {k: FieldMapping(v) for k, v in names.items()}


PROCESS_FIELDS = _m(
    Image="process.executable",
    CommandLine="process.command_line",
    ParentImage="process.parent.executable",
    ParentCommandLine="process.parent.command_line",
    User="user.name",
    CurrentDirectory="process.working_directory",
    ProcessId="process.pid",
    ParentProcessId="process.parent.pid",
    ProcessGuid="process.entity_id",
    # Sysmon for Linux's LogonId is the audit login id (loginuid, "auid").
    LogonId="user.audit.id",
)
FILE_FIELDS = _m(
    TargetFilename="file.path",
    Image="process.executable",
    User="user.name",
    ProcessId="process.pid",
)
NETWORK_FIELDS = {
    **_m(
        Image="process.executable",
        User="user.name",
        ProcessId="process.pid",
        DestinationIp="destination.ip",
        DestinationPort="destination.port",
        DestinationHostname="destination.domain",
        SourceIp="source.ip",
        SourcePort="source.port",
        SourceHostname="source.domain",
        Protocol="network.transport",
    ),
    "Initiated": FieldMapping("network.direction", {"true": "outbound", "false": "inbound"}),
}
_AUDIT_NAMES = (
    "syscall", "exe", "comm", "key", "name", "nametype", "euid", "uid", "auid", "gid",
    "egid", "suid", "sgid", "fsuid", "fsgid", "ses", "pid", "ppid", "tty", "success",
    "exit", "cwd", "proctitle", "unit", "cmd", "terminal", "res", "acct", "argc", "mode",
    "ouid", "ogid", "inode", "dev", "objtype", "item", "arch", "op", "hostname", "addr",
    "saddr", "msg", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9",
)
#: auditd record fields (Sigma names, case as Sigma writes them) -> keibi extra fields.
AUDITD_FIELDS: dict[str, FieldMapping] = {
    "type": FieldMapping("auditd.type"),
    "SYSCALL": FieldMapping("auditd.data.syscall"),
    **{n: FieldMapping(f"auditd.data.{n}") for n in _AUDIT_NAMES},
}

_DATASET = "event.dataset"

#: Sigma ``category`` -> log source.
CATEGORIES: dict[str, LogSource] = {
    "process_creation": LogSource(
        "process_creation",
        (("event.category", ("process",)), ("event.type", ("start",))),
        PROCESS_FIELDS,
    ),
    "file_event": LogSource(
        "file_event",
        (("event.category", ("file",)), ("event.type", ("creation",))),
        FILE_FIELDS,
    ),
    "network_connection": LogSource(
        "network_connection", (("event.category", ("network",)),), NETWORK_FIELDS),
}
#: Sigma ``service`` -> log source (keibi's datasets).
SERVICES: dict[str, LogSource] = {
    "auth": LogSource("auth", ((_DATASET, ("keibi.auth",)),)),
    "sshd": LogSource("sshd", ((_DATASET, ("keibi.auth",)),)),
    "sudo": LogSource("sudo", ((_DATASET, ("keibi.auth",)),)),
    "syslog": LogSource("syslog", ((_DATASET, ("keibi.syslog",)),)),
    "cron": LogSource("cron", ((_DATASET, ("keibi.cron",)),)),
    "auditd": LogSource("auditd", ((_DATASET, ("keibi.auditd",)),), AUDITD_FIELDS),
}
#: ``product: linux`` alone: any Linux event, ECS field names only.
ANY_LINUX = LogSource("linux")
PRODUCTS = frozenset({"linux"})
#: Where keywords (values without a field) are searched.
KEYWORD_FIELDS = ("message", "event.original")


class Unmapped(Exception):
    """A log source or field keibi cannot map; the message is the reason."""


def log_source(category: str | None, product: str | None, service: str | None) -> LogSource:
    """The log source of a rule; raises :class:`Unmapped` with the reason."""
    if product is not None and product.lower() not in PRODUCTS:
        raise Unmapped(f"unsupported logsource product '{product}'")
    parts: list[LogSource] = []
    if category is not None:
        src = CATEGORIES.get(category.lower())
        if src is None:
            raise Unmapped(f"unsupported logsource category '{category}'")
        parts.append(src)
    if service is not None:
        src = SERVICES.get(service.lower())
        if src is None:
            raise Unmapped(f"unsupported logsource service '{service}'")
        parts.append(src)
    if not parts:
        return ANY_LINUX
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    return LogSource(f"{a.name}+{b.name}", a.constraints + b.constraints,
                     {**b.fields, **a.fields})


def is_ecs_name(name: str) -> bool:
    """A name keibi takes as an ECS field as is."""
    return name in FIELD_ATTRS or "." in name or name == "message"


def map_field(source: LogSource, name: str) -> FieldMapping:
    """The ECS field for Sigma field ``name`` in ``source``; raises :class:`Unmapped`."""
    m = source.fields.get(name)
    if m is not None:
        return m
    if is_ecs_name(name):
        return FieldMapping(name)
    lowered = name.lower()
    for key, m in source.fields.items():
        if key.lower() == lowered:
            return m
    raise Unmapped(f"unmapped field '{name}' for logsource {source.name}")


Getter = Callable[[Event], Any]


def getter(name: str) -> Getter:
    """A fast function returning field ``name`` of an event (None when absent)."""
    attr = FIELD_ATTRS.get(name)
    if attr is not None:
        return attrgetter(attr)

    def get_extra(event: Event) -> Any:
        extra = event.extra
        return None if extra is None else extra.get(name)

    return get_extra
