"""yum.log, dnf.log, dnf.rpm.log and zypper's history: the corpora, exactly, and hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keibi.parsers.context import LineParser
from keibi.parsers.rpm import (
    parse_dnf_line,
    parse_rpm_line,
    parse_yum_line,
    parse_zypper_line,
    split_nevra,
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

CASES = line_cases("rpm")
PARSERS: dict[str, LineParser] = {
    "yum.log": parse_yum_line,
    "dnf.log": parse_dnf_line,
    "dnf.rpm.log": parse_dnf_line,
    "zypp-history.log": parse_zypper_line,
}
ALL = (parse_yum_line, parse_dnf_line, parse_zypper_line, parse_rpm_line)


def test_corpus_is_there() -> None:
    assert {c.values[0].name for c in CASES} == set(PARSERS)
    assert len(CASES) >= 45


@pytest.mark.parametrize(("path", "line"), CASES)
def test_corpus_line(path: Path, line: DataLine) -> None:
    check_line_case(PARSERS[path.name], path, line, syslog=False)


@pytest.mark.parametrize(("path", "line"), CASES)
def test_auto_detection_agrees(path: Path, line: DataLine) -> None:
    """parse_rpm_line tells the three apart (not lines that are none of them)."""
    assert line.expected is not None
    if any("malformed" in e.get("keibi.flags", ()) for e in line.expected):
        return
    ctx = sample_ctx(path)
    assert [flatten(e) for e in parse_rpm_line(line.text, line.offset, ctx)] == line.expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo-1.2-3.el9.x86_64", ("foo", "1.2-3.el9", "x86_64")),
        ("1:foo-bar-1.2-3.el7.noarch", ("foo-bar", "1:1.2-3.el7", "noarch")),
        ("foo-bar-1:1.2-3.fc39.aarch64", ("foo-bar", "1:1.2-3.fc39", "aarch64")),
        ("kernel-core-6.11.7-200.fc39.x86_64", ("kernel-core", "6.11.7-200.fc39", "x86_64")),
        ("python3-libs", ("python3-libs", None, None)),
        ("perl-Net-SSLeay", ("perl-Net-SSLeay", None, None)),
        ("foo-1.0-1", ("foo", "1.0-1", None)),
        ("foo-1.0-1.weirdarch", ("foo", "1.0-1.weirdarch", None)),
        ("-1.0-1.x86_64", ("-1.0-1", None, "x86_64")),
        ("x:y-1-1", ("x:y", "1-1", None)),
        ("", ("", None, None)),
    ],
)
def test_split_nevra(text: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_nevra(text) == expected


def test_blank_lines_give_nothing() -> None:
    ctx = sample_ctx("x")
    for parse in ALL:
        assert parse("", 0, ctx) == []
        assert parse(" \r\n", 0, ctx) == []


def test_yum_year_follows_the_reference_time() -> None:
    ctx = sample_ctx("x")
    (jan,) = parse_yum_line("Jan 02 03:04:05 Installed: foo-1-1.x86_64", 0, ctx)
    (dec,) = parse_yum_line("Dec 02 03:04:05 Installed: foo-1-1.x86_64", 0, ctx)
    assert flatten(jan)["@timestamp"] == "2026-01-02T03:04:05.000000Z"
    assert flatten(dec)["@timestamp"] == "2025-12-02T03:04:05.000000Z"
    (bad,) = parse_yum_line("Feb 30 03:04:05 Installed: foo-1-1.x86_64", 0, ctx)
    assert bad.flags == ("malformed",)


@pytest.mark.parametrize("line", hostile_lines(), ids=lambda s: repr(s[:12]))
@pytest.mark.parametrize("parse", ALL, ids=lambda p: p.__name__)
def test_hostile_lines(parse: LineParser, line: str) -> None:
    started = time.perf_counter()
    check_hostile_events(parse(line, 0, sample_ctx("x")), line)
    assert time.perf_counter() - started < 1.0


def test_huge_fields_stay_linear() -> None:
    ctx = sample_ctx("x")
    big = "a-" * 500_000
    lines = {
        parse_yum_line: [f"Nov 20 10:01:02 Installed: {big}.x86_64", f"Nov 20 10:01:02 {big}"],
        parse_dnf_line: [
            f"2026-11-20T10:01:02+0000 SUBDEBUG Upgrade: {big}",
            f"2026-11-20T10:01:02+0000 DDEBUG Command: {big}",
        ],
        parse_zypper_line: [
            "2026-11-20 10:01:02" + "|" * 1_000_000,
            f"2026-11-20 10:01:02|command|root@h|{big}'|",
            f"2026-11-20 10:01:02|command|{'@' * 1_000_000}|'zypper'|",
            f"2026-11-20 10:01:02|install|{big}|1|x86_64|{big}|r|s|",
        ],
    }
    for parse, texts in lines.items():
        for text in texts:
            started = time.perf_counter()
            check_hostile_events(parse(text, 0, ctx), text)
            assert time.perf_counter() - started < 1.0, (parse.__name__, text[:60])


def test_hostile_names_are_kept_verbatim() -> None:
    ctx = sample_ctx("x")
    name = "evil\x1b[2J;rm -rf /$(id)`x`"
    (event,) = parse_zypper_line(f"2026-11-20 10:01:02|install|{name}|1-1|x86_64|||s|", 0, ctx)
    assert event.package_name == name
    (cmd,) = parse_zypper_line("2026-11-20 10:01:02|command|root@h|'a' 'b; c' '$(d)'|", 0, ctx)
    assert cmd.process_args == ("a", "b; c", "$(d)")


def test_mutated_corpus_lines() -> None:
    ctx = sample_ctx("x")
    for n, case in enumerate(CASES):
        path, line = case.values
        parse = PARSERS[path.name]
        for text in mutations(line.text, n):
            check_hostile_events(parse(text, 0, ctx), text)
            check_hostile_events(parse_rpm_line(text, 0, ctx), text)
