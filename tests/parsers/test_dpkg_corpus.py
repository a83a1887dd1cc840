"""dpkg.log: the corpus in tests/samples/dpkg, exactly, and hostile input."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from keibi.parsers.dpkg import parse_dpkg_line, wall_time
from tests.parsers.sample_corpus import (
    DataLine,
    check_hostile_events,
    check_line_case,
    hostile_lines,
    line_cases,
    mutations,
    sample_ctx,
)

CASES = line_cases("dpkg")


def test_corpus_is_there() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize(("path", "line"), CASES)
def test_corpus_line(path: Path, line: DataLine) -> None:
    check_line_case(parse_dpkg_line, path, line, syslog=False)


def test_blank_lines_give_nothing() -> None:
    ctx = sample_ctx("x")
    assert parse_dpkg_line("", 0, ctx) == []
    assert parse_dpkg_line("  \n", 0, ctx) == []


def test_trailing_newline_is_kept_in_original_only() -> None:
    line = "2026-11-20 10:01:02 install foo:amd64 <none> 1.2-3\n"
    (event,) = parse_dpkg_line(line, 7, sample_ctx("x"))
    assert event.original == line
    assert event.package_version == "1.2-3"
    assert event.log_offset == 7


def test_local_time_uses_the_context_zone() -> None:
    ctx = sample_ctx("x")
    ctx.zone = ZoneInfo("Europe/Berlin")
    (summer,) = parse_dpkg_line("2026-07-01 12:00:00 startup archives unpack", 0, ctx)
    (winter,) = parse_dpkg_line("2026-11-20 12:00:00 startup archives unpack", 0, ctx)
    utc = sample_ctx("y")
    assert summer.timestamp == wall_time(utc, "2026-07-01 10:00:00")
    assert winter.timestamp == wall_time(utc, "2026-11-20 11:00:00")


def test_wall_time_rejects_bad_times() -> None:
    ctx = sample_ctx("x")
    for text in (
        "2026-02-30 10:00:00",
        "2026-11-20 25:00:00",
        "2026-11-20 10:61:00",
        "2026-11-20 1O:00:00",
        "２０２６-11-20 10:00:00",
        "2026-11-20 10:00:0²",
        "2026-11-20",
    ):
        assert wall_time(ctx, text) is None, text
    assert wall_time(ctx, "2026-11-20T10:00:00", "+0100") == wall_time(
        ctx, "2026-11-20 09:00:00"
    )
    assert wall_time(ctx, "2026-11-20T10:00:00", "+99:99") is None


@pytest.mark.parametrize("line", hostile_lines(), ids=lambda s: repr(s[:12]))
def test_hostile_lines(line: str) -> None:
    started = time.perf_counter()
    check_hostile_events(parse_dpkg_line(line, 0, sample_ctx("x")), line)
    assert time.perf_counter() - started < 1.0


def test_huge_fields_stay_linear() -> None:
    ctx = sample_ctx("x")
    big = "a" * 1_000_000
    for line in (
        f"2026-11-20 10:01:02 install {big}:amd64 <none> 1.0",
        f"2026-11-20 10:01:02 conffile /etc/{big} keep",
        f"2026-11-20 10:01:02 {' ' * 1_000_000}",
        f"2026-11-20 10:01:02 status {big}",
    ):
        started = time.perf_counter()
        check_hostile_events(parse_dpkg_line(line, 0, ctx), line)
        assert time.perf_counter() - started < 1.0


def test_mutated_corpus_lines() -> None:
    ctx = sample_ctx("x")
    for n, case in enumerate(CASES):
        for text in mutations(case.values[1].text, n):
            check_hostile_events(parse_dpkg_line(text, 0, ctx), text)
