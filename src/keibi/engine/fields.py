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

auditd (``service: auditd``, dataset ``keibi.audit``): keibi's audit parser assembles
the records of one audit event (``SYSCALL`` + ``EXECVE`` + ``PATH``...) into one event,
so Sigma's per-record fields map as follows (:data:`AUDITD_FIELDS`):

====================  ==================================================================
Sigma                 keibi event
====================  ==================================================================
``type``              ``auditd.record_types`` (the event holds a record of that type)
``SYSCALL``           ``auditd.data.syscall`` (the syscall's name)
``a0`` .. ``a9``      ``process.args[N]`` (EXECVE argument N) or ``auditd.data.aN``
                      (the syscall's argument), either one
``exe``               ``process.executable``
``comm``              ``auditd.data.comm``
``key``               ``auditd.key``
``name``              ``file.path`` (the syscall's object)
``nametype``          ``event.type`` (``CREATE`` -> ``creation``, ``DELETE`` -> ``deletion``)
``uid``/``euid``      ``user.id``/``user.effective.id``; ``auid`` -> ``user.audit.id``
``pid``/``ppid``      ``process.pid``/``process.parent.pid``; ``cwd`` ->
                      ``process.working_directory``
``success``           ``event.outcome`` (``yes`` -> ``success``, ``no`` -> ``failure``)
any other name        ``auditd.data.<name>`` (the fields no ECS field took)
====================  ==================================================================

A field name ``f[N]`` reads element N of a list field (``process.args[0]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from keibi.events.model import FIELD_ATTRS, Event


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One Sigma field -> an ECS field (or any of several), optional value translation."""

    target: str
    # lower-cased Sigma value -> event value (e.g. {"true": "outbound"})
    values: Mapping[str, str] | None = None
    # further fields that may hold the value instead (a match on any of them counts)
    alternatives: tuple[str, ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target, *self.alternatives)


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
_AUDIT_DATA = (
    "comm", "gid", "egid", "suid", "sgid", "fsuid", "fsgid", "ses", "tty", "exit",
    "proctitle", "unit", "cmd", "terminal", "res", "acct", "argc", "mode", "ouid", "ogid",
    "inode", "dev", "objtype", "item", "arch", "op", "hostname", "addr", "saddr", "msg",
)
#: auditd record fields (Sigma names, case as Sigma writes them) -> keibi event fields.
AUDITD_FIELDS: dict[str, FieldMapping] = {
    "type": FieldMapping("auditd.record_types"),
    "SYSCALL": FieldMapping("auditd.data.syscall"),
    "exe": FieldMapping("process.executable"),
    "key": FieldMapping("auditd.key"),
    "name": FieldMapping("file.path"),
    "nametype": FieldMapping("event.type", {"create": "creation", "delete": "deletion"}),
    "uid": FieldMapping("user.id"),
    "euid": FieldMapping("user.effective.id"),
    "auid": FieldMapping("user.audit.id"),
    "pid": FieldMapping("process.pid"),
    "ppid": FieldMapping("process.parent.pid"),
    "cwd": FieldMapping("process.working_directory"),
    "success": FieldMapping("event.outcome", {"yes": "success", "no": "failure"}),
    # an EXECVE record's aN is argument N, a SYSCALL record's the syscall's; a rule that
    # names the record type reads only its own (compile.record_args)
    **{f"a{n}": FieldMapping(f"process.args[{n}]", alternatives=(f"auditd.data.a{n}",))
       for n in range(10)},
    **{n: FieldMapping(f"auditd.data.{n}") for n in _AUDIT_DATA},
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
    "auditd": LogSource("auditd", ((_DATASET, ("keibi.audit",)),), AUDITD_FIELDS),
}
#: ``product: linux`` alone: any Linux event, ECS field names only.
ANY_LINUX = LogSource("linux")
PRODUCTS = frozenset({"linux"})
#: Field names any log source understands (Sigma v1 aggregations group ``by host``).
GENERIC_FIELDS: dict[str, FieldMapping] = _m(host="host.name", hostname="host.name")
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
    return name in FIELD_ATTRS or "." in name


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
    m = GENERIC_FIELDS.get(lowered)
    if m is not None:
        return m
    raise Unmapped(f"unmapped field '{name}' for logsource {source.name}")


Getter = Callable[[Event], Any]
_INDEXED = re.compile(r"(.+)\[(\d+)\]")


def getter(name: str) -> Getter:
    """A fast function returning field ``name`` of an event (None when absent).

    ``name[N]`` is element N of a list field (None when the list is shorter).
    """
    m = _INDEXED.fullmatch(name)
    if m is not None:
        whole, index = getter(m.group(1)), int(m.group(2))

        def get_item(event: Event) -> Any:
            v = whole(event)
            if isinstance(v, tuple | list) and index < len(v):
                return v[index]
            return None

        return get_item
    attr = FIELD_ATTRS.get(name)
    if attr is not None:
        return attrgetter(attr)

    def get_extra(event: Event) -> Any:
        extra = event.extra
        return None if extra is None else extra.get(name)

    return get_extra
