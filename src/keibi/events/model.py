"""The one value type that flows through keibi: an ECS event (or alert).

An :class:`Event` is a frozen msgspec Struct whose attributes are the ECS fields keibi
fills most often, each renamed to its dotted ECS name (``source_ip`` is ``source.ip``).
Fields that are not attributes live in ``extra`` under their dotted names. Alerts are
events with ``kind == "alert"`` and the ``rule.*``, ``threat.*`` and ``keibi.alert.*``
fields set (DESIGN.md, "Event schema").

Time is held as float epoch seconds (UTC) and written as RFC 3339 by the encoder, so the
parsers and the engine do arithmetic on plain floats.

Look a field up by its ECS name with :meth:`Event.get`; build a changed copy with
:func:`msgspec.structs.replace`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import field


class Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One normalised record (``event.kind`` ``event`` or ``state``) or alert."""

    timestamp: float = field(name="@timestamp")
    kind: str = field(default="event", name="event.kind")
    category: tuple[str, ...] = field(default=(), name="event.category")
    type: tuple[str, ...] = field(default=(), name="event.type")
    action: str | None = field(default=None, name="event.action")
    outcome: str | None = field(default=None, name="event.outcome")
    dataset: str | None = field(default=None, name="event.dataset")
    module: str | None = field(default=None, name="event.module")
    provider: str | None = field(default=None, name="event.provider")
    reason: str | None = field(default=None, name="event.reason")
    severity: int | None = field(default=None, name="event.severity")
    original: str | None = field(default=None, name="event.original")
    event_id: str | None = field(default=None, name="event.id")
    start: float | None = field(default=None, name="event.start")
    end: float | None = field(default=None, name="event.end")
    message: str | None = field(default=None, name="message")

    host_name: str | None = field(default=None, name="host.name")

    source_ip: str | None = field(default=None, name="source.ip")
    source_port: int | None = field(default=None, name="source.port")
    source_domain: str | None = field(default=None, name="source.domain")
    destination_ip: str | None = field(default=None, name="destination.ip")
    destination_port: int | None = field(default=None, name="destination.port")
    destination_domain: str | None = field(default=None, name="destination.domain")
    network_transport: str | None = field(default=None, name="network.transport")
    network_protocol: str | None = field(default=None, name="network.protocol")
    network_direction: str | None = field(default=None, name="network.direction")

    user_name: str | None = field(default=None, name="user.name")
    user_id: str | None = field(default=None, name="user.id")
    user_target_name: str | None = field(default=None, name="user.target.name")
    user_target_id: str | None = field(default=None, name="user.target.id")
    user_effective_name: str | None = field(default=None, name="user.effective.name")
    user_effective_id: str | None = field(default=None, name="user.effective.id")
    user_audit_name: str | None = field(default=None, name="user.audit.name")
    user_audit_id: str | None = field(default=None, name="user.audit.id")
    group_name: str | None = field(default=None, name="group.name")
    group_id: str | None = field(default=None, name="group.id")

    process_pid: int | None = field(default=None, name="process.pid")
    process_name: str | None = field(default=None, name="process.name")
    process_executable: str | None = field(default=None, name="process.executable")
    process_command_line: str | None = field(default=None, name="process.command_line")
    process_args: tuple[str, ...] | None = field(default=None, name="process.args")
    process_working_directory: str | None = field(
        default=None, name="process.working_directory"
    )
    process_entity_id: str | None = field(default=None, name="process.entity_id")
    process_exit_code: int | None = field(default=None, name="process.exit_code")
    process_hash_sha256: str | None = field(default=None, name="process.hash.sha256")
    process_user_name: str | None = field(default=None, name="process.user.name")
    process_parent_pid: int | None = field(default=None, name="process.parent.pid")
    process_parent_name: str | None = field(default=None, name="process.parent.name")
    process_parent_executable: str | None = field(
        default=None, name="process.parent.executable"
    )
    process_parent_command_line: str | None = field(
        default=None, name="process.parent.command_line"
    )

    file_path: str | None = field(default=None, name="file.path")
    file_hash_sha256: str | None = field(default=None, name="file.hash.sha256")
    file_mode: str | None = field(default=None, name="file.mode")
    file_owner: str | None = field(default=None, name="file.owner")

    package_name: str | None = field(default=None, name="package.name")
    package_version: str | None = field(default=None, name="package.version")
    package_architecture: str | None = field(default=None, name="package.architecture")

    service_name: str | None = field(default=None, name="service.name")

    log_file_path: str | None = field(default=None, name="log.file.path")
    log_offset: int | None = field(default=None, name="log.offset")
    log_level: str | None = field(default=None, name="log.level")

    related_ip: tuple[str, ...] | None = field(default=None, name="related.ip")
    related_user: tuple[str, ...] | None = field(default=None, name="related.user")

    rule_id: str | None = field(default=None, name="rule.id")
    rule_name: str | None = field(default=None, name="rule.name")
    rule_ruleset: str | None = field(default=None, name="rule.ruleset")
    rule_description: str | None = field(default=None, name="rule.description")
    threat_framework: str | None = field(default=None, name="threat.framework")
    threat_technique_id: tuple[str, ...] | None = field(
        default=None, name="threat.technique.id"
    )
    threat_tactic_name: tuple[str, ...] | None = field(
        default=None, name="threat.tactic.name"
    )
    alert_id: str | None = field(default=None, name="keibi.alert.id")
    alert_severity: str | None = field(default=None, name="keibi.alert.severity")
    alert_count: int | None = field(default=None, name="keibi.alert.count")
    alert_evidence: tuple[Event, ...] | None = field(
        default=None, name="keibi.alert.evidence"
    )
    alert_group: str | None = field(default=None, name="keibi.alert.group")

    # Anything keibi noticed about the record itself, e.g. "log-injection".
    flags: tuple[str, ...] | None = field(default=None, name="keibi.flags")
    # Any other ECS (or vendor) field, by dotted name: {"auditd.data.key": "x"}.
    extra: dict[str, Any] | None = field(default=None, name="keibi.extra")

    def get(self, name: str) -> Any:
        """The value of ECS field ``name`` (dotted), or None when the event lacks it."""
        attr = FIELD_ATTRS.get(name)
        if attr is not None:
            return getattr(self, attr)
        extra = self.extra
        if extra is None:
            return None
        return extra.get(name)


def _field_map() -> dict[str, str]:
    info = msgspec.inspect.type_info(Event)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: f.name for f in info.fields if f.name != "extra"}


#: dotted ECS name -> attribute name, for every attribute field of :class:`Event`.
FIELD_ATTRS: dict[str, str] = _field_map()
#: attribute name -> dotted ECS name.
ATTR_FIELDS: dict[str, str] = {v: k for k, v in FIELD_ATTRS.items()}
#: fields written as RFC 3339 time stamps.
TIME_FIELDS: frozenset[str] = frozenset({"@timestamp", "event.start", "event.end"})

SEVERITY_NAMES: tuple[tuple[int, str], ...] = (
    (90, "critical"),
    (70, "high"),
    (47, "medium"),
    (21, "low"),
    (0, "info"),
)


def severity_name(score: int) -> str:
    """The ``keibi.alert.severity`` word for an ``event.severity`` score (0-100)."""
    for floor, name in SEVERITY_NAMES:
        if score >= floor:
            return name
    return "info"


SEVERITY_SCORES: dict[str, int] = {
    "informational": 10,
    "info": 10,
    "low": 30,
    "medium": 50,
    "high": 73,
    "critical": 95,
}
