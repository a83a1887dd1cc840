"""apt's history.log: the corpus (multi-line blocks), exactly, the assembler's bounds, and
hostile input."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from keibi.events.model import Event
from keibi.parsers.apt_history import AptHistoryAssembler, iter_apt_history
from keibi.parsers.dpkg import wall_time
from tests.parsers.sample_corpus import (
    check_common,
    check_hostile_events,
    corpus_files,
    flatten,
    hostile_lines,
    load,
    mutations,
    sample_ctx,
)

FILES = corpus_files("apt")
BLOCK = [
    "Start-Date: 2026-11-20  10:01:02",
    "Commandline: apt-get install -y nmap",
    "Requested-By: alice (1000)",
    "Install: nmap:amd64 (7.93+dfsg1-1), libblas3:amd64 (3.11.0-2, automatic)",
    "End-Date: 2026-11-20  10:01:09",
]


def _run(path: Path) -> tuple[dict[int, list[Event]], list[Event]]:
    corpus = load(path)
    ctx = sample_ctx(path)
    events = list(iter_apt_history(((d.text, d.offset) for d in corpus.lines), ctx))
    by_offset: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        assert event.log_offset is not None
        by_offset[event.log_offset].append(event)
    return by_offset, events


def test_corpus_is_there() -> None:
    assert FILES
    assert sum(len(load(p).groups) for p in FILES) >= 9


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_blocks(path: Path) -> None:
    corpus = load(path)
    ctx = sample_ctx(path)
    by_offset, _ = _run(path)
    assert set(by_offset) == set(corpus.groups), "events for records without expect-events"
    texts = {d.offset: d for d in corpus.lines}
    for offset, expected in corpus.groups.items():
        where = f"{path}:{corpus.group_lines[offset]}"
        got = by_offset[offset]
        assert [flatten(e) for e in got] == expected, where
        # the record's text: its lines from the first up to the one that completed it
        first = texts[offset]
        for event in got:
            original = event.original or ""
            assert original.startswith(first.text), where
            lines = original.split("\n")
            index = corpus.lines.index(first)
            assert [d.text for d in corpus.lines[index : index + len(lines)]] == lines, where
            check_common(event, original, offset, ctx, "sample-host")


def test_feed_emits_at_end_date_and_flush_at_end() -> None:
    ctx = sample_ctx("x")
    assembler = AptHistoryAssembler()
    offset = 0
    for line in BLOCK[:-1]:
        assert assembler.feed(line + "\n", offset, ctx) == []
        offset += len(line) + 1
    events = assembler.feed(BLOCK[-1] + "\n", offset, ctx)
    assert [e.package_name for e in events] == ["nmap", "libblas3"]
    assert {e.outcome for e in events} == {"success"}
    assert events[0].original == "\n".join(BLOCK)
    assert assembler.flush() == []


def test_flush_with_now_holds_a_young_block() -> None:
    ctx = sample_ctx("x")
    assembler = AptHistoryAssembler(ctx, max_hold=600)
    for n, line in enumerate(BLOCK[:-1]):
        assembler.feed(line, n, ctx)
    start = wall_time(ctx, "2026-11-20 10:01:02")
    assert start is not None
    assert assembler.flush(start + 60) == []
    held = assembler.flush(start + 601)
    assert [e.outcome for e in held] == ["unknown", "unknown"]
    assert assembler.flush() == []


def test_a_new_start_closes_an_unfinished_block() -> None:
    ctx = sample_ctx("x")
    lines = BLOCK[:-1] + BLOCK
    events = list(iter_apt_history(((line, n) for n, line in enumerate(lines)), ctx))
    assert [(e.log_offset, e.outcome) for e in events] == [
        (0, "unknown"), (0, "unknown"), (4, "success"), (4, "success"),
    ]


def test_blocks_are_bounded() -> None:
    ctx = sample_ctx("x")
    assembler = AptHistoryAssembler(ctx, max_lines=10, max_bytes=1 << 20)
    out: list[Event] = []
    out += assembler.feed(BLOCK[0], 0, ctx)
    out += assembler.feed(BLOCK[1], 1, ctx)
    for n in range(25):
        out += assembler.feed(f"Install: pkg{n}:amd64 (1.0)", 2 + n, ctx)
    assert len(out) == 18  # 2 + 8 lines, then 10 more, hit the bound
    assert all("truncated" in (e.flags or ()) for e in out)
    assert {e.process_command_line for e in out} == {"apt-get install -y nmap"}
    rest = assembler.feed(BLOCK[-1], 100, ctx)
    assert [e.package_name for e in rest] == [f"pkg{n}" for n in range(18, 25)]
    assert all(e.timestamp == out[0].timestamp for e in rest)
    big = AptHistoryAssembler(ctx, max_bytes=1000)
    assert big.feed(BLOCK[0], 0, ctx) == []
    assert len(big.feed("Install: " + "a:b (1), " * 200, 1, ctx)) == 200


def test_orphan_and_garbage_lines() -> None:
    ctx = sample_ctx("x")
    assembler = AptHistoryAssembler(ctx)
    (garbage,) = assembler.feed("not apt at all", 0, ctx)
    assert garbage.action == "log-line" and garbage.flags == ("malformed",)
    assert assembler.feed("", 15, ctx) == []
    assert assembler.feed("Remove: foo:amd64 (1.0)", 16, ctx) == []
    (event,) = assembler.flush()
    assert event.action == "package-removed"
    assert event.flags == ("truncated",)
    assert event.timestamp == round(ctx.ref_time, 6)


def test_odd_lists_are_flagged_not_dropped() -> None:
    ctx = sample_ctx("x")
    lines = [BLOCK[0], "Install: good:amd64 (1.0), bad one (2.0), (3.0), tail", BLOCK[-1]]
    events = list(iter_apt_history(((line, n) for n, line in enumerate(lines)), ctx))
    assert [e.package_name for e in events] == ["good"]
    assert events[0].flags == ("malformed",)
    lines = [BLOCK[0], "Future-Field: something new", BLOCK[-1]]
    (run,) = iter_apt_history(((line, n) for n, line in enumerate(lines)), ctx)
    assert run.action == "package-manager-run" and run.flags is None


@pytest.mark.parametrize("line", hostile_lines(), ids=lambda s: repr(s[:12]))
def test_hostile_lines(line: str) -> None:
    ctx = sample_ctx("x")
    assembler = AptHistoryAssembler(ctx)
    started = time.perf_counter()
    for text in (line, "Install: " + line, "Requested-By: " + line, "Start-Date: " + line):
        check_hostile_events(assembler.feed(text, 0, ctx), None)
    check_hostile_events(assembler.flush(), None)
    assert time.perf_counter() - started < 2.0


def test_huge_lists_stay_linear() -> None:
    ctx = sample_ctx("x")
    for value in ("a" * 1_000_000, " (" * 500_000, "x (" * 333_333, "), " * 333_333,
                  "a:b (" + "," * 1_000_000 + ")", "a (1, 2" + ", automatic" * 90_000 + ")"):
        assembler = AptHistoryAssembler(ctx)
        started = time.perf_counter()
        assembler.feed(BLOCK[0], 0, ctx)
        assembler.feed("Install: " + value, 1, ctx)
        check_hostile_events(assembler.feed(BLOCK[-1], 2, ctx), None)
        assert time.perf_counter() - started < 1.0, value[:20]


def test_mutated_blocks() -> None:
    ctx = sample_ctx("x")
    for n, line in enumerate(BLOCK):
        for text in mutations(line, n):
            lines = [*BLOCK[:n], text, *BLOCK[n + 1 :]]
            events = list(iter_apt_history(((t, i) for i, t in enumerate(lines)), ctx))
            check_hostile_events(events, None)
