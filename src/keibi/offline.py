"""Offline reading: log files (plain, compressed, rotated sets, whole trees) -> events.

This is what ``keibi events`` and ``keibi hunt`` share. Each rotated set is read oldest
member first; when several sets are given, their events are merged in time order so that
rules correlating across sources see them as they happened.
"""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.registry import base_name, guess_type, source_type
from keibi.sources.files import expand_inputs, iter_lines
from keibi.sources.lines import LineStats


class InputError(Exception):
    """An input cannot be read at all (missing file, unknown source type)."""


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
            report.skipped.append((path, "not a log format keibi knows"))
            continue
        key = (os.path.dirname(path), base_name(os.path.basename(path)) + "\0" + stype)
        sets.setdefault(key, _Set(stype, [])).paths.append(path)
        report.files.append((path, stype))
        with contextlib.suppress(OSError):
            report.bytes_total += os.path.getsize(path)
    return list(sets.values())


def _set_events(
    s: _Set,
    report: ReadReport,
    max_line_bytes: int,
    on_bytes: Callable[[int], None] | None,
) -> Iterator[Event]:
    st = source_type(s.stype)
    for path in s.paths:
        parser = st.make_parser()
        try:
            mtime = os.stat(path).st_mtime
        except OSError as exc:
            report.skipped.append((path, str(exc)))
            continue
        ctx = LineContext(path=path, ref_time=mtime, dataset=st.dataset)
        feed = parser.feed
        last = 0
        try:
            for raw in iter_lines(path, report.line_stats, max_line_bytes):
                yield from feed(raw.text, raw.offset, ctx)
                if on_bytes is not None and raw.offset - last > 1 << 20:
                    on_bytes(raw.offset - last)
                    last = raw.offset
        except (OSError, EOFError, ValueError) as exc:
            # A truncated .gz or unreadable file: keep what was read, say so, go on.
            report.skipped.append((path, f"read error after {last} bytes: {exc}"))
        yield from parser.flush()
        if on_bytes is not None:
            with contextlib.suppress(OSError):
                on_bytes(max(0, os.path.getsize(path) - last))


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
    streams = [_set_events(s, rep, max_line_bytes, on_bytes) for s in sets]
    if len(streams) == 1:
        merged: Iterator[Event] = streams[0]
    else:
        merged = heapq.merge(*streams, key=attrgetter("timestamp"))
    for ev in merged:
        rep.events += 1
        yield ev
