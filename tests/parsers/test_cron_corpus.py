"""cron, crontab, anacron and run-parts: the corpora, exactly, and hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keibi.parsers.cron import PROGRAMS, parse_cron_line, parse_cron_message
from keibi.parsers.syslog import split_header
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

CASES = line_cases("cron")


def test_corpus_is_there() -> None:
    assert len(CASES) >= 45


@pytest.mark.parametrize(("path", "line"), CASES)
def test_corpus_line(path: Path, line: DataLine) -> None:
    check_line_case(parse_cron_line, path, line, syslog=True)


@pytest.mark.parametrize(("path", "line"), CASES)
def test_message_entry_point_agrees(path: Path, line: DataLine) -> None:
    """What the syslog dispatcher calls gives the same events, or None for other programs."""
    ctx = sample_ctx(path)
    header = split_header(line.text, ctx)
    if header is None:
        return
    events = parse_cron_message(header, line.text, line.offset, ctx)
    base = (header.program or "").split("(", 1)[0]
    if base not in PROGRAMS:
        assert events is None
        return
    assert events is not None
    assert [flatten(e) for e in events] == line.expected


def test_programs() -> None:
    assert {"CRON", "cron", "crond", "CROND", "crontab", "anacron", "run-parts"} <= PROGRAMS
    ctx = sample_ctx("x")
    header = split_header("Nov 20 10:00:00 h sshd[1]: (root) CMD (x)", ctx)
    assert header is not None
    assert parse_cron_message(header, "", 0, ctx) is None


def test_blank_lines_give_nothing() -> None:
    ctx = sample_ctx("x")
    assert parse_cron_line("", 0, ctx) == []
    assert parse_cron_line("\n", 0, ctx) == []


def test_command_with_parentheses_and_hostile_text() -> None:
    ctx = sample_ctx("x")
    cmd = "echo $(id) ) ( \x1b[31m; (curl x|sh) >/dev/null"
    (event,) = parse_cron_line(f"Nov 20 10:00:00 h CRON[9]: (root) CMD ({cmd})", 0, ctx)
    assert event.action == "cron-command"
    assert event.process_command_line == cmd
    (odd,) = parse_cron_line("Nov 20 10:00:00 h CRON[9]: (root) CMD (unclosed", 0, ctx)
    assert odd.action == "log-line"


@pytest.mark.parametrize("line", hostile_lines(), ids=lambda s: repr(s[:12]))
def test_hostile_lines(line: str) -> None:
    started = time.perf_counter()
    check_hostile_events(parse_cron_line(line, 0, sample_ctx("x")), line)
    assert time.perf_counter() - started < 1.0


def test_huge_fields_stay_linear() -> None:
    ctx = sample_ctx("x")
    head = "Nov 20 10:00:00 h CRON[9]: "
    for body in (
        "(root) CMD (" + ")" * 1_000_000,
        "(" * 1_000_000,
        "(root) " + "A " * 500_000 + "(x)",
        "(" + "a" * 1_000_000 + ") CMD (x)",
        "(root) CMD (" + "(" * 1_000_000,
        "pam_unix(cron:session): session opened for user " + "a" * 1_000_000,
    ):
        for prefix in (head, "Nov 20 10:00:00 h anacron[1]: ", "Nov 20 10:00:00 h run-parts[1]: "):
            text = prefix + body
            started = time.perf_counter()
            check_hostile_events(parse_cron_line(text, 0, ctx), text)
            assert time.perf_counter() - started < 1.0, text[:60]


def test_mutated_corpus_lines() -> None:
    ctx = sample_ctx("x")
    for n, case in enumerate(CASES):
        for text in mutations(case.values[1].text, n):
            check_hostile_events(parse_cron_line(text, 0, ctx), text)
