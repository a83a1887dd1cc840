"""Reading the sample corpora of tests/samples (the format is in tests/samples/README.md).

A corpus file holds real-format log lines, each preceded by ``# expect: {...}`` (the
flattened event it must give) or, for a multi-line record, ``# expect-events: [...]``
before the record's first line. ``##`` lines are commentary. Every other line, blank
ones included, is data and is fed to the parser with its byte offset in the file.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from keibi.events.encoding import dumps, format_time, loads
from keibi.events.model import TIME_FIELDS, Event
from keibi.parsers.context import LineContext, LineParser
from keibi.parsers.syslog import split_header

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
REF_TIME = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC).timestamp()
HOSTNAME = "sample-host"
# checked by check_common for every event instead of in each expectation
COMMON = ("event.original", "log.file.path", "log.offset", "host.name")


def sample_ctx(path: Path | str) -> LineContext:
    """The fixed context of the corpus tests: ref 2026-11-26T12:00:00Z, zone UTC."""
    return LineContext(path=str(path), ref_time=REF_TIME, zone=UTC, hostname=HOSTNAME)


@dataclass(frozen=True)
class DataLine:
    text: str  # without its newline
    offset: int  # byte offset in the file
    lineno: int  # 1-based
    expected: list[dict[str, Any]] | None  # from "# expect:" (a list is allowed too)


@dataclass
class Corpus:
    path: Path
    lines: list[DataLine] = field(default_factory=list)
    # "# expect-events:" -> the offset of the record's first line -> its events
    groups: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    group_lines: dict[int, int] = field(default_factory=dict)  # offset -> lineno


def load(path: Path) -> Corpus:
    """Parse a corpus file; a malformed expectation raises with its file and line."""
    corpus = Corpus(path)
    data = path.read_bytes()
    offset = 0
    pending: list[dict[str, Any]] | None = None
    pending_group: list[dict[str, Any]] | None = None
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        start = offset
        offset += len(raw) + 1
        if offset == len(data) + 1 and not raw:
            break  # the empty piece after the final newline
        text = raw.decode("utf-8")
        where = f"{path}:{lineno}"
        if text.startswith("##"):
            continue
        if text.startswith("# expect:"):
            assert pending is None, f"{where}: two expectations for one line"
            value = json.loads(text[len("# expect:") :])
            pending = value if isinstance(value, list) else [value]
            continue
        if text.startswith("# expect-events:"):
            assert pending_group is None, f"{where}: two expect-events for one record"
            pending_group = json.loads(text[len("# expect-events:") :])
            assert isinstance(pending_group, list), f"{where}: expect-events takes a list"
            continue
        if pending_group is not None:
            corpus.groups[start] = pending_group
            corpus.group_lines[start] = lineno
            pending_group = None
        corpus.lines.append(DataLine(text, start, lineno, pending))
        pending = None
    assert pending is None and pending_group is None, f"{path}: expectation at end of file"
    return corpus


def corpus_files(kind: str) -> list[Path]:
    return sorted((SAMPLES / kind).glob("*.log"))


def flatten(event: Event) -> dict[str, Any]:
    """The event as ``{"dotted.field": value}``, times in RFC 3339, without COMMON."""
    flat: dict[str, Any] = msgspec.to_builtins(event)
    extra = flat.pop("keibi.extra", None) or {}
    flat.update(extra)
    flat["event.kind"] = event.kind
    for key in TIME_FIELDS:
        if isinstance(flat.get(key), float | int):
            flat[key] = format_time(float(flat[key]))
    for key in COMMON:
        flat.pop(key, None)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in flat.items()}


def check_common(
    event: Event, original: str, offset: int, ctx: LineContext, host: str | None
) -> None:
    """The fields every parser fills the same way, and a lossless JSON round trip."""
    assert event.original == original
    assert event.log_file_path == ctx.path
    assert event.log_offset == offset
    assert event.host_name == host
    assert round(event.timestamp, 6) == event.timestamp
    assert loads(dumps(event)) == event


# -- hostile input -------------------------------------------------------------------------

HUGE = 1_000_000
_FILLERS = (" ", "(", ")", "=", '"', "a", ",", "|", ":", "[", "]", "-", "0", "\\", "\x00")


def hostile_lines() -> list[str]:
    """Inputs no parser may choke on: garbage, control characters, 1 MB lines."""
    rnd = random.Random(1234)
    garbage = bytes(rnd.randrange(256) for _ in range(4096))
    return [
        " ",
        "\t",
        "\n",
        "\r\n",
        "\x00" * 100,
        garbage.decode("utf-8", "replace"),
        garbage.decode("latin-1"),
        garbage.decode("utf-8", "surrogateescape"),
        "\x1b[31mred\x1b[0m \u202etxt.exe \ufeff",
        "\U0001f4a3" * 1000,
        "A" * HUGE,
        " " * HUGE,
        "(" * HUGE,
        "=" * HUGE,
    ]


def mutations(line: str, seed: int, count: int = 12) -> list[str]:
    """Every prefix of ``line``, random single-character edits, and one 100 kB filler."""
    rnd = random.Random(seed)
    out = [line[:i] for i in range(len(line))]
    for _ in range(count):
        i = rnd.randrange(len(line) + 1)
        c = rnd.choice((*_FILLERS, chr(rnd.randrange(32, 0x2FF))))
        op = rnd.randrange(3)
        if op == 0:
            out.append(line[:i] + c + line[i:])
        elif op == 1:
            out.append(line[:i] + c + line[i + 1 :])
        else:
            out.append(line[:i] + line[i + 1 :])
    i = rnd.randrange(len(line) + 1)
    out.append(line[:i] + rnd.choice(_FILLERS) * 100_000 + line[i:])
    return out


def check_hostile_events(events: list[Event], original: str | None) -> None:
    """What holds for any input: events, with the input verbatim, that encode, and no
    parser bug hidden by the safety net (flag ``parse-error``)."""
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, Event)
        if original is not None:
            assert event.original == original
        assert math.isfinite(event.timestamp)
        assert "parse-error" not in (event.flags or ())
        try:
            (event.original or "").encode("utf-8")
        except UnicodeEncodeError:
            continue  # lone surrogates: the source decides how to decode, not the parser
        dumps(event)


# -- the per-line corpus test ----------------------------------------------------------------


def line_cases(kind: str) -> list[Any]:
    """``pytest.param(path, line)`` for every non-blank data line of the ``kind`` corpora."""
    import pytest

    return [
        pytest.param(path, line, id=f"{path.name}:{line.lineno}")
        for path in corpus_files(kind)
        for line in load(path).lines
        if line.text.strip()
    ]


def check_line_case(parse: LineParser, path: Path, line: DataLine, *, syslog: bool) -> None:
    """Parse one corpus line and compare with its expectation, exactly.

    ``syslog``: the line has a syslog header, whose host is ``host.name``.
    """
    ctx = sample_ctx(path)
    assert line.expected is not None, f"{path}:{line.lineno} has no '# expect:' line"
    events = parse(line.text, line.offset, ctx)
    assert [flatten(e) for e in events] == line.expected, f"{path}:{line.lineno}"
    host = HOSTNAME
    if syslog:
        header = split_header(line.text, sample_ctx(path))
        if header is not None:
            host = header.host
    for event in events:
        check_common(event, line.text, line.offset, ctx, host)
