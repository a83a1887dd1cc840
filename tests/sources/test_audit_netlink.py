"""The audit netlink reader's message splitting, follow(), and the auditctl helpers."""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence

import pytest

from keibi.parsers.audit_assembly import AuditAssembler
from keibi.parsers.audit_record import AuditRecord, parse_audit_record
from keibi.sources import audit_netlink
from keibi.sources.audit_netlink import (
    AuditControlError,
    AuditNetlinkReader,
    execve_rule,
    follow,
    temporary_rule,
)


def nlmsg(mtype: int, text: bytes, *, header_in_length: bool = True) -> bytes:
    length = len(text) + (16 if header_in_length else 0)
    return struct.pack("=IHHII", length, mtype, 0, 0, 0) + text


def split(data: bytes) -> list[tuple[int, str]]:
    reader = AuditNetlinkReader()
    out: list[tuple[int, str]] = []
    reader._split(data, out)
    return out


def test_one_message_per_datagram() -> None:
    text = b'audit(1795678092.319:3): cwd="/tmp"'
    assert split(nlmsg(1307, text)) == [(1307, text.decode())]
    # some kernels leave the header out of nlmsg_len; a trailing NUL is dropped
    assert split(nlmsg(1307, text + b"\x00", header_in_length=False)) == [(1307, text.decode())]


def test_several_messages_and_non_audit_types() -> None:
    a = nlmsg(1300, b"audit(1.000:1): a=1")
    b = nlmsg(1320, b"audit(1.000:1): ")
    pad = b"\x00" * ((4 - len(a) % 4) % 4)
    data = a + pad + nlmsg(3, b"") + b
    reader = AuditNetlinkReader()
    out: list[tuple[int, str]] = []
    reader._split(data, out)
    assert out == [(1300, "audit(1.000:1): a=1"), (1320, "audit(1.000:1): ")]
    assert (reader.messages, reader.skipped) == (2, 1)
    assert split(b"\x01\x02") == []


def test_closed_reader_refuses_to_read() -> None:
    reader = AuditNetlinkReader()
    with pytest.raises(ValueError):
        reader.read(0)
    with pytest.raises(ValueError):
        reader.fileno()
    reader.close()  # closing twice is fine


class FakeReader:
    """Hands out prepared batches of records, one batch per poll."""

    def __init__(self, batches: list[list[AuditRecord]]) -> None:
        self.batches = batches

    def records(self, timeout: float | None = 0.25) -> list[AuditRecord]:
        return self.batches.pop(0) if self.batches else []


def netlink(mtype: int, text: str) -> AuditRecord:
    rec = parse_audit_record(text, None, mtype)
    assert rec is not None
    return rec


def test_follow_assembles_and_closes_at_stop() -> None:
    batches = [
        [netlink(1300, "audit(1.000:5): arch=c000003e syscall=59 success=yes items=0 pid=3")],
        [netlink(1309, 'audit(1.000:5): argc=2 a0="/bin/true" a1="m"')],
        [netlink(1320, "audit(1.000:5): ")],
        [netlink(1300, "audit(1.000:6): arch=c000003e syscall=2 success=yes items=0")],
    ]
    reader = FakeReader(batches)
    polls = iter(range(10))
    stop = threading.Event()

    def clock() -> float:
        return 100.0

    events = []
    for ev in follow(reader, AuditAssembler(), stop=lambda: next(polls) >= 5, clock=clock):  # type: ignore[arg-type]
        events.append(ev)
    assert [e.action for e in events] == ["process-started", "syscall-open"]
    assert events[0].process_args == ("/bin/true", "m")
    stop.set()
    assert list(follow(FakeReader([]), AuditAssembler(), stop=stop)) == []  # type: ignore[arg-type]


def test_execve_rule() -> None:
    assert execve_rule("keibi-test-1") == (
        "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-F", "key=keibi-test-1"
    )  # fmt: skip
    assert execve_rule("k", "b32")[2] == "arch=b32"
    for bad in ("", "a b", "k;rm", "x" * 300):
        with pytest.raises(ValueError):
            execve_rule(bad)
    with pytest.raises(ValueError):
        execve_rule("k", "b16")


class FakeAuditctl:
    def __init__(self, enabled: str, fail_on: str | None = None) -> None:
        self.enabled = enabled
        self.fail_on = fail_on
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        if self.fail_on is not None and args[0] == self.fail_on:
            raise AuditControlError(f"auditctl {args[0]} failed")
        if args[0] == "-s":
            return f"enabled {self.enabled}\nfailure 1\npid 0\nbacklog_limit 64\n"
        if args[0] == "-e":
            self.enabled = args[1]
        return ""


RULE = execve_rule("keibi-test-x")


def test_temporary_rule_enables_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = FakeAuditctl("0")
    monkeypatch.setattr(audit_netlink, "_run", ctl)
    with temporary_rule(RULE):
        assert ctl.enabled == "1"
    assert ctl.calls == [["-s"], ["-e", "1"], ["-a", *RULE], ["-d", *RULE], ["-e", "0"]]
    assert ctl.enabled == "0"


def test_temporary_rule_leaves_an_enabled_audit_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = FakeAuditctl("1")
    monkeypatch.setattr(audit_netlink, "_run", ctl)
    with pytest.raises(RuntimeError), temporary_rule(RULE):
        raise RuntimeError("test body failed")
    assert ctl.calls == [["-s"], ["-a", *RULE], ["-d", *RULE]]


def test_temporary_rule_failure_to_add_restores_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = FakeAuditctl("0", fail_on="-a")
    monkeypatch.setattr(audit_netlink, "_run", ctl)
    with pytest.raises(AuditControlError), temporary_rule(RULE):
        pytest.fail("the body must not run")
    assert ctl.calls == [["-s"], ["-e", "1"], ["-a", *RULE], ["-e", "0"]]


def test_temporary_rule_refuses_locked_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = FakeAuditctl("2")
    monkeypatch.setattr(audit_netlink, "_run", ctl)
    with pytest.raises(AuditControlError, match="locked"), temporary_rule(RULE):
        pytest.fail("the body must not run")
    assert ctl.calls == [["-s"]]


def test_status_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_netlink, "_run", FakeAuditctl("1"))
    status = audit_netlink.audit_status()
    assert status["enabled"] == "1" and status["backlog_limit"] == "64"
    with pytest.raises(ValueError):
        audit_netlink.set_enabled(2)
