"""Offline reading: log files (plain, compressed, rotated sets, whole trees) -> events.

This is what ``keibi events`` (:func:`read_events`: every event) and ``keibi hunt``
(:func:`read_batches`: what the engine needs, in batches) share. Each rotated set is read
oldest member first; when several sets are given, their events are merged in time order
so that rules correlating across sources see them as they happened. A single set read
by a line parser is sifted for the engine (:mod:`keibi.offline_sift`): only the events
some rule can use and the times of the others, parsed by worker processes
(:mod:`keibi.offline_pool`) when it is large.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter
from typing import TypeVar

from keibi.engine.index import Prefilter
from keibi.events.model import Event
from keibi.offline_pool import (
    Batch,
    ChunkResult,
    LocalParser,
    ParsePool,
    PoolError,
    Spawned,
    can_pool,
    is_stateless,
    pooled_batches,
)
from keibi.offline_sift import Sifted, Sifter
from keibi.parsers.context import LineContext
from keibi.parsers.registry import base_name, guess_type, skip_reason, source_type
from keibi.parsers.stream import StreamParser
from keibi.sources.files import expand_inputs, iter_batches, iter_lines
from keibi.sources.lines import LineStats, RawLine

T = TypeVar("T")


class InputError(Exception):
    """An input cannot be read at all (missing file, unknown source type)."""


__all__ = ["Batch", "InputError", "PoolError", "ReadReport", "Spawned", "default_jobs",
           "plan_inputs", "read_batches", "read_events", "spawn_workers"]


@dataclass(slots=True)
class ReadReport:
    """What offline reading went through, for the summary line and ``--json`` stats."""

    files: list[tuple[str, str]] = field(default_factory=list)  # (path, source type)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    line_stats: LineStats = field(default_factory=LineStats)
    events: int = 0
    bytes_total: int = 0


def _head(path: str, n: int = 20) -> list[str]:
    out: list[str] = []
    try:
        for raw in iter_lines(path, LineStats(), 4096):
            out.append(raw.text)
            if len(out) >= n:
                break
    except (OSError, EOFError, ValueError):
        pass
    return out


@dataclass(slots=True)
class _Set:
    stype: str
    paths: list[str]


def plan_inputs(
    paths: Sequence[str], forced_type: str | None, report: ReadReport
) -> list[_Set]:
    """Group the inputs into rotated sets (oldest member first) with their source type."""
    for p in paths:
        if not os.path.exists(p):
            raise InputError(f"{p}: no such file or directory")
    if forced_type is not None:
        source_type(forced_type)  # raises KeyError with the known names
    sets: dict[tuple[str, str], _Set] = {}
    for path in expand_inputs(list(paths)):
        stype = forced_type or guess_type(os.path.basename(path), _head(path))
        if stype is None:
            report.skipped.append((path, skip_reason(path)))
            continue
        key = (os.path.dirname(path), base_name(os.path.basename(path)) + "\0" + stype)
        sets.setdefault(key, _Set(stype, [])).paths.append(path)
        report.files.append((path, stype))
        with contextlib.suppress(OSError):
            report.bytes_total += os.path.getsize(path)
    return list(sets.values())


def _set_reads(
    s: _Set,
    report: ReadReport,
    max_line_bytes: int,
    on_bytes: Callable[[int], None] | None,
    read: Callable[[StreamParser, LineContext, list[RawLine]], T],
    flush: Callable[[StreamParser], T],
) -> Iterator[T]:
    """``read(parser, ctx, lines)`` for each read of a rotated set's members (oldest
    first), then ``flush(parser)`` at the end of each member; a member that cannot be
    opened is skipped and one that breaks off (a truncated .gz) keeps what was read, both
    said in ``report``; progress goes to ``on_bytes``."""
    st = source_type(s.stype)
    for path in s.paths:
        parser = st.make_parser()
        try:
            mtime = os.stat(path).st_mtime
        except OSError as exc:
            report.skipped.append((path, str(exc)))
            continue
        ctx = LineContext(path=path, ref_time=mtime, dataset=st.dataset)
        last = 0
        try:
            for lines in iter_batches(path, report.line_stats, max_line_bytes):
                yield read(parser, ctx, lines)
                if on_bytes is not None and lines[-1].offset - last > 1 << 20:
                    on_bytes(lines[-1].offset - last)
                    last = lines[-1].offset
        except (OSError, EOFError, ValueError) as exc:
            # A truncated .gz or unreadable file: keep what was read, say so, go on.
            report.skipped.append((path, f"read error after {last} bytes: {exc}"))
        yield flush(parser)
        if on_bytes is not None:
            with contextlib.suppress(OSError):
                on_bytes(max(0, os.path.getsize(path) - last))


def _set_batches(
    s: _Set,
    report: ReadReport,
    max_line_bytes: int,
    on_bytes: Callable[[int], None] | None,
) -> Iterator[list[Event]]:
    """The events of one rotated set, members oldest first, a list per read."""
    def read(parser: StreamParser, ctx: LineContext, lines: list[RawLine]) -> list[Event]:
        feed = parser.feed
        out: list[Event] = []
        for raw in lines:
            out += feed(raw.text, raw.offset, ctx)
        return out

    def flush(parser: StreamParser) -> list[Event]:
        return parser.flush()

    return _set_reads(s, report, max_line_bytes, on_bytes, read, flush)


def _set_events(
    s: _Set,
    report: ReadReport,
    max_line_bytes: int,
    on_bytes: Callable[[int], None] | None,
) -> Iterator[Event]:
    for batch in _set_batches(s, report, max_line_bytes, on_bytes):
        yield from batch


def read_events(
    paths: Sequence[str],
    *,
    forced_type: str | None = None,
    report: ReadReport | None = None,
    max_line_bytes: int = 65536,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """Every event in ``paths``, rotated sets in order, several sets merged by time."""
    rep = report if report is not None else ReadReport()
    sets = plan_inputs(paths, forced_type, rep)
    if len(sets) == 1:
        for batch in _set_batches(sets[0], rep, max_line_bytes, on_bytes):
            rep.events += len(batch)
            yield from batch
        return
    streams = [_set_events(s, rep, max_line_bytes, on_bytes) for s in sets]
    for ev in heapq.merge(*streams, key=attrgetter("timestamp")):
        rep.events += 1
        yield ev


#: below this many bytes of input, worker processes cost more than they save
POOL_MIN_BYTES = 16 << 20
_MERGED_BATCH = 1024


def default_jobs() -> int:
    """Processes ``keibi hunt`` may use: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def spawn_workers(paths: Sequence[str], jobs: int,
                  min_pool_bytes: int = POOL_MIN_BYTES) -> Spawned | None:
    """The worker processes :func:`read_batches` will want for ``paths`` with ``jobs``,
    started now (they get ready while the caller loads its rules), or None when the files
    named are too small for workers (their rotated members are not counted: the reader
    then starts its own workers if it wants them)."""
    if jobs <= 1 or not can_pool():
        return None
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return Spawned(jobs - 1) if total >= min_pool_bytes else None


def read_batches(
    paths: Sequence[str],
    *,
    forced_type: str | None = None,
    report: ReadReport | None = None,
    max_line_bytes: int = 65536,
    on_bytes: Callable[[int], None] | None = None,
    prefilter: Prefilter | None = None,
    jobs: int = 1,
    min_pool_bytes: int = POOL_MIN_BYTES,
    spawned: Spawned | None = None,
) -> Iterator[Batch]:
    """What the engine needs from ``paths``, in batches (:class:`~keibi.offline_pool.Batch`).

    With a ``prefilter`` and one rotated set read by a line parser, batches hold only the
    events the prefilter wants, with the times of the others (``Engine.observe``;
    :mod:`keibi.offline_sift`): when ``jobs`` > 1 and the set is large, parsed by
    ``jobs - 1`` worker processes (this process, running the engine, is the other job;
    those of ``spawned`` first, :func:`spawn_workers`), else here. Otherwise every event,
    read here exactly as :func:`read_events` does. ``report`` counts every event either way.
    """
    rep = report if report is not None else ReadReport()
    sets = plan_inputs(paths, forced_type, rep)
    if prefilter is not None and len(sets) == 1 and is_stateless(sets[0].stype):
        if jobs > 1 and can_pool() and rep.bytes_total >= min_pool_bytes:
            yield from _pooled(sets[0], rep, max_line_bytes, on_bytes, prefilter, jobs,
                               spawned)
        else:
            yield from _sifted(sets[0], rep, max_line_bytes, on_bytes, prefilter)
        return
    if len(sets) == 1:
        for batch in _set_batches(sets[0], rep, max_line_bytes, on_bytes):
            rep.events += len(batch)
            yield Batch(batch)
        return
    streams = [_set_events(s, rep, max_line_bytes, on_bytes) for s in sets]
    merged = heapq.merge(*streams, key=attrgetter("timestamp"))
    while chunk := list(islice(merged, _MERGED_BATCH)):
        rep.events += len(chunk)
        yield Batch(chunk)


def _sifted(s: _Set, report: ReadReport, max_line_bytes: int,
            on_bytes: Callable[[int], None] | None, prefilter: Prefilter) -> Iterator[Batch]:
    """:func:`_set_batches` as the parse workers sift it (:mod:`keibi.offline_sift`), in
    this process: a batch per read, of the events the prefilter wants and the ticks."""
    sifter = Sifter(prefilter)
    latest = Sifted()  # the latest time seen carries over reads and members

    def batch(out: Sifted) -> Batch:
        nonlocal latest
        latest = out
        report.events += out.events
        return Batch(out.kept, out.ticks, out.cuts)

    def read(parser: StreamParser, ctx: LineContext, lines: list[RawLine]) -> Batch:
        nonlocal latest
        latest = out = Sifted(high=latest.high)
        sifter.sift([raw.offset for raw in lines], [raw.text for raw in lines],
                    ctx, parser, out)
        return batch(out)

    def flush(parser: StreamParser) -> Batch:
        out = Sifted(high=latest.high)
        sifter.events(parser.flush(), out)
        return batch(out)

    return _set_reads(s, report, max_line_bytes, on_bytes, read, flush)


def _pooled(s: _Set, rep: ReadReport, max_line_bytes: int,
            on_bytes: Callable[[int], None] | None, prefilter: Prefilter,
            jobs: int, spawned: Spawned | None) -> Iterator[Batch]:
    done: dict[str, int] = {}

    def on_result(path: str, r: ChunkResult) -> bool:
        st = rep.line_stats
        st.lines += r.lines
        st.bytes += r.bytes
        st.decode_errors += r.decode_errors
        st.truncated += r.truncated
        rep.events += r.events
        done[path] = done.get(path, 0) + r.bytes
        if on_bytes is not None:
            on_bytes(r.bytes)
        if r.error is not None:
            rep.skipped.append((path, f"read error after {done[path]} bytes: {r.error}"))
            return False
        return True

    def on_skip(path: str, why: str) -> None:
        if path in done:  # damage found after some chunks were read
            why = f"read error after {done[path]} bytes: {why}"
        rep.skipped.append((path, why))

    workers = max(1, jobs - 1)  # the engine here is busy too: one job of its own
    with ParsePool(workers, prefilter, max_line_bytes, spawned) as pool:
        # this process parses too while the workers are behind (LocalParser)
        yield from pooled_batches(s.stype, s.paths, pool, on_result, on_skip, 4 * workers,
                                  LocalParser(pool.setup))
