"""Assembling audit records into events: EOE, interleaving, windows, timeouts, bounds."""

from __future__ import annotations

from keibi.events.model import Event
from keibi.parsers import audit_assembly
from keibi.parsers.audit_assembly import (
    AuditAssembler,
    AuditLineStream,
    is_standalone_type,
    looks_complete,
    parse_audit_lines,
)
from keibi.parsers.audit_record import AuditRecord, parse_audit_record
from keibi.parsers.context import LineContext

T = 1764138049


def line(rtype: str, serial: int, body: str, ms: int = 123, node: str | None = None) -> str:
    head = f"node={node} " if node else ""
    return f"{head}type={rtype} msg=audit({T}.{ms:03d}:{serial}): {body}"


def r(
    rtype: str, serial: int, body: str = "", ms: int = 123, node: str | None = None
) -> AuditRecord:
    record = parse_audit_record(line(rtype, serial, body, ms, node))
    assert record is not None
    return record


def execve_event(serial: int, argv: list[str], ms: int = 123) -> list[AuditRecord]:
    args = " ".join(f'a{i}="{a}"' for i, a in enumerate(argv))
    return [
        r("SYSCALL", serial, "arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 "
          f'pid={serial} auid=1000 uid=0 euid=0 ses=2 comm="x" exe="/usr/bin/x" key="k"', ms),
        r("EXECVE", serial, f"argc={len(argv)} {args}", ms),
        r("CWD", serial, 'cwd="/root"', ms),
        r("PATH", serial, 'item=0 name="/usr/bin/x" nametype=NORMAL', ms),
        r("PROCTITLE", serial, "proctitle=78", ms),
    ]  # fmt: skip


def eoe(serial: int, ms: int = 123, node: str | None = None) -> AuditRecord:
    return r("EOE", serial, "", ms, node)


def feed_all(asm: AuditAssembler, records: list[AuditRecord], now: float = 0.0) -> list[Event]:
    out: list[Event] = []
    for rec in records:
        out.extend(asm.feed(rec, now))
    return out


def test_eoe_closes_the_event_at_once() -> None:
    asm = AuditAssembler()
    assert feed_all(asm, execve_event(10, ["/usr/bin/x", "-v"])) == []
    assert asm.pending == 1
    (event,) = asm.feed(eoe(10), 0.0)
    assert event.action == "process-started"
    assert event.process_args == ("/usr/bin/x", "-v")
    assert event.process_working_directory == "/root"
    assert event.flags is None
    assert event.original is not None and event.original.endswith(line("EOE", 10, ""))
    assert event.get("auditd.record_types") == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert asm.pending == 0
    assert asm.stats() == {
        "records": 6, "events": 1, "garbage": 0, "incomplete": 0, "evicted": 0,
        "records_dropped": 0, "orphan_eoe": 0, "pending": 0,
    }  # fmt: skip


def test_interleaved_serials_split_across_reads() -> None:
    asm = AuditAssembler()
    a, b = execve_event(20, ["/usr/bin/x", "A"]), execve_event(21, ["/usr/bin/x", "B"])
    reads = [[a[0], b[0]], [b[1], a[1], b[2]], [a[2], a[3]], [b[3], b[4], eoe(21)], [a[4]]]
    events: list[Event] = []
    for i, chunk in enumerate(reads):
        events.extend(feed_all(asm, chunk, now=i * 0.1))
        events.extend(asm.flush(i * 0.1))
    assert [e.process_args for e in events] == [("/usr/bin/x", "B")]
    (last,) = asm.feed(eoe(20), 1.0)
    assert last.process_args == ("/usr/bin/x", "A")
    assert last.process_pid == 20 and last.flags is None


def test_records_of_one_event_out_of_order() -> None:
    asm = AuditAssembler()
    recs = execve_event(30, ["/usr/bin/x", "1", "2"])
    events = feed_all(asm, [recs[4], recs[2], recs[1], recs[3], recs[0], eoe(30)])
    (event,) = events
    assert event.action == "process-started"
    assert event.process_args == ("/usr/bin/x", "1", "2")
    assert event.flags is None


def test_standalone_types_are_emitted_at_once_and_leave_others_open() -> None:
    asm = AuditAssembler()
    feed_all(asm, execve_event(40, ["/usr/bin/x"])[:2])
    (login,) = asm.feed(
        r("USER_LOGIN", 41, "pid=9 uid=0 auid=4294967295 ses=4294967295 "
          "msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" addr=203.0.113.9 res=failed'"),
        0.0,
    )  # fmt: skip
    assert login.action == "user-login"
    assert login.source_ip == "203.0.113.9"
    assert asm.pending == 1
    (daemon,) = asm.feed(r("DAEMON_START", 99999, "op=start ver=3.0.9 pid=1 uid=0 res=success"), 0)
    assert daemon.action == "audit-daemon-start"
    assert asm.pending == 1


def test_newer_serials_close_a_quiet_event() -> None:
    """auditd 3 writes no EOE: an event ends when records of others have followed it."""
    asm = AuditAssembler(reorder_window=4)
    assert feed_all(asm, execve_event(50, ["/usr/bin/x"])) == []
    others = [r("SYSCALL", 51 + i, "arch=c000003e syscall=2 success=yes items=0") for i in range(4)]
    events = feed_all(asm, others)
    assert [e.process_args for e in events] == []
    (event,) = asm.feed(r("SYSCALL", 60, "arch=c000003e syscall=2 success=yes items=0"), 0.0)
    assert event.get("auditd.sequence") == 50
    assert event.flags is None  # everything the SYSCALL announced is there


def test_window_counts_records_since_the_events_last_record() -> None:
    asm = AuditAssembler(reorder_window=3)
    recs = execve_event(70, ["/usr/bin/x", "slow"])
    events: list[Event] = []
    for i, rec in enumerate(recs):
        events.extend(asm.feed(rec, 0.0))
        events.extend(asm.feed(r("SYSCALL", 100 + i, "syscall=2 items=0"), 0.0))
        events.extend(asm.feed(r("SYSCALL", 200 + i, "syscall=2 items=0"), 0.0))
    events.extend(asm.flush_all())
    (slow,) = [e for e in events if e.get("auditd.sequence") == 70]
    assert slow.process_args == ("/usr/bin/x", "slow")
    assert len(events) == 11


def test_timeout_flush_flags_what_is_missing() -> None:
    asm = AuditAssembler(timeout=2.0)
    recs = execve_event(80, ["/usr/bin/x", "y"])
    two_items = r("SYSCALL", 80, "arch=c000003e syscall=59 success=yes exit=0 items=2 pid=80")
    feed_all(asm, [two_items, *recs[1:4]], now=100.0)
    assert asm.flush(101.0) == []
    assert asm.flush(102.0) == []  # not older than the timeout yet
    (event,) = asm.flush(102.5)
    assert event.flags == ("incomplete",)  # items=2, one PATH
    assert event.process_args == ("/usr/bin/x", "y")
    assert asm.stats()["incomplete"] == 1


def test_timeout_flush_of_a_standalone_kernel_record_is_not_incomplete() -> None:
    asm = AuditAssembler(timeout=2.0)
    abend = r("ANOM_ABEND", 90, 'auid=1000 uid=0 ses=3 pid=77 comm="sh" exe="/usr/bin/dash" sig=11')
    assert asm.feed(abend, 10.0) == []
    (event,) = asm.flush(12.5)
    assert event.action == "anomaly-abend"
    assert event.flags is None
    assert event.process_pid == 77


def test_timeout_uses_the_last_record_not_the_first() -> None:
    asm = AuditAssembler(timeout=2.0)
    recs = execve_event(95, ["/usr/bin/x"])
    for i, rec in enumerate(recs):
        asm.feed(rec, 10.0 + i)  # one record a second: the event keeps growing
        assert asm.flush(10.0 + i + 1.5) == []
    (event,) = asm.feed(eoe(95), 15.0)
    assert event.flags is None


def test_memory_bound_closes_the_oldest_early() -> None:
    asm = AuditAssembler(max_pending=5, reorder_window=10**6, timeout=10**9)
    events: list[Event] = []
    for serial in range(1, 21):
        events.extend(asm.feed(r("SYSCALL", serial, "syscall=59 success=yes items=1"), 0.0))
        assert asm.pending <= 5
    assert [e.get("auditd.sequence") for e in events] == list(range(1, 16))
    assert all(e.flags == ("incomplete",) for e in events)  # items=1 and no PATH
    stats = asm.stats()
    assert stats["evicted"] == 15 and stats["pending"] == 5 and stats["incomplete"] == 15
    assert [e.get("auditd.sequence") for e in asm.flush_all()] == list(range(16, 21))


def test_memory_bound_keeps_the_recently_fed() -> None:
    asm = AuditAssembler(max_pending=2, reorder_window=10**6, timeout=10**9)
    asm.feed(r("SYSCALL", 1, "syscall=2 items=0"), 0)
    asm.feed(r("SYSCALL", 2, "syscall=2 items=0"), 0)
    asm.feed(r("PROCTITLE", 1, "proctitle=78"), 0)  # 1 is now the most recent
    (evicted,) = asm.feed(r("SYSCALL", 3, "syscall=2 items=0"), 0)
    assert evicted.get("auditd.sequence") == 2


def test_records_per_event_are_bounded() -> None:
    asm = AuditAssembler(max_records=3)
    recs = [r("SYSCALL", 5, "syscall=2 success=yes items=4")] + [
        r("PATH", 5, f'item={i} name="/f{i}" nametype=NORMAL') for i in range(4)
    ]
    feed_all(asm, recs)
    (event,) = asm.feed(eoe(5), 0.0)
    assert event.flags == ("incomplete", "truncated")
    assert asm.stats()["records_dropped"] == 2


def test_orphan_eoe_is_counted_not_emitted() -> None:
    asm = AuditAssembler()
    assert asm.feed(eoe(7), 0.0) == []
    assert asm.stats()["orphan_eoe"] == 1
    assert asm.stats()["events"] == 0


def test_serial_seen_again_with_another_time_is_another_event() -> None:
    asm = AuditAssembler()
    first = r("SYSCALL", 8, "syscall=2 success=yes items=0", ms=100)
    again = r("SYSCALL", 8, "syscall=2 success=yes items=0", ms=900)
    assert asm.feed(first, 0.0) == []
    (old,) = asm.feed(again, 0.0)
    assert old.timestamp == T + 0.1
    (new,) = asm.feed(eoe(8, ms=900), 0.0)
    assert new.timestamp == T + 0.9


def test_nodes_are_kept_apart() -> None:
    asm = AuditAssembler()
    a = r("SYSCALL", 9, "syscall=2 success=yes items=0", node="a")
    b = r("SYSCALL", 9, "syscall=2 success=yes items=0", node="b")
    feed_all(asm, [a, b])
    assert asm.pending == 2
    (ea,) = asm.feed(eoe(9, node="a"), 0.0)
    (eb,) = asm.feed(eoe(9, node="b"), 0.0)
    assert (ea.host_name, eb.host_name) == ("a", "b")


def test_auxiliary_records_without_their_syscall_are_incomplete() -> None:
    asm = AuditAssembler()
    feed_all(asm, [r("CWD", 11, 'cwd="/tmp"'), r("PATH", 11, 'item=0 name="x" nametype=CREATE')])
    (event,) = asm.flush_all()
    assert event.flags == ("incomplete",)
    assert event.category == ("file",)
    assert event.file_path == "/tmp/x"


def test_execve_with_part_of_its_argv_is_incomplete() -> None:
    recs = execve_event(12, ["/usr/bin/x", "a", "b"])
    partial = parse_audit_record(line("EXECVE", 12, 'argc=3 a0="/usr/bin/x"'))
    assert partial is not None
    assert looks_complete(recs)
    assert not looks_complete([recs[0], partial, *recs[2:]])
    assert not looks_complete([recs[0], *recs[2:]])  # successful execve, no EXECVE
    failed = r("SYSCALL", 13, "arch=c000003e syscall=59 success=no exit=-2 items=1")
    assert looks_complete([failed, r("PATH", 13, 'item=0 name="/nope" nametype=UNKNOWN')])
    assert not looks_complete([failed])
    assert looks_complete([r("AVC", 14, 'apparmor="DENIED" operation="open"')])


def test_standalone_types() -> None:
    alone = ("USER_AUTH", "USER_LOGIN", "USER_CMD", "ADD_USER", "DAEMON_START", "USER",
             "ANOM_LOGIN_FAILURES", "USER_AVC", "SERVICE_START", "KERNEL",
             "UNKNOWN[2500]")  # fmt: skip
    for t in alone:
        assert is_standalone_type(t), t
    for t in ("SYSCALL", "CONFIG_CHANGE", "AVC", "LOGIN", "ANOM_ABEND", "ANOM_PROMISCUOUS",
              "EOE", "MAC_STATUS", "NOPE", "UNKNOWN[1999]"):  # fmt: skip
        assert not is_standalone_type(t), t


def test_line_stream_counts_garbage_and_closes_at_the_end() -> None:
    ctx = LineContext(path="/var/log/audit/audit.log", hostname="h")
    stream = AuditLineStream()
    assert stream.flush(None) == []  # nothing fed yet
    lines = [rec.raw for rec in execve_event(3, ["/usr/bin/x"])]
    out: list[Event] = []
    for i, text in enumerate(["", "garbage", *lines, "   "]):
        out.extend(stream.feed(text + "\n", i * 100, ctx))
    assert out == []
    assert stream.flush(T + 1.0) == []  # quiet for less than the timeout
    (event,) = stream.flush(T + 10.0)
    assert event.log_offset == 200 and event.log_file_path == ctx.path
    assert event.host_name == "h"
    assert stream.assembler is not None
    assert stream.assembler.stats()["garbage"] == 1
    assert stream.flush(None) == []


def test_parse_audit_lines_closes_everything() -> None:
    ctx = LineContext(path="p", hostname="ctxhost")
    recs = execve_event(1, ["/usr/bin/x"]) + execve_event(2, ["/usr/bin/x", "2"])
    data = [(rec.raw, i) for i, rec in enumerate(recs)]
    auth = "pid=1 uid=0 msg='op=PAM:authentication acct=\"a\" res=success'"
    data.append((line("USER_AUTH", 3, auth, node="n1"), 99))
    asm = AuditAssembler(ctx=ctx)
    events = list(parse_audit_lines(data, ctx, asm))
    assert sorted(e.get("auditd.sequence") for e in events) == [1, 2, 3]
    hosts = {e.get("auditd.sequence"): e.host_name for e in events}
    assert hosts == {1: "ctxhost", 2: "ctxhost", 3: "n1"}
    assert asm.stats()["pending"] == 0
    assert [e.log_offset for e in events if e.get("auditd.sequence") == 2] == [5]


def test_public_api() -> None:
    assert set(audit_assembly.__all__) == {
        "AuditAssembler", "AuditLineStream", "is_standalone_type", "looks_complete",
        "parse_audit_lines",
    }  # fmt: skip
