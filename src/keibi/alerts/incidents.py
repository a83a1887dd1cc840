"""Incidents: alerts that share an entity, linked into one timeline.

:func:`build_incidents` is a pure function over alerts (as stored). Two alerts belong
to the same incident when they share an entity and their activity (``event.start`` to
``event.end``) lies less than ``window`` apart; linking is transitive (the brute force
shares the address with the login after it, which shares the account with the sudo
that followed).

Entities, and where they are read:

* ``ip`` -- ``source.ip`` and ``destination.ip`` of the alert and of its evidence events
  (loopback and unspecified addresses never link);
* ``user`` -- ``user.name``, ``user.audit.name`` and ``user.target.name`` of the alert
  and of its evidence events that did not fail: the names an SSH guesser tries in
  failed logins are not accounts that took part. Accounts every host uses for
  everything (``root`` ...; :data:`DEFAULT_COMMON_USERS`) never link;
* ``process`` -- the process tree: ``host.name`` with ``process.pid`` or
  ``process.parent.pid`` of the alert and of its process, network and file evidence
  events (a pid links a child to its parent); pids are reused, so these link only
  within ``process_window``.

``host.name`` alone never links (every alert of a host would be one incident).
An incident's id is derived from its first alert's id: the same alerts give the same
incidents.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keibi.events.encoding import format_time
from keibi.events.model import Event, severity_name

__all__ = [
    "DEFAULT_COMMON_USERS",
    "DEFAULT_PROCESS_WINDOW",
    "DEFAULT_WINDOW",
    "Incident",
    "TimelineEntry",
    "alert_entities",
    "build_incidents",
]

DEFAULT_WINDOW = 24 * 3600.0
DEFAULT_PROCESS_WINDOW = 3600.0
DEFAULT_COMMON_USERS = frozenset({"root", "nobody", "(unknown)", "unknown", "?"})

Entity = tuple[str, ...]  # ("ip", addr) | ("user", name) | ("process", host, pid)

_USER_FIELDS = ("user.name", "user.audit.name", "user.target.name")
_IP_FIELDS = ("source.ip", "destination.ip")
_PROCESS_CATEGORIES = frozenset({"process", "network", "file"})


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One alert in an incident's timeline."""

    time: float  # the alert's @timestamp (its first match)
    end: float  # its last activity
    alert_id: str
    rule_id: str | None
    rule_name: str | None
    severity: int
    message: str | None
    #: the entities that tied this alert into the incident (e.g. ``user:deploy``)
    links: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"time": format_time(self.time), "end": format_time(self.end),
                "alert_id": self.alert_id,
                "rule_id": self.rule_id, "rule_name": self.rule_name,
                "severity": self.severity, "severity_name": severity_name(self.severity),
                "message": self.message, "links": list(self.links)}


@dataclass(slots=True)
class Incident:
    """Alerts linked by shared entities, in time order."""

    id: str
    start: float
    end: float
    severity: int
    timeline: list[TimelineEntry] = field(default_factory=list)
    #: kind -> sorted values (``{"ip": [...], "user": [...], "process": ["web01:4242"]}``)
    entities: dict[str, list[str]] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)

    @property
    def severity_name(self) -> str:
        return severity_name(self.severity)

    @property
    def alert_ids(self) -> list[str]:
        return [t.alert_id for t in self.timeline]

    @property
    def title(self) -> str:
        """The most severe alert's rule (the first of them), and how many more."""
        top = max(self.timeline, key=lambda t: t.severity)
        name = top.rule_name or top.rule_id or "alert"
        more = len(self.timeline) - 1
        return name if not more else f"{name} (+{more} more)"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "start": format_time(self.start),
                "end": format_time(self.end),
                "severity": self.severity, "severity_name": self.severity_name,
                "alerts": len(self.timeline), "hosts": list(self.hosts),
                "entities": {k: list(v) for k, v in self.entities.items()},
                "timeline": [t.to_dict() for t in self.timeline]}


def _linkable_ip(value: Any) -> str | None:
    try:
        ip = ipaddress.ip_address(str(value))
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified:
        return None
    return str(ip)


def _pid(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return value
    return None


def alert_entities(alert: Event, *,
                   common_users: frozenset[str] = DEFAULT_COMMON_USERS) -> set[Entity]:
    """The entities through which ``alert`` links to others (see the module doc)."""
    out: set[Entity] = set()
    for ev in (alert, *(alert.alert_evidence or ())):
        if ev is alert or ev.outcome != "failure":
            for f in _USER_FIELDS:
                v = ev.get(f)
                if isinstance(v, str) and v and v not in common_users:
                    out.add(("user", v))
        for f in _IP_FIELDS:
            ip = _linkable_ip(ev.get(f))
            if ip is not None:
                out.add(("ip", ip))
        if ev is not alert and not _PROCESS_CATEGORIES.intersection(ev.category or ()):
            continue  # an sshd pid of a login line says nothing of a process tree
        host = ev.host_name or alert.host_name or ""
        for pid in (_pid(ev.process_pid), _pid(ev.process_parent_pid)):
            if pid is not None:
                out.add(("process", host, str(pid)))
    return out


def _span(alert: Event) -> tuple[float, float]:
    start = alert.timestamp if alert.start is None else min(alert.start, alert.timestamp)
    end = alert.timestamp if alert.end is None else max(alert.end, alert.timestamp)
    return start, end


def _label(e: Entity) -> str:
    if e[0] == "process":
        return f"process:{e[1]}:{e[2]}" if e[1] else f"process:{e[2]}"
    return f"{e[0]}:{e[1]}"


class _Sets:
    """Union-find over alert indexes."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def build_incidents(alerts: Iterable[Event], *, window: float = DEFAULT_WINDOW,
                    process_window: float = DEFAULT_PROCESS_WINDOW,
                    common_users: frozenset[str] = DEFAULT_COMMON_USERS,
                    min_alerts: int = 1) -> list[Incident]:
    """Group ``alerts`` into incidents, newest incident first.

    An alert with no linking entity is an incident of its own (``min_alerts`` > 1 leaves
    those out). Alerts are read, never changed; duplicates (same id) count once.
    """
    unique: dict[str, Event] = {}
    for a in alerts:
        key = a.alert_id or f"#{len(unique)}"
        if key not in unique:
            unique[key] = a
    items = sorted(unique.items(), key=lambda kv: (_span(kv[1])[0], kv[0]))
    spans = [_span(a) for _, a in items]
    ents = [alert_entities(a, common_users=common_users) for _, a in items]
    sets = _Sets(len(items))
    links: list[set[str]] = [set() for _ in items]
    # per entity: the alert seen with it whose activity ends last (in start order)
    last: dict[Entity, tuple[int, float]] = {}
    for i, (start, end) in enumerate(spans):
        for e in sorted(ents[i]):
            limit = process_window if e[0] == "process" else window
            seen = last.get(e)
            if seen is not None and start - seen[1] < limit:
                sets.union(seen[0], i)
                links[i].add(_label(e))
                links[seen[0]].add(_label(e))
            if seen is None or end >= seen[1]:
                last[e] = (i, end)
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(sets.find(i), []).append(i)
    out: list[Incident] = []
    for members in groups.values():
        if len(members) < min_alerts:
            continue
        timeline = []
        kinds: dict[str, set[str]] = {}
        hosts: set[str] = set()
        for i in members:
            aid, a = items[i]
            start, end = spans[i]
            timeline.append(TimelineEntry(a.timestamp, end, a.alert_id or aid, a.rule_id,
                                          a.rule_name,
                                          a.severity or 0, a.message,
                                          tuple(sorted(links[i]))))
            for e in ents[i]:
                if _label(e) in links[i] or len(members) == 1:
                    kinds.setdefault(e[0], set()).add(_label(e).split(":", 1)[1])
            if a.host_name:
                hosts.add(a.host_name)
        timeline.sort(key=lambda t: (t.time, t.alert_id))
        first = items[members[0]][0]
        out.append(Incident(
            id=hashlib.sha256(f"incident:{first}".encode()).hexdigest()[:24],
            start=min(spans[i][0] for i in members), end=max(t.end for t in timeline),
            severity=max(t.severity for t in timeline), timeline=timeline,
            entities={k: sorted(v) for k, v in sorted(kinds.items())},
            hosts=sorted(hosts)))
    out.sort(key=lambda inc: (inc.end, inc.id), reverse=True)
    return out


