"""Parsing large offline inputs in worker processes, for ``keibi hunt``.

A rotated set read by a stateless line parser (a :class:`~keibi.parsers.stream.LineStream`)
is cut into line-aligned chunks; worker processes (``python -m keibi.offline_pool``) parse
them, and the main process runs the engine over the results in chunk order; whenever the
next result it needs has not begun to arrive, the main process parses the next chunk
itself (:class:`LocalParser`) instead of waiting, so a slow worker or a busy host costs
no idle time. Plain files
are cut into byte ranges each worker reads itself; compressed members are decompressed by
the main process and their chunks sent along. Each chunk is split and parsed exactly as
the single-process reader does it: same line rules, offsets, stats, and the same
:class:`~keibi.parsers.context.LineContext` (path, the member's mtime as the reference
time for years, dataset).

A worker sends back only the events some rule can use (:class:`~keibi.engine.index.
Prefilter`), as msgpack, and for the others only the times that could move the engine's
clock (:mod:`keibi.offline_sift`): the engine, fed :meth:`~keibi.engine.engine.Engine.
observe` with those times between the events, does exactly what it does when it is given
every event.

Protocol on the workers' stdin/stdout: frames of a 4-byte little-endian length and a
msgpack body: one :class:`Setup`, then :class:`Task` values, each answered in order by a
:class:`ChunkResult`; end of stdin ends the worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import lzma
import os
import select
import struct
import subprocess
import sys
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from queue import SimpleQueue
from typing import IO, BinaryIO

import msgspec

from keibi.engine.index import Prefilter
from keibi.events.model import Event
from keibi.offline_sift import Sifted, Sifter
from keibi.parsers.context import LineContext
from keibi.parsers.registry import source_type
from keibi.parsers.stream import LineStream, StreamParser
from keibi.sources.files import READ_SIZE, CorruptInput, open_stream
from keibi.sources.lines import LineSplitter, LineStats

__all__ = ["CHUNK_BYTES", "Batch", "ChunkResult", "LocalParser", "ParsePool", "PoolError",
           "Spawned", "Task", "can_pool", "is_stateless", "pooled_batches"]

#: bytes per chunk (a chunk ends at the first newline after this many bytes). Small
#: enough that a chunk, its text and its events stay in a core's cache: 128 KiB took
#: 6-15% less CPU than 512 KiB on a 1M-line auth log, and 10 MB less memory in all
CHUNK_BYTES = 128 << 10
#: bytes a worker reads (and splits) at once: most chunks in one piece
PIECE_BYTES = 2 * CHUNK_BYTES
_PIPE_BYTES = 1 << 20
_LEN = struct.Struct("<I")


class Setup(msgspec.Struct, array_like=True):
    attrs: tuple[str, ...]
    values: tuple[frozenset[str], ...]
    everything: bool
    max_line_bytes: int


class Task(msgspec.Struct, array_like=True):
    stype: str
    path: str
    mtime: float
    offset: int  # of the chunk's first byte in the (decompressed) stream
    end: int  # range end, -1: to the end of the file; unused with data
    data: bytes | None = None  # the chunk itself (compressed members)


class ChunkResult(msgspec.Struct, array_like=True):
    lines: int
    bytes: int
    decode_errors: int
    truncated: int
    events: int  # every event parsed
    kept: list[Event]  # those some rule can use, in order
    ticks: list[float]  # times of the others that could move the clock
    cuts: list[int]  # cuts[i]: how many ticks come before kept[i]
    error: str | None = None


#: what the engine loop takes: events, and when ``ticks`` is not None the times between
#: them (``cuts[i]`` ticks before ``events[i]``, the rest after the last)
@dataclass(slots=True)
class Batch:
    events: list[Event]
    ticks: list[float] | None = None
    cuts: list[int] | None = None


# -- the worker side ----------------------------------------------------------------------
class _Worker:
    def __init__(self, setup: Setup) -> None:
        self._sifter = Sifter(Prefilter(setup.attrs, setup.values, setup.everything))
        self.max_line_bytes = setup.max_line_bytes
        self._parsers: dict[str, StreamParser] = {}
        self._contexts: dict[tuple[str, float, str], LineContext] = {}

    def _context(self, task: Task) -> LineContext:
        key = (task.path, task.mtime, task.stype)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = LineContext(path=task.path, ref_time=task.mtime,
                              dataset=source_type(task.stype).dataset)
            self._contexts = {key: ctx}  # one file at a time: keep its time cache warm
        return ctx

    def _pieces(self, task: Task) -> Iterator[bytes]:
        if task.data is not None:
            if len(task.data) <= PIECE_BYTES:
                yield task.data
                return
            view = memoryview(task.data)
            for i in range(0, len(view), PIECE_BYTES):
                yield bytes(view[i:i + PIECE_BYTES])
            return
        with open(task.path, "rb", buffering=0) as f:
            f.seek(task.offset)
            left = task.end - task.offset if task.end >= 0 else -1
            while left:
                piece = f.read(PIECE_BYTES if left < 0 else min(PIECE_BYTES, left))
                if not piece:
                    break
                if left > 0:
                    left -= len(piece)
                yield piece

    def run(self, task: Task) -> ChunkResult:
        parser = self._parsers.get(task.stype)
        if parser is None:
            parser = self._parsers[task.stype] = source_type(task.stype).make_parser()
        ctx = self._context(task)
        stats = LineStats()
        splitter = LineSplitter(task.path, stats, self.max_line_bytes, task.offset)
        out = Sifted()
        sift = self._sifter.sift
        error = None
        pieces = self._pieces(task)
        while True:
            try:
                piece = next(pieces, None)
            except OSError as exc:
                error = str(exc)
                piece = None
            offsets, texts = (splitter.feed_texts(piece) if piece is not None
                              else splitter.flush_texts())
            sift(offsets, texts, ctx, parser, out)
            if piece is None:
                break
        return ChunkResult(stats.lines, stats.bytes, stats.decode_errors, stats.truncated,
                           out.events, out.kept, out.ticks, out.cuts, error)


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes of ``stream`` (fewer only at its end): a raw pipe returns what
    has arrived so far."""
    data = stream.read(size)
    if data is None or len(data) >= size or not data:
        return data or b""
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = _read_exact(stream, 4)
    if len(head) < 4:
        return None
    (size,) = _LEN.unpack(head)
    body = _read_exact(stream, size)
    if len(body) < size:
        return None
    return body


def _write_frame(stream: IO[bytes], body: bytes) -> None:
    stream.write(_LEN.pack(len(body)))
    stream.write(body)


def worker_main() -> int:
    """The worker process: setup, then tasks until stdin ends."""
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])  # parsing makes no cycles
    rd = sys.stdin.buffer
    # the protocol keeps stdout to itself: anything printed by mistake goes to stderr
    wr = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    first = _read_frame(rd)
    if first is None:
        return 0
    worker = _Worker(msgspec.msgpack.decode(first, type=Setup))
    task_decoder = msgspec.msgpack.Decoder(Task)
    encoder = msgspec.msgpack.Encoder()
    while (frame := _read_frame(rd)) is not None:
        task = task_decoder.decode(frame)
        try:
            result = worker.run(task)
        except Exception as exc:  # never lose the protocol: report it in the result
            result = ChunkResult(0, 0, 0, 0, 0, [], [], [], f"worker error: {exc!r}")
        _write_frame(wr, encoder.encode(result))
        wr.flush()
    return 0


# -- the main side ------------------------------------------------------------------------
class PoolError(RuntimeError):
    """A worker process failed (it crashed, or could not be started)."""


def can_pool() -> bool:
    """Whether worker processes can be started (an interpreter to run them with)."""
    return bool(sys.executable) and os.path.exists(sys.executable)


def _widen(fd: int) -> None:
    """Let a worker's pipe hold a whole result (up to 1 MiB, the usual limit): it
    writes it at once and goes on with its next chunk instead of waiting for a reader."""
    with contextlib.suppress(OSError, AttributeError):
        try:
            with open("/proc/sys/fs/pipe-max-size") as f:
                size = min(int(f.read()), _PIPE_BYTES)
        except (OSError, ValueError):
            size = _PIPE_BYTES
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


def _spawn() -> subprocess.Popen[bytes]:
    """A worker process (``python -m keibi.offline_pool``), importing its modules; it
    waits for its :class:`Setup` on stdin."""
    import keibi

    root = os.path.dirname(os.path.dirname(os.path.abspath(keibi.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # stdout unbuffered: no result hides in a buffer from ready()
    proc = subprocess.Popen([sys.executable, "-m", "keibi.offline_pool"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
    assert proc.stdout is not None
    _widen(proc.stdout.fileno())
    return proc


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a worker whose stdin is closed (it ends), killing one that does not."""
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class Spawned:
    """Worker processes started early: they start Python and import their modules (a
    good part of a second on a small host) while the caller loads its rules, instead of
    after. A :class:`ParsePool` adopts them (:meth:`take`); :meth:`close` ends those no
    pool took (end of stdin ends a worker waiting for its setup)."""

    def __init__(self, n: int) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(n):
                self._procs.append(_spawn())
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._procs)

    def take(self) -> subprocess.Popen[bytes] | None:
        """A started worker, now the caller's (None: none left)."""
        return self._procs.pop(0) if self._procs else None

    def close(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            with contextlib.suppress(OSError, ValueError):
                if proc.stdin is not None:
                    proc.stdin.close()
            _reap(proc)


class ParsePool:
    """``n`` worker processes answering tasks in submission order (round robin); those of
    ``spawned`` first (started early, :class:`Spawned`)."""

    def __init__(self, n: int, prefilter: Prefilter, max_line_bytes: int,
                 spawned: Spawned | None = None) -> None:
        setup = msgspec.msgpack.encode(Setup(prefilter.attrs, prefilter.values,
                                             prefilter.everything, max_line_bytes))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._queues: list[SimpleQueue[bytes | None]] = []
        self._threads: list[threading.Thread] = []
        self.max_line_bytes = max_line_bytes
        self.setup = msgspec.msgpack.decode(setup, type=Setup)
        self._decoder = msgspec.msgpack.Decoder(ChunkResult)
        self._encoder = msgspec.msgpack.Encoder()
        self._sent = 0
        self._received = 0
        self._direct = [True] * n
        try:
            for _ in range(max(1, n)):
                proc = (spawned.take() if spawned is not None else None) or _spawn()
                self._procs.append(proc)
                q: SimpleQueue[bytes | None] = SimpleQueue()
                self._queues.append(q)
                # a writer thread per worker: a big task never blocks the reading side
                t = threading.Thread(target=self._writer, args=(proc, q), daemon=True)
                t.start()
                self._threads.append(t)
                assert proc.stdin is not None
                _write_frame(proc.stdin, setup)
                proc.stdin.flush()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _writer(proc: subprocess.Popen[bytes], q: SimpleQueue[bytes | None]) -> None:
        stdin = proc.stdin
        assert stdin is not None
        try:
            while (body := q.get()) is not None:
                _write_frame(stdin, body)
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    @property
    def pending(self) -> int:
        return self._sent - self._received

    def submit(self, task: Task) -> None:
        i = self._sent % len(self._procs)
        body = self._encoder.encode(task)
        if task.data is None and self._direct[i]:
            # a few bytes: the pipe takes them at once (no thread, no GIL hand-over)
            stdin = self._procs[i].stdin
            assert stdin is not None
            _write_frame(stdin, body)
            stdin.flush()
        else:
            self._direct[i] = False  # from now on in order behind the thread's queue
            self._queues[i].put(body)
        self._sent += 1

    def ready(self) -> bool:
        """Whether the oldest result not yet taken has begun to arrive (:meth:`result`
        then waits at most for the rest of it)."""
        proc = self._procs[self._received % len(self._procs)]
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], 0)
        return bool(readable)

    def result(self) -> ChunkResult:
        """The result of the oldest task not yet taken."""
        proc = self._procs[self._received % len(self._procs)]
        assert proc.stdout is not None
        body = _read_frame(proc.stdout)
        if body is None:
            raise PoolError(f"a parser process ended unexpectedly (status {proc.poll()})")
        self._received += 1
        return self._decoder.decode(body)

    def close(self) -> None:
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout=5)
        for proc in self._procs:
            _reap(proc)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for proc in self._procs:
                with contextlib.suppress(OSError):
                    proc.kill()
        self.close()


def is_stateless(stype: str) -> bool:
    """Whether a source type's parser is a plain line parser (chunks may be parsed apart)."""
    return isinstance(source_type(stype).make_parser(), LineStream)


def _range_tasks(stype: str, path: str, mtime: float) -> Iterator[Task]:
    """Line-aligned byte ranges of a plain file (the last one runs to the end of file)."""
    size = os.path.getsize(path)
    with open(path, "rb", buffering=0) as f:
        start = 0
        while start + CHUNK_BYTES < size:
            pos = start + CHUNK_BYTES
            end = -1
            while True:  # the first newline at or after pos
                f.seek(pos)
                block = f.read(1 << 16)
                if not block:
                    break
                nl = block.find(b"\n")
                if nl >= 0:
                    end = pos + nl + 1
                    break
                pos += len(block)
            if end < 0:
                break
            yield Task(stype, path, mtime, start, end)
            start = end
        yield Task(stype, path, mtime, start, -1)


#: a compressed member's record longer than this (no newline to cut a chunk at) is not
#: held whole: the rest of that member is read in this process, as without workers
MAX_CARRY = 16 << 20


@dataclass(slots=True)
class _Rest:
    """The rest of a compressed member, to read here from ``offset``: ``head`` (no
    newline in it), then the stream."""

    stype: str
    path: str
    mtime: float
    offset: int
    head: bytes
    stream: BinaryIO


def _data_tasks(stype: str, path: str, mtime: float,
                stream: BinaryIO) -> Iterator[tuple[Task | _Rest, str | None]]:
    """Line-aligned chunks of a compressed member, decompressed here. Damage ends them
    after the data before it, as the single-process reader does; the last chunk then
    carries the reason (to report once its lines are counted)."""
    read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
    buf = bytearray()
    offset = 0
    why = None
    try:
        while chunk := read(READ_SIZE):
            buf += chunk
            if len(buf) >= CHUNK_BYTES:
                cut = buf.rfind(b"\n") + 1
                if cut:
                    yield Task(stype, path, mtime, offset, -1, bytes(buf[:cut])), None
                    del buf[:cut]
                    offset += cut
                elif len(buf) > MAX_CARRY:
                    yield _Rest(stype, path, mtime, offset, bytes(buf), stream), None
                    return
    except (EOFError, lzma.LZMAError, zlib.error, OSError) as e:
        why = str(CorruptInput(f"{path}: {e or 'compressed data ends early'}"))
    yield Task(stype, path, mtime, offset, -1, bytes(buf)), why


def _read_rest(rest: _Rest, max_line_bytes: int
               ) -> Iterator[tuple[ChunkResult, list[Event], str | None]]:
    """The rest of a member read here: per read, its counts and ALL its events (the
    engine gets them all), and at the end the damage found, if any."""
    st = source_type(rest.stype)
    parser = st.make_parser()
    ctx = LineContext(path=rest.path, ref_time=rest.mtime, dataset=st.dataset)
    read = (rest.stream.read1 if isinstance(rest.stream, io.BufferedIOBase)
            else rest.stream.read)
    stats = LineStats()
    splitter = LineSplitter(rest.path, stats, max_line_bytes, rest.offset)
    seen = LineStats()
    why = None
    data = rest.head
    done = False
    while not done:
        lines = splitter.feed(data)
        try:
            data = read(READ_SIZE)
        except (EOFError, lzma.LZMAError, zlib.error, OSError) as e:
            why = str(CorruptInput(f"{rest.path}: {e or 'compressed data ends early'}"))
            data = b""
        if not data:
            lines += splitter.flush()
            done = True
        events = [ev for raw in lines for ev in parser.feed(raw.text, raw.offset, ctx)]
        if done:
            events += parser.flush()
        result = ChunkResult(stats.lines - seen.lines, stats.bytes - seen.bytes,
                             stats.decode_errors - seen.decode_errors,
                             stats.truncated - seen.truncated, len(events), [], [], [])
        seen = LineStats(stats.lines, stats.bytes, stats.decode_errors, stats.truncated)
        yield result, events, why if done else None


def _set_tasks(stype: str, paths: list[str], on_skip: Callable[[str, str], None]
               ) -> Iterator[tuple[Task | _Rest, str | None]]:
    """The tasks of a rotated set's members, in order, each with the reason to report
    after its result (a damaged compressed member), if any."""
    for path in paths:
        try:
            mtime = os.stat(path).st_mtime
        except OSError as exc:
            on_skip(path, str(exc))
            continue
        try:
            stream = open_stream(path)
        except OSError as exc:
            on_skip(path, f"read error after 0 bytes: {exc}")
            continue
        with stream:
            if isinstance(stream, io.BufferedReader):
                stream.close()
                for task in _range_tasks(stype, path, mtime):
                    yield task, None
            else:
                yield from _data_tasks(stype, path, mtime, stream)


#: results parsed here held at most behind a worker's slow chunk (each holds a chunk's
#: events: memory, not speed, bounds it)
_HELD_HERE = 2


class LocalParser:
    """This process as one more parser: it takes a chunk whenever the next result it
    needs from the workers has not begun to arrive (the engine here would wait), so that
    neither side idles when parsing and detection cost different amounts."""

    def __init__(self, setup: Setup) -> None:
        self._worker = _Worker(setup)
        self.chunks = 0  # parsed here

    def run(self, task: Task) -> ChunkResult:
        self.chunks += 1
        try:
            return self._worker.run(task)
        except Exception as exc:  # as a worker reports it
            return ChunkResult(0, 0, 0, 0, 0, [], [], [], f"worker error: {exc!r}")


def pooled_batches(
    stype: str,
    paths: list[str],
    pool: ParsePool,
    on_result: Callable[[str, ChunkResult], bool],
    on_skip: Callable[[str, str], None],
    window: int,
    local: LocalParser | None = None,
) -> Iterator[Batch]:
    """The batches of one rotated set (members oldest first) parsed by ``pool``, with at
    most ``window`` chunks in flight (across members: no pause between them), and by
    ``local`` (this process) whenever the next worker result is not ready.

    ``on_result(path, result)`` counts a chunk and says whether to go on with that file
    (False after a read error: the rest of the file is skipped, as without workers).
    """
    # per chunk in order: its path, the damage to report after it, its result when
    # parsed here (None: the pool's)
    pending: deque[tuple[str, str | None, ChunkResult | None]] = deque()
    stopped: set[str] = set()

    def take() -> Batch | None:
        path, why, here = pending.popleft()
        r = pool.result() if here is None else here
        if path in stopped:
            return None
        if not on_result(path, r):
            stopped.add(path)
        elif why is not None:
            on_skip(path, why)
        return Batch(r.kept, r.ticks, r.cuts) if r.kept or r.ticks else None

    def waits() -> bool:
        """Whether taking the next result now would wait for a worker."""
        return pending[0][2] is None and not pool.ready()

    for task, why in _set_tasks(stype, paths, on_skip):
        if isinstance(task, _Rest):  # an endless record: the rest of the member, here
            while pending:
                if (batch := take()) is not None:
                    yield batch
            for r, events, why_rest in _read_rest(task, pool.max_line_bytes):
                if task.path in stopped:
                    break
                if not on_result(task.path, r):
                    stopped.add(task.path)
                elif why_rest is not None:
                    on_skip(task.path, why_rest)
                if events:
                    yield Batch(events)
            continue
        if local is not None and pool.pending >= window and waits():
            pending.append((task.path, why, local.run(task)))  # rather than wait
        else:
            pool.submit(task)
            pending.append((task.path, why, None))
        # take what is here (parsed here, or more than the window in the pool); results
        # parsed here while a worker is slow wait behind its chunk, a few at most
        while pending and (pool.pending > window or pending[0][2] is not None
                           or len(pending) > window + _HELD_HERE):
            if (batch := take()) is not None:
                yield batch
    while pending:
        if (batch := take()) is not None:
            yield batch


if __name__ == "__main__":
    sys.exit(worker_main())
