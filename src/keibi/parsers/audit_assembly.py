"""Assembling audit records into events, and the whole-file audit parser.

The kernel writes one audit event as several records that share ``audit(time:serial)``:
``SYSCALL``, then ``EXECVE``, ``CWD``, ``PATH``..., ``PROCTITLE`` and, over netlink only,
an ``EOE`` (auditd 3 does not write EOE to ``audit.log``). Records logged during a call
(``AVC``, ``CONFIG_CHANGE``, ``LOGIN``, ``ANOM_PROMISCUOUS``...) come before its
``SYSCALL``. Records of other events may be interleaved with them.

:class:`AuditAssembler` groups records by ``(node, serial)`` and closes a group when:

1. its ``EOE`` arrives;
2. it is a user-space or daemon record (``USER_*``, ``CRED_*``, ``ADD_USER``...,
   ``DAEMON_*``, ``ANOM_LOGIN_*``...: types 1005, 1100-1299, 2000, 2100-2999), which the
   kernel logs without a syscall context, so it never has company nor an EOE;
3. ``reorder_window`` records of other events have arrived since its last record (a newer
   serial shows it complete: how EOE-less ``audit.log`` files and standalone kernel records
   such as ``ANOM_ABEND`` or an ``AVC`` under ``-a never,task`` end);
4. :meth:`~AuditAssembler.flush` finds it quiet for longer than ``timeout``;
5. more than ``max_pending`` groups are open (the least recently fed one is closed early
   and counted as ``evicted``);
6. its serial comes again with another time stamp (a reboot; auditd's own counter).

However it was closed, an event is flagged ``incomplete`` in ``keibi.flags`` when its
records show something missing: auxiliary records without their ``SYSCALL``, fewer
``PATH`` records than the syscall's ``items``, a successful execve without its whole
argv. A group holding more than ``max_records`` records keeps the first ones and is
flagged ``truncated``. An EOE whose event was already closed is counted, not emitted.

:class:`AuditLineStream` is the :class:`~keibi.parsers.stream.StreamParser` for audit logs
and :func:`parse_audit_lines` the whole-file parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from keibi.events.model import Event
from keibi.parsers.audit_events import build_event
from keibi.parsers.audit_record import (
    SYSCALL_AUX_TYPES,
    AuditRecord,
    parse_audit_record,
    syscall_name,
    type_number,
)
from keibi.parsers.context import LineContext

__all__ = [
    "AuditAssembler",
    "AuditLineStream",
    "is_standalone_type",
    "looks_complete",
    "parse_audit_lines",
]


def is_standalone_type(rtype: str) -> bool:
    """True for record types that are always a whole event on their own."""
    n = type_number(rtype)
    if n is None:
        return False
    return n == 1005 or 1100 <= n <= 1299 or n == 2000 or 2100 <= n <= 2999


_STANDALONE_CACHE: dict[str, bool] = {}


def _standalone(rtype: str) -> bool:
    known = _STANDALONE_CACHE.get(rtype)
    if known is None:
        known = is_standalone_type(rtype)
        if len(_STANDALONE_CACHE) < 4096:
            _STANDALONE_CACHE[rtype] = known
    return known


def _execve_complete(records: list[AuditRecord]) -> bool:
    fields: dict[str, str] = {}
    for r in records:
        if r.type == "EXECVE":
            fields.update(r.fields)
    argc = fields.get("argc")
    if argc is None or not argc.isdigit():
        return False
    for i in range(int(argc)):
        if f"a{i}" in fields:
            continue
        want = fields.get(f"a{i}_len")
        if want is None or not want.isdigit():
            return False
        got, j = 0, 0
        while (chunk := fields.get(f"a{i}[{j}]")) is not None:
            got += len(chunk)
            j += 1
        if got < int(want):
            return False
    return True


def looks_complete(records: list[AuditRecord]) -> bool:
    """Whether a group closed without its EOE still holds every record it should."""
    sysrec = next((r for r in records if r.type == "SYSCALL"), None)
    if sysrec is None:
        return not any(r.type in SYSCALL_AUX_TYPES for r in records)
    fl = sysrec.fields
    items = fl.get("items", "0")
    paths = sum(1 for r in records if r.type == "PATH")
    if items.isdigit() and paths < int(items):
        return False
    name = sysrec.enriched.get("SYSCALL") or syscall_name(
        fl.get("arch", ""), fl.get("syscall", "")
    )
    if name in ("execve", "execveat") and fl.get("success") == "yes":
        return _execve_complete(records)
    return True


class _Group:
    __slots__ = ("dropped", "index", "records", "seen", "timestamp")

    def __init__(self, timestamp: float) -> None:
        self.timestamp = timestamp
        self.records: list[AuditRecord] = []
        self.seen = 0.0
        self.index = 0
        self.dropped = 0


@dataclass(slots=True)
class _Stats:
    records: int = 0
    events: int = 0
    garbage: int = 0
    incomplete: int = 0
    evicted: int = 0
    records_dropped: int = 0
    orphan_eoe: int = 0


class AuditAssembler:
    """Groups audit records into events; see the module docstring for when it emits.

    ``now`` is any clock that only moves forward (monotonic seconds live, event time
    offline); ``timeout`` is in the same unit.
    """

    def __init__(
        self,
        max_pending: int = 10000,
        timeout: float = 2.0,
        *,
        reorder_window: int = 32,
        max_records: int = 4096,
        ctx: LineContext | None = None,
    ) -> None:
        self.max_pending = max(1, max_pending)
        self.timeout = timeout
        self.reorder_window = max(0, reorder_window)
        self.max_records = max(1, max_records)
        self._path = ctx.path if ctx is not None else None
        self._hostname = ctx.hostname if ctx is not None else None
        self._pending: dict[tuple[str | None, int], _Group] = {}
        self._count = 0
        self._stats = _Stats()

    # -- input -------------------------------------------------------------------------

    def feed(self, record: AuditRecord, now: float) -> list[Event]:
        """Take one record; return the events it completes (often none)."""
        self._count += 1
        st = self._stats
        st.records += 1
        out: list[Event] = []
        rtype = record.type
        if _standalone(rtype):
            out.append(self._build([record], ()))
        else:
            key = (record.node, record.serial)
            pending = self._pending
            group = pending.pop(key, None)
            if group is not None and group.timestamp != record.timestamp:
                # The serial came round again (reboot, or auditd's own counter).
                out.append(self._close(group))
                group = None
            if rtype == "EOE":
                if group is None:
                    st.orphan_eoe += 1
                else:
                    group.records.append(record)  # kept for event.original
                    out.append(self._close(group))
            else:
                if group is None:
                    group = _Group(record.timestamp)
                if len(group.records) < self.max_records:
                    group.records.append(record)
                else:
                    group.dropped += 1
                    st.records_dropped += 1
                group.seen = now
                group.index = self._count
                pending[key] = group
                if len(pending) > self.max_pending:
                    st.evicted += 1
                    out.append(self._close(pending.pop(next(iter(pending)))))
        self._close_quiet(out)
        return out

    def note_garbage(self) -> None:
        """Count one input line that was not an audit record."""
        self._stats.garbage += 1

    def flush(self, now: float) -> list[Event]:
        """Close the groups that have been quiet for longer than ``timeout``."""
        out: list[Event] = []
        pending = self._pending
        while pending:
            key = next(iter(pending))
            if now - pending[key].seen <= self.timeout:
                break
            out.append(self._close(pending.pop(key)))
        return out

    def flush_all(self) -> list[Event]:
        """Close every open group (end of input)."""
        groups = list(self._pending.values())
        self._pending.clear()
        return [self._close(g) for g in groups]

    # -- state ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many events are open."""
        return len(self._pending)

    def stats(self) -> dict[str, int]:
        """Counters: records, events, garbage, incomplete, evicted, records_dropped,
        orphan_eoe, pending."""
        st = self._stats
        return {
            "records": st.records,
            "events": st.events,
            "garbage": st.garbage,
            "incomplete": st.incomplete,
            "evicted": st.evicted,
            "records_dropped": st.records_dropped,
            "orphan_eoe": st.orphan_eoe,
            "pending": len(self._pending),
        }

    # -- internals -------------------------------------------------------------------------

    def _close_quiet(self, out: list[Event]) -> None:
        pending = self._pending
        limit = self._count - self.reorder_window
        while pending:
            key = next(iter(pending))
            if pending[key].index >= limit:
                break
            out.append(self._close(pending.pop(key)))

    def _close(self, group: _Group) -> Event:
        records = group.records
        flags: list[str] = []
        if not looks_complete(records):
            flags.append("incomplete")
            self._stats.incomplete += 1
        if group.dropped:
            flags.append("truncated")
        return self._build(records, flags)

    def _build(self, records: list[AuditRecord], flags: Iterable[str]) -> Event:
        self._stats.events += 1
        return build_event(records, flags=tuple(flags), path=self._path, hostname=self._hostname)


class AuditLineStream:
    """A :class:`~keibi.parsers.stream.StreamParser` for ``audit.log`` lines.

    Records are timed by their own time stamps. :meth:`feed` closes events by EOE, type
    and reorder window only, never by comparing time stamps, so logs merged from hosts
    whose clocks disagree (``node=``) or out of time order still assemble; a tailer calls
    ``flush(time.time())`` now and then to close events quiet for ``timeout`` seconds,
    and ``flush(None)`` at the end closes everything.
    """

    __slots__ = ("_assembler",)

    def __init__(self, assembler: AuditAssembler | None = None) -> None:
        self._assembler = assembler

    @property
    def assembler(self) -> AuditAssembler | None:
        return self._assembler

    def feed(self, line: str, offset: int | None, ctx: LineContext) -> list[Event]:
        asm = self._assembler
        if asm is None:
            asm = self._assembler = AuditAssembler(ctx=ctx)
        record = parse_audit_record(line, offset)
        if record is None:
            if line.strip():
                asm.note_garbage()
            return []
        return asm.feed(record, record.timestamp)

    def flush(self, now: float | None = None) -> list[Event]:
        asm = self._assembler
        if asm is None:
            return []
        return asm.flush_all() if now is None else asm.flush(now)


def parse_audit_lines(
    lines: Iterable[tuple[str, int]],
    ctx: LineContext,
    assembler: AuditAssembler | None = None,
) -> Iterator[Event]:
    """Events of a whole audit log: ``(line, byte offset)`` pairs in file order.

    Feeds an :class:`AuditAssembler` (pass one to read its :meth:`~AuditAssembler.stats`
    afterwards) and closes every open event at the end.
    """
    stream = AuditLineStream(assembler or AuditAssembler(ctx=ctx))
    for line, offset in lines:
        yield from stream.feed(line, offset, ctx)
    yield from stream.flush(None)
