"""Security-relevant syslog records (kernel, systemd, loggers, clock): the corpora, exactly,
and hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keibi.parsers.syslog import split_header
from keibi.parsers.syslog_generic import (
    PROGRAMS,
    log_line_event,
    parse_syslog_line,
    parse_syslog_message,
)
from tests.parsers.sample_corpus import (
    DataLine,
    check_hostile_events,
    check_line_case,
    flatten,
    hostile_lines,
    line_cases,
    mutations,
    sample_ctx,
)

CASES = line_cases("syslog")


def test_corpus_is_there() -> None:
    assert len(CASES) >= 75
    actions = {e["event.action"] for c in CASES for e in c.values[1].expected or ()}
    assert {
        "process-segfault", "process-trap", "oom-kill", "usb-device-attached",
        "kernel-module-loaded", "firewall-drop", "firewall-log", "service-started",
        "service-stopped", "service-failed", "apparmor-denied", "selinux-denied",
        "time-changed", "logger-started", "logger-stopped", "logs-suppressed", "log-line",
    } <= actions


@pytest.mark.parametrize(("path", "line"), CASES)
def test_corpus_line(path: Path, line: DataLine) -> None:
    check_line_case(parse_syslog_line, path, line, syslog=True)


@pytest.mark.parametrize(("path", "line"), CASES)
def test_message_entry_point_agrees(path: Path, line: DataLine) -> None:
    ctx = sample_ctx(path)
    header = split_header(line.text, ctx)
    if header is None:
        return
    events = parse_syslog_message(header, line.text, line.offset, ctx)
    assert events is not None  # the catch-all never declines
    assert [flatten(e) for e in events] == line.expected


def test_programs_and_fallback() -> None:
    assert {"kernel", "systemd", "systemd-journald", "rsyslogd", "chronyd"} <= PROGRAMS
    ctx = sample_ctx("x")
    header = split_header("Nov 20 10:00:00 h foo[1]: bar", ctx)
    assert header is not None
    event = log_line_event(header, "orig", 5, ctx, "keibi.other")
    assert (event.action, event.dataset, event.message, event.log_offset) == (
        "log-line", "keibi.other", "bar", 5,
    )


def test_blank_lines_give_nothing() -> None:
    ctx = sample_ctx("x")
    assert parse_syslog_line("", 0, ctx) == []
    assert parse_syslog_line(" \r\n", 0, ctx) == []


@pytest.mark.parametrize("line", hostile_lines(), ids=lambda s: repr(s[:12]))
def test_hostile_lines(line: str) -> None:
    started = time.perf_counter()
    check_hostile_events(parse_syslog_line(line, 0, sample_ctx("x")), line)
    assert time.perf_counter() - started < 1.0


BIG = 1_000_000
HUGE_MESSAGES = [
    "kernel: " + "x[1]: segfault at " * (BIG // 18),
    "kernel: " + "a" * BIG + "[1]: segfault at 0 ip 0 sp 0 error 4",
    "kernel: traps: " + "a" * BIG + "[1] trap x ip:0 sp:0 error:0",
    "kernel: Killed process 1 (" + "a" * BIG,
    "kernel: Out of memory: " + "Killed process 1 (a) " * (BIG // 21),
    "kernel: oom-kill:" + ",task=" * (BIG // 6),
    "kernel: oom-kill:constraint=x" + ",pid=1" * (BIG // 6) + ",uid=1",
    "kernel: usb 1-1: " + "Product: " * (BIG // 9),
    "kernel: [UFW BLOCK] IN=" + " SRC=1.2.3.4" * (BIG // 12),
    "kernel: x IN= SRC=" + "=" * BIG + " DST=",
    "kernel: " + "IN=" * (BIG // 3) + " SRC= DST=",
    'kernel: audit: apparmor="DENIED" ' + 'a="' * (BIG // 3),
    "kernel: audit: apparmor=" + "=" * BIG,
    "kernel: audit: apparmor=DENIED name=" + "41" * (BIG // 2),
    "kernel: audit: avc:  denied  { " + "r " * (BIG // 2) + "} for x",
    "kernel: audit: avc:  denied  { read } for " + "k=v " * (BIG // 4),
    "kernel: " + "a" * BIG + ": loading out-of-tree module taints kernel.",
    "systemd[1]: Started " + "a" * BIG,
    "systemd[1]: Started " + " - " * (BIG // 3),
    "systemd[1]: " + "a" * BIG + ".service: Main process exited, code=",
    "systemd[1]: a.service: Main process exited, " + "code=exited, " * (BIG // 13),
    "systemd-journald[1]: Suppressed " + "9" * BIG + " messages from x",
    'rsyslogd: [origin x-pid="' + "1" * BIG + '"] start',
    "rsyslogd: [origin " + "] " * (BIG // 2),
    "rsyslogd: imuxsock " + "9" * BIG + " messages lost due to rate-limiting",
    "chronyd[1]: System clock wrong by " + "9" * BIG + " seconds",
    "chronyd[1]: System clock wrong by " + "wrong by 1" * (BIG // 10),
]


@pytest.mark.parametrize("message", HUGE_MESSAGES, ids=lambda s: s[:40])
def test_huge_fields_stay_linear(message: str) -> None:
    text = "Nov 20 10:00:00 h " + message
    started = time.perf_counter()
    check_hostile_events(parse_syslog_line(text, 0, sample_ctx("x")), text)
    assert time.perf_counter() - started < 1.0


def test_forged_kernel_records_are_flagged() -> None:
    ctx = sample_ctx("x")
    (event,) = parse_syslog_line("Nov 20 10:00:00 h kernel[4242]: a[1]: segfault at 0 ip 1 "
                                 "sp 2 error 4 in x[1+2]", 0, ctx)
    assert event.action == "process-segfault"
    assert event.flags == ("log-injection",)


def test_firewall_addresses_are_validated() -> None:
    ctx = sample_ctx("x")
    bad = ("1.2.3.4/8", "::ffff:1.2.3.4.5", "1.2.3.4;rm", "256.1.1.1", "01.2.3.4", "١.2.3.4", "")
    for src in bad:
        (event,) = parse_syslog_line(
            f"Nov 20 10:00:00 h kernel: DROP IN=eth0 OUT= SRC={src} DST=10.0.0.1 PROTO=TCP",
            0, ctx,
        )
        assert event.source_ip is None
        assert event.flags == ("malformed",)
        assert event.related_ip == ("10.0.0.1",)


def test_mutated_corpus_lines() -> None:
    ctx = sample_ctx("x")
    for n, case in enumerate(CASES):
        for text in mutations(case.values[1].text, n):
            check_hostile_events(parse_syslog_line(text, 0, ctx), text)
