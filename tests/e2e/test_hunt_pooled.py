"""Offline detection with parser worker processes gives what one process gives.

A generated auth log (brute forces, takeovers, sprays, noise) is read once in this
process and once by two workers over small chunks, plain and gzipped, both sifted for the
engine (keibi.offline_sift), and once more with every event given to the engine; the
engine must print the same alerts, byte for byte and in the same order, and the reader
must count the same lines and events.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keibi import offline_pool
from keibi.config import load_config
from keibi.detection import build_engine
from keibi.engine.engine import Engine
from keibi.events.encoding import dumps
from keibi.offline import ReadReport, read_batches, spawn_workers
from keibi.offline_pool import Batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def authlog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pooled")
    log = d / "auth.log"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_authlog.py"), str(log),
                    "--lines", "30000", "--seed", "3"], check=True, capture_output=True)
    # a line without a newline at the end, a CRLF line and invalid UTF-8 on the way
    with log.open("ab") as f:
        f.write(b"Oct 30 23:59:58 web01 sshd[1]: Failed password for \xff from 192.0.2.9 "
                b"port 22 ssh2\r\nOct 30 23:59:59 web01 sshd[2]: unfinished")
    os.utime(log, (1_798_000_000, 1_798_000_000))  # the year of every line comes from it
    return log


def _run(engine: Engine, batches: list[Batch]) -> list[bytes]:
    out: list[bytes] = []
    for batch in batches:
        engine.process_batch(batch.events, batch.ticks, batch.cuts)
        out += [dumps(a) for a in engine.drain_closed()]
    engine.finish()
    return out + [dumps(a) for a in engine.drain_closed()]


def _hunt(paths: list[str], jobs: int, source: str | None = None, *, sift: bool = True
          ) -> tuple[list[bytes], ReadReport]:
    """The alerts and report of a hunt; ``sift=False``: the engine is given every event."""
    engine = build_engine(load_config(None), updates=False)
    report = ReadReport()
    batches = list(read_batches(paths, report=report, min_pool_bytes=0, forced_type=source,
                                prefilter=engine.prefilter() if sift else None, jobs=jobs))
    if jobs > 1:
        assert any(b.ticks is not None for b in batches)  # the workers did read it
    return _run(engine, batches), report


@pytest.mark.parametrize(("compressed", "source"),
                         [(False, None), (True, None), (False, "syslog")])
def test_workers_give_the_same_alerts(authlog: Path, tmp_path: Path, compressed: bool,
                                      source: str | None,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 64 << 10)  # many chunks
    path = authlog
    if compressed:
        path = tmp_path / "auth.log.1.gz"
        path.write_bytes(gzip.compress(authlog.read_bytes()))
        os.utime(path, (1_798_000_000, 1_798_000_000))
    single, rep1 = _hunt([str(path)], 1, source)
    pooled, rep2 = _hunt([str(path)], 3, source)  # two workers
    every, rep0 = _hunt([str(path)], 1, source, sift=False)
    assert len(single) > 50
    assert pooled == single == every
    assert (rep2.events, rep2.line_stats) == (rep1.events, rep1.line_stats)
    assert (rep0.events, rep0.line_stats) == (rep1.events, rep1.line_stats)
    assert rep1.line_stats.decode_errors == 1 and not rep1.skipped and not rep2.skipped


def test_damaged_gzip_keeps_what_was_read(authlog: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 64 << 10)
    data = gzip.compress(authlog.read_bytes())
    path = tmp_path / "auth.log.2.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    single, rep1 = _hunt([str(path)], 1)
    pooled, rep2 = _hunt([str(path)], 2)
    assert pooled == single and rep2.events == rep1.events > 0
    assert rep2.line_stats == rep1.line_stats
    assert len(rep1.skipped) == len(rep2.skipped) == 1


def test_a_rotated_set_reads_alike(authlog: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """auth.log.2.gz, auth.log.1, auth.log: members in order, each its own mtime."""
    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 32 << 10)
    lines = authlog.read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    parts = {"auth.log.2.gz": gzip.compress(b"".join(lines[:third])),
             "auth.log.1": b"".join(lines[third:2 * third]),
             "auth.log": b"".join(lines[2 * third:])}
    for i, (name, data) in enumerate(parts.items()):
        (tmp_path / name).write_bytes(data)
        os.utime(tmp_path / name, (1_797_000_000 + i * 900_000,) * 2)
    single, rep1 = _hunt([str(tmp_path)], 1)
    pooled, rep2 = _hunt([str(tmp_path)], 2)
    every, rep0 = _hunt([str(tmp_path)], 1, sift=False)
    assert len(single) > 50 and pooled == single == every
    assert (rep0.events, rep0.line_stats) == (rep1.events, rep1.line_stats)
    assert (rep2.events, rep2.line_stats, rep2.files) == (rep1.events, rep1.line_stats,
                                                          rep1.files)


def test_an_endless_record_in_a_compressed_member(authlog: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A record with no newline for longer than MAX_CARRY is not held whole: the rest of
    its member is read in this process, with the same lines, offsets and alerts."""
    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 32 << 10)
    monkeypatch.setattr(offline_pool, "MAX_CARRY", 200 << 10)
    lines = authlog.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    data = b"".join(lines[:half]) + b"x" * (500 << 10) + b"\n" + b"".join(lines[half:])
    path = tmp_path / "auth.log.1.gz"
    path.write_bytes(gzip.compress(data))
    os.utime(path, (1_798_000_000,) * 2)
    single, rep1 = _hunt([str(path)], 1)
    pooled, rep2 = _hunt([str(path)], 2)
    assert len(single) > 50 and pooled == single
    assert (rep2.events, rep2.line_stats) == (rep1.events, rep1.line_stats)
    assert rep1.line_stats.truncated == 1


@pytest.mark.parametrize("damaged", [False, True])
def test_this_process_parses_while_the_workers_are_behind(
        authlog: Path, tmp_path: Path, damaged: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a worker never ready (as on a busy host), this process parses every chunk it
    would otherwise wait for (offline_pool.LocalParser): the chunks still reach the
    engine in order, with the same alerts, counts and damage reports."""
    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 32 << 10)
    path = authlog
    if damaged:  # a gzip cut short: chunks carry the damage, parsed here or there
        data = gzip.compress(authlog.read_bytes())
        path = tmp_path / "auth.log.1.gz"
        path.write_bytes(data[: len(data) * 2 // 3])
        os.utime(path, (1_798_000_000,) * 2)
    single, rep1 = _hunt([str(path)], 1)
    pooled, rep3 = _hunt([str(path)], 2)
    parsers: list[offline_pool.LocalParser] = []
    made = offline_pool.LocalParser.__init__

    def init(self: offline_pool.LocalParser, setup: offline_pool.Setup) -> None:
        made(self, setup)
        parsers.append(self)

    monkeypatch.setattr(offline_pool.LocalParser, "__init__", init)
    monkeypatch.setattr(offline_pool.ParsePool, "ready", lambda self: False)
    shared, rep2 = _hunt([str(path)], 2)
    assert len(single) > 50 and shared == pooled == single
    assert (rep2.events, rep2.line_stats) == (rep1.events, rep1.line_stats)
    assert rep2.skipped == rep3.skipped and len(rep2.skipped) == int(damaged)
    (local,) = parsers
    assert local.chunks > 3  # several chunks (never the first `window` ones)


def test_workers_started_early_are_the_ones_that_parse(authlog: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started before the rules load (offline.spawn_workers) are the pool's own:
    no other process is started, and the alerts are those of one process."""
    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 64 << 10)
    single, rep1 = _hunt([str(authlog)], 1)
    assert spawn_workers([str(authlog)], 3, min_pool_bytes=authlog.stat().st_size + 1) is None
    assert spawn_workers([str(authlog)], 1, min_pool_bytes=0) is None
    spawned = spawn_workers([str(authlog), str(authlog.parent / "missing")], 3,
                            min_pool_bytes=authlog.stat().st_size)
    assert spawned is not None and len(spawned) == 2
    early = {p.pid for p in spawned._procs}
    started: list[int] = []
    spawn = offline_pool._spawn

    def counted() -> subprocess.Popen[bytes]:
        proc = spawn()
        started.append(proc.pid)
        return proc

    monkeypatch.setattr(offline_pool, "_spawn", counted)
    pools: list[offline_pool.ParsePool] = []
    made = offline_pool.ParsePool.__init__

    def init(self: offline_pool.ParsePool, *args: Any) -> None:
        made(self, *args)
        pools.append(self)

    monkeypatch.setattr(offline_pool.ParsePool, "__init__", init)
    engine = build_engine(load_config(None), updates=False)
    report = ReadReport()
    try:
        batches = list(read_batches([str(authlog)], report=report, min_pool_bytes=0,
                                    prefilter=engine.prefilter(), jobs=3, spawned=spawned))
        assert len(spawned) == 0  # all taken
    finally:
        spawned.close()
    (pool,) = pools
    assert {p.pid for p in pool._procs} == early and not started
    assert all(p.returncode == 0 for p in pool._procs)
    assert _run(engine, batches) == single
    assert (report.events, report.line_stats) == (rep1.events, rep1.line_stats)


def test_workers_started_early_and_not_used_end() -> None:
    """Workers no pool took end cleanly when closed (end of their stdin), unlike a
    process left waiting."""
    spawned = offline_pool.Spawned(2)
    procs = list(spawned._procs)
    spawned.close()
    assert len(spawned) == 0 and [p.returncode for p in procs] == [0, 0]
    spawned.close()  # twice is harmless
