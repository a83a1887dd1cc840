"""Audit logs: the corpus in tests/samples/audit, exactly, in file order and shuffled."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keibi.events.model import Event
from keibi.parsers.audit_assembly import AuditAssembler, AuditLineStream, parse_audit_lines
from keibi.parsers.audit_record import parse_audit_record
from tests.parsers.sample_corpus import (
    HOSTNAME,
    DataLine,
    check_common,
    check_hostile_events,
    corpus_files,
    flatten,
    hostile_lines,
    load,
    mutations,
    sample_ctx,
)

FILES = corpus_files("audit")


@dataclass
class Group:
    """One expected event: its records (data lines) and its expectation."""

    expected: dict[str, Any]
    lines: list[DataLine]
    where: str

    @property
    def offset(self) -> int:
        return self.lines[0].offset

    @property
    def original(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def host(self) -> str:
        record = parse_audit_record(self.lines[0].text)
        assert record is not None, self.where
        return record.node or HOSTNAME


def groups_of(path: Path) -> list[Group]:
    corpus = load(path)
    starts = sorted(corpus.groups)
    out: list[Group] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else float("inf")
        lines = [ln for ln in corpus.lines if start <= ln.offset < end and ln.text.strip()]
        (expected,) = corpus.groups[start]
        out.append(Group(expected, lines, f"{path}:{corpus.group_lines[start]}"))
    for line in corpus.lines:
        assert line.expected is None, f"{path}:{line.lineno}: use '# expect-events:' here"
        assert not line.text.strip() or line.offset >= starts[0], f"{path}:{line.lineno}"
    return out


def by_sequence(events: list[Event]) -> dict[int, Event]:
    out: dict[int, Event] = {}
    for event in events:
        seq = event.get("auditd.sequence")
        assert seq not in out, f"two events for serial {seq}"
        out[seq] = event
    return out


def comparable(flat: dict[str, Any]) -> dict[str, Any]:
    """An expectation with the record order (which arrival order decides) sorted."""
    out = dict(flat)
    if "auditd.record_types" in out:
        out["auditd.record_types"] = sorted(out["auditd.record_types"])
    return out


def test_corpus_is_there() -> None:
    names = {p.name for p in FILES}
    assert {"exec_enriched.log", "exec_raw.log", "network.log", "user.log"} <= names
    assert sum(len(groups_of(p)) for p in FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_file(path: Path) -> None:
    ctx = sample_ctx(path)
    groups = groups_of(path)
    assembler = AuditAssembler(ctx=ctx)
    corpus = load(path)
    events = list(parse_audit_lines(((ln.text, ln.offset) for ln in corpus.lines), ctx, assembler))
    got = {e.log_offset: e for e in events}
    assert len(got) == len(events) == len(groups), [e.log_offset for e in events]
    for group in groups:
        event = got.get(group.offset)
        assert event is not None, f"{group.where}: no event starts at this record"
        assert flatten(event) == group.expected, group.where
        check_common(event, group.original, group.offset, ctx, group.host)
    stats = assembler.stats()
    assert stats["garbage"] == 0 and stats["incomplete"] == 0 and stats["pending"] == 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_interleaved(path: Path) -> None:
    """Records of all events of a file dealt round-robin, one record per feed, with the
    clock running and flush() called between reads: the same events."""
    ctx = sample_ctx(path)
    groups = groups_of(path)
    queues = [list(g.lines) for g in groups]
    stream = AuditLineStream(AuditAssembler(ctx=ctx))
    events: list[Event] = []
    while any(queues):
        for queue in queues:
            if queue:
                line = queue.pop(0)
                events.extend(stream.feed(line.text, line.offset, ctx))
    events.extend(stream.flush(None))
    got = by_sequence(events)
    assert len(got) == len(groups)
    for group in groups:
        event = got[group.expected["auditd.sequence"]]
        assert comparable(flatten(event)) == comparable(group.expected), group.where


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_shuffled(path: Path, seed: int) -> None:
    """Every record of a file in random order (within and across events): the same
    events once the input ends. An EOE stays after the records of its own event, as
    the kernel always sends it."""
    ctx = sample_ctx(path)
    groups = groups_of(path)
    lines = [ln for g in groups for ln in g.lines if " type=1320 " not in ln.text]
    random.Random(seed).shuffle(lines)
    for group in groups:
        for eoe in (ln for ln in group.lines if " type=1320 " in ln.text):
            last = max(lines.index(ln) for ln in group.lines if ln in lines)
            lines.insert(last + 1, eoe)
    assembler = AuditAssembler(reorder_window=10**6, timeout=10**9, ctx=ctx)
    events = list(parse_audit_lines(((ln.text, ln.offset) for ln in lines), ctx, assembler))
    got = by_sequence(events)
    assert len(got) == len(groups)
    for group in groups:
        event = got[group.expected["auditd.sequence"]]
        assert comparable(flatten(event)) == comparable(group.expected), group.where


def test_every_record_line_parses() -> None:
    for path in FILES:
        for group in groups_of(path):
            for line in group.lines:
                assert parse_audit_record(line.text, line.offset) is not None, group.where


def test_hostile_lines_never_raise() -> None:
    ctx = sample_ctx("x")
    stream = AuditLineStream()
    for line in hostile_lines():
        events = stream.feed(line, 0, ctx)
        check_hostile_events(events, None)
        assert events == []
    assert stream.flush(None) == []
    assert stream.assembler is not None
    assert stream.assembler.stats()["garbage"] == len([x for x in hostile_lines() if x.strip()])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_mutated_records_never_raise(path: Path) -> None:
    ctx = sample_ctx(path)
    groups = groups_of(path)
    rnd = random.Random(path.name)
    for group in rnd.sample(groups, min(3, len(groups))):
        line = rnd.choice(group.lines).text
        stream = AuditLineStream()
        for i, variant in enumerate(mutations(line, seed=len(line))):
            events = stream.feed(variant, i, ctx)
            check_hostile_events(events, None)
        check_hostile_events(stream.flush(None), None)
