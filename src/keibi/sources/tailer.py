"""Following one log file live: rotation, truncation, restarts, exactly once.

A :class:`FileTailer` reads the file named by a path, by file descriptor, and keeps
reading the *file* it has open after that path moves on:

- **rename + create** (logrotate's default): when the path names another file (another
  inode), the old file is read to its end first, then the new one from offset 0. The
  old file stays open as a *predecessor* for ``rotate_wait`` seconds after it last
  grew, since writers keep appending to it until they reopen (rsyslog until its HUP).
  While the path names no file yet, the old one is kept for as long as that lasts.
  A file that disappears and comes back later is read from 0. Files that were at the
  path and rotated away before the tailer looked (several rotations in a row) are
  found among the rotated siblings and read in full, in order.
- **copytruncate**: a file shorter than what was read, or whose first bytes changed,
  was truncated (or rewritten) in place. The rest of what it held before is read from
  the copy, found among its rotated siblings by content, then the file again from 0.
  Lines written between logrotate's copy and its truncate are lost, as for any reader
  of copytruncate'd files; that is inherent to copytruncate. So is the truncation of
  a file whose first bytes were never seen: it cannot be told from a file that grew.
  To keep that window small, the first bytes of every file are taken when it is
  opened, and again on every read while it is shorter than 1 KiB or not reached yet
  (a reader that is behind still checks the file at the path on every read).
- **checkpoints**: :meth:`FileTailer.checkpoint` names each open file by device, inode
  and a fingerprint (SHA-256 of its first bytes, up to 1024, as read) with the offset
  of the first line not yet returned. Resuming, each checkpointed file is looked for at
  the path, then among its rotated siblings (``path.1``, ``path-YYYYMMDD``, compressed
  ones too, by inode and fingerprint, or by fingerprint alone for copies); the oldest
  found is read from its offset, every newer sibling after it in full, and the file at
  the path last. Lines are neither lost nor repeated across a restart, a rotation or
  both, provided the files still exist.
- **symbolic links**: a path that is (or becomes) a symbolic link is not followed unless
  ``follow_symlinks=True``; either way it is reported in ``warnings`` and ``status()``,
  since a log replaced by a link is a classic way to blind or abuse a reader.
- **indicator removal** (T1070.002): what is not a rotation is reported as a
  :class:`~keibi.sources.notices.LogNotice` (:meth:`FileTailer.take_notices`): the file
  truncated or rewritten in place with no rotated sibling holding what it had, deleted
  (unlinked) with no file taking its place within ``rotate_wait`` seconds, or a regular
  file replaced by a symbolic link. A resumed tailer reports the first two when they
  happened while it was not running (the checkpointed file shrank, or is gone with the
  path).

Lines are decoded by the rules of :mod:`keibi.sources.lines`; an unfinished last line
is held until its newline arrives, or returned once it has sat unchanged for
``partial_timeout`` seconds (what follows it then comes as another line).

:func:`wait_for_change` sleeps until one of several tailers has something to read (by
inotify on their directories, else by polling). Not thread-safe: one thread calls.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import stat
import time
from collections.abc import Collection, Sequence
from typing import Any, BinaryIO

import msgspec
from msgspec.structs import replace

from keibi.sources.files import compression_of, open_stream, rotated_siblings
from keibi.sources.lines import DEFAULT_MAX_LINE_BYTES, LineSplitter, LineStats, RawLine
from keibi.sources.notices import DELETED, SYMLINK, TRUNCATED, LogNotice

try:
    from inotify_simple import INotify, flags  # type: ignore[import-untyped]

    HAVE_INOTIFY = True
except ImportError:  # pragma: no cover - the fallback is polling
    HAVE_INOTIFY = False

__all__ = [
    "Checkpoint",
    "FileMark",
    "FileTailer",
    "wait_for_change",
]

FINGERPRINT_BYTES = 1024
_READ_SIZE = 1 << 18
_EMPTY_FP = hashlib.sha256(b"").hexdigest()
_POLL_INTERVAL = 0.25
_TAIL_SCAN = 1 << 16
_MAX_WARNINGS = 100
_MAX_NOTICES = 1000


class FileMark(msgspec.Struct, frozen=True, kw_only=True):
    """One file and how far it was read: the offset of its first line not returned."""

    dev: int
    inode: int
    offset: int
    fingerprint: str
    fingerprint_size: int


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a :class:`FileTailer` is: the file at ``path`` (``inode`` 0: none open)
    and, in ``previous``, rotated predecessors not yet finished, oldest first, after
    the last one finished (at its end: it tells where files rotated later start)."""

    path: str
    dev: int = 0
    inode: int = 0
    offset: int = 0
    fingerprint: str = _EMPTY_FP
    fingerprint_size: int = 0
    previous: tuple[FileMark, ...] = ()


class _Handle:
    """One open file being read: plain (``fd``, read with pread) or compressed."""

    __slots__ = ("changed_at", "dev", "eof", "fd", "head", "ino", "ready", "splitter", "stream")

    def __init__(
        self,
        fd: int | None,
        stream: BinaryIO | None,
        dev: int,
        ino: int,
        head: bytes,
        splitter: LineSplitter,
    ) -> None:
        self.fd = fd
        self.stream = stream
        self.dev = dev
        self.ino = ino
        self.head = head  # the file's first bytes, up to FINGERPRINT_BYTES, as read
        self.splitter = splitter
        self.ready: list[RawLine] = []  # read but not returned yet
        self.eof = False
        self.changed_at = time.monotonic()

    @property
    def dead(self) -> bool:
        return self.fd is None and self.stream is None

    def read(self) -> bytes:
        pos = self.splitter.position
        if self.fd is not None:
            data = os.pread(self.fd, _READ_SIZE, pos)
        elif self.stream is not None:
            data = self.stream.read(_READ_SIZE)
        else:
            return b""
        have = len(self.head)
        if have < FINGERPRINT_BYTES and pos <= have < pos + len(data):
            self.head += data[have - pos : FINGERPRINT_BYTES - pos]
        return data

    def mark(self) -> FileMark:
        """Identity and the offset of the first line not returned."""
        return self.identity(self.ready[0].offset if self.ready else self.splitter.line_start)

    def identity(self, offset: int) -> FileMark:
        return FileMark(
            dev=self.dev,
            inode=self.ino,
            offset=offset,
            fingerprint=hashlib.sha256(self.head).hexdigest(),
            fingerprint_size=len(self.head),
        )

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.stream is not None:
            self.stream.close()
            self.stream = None


class _Candidate:
    """A file that may be one a checkpoint names: a sibling or the file at the path."""

    __slots__ = ("_head", "compression", "dev", "fd", "ino", "path", "size")

    def __init__(self, path: str, fd: int) -> None:
        try:
            st = os.fstat(fd)
            self.compression = compression_of(os.pread(fd, 8, 0))
        except BaseException:
            os.close(fd)
            raise
        self.path = path
        self.fd: int | None = fd
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.size = st.st_size
        self._head: bytes | None = None

    def head(self, n: int) -> bytes:
        """The first ``n`` (at most FINGERPRINT_BYTES) bytes, decompressed."""
        if self._head is None:
            if self.compression is None:
                assert self.fd is not None
                self._head = os.pread(self.fd, FINGERPRINT_BYTES, 0)
            else:
                try:
                    with open_stream(self.path) as s:
                        self._head = s.read(FINGERPRINT_BYTES)
                except (OSError, EOFError, lzma.LZMAError):
                    self._head = b""
        return self._head[:n]

    def matches(self, mark: FileMark, by_inode: bool) -> bool:
        if by_inode and (self.dev, self.ino) != (mark.dev, mark.inode):
            return False
        if not by_inode and mark.fingerprint_size == 0:
            return False
        if self.compression is None and self.size < max(mark.offset, mark.fingerprint_size):
            return False
        head = self.head(mark.fingerprint_size)
        return (
            len(head) == mark.fingerprint_size
            and hashlib.sha256(head).hexdigest() == mark.fingerprint
        )

    def same(self, mark: FileMark) -> bool:
        """Whether this is the file ``mark`` names, or a copy of it."""
        return (self.dev, self.ino) == (mark.dev, mark.inode) or self.matches(mark, False)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class FileTailer:
    """Follows the file named ``path``; see the module docstring."""

    def __init__(
        self,
        path: str,
        checkpoint: Checkpoint | None = None,
        start_at_end: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        *,
        partial_timeout: float = 5.0,
        rotate_wait: float = 5.0,
        follow_symlinks: bool = False,
    ) -> None:
        if checkpoint is not None and checkpoint.path != path:
            raise ValueError(f"checkpoint is for {checkpoint.path}, not {path}")
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.partial_timeout = partial_timeout
        self.rotate_wait = rotate_wait
        self.follow_symlinks = follow_symlinks
        self.stats = LineStats()
        self.warnings: list[str] = []
        self.last_error: str | None = None
        self.rotations = 0
        self.truncations = 0
        self.notices: list[LogNotice] = []  # not yet taken (take_notices)
        self.notices_total = 0
        self._regular = checkpoint is not None and checkpoint.inode != 0  # seen a file
        self._gone_since: float | None = None  # monotonic: the path named no file
        self._gone_told = False
        self._lines = 0
        self._exists = False
        self._symlink: str | None = None
        self._live: _Handle | None = None
        self._prevs: list[_Handle] = []  # rotated predecessors, oldest first
        # the last predecessor read to its end and closed: where a resumed tailer
        # starts looking for files rotated after it
        self._done: FileMark | None = None
        try:
            if checkpoint is not None:
                self._resume(checkpoint)
            else:
                st = self._stat_path()
                if st is not None:
                    self._live = self._open_at_end() if start_at_end else self._open(path, 0)
        except OSError as e:
            self._error(e)

    # -- public -----------------------------------------------------------------

    def read_batch(self, max_lines: int = 5000) -> list[RawLine]:
        """Up to ``max_lines`` complete lines available now, in file order; never blocks."""
        out: list[RawLine] = []
        now = time.monotonic()
        try:
            self._peek_heads()
            self._read_predecessors(out, max_lines, now)
            if len(out) < max_lines:
                self._read_live(out, max_lines, now)
            elif self._live is not None and self._live.fd is not None:
                # behind: the file at the path is still watched for copytruncate
                self._check_in_place(self._live, now)
        except OSError as e:
            self._error(e)
        self._lines += len(out)
        return out

    def take_notices(self) -> list[LogNotice]:
        """The indicator-removal notices seen since the last call (oldest first)."""
        out, self.notices = self.notices, []
        return out

    def checkpoint(self) -> Checkpoint:
        """Where to resume so that no line returned so far is returned again."""
        previous = tuple(h.mark() for h in self._prevs if not h.dead)
        if self._done is not None:
            previous = (self._done, *previous)
        live = self._live
        if live is None:
            return Checkpoint(path=self.path, previous=previous)
        m = live.mark()
        return Checkpoint(
            path=self.path,
            dev=m.dev,
            inode=m.inode,
            offset=m.offset,
            fingerprint=m.fingerprint,
            fingerprint_size=m.fingerprint_size,
            previous=previous,
        )

    def status(self) -> dict[str, Any]:
        """What the tailer is doing, JSON-ready: ``path``, ``exists``, ``symlink`` (its
        target, or None), ``inode`` and ``offset`` of the file followed (0: none),
        ``predecessors`` (rotated files still open), ``lines`` returned, ``bytes``,
        ``decode_errors``, ``truncated``, ``rotations``, ``truncations``,
        ``last_error`` and ``warnings``."""
        live = self._live
        return {
            "path": self.path,
            "exists": self._exists,
            "symlink": self._symlink,
            "inode": live.ino if live else 0,
            "offset": live.mark().offset if live else 0,
            "predecessors": len(self._prevs),
            "lines": self._lines,
            "bytes": self.stats.bytes,
            "decode_errors": self.stats.decode_errors,
            "truncated": self.stats.truncated,
            "rotations": self.rotations,
            "truncations": self.truncations,
            "notices": self.notices_total,
            "last_error": self.last_error,
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        for h in self._prevs:
            h.close()
        self._prevs.clear()
        if self._live is not None:
            self._live.close()
            self._live = None

    def __enter__(self) -> FileTailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------

    def _pull(self, h: _Handle, out: list[RawLine], limit: int, now: float) -> None:
        """Move lines of ``h`` to ``out`` until ``limit`` or the end of the file."""
        while True:
            ready = h.ready
            if ready:
                room = limit - len(out)
                if room <= 0:
                    return
                if len(ready) <= room:
                    out.extend(ready)
                    h.ready = []
                else:
                    out.extend(ready[:room])
                    del ready[:room]
                    return
            if len(out) >= limit:
                return
            try:
                data = h.read()
            except (OSError, EOFError, lzma.LZMAError) as e:  # EIO, a corrupt .gz
                self._error(f"{self.path}: {e}")
                if h.stream is not None:
                    h.close()  # a broken compressed file: give it up
                data = b""
            if not data:
                h.eof = True
                if h.splitter.pending and now - h.changed_at >= self.partial_timeout:
                    out.extend(h.splitter.flush())
                return
            h.eof = False
            h.changed_at = now
            h.ready = h.splitter.feed(data)

    def _read_predecessors(self, out: list[RawLine], limit: int, now: float) -> None:
        i = 0
        while i < len(self._prevs):
            h = self._prevs[i]
            self._pull(h, out, limit, now)
            if len(out) >= limit:
                return
            # closed oldest first, so a checkpoint never skips over an unfinished file
            if i == 0 and self._finished(h, now):
                out.extend(h.splitter.flush())
                if h.head and not h.dead:
                    self._done = h.mark()
                h.close()
                del self._prevs[i]
            else:
                i += 1

    def _peek_heads(self) -> None:
        """Take the first bytes of open plain files not read that far yet. A file is
        known by them (its copies, its truncation) before it is read: when the reader
        is behind, a file can be rotated, copied and truncated before it is reached."""
        for h in (*self._prevs, self._live):
            if h is None or h.fd is None or len(h.head) >= FINGERPRINT_BYTES:
                continue
            data = os.pread(h.fd, FINGERPRINT_BYTES, 0)
            if len(data) > len(h.head) and data.startswith(h.head):
                h.head = data

    def _finished(self, h: _Handle, now: float) -> bool:
        """Whether a predecessor read to its end can be closed: nobody writes to it.

        Kept while the path names no open file: its writer may not have moved on, and
        it is where the search for files rotated meanwhile starts (:meth:`_successors`).
        """
        if h.dead:
            return True
        if self._live is None:
            return False
        return h.fd is None or now - h.changed_at >= self.rotate_wait  # compressed: done

    def _read_live(self, out: list[RawLine], limit: int, now: float) -> None:
        for _ in range(8):  # bounded: a path rotating faster than this is read next call
            h = self._live
            if h is None:
                if self._stat_path() is None:
                    self._check_gone(now)
                    return
                self._gone_since = None
                self._gone_told = False
                # files that were at the path after the newest one read, and rotated
                # away before we looked (several rotations in a row), come first
                anchors = [x.identity(0) for x in reversed(self._prevs) if not x.dead]
                if self._done is not None:
                    anchors.append(replace(self._done, offset=0))
                if newer := self._successors(anchors):
                    self._prevs += newer
                    self._read_predecessors(out, limit, now)
                    if len(out) >= limit:
                        return
                h = self._live = self._open(self.path, 0)
            else:
                new = self._check_in_place(h, now)
                if new is not h:  # truncated in place: first what is left in the copy
                    self._read_predecessors(out, limit, now)
                    if len(out) >= limit:
                        return
                    h = new
            self._pull(h, out, limit, now)
            if len(out) >= limit or not h.eof:
                return
            st = self._stat_path()
            if st is not None and (st.st_dev, st.st_ino) == (h.dev, h.ino):
                return
            # The path names another file, or none: finish this one as a predecessor,
            # for rotate_wait seconds from now at least (its writer may not know yet).
            h.changed_at = now
            self._prevs.append(h)
            self._live = None
            self.rotations += 1
            if st is None:
                self._gone_since = now
            self._read_predecessors(out, limit, now)
            if st is None or len(out) >= limit:
                return

    def _check_in_place(self, h: _Handle, now: float) -> _Handle:
        """Detect copytruncate (or any rewrite in place) of the live file: then the rest
        of what it held is read from the copy and the file itself again from 0."""
        assert h.fd is not None
        pos = h.splitter.position
        size = os.fstat(h.fd).st_size
        if size >= pos and (not h.head or os.pread(h.fd, len(h.head), 0) == h.head):
            return h
        self.truncations += 1
        again = os.dup(h.fd)
        now_head = os.pread(again, FINGERPRINT_BYTES, 0)
        itself = FileMark(  # the file as it is now, to know its own copies
            dev=h.dev,
            inode=h.ino,
            offset=0,
            fingerprint=hashlib.sha256(now_head).hexdigest(),
            fingerprint_size=len(now_head),
        )
        copy = self._find_copy(h)
        if copy is None and not self._has_copy(h.head):
            what = "cut short" if size < pos else "rewritten in place"
            self._notice(TRUNCATED, f"{self.path} was {what} ({pos} bytes read, {size} now) "
                         "and no rotated file holds what it had",
                         size_before=pos, size_after=size, inode=h.ino)
        h.close()
        h.changed_at = now
        self._prevs.append(h)
        if copy is not None:
            h.fd, h.stream, h.dev, h.ino = copy
            # copies of later truncations, up to the file itself (maybe rotated by now)
            self._prevs += self._successors([h.identity(0)], until=itself)
        self._live = self._handle(again, 0)
        return self._live

    def _find_copy(self, h: _Handle) -> tuple[int | None, BinaryIO | None, int, int] | None:
        """A rotated sibling holding the bytes ``h`` had (logrotate's copy), newest first."""
        pos = h.splitter.position
        mark = h.identity(pos)
        cands = self._siblings()
        try:
            for cand in reversed(cands):
                if not cand.matches(mark, by_inode=False):
                    continue
                if cand.compression is None:
                    fd, cand.fd = cand.fd, None
                    return fd, None, cand.dev, cand.ino
                stream = open_stream(cand.path)
                _skip(stream, pos)
                return None, stream, cand.dev, cand.ino
        finally:
            for cand in cands:
                cand.close()
        return None

    def _has_copy(self, head: bytes) -> bool:
        """Whether a rotated sibling starts as the file did (a copy, maybe shorter)."""
        if not head:
            return False
        cands = self._siblings()
        try:
            for cand in cands:
                got = cand.head(len(head))
                if got and head.startswith(got):
                    return True
            return False
        finally:
            for cand in cands:
                cand.close()

    def _check_gone(self, now: float) -> None:
        """The path names no file: once ``rotate_wait`` has passed, a followed file that
        was unlinked (not renamed: nothing took its place) is reported as deleted."""
        if self._gone_since is None:
            self._gone_since = now
        if self._gone_told or now - self._gone_since < self.rotate_wait:
            return
        self._gone_told = True
        if self._symlink is not None:
            return  # replaced by a link: reported as such
        last = next((h for h in reversed(self._prevs) if h.fd is not None), None)
        if last is None or last.fd is None:
            return
        try:
            st = os.fstat(last.fd)
        except OSError:
            return
        if st.st_nlink == 0:
            self._notice(DELETED, f"{self.path} was deleted and nothing took its place "
                         f"within {self.rotate_wait:g}s", size_before=st.st_size,
                         inode=last.ino)

    def _notice(self, action: str, detail: str, **kw: Any) -> None:
        self.notices_total += 1
        self._warn(detail)
        if len(self.notices) < _MAX_NOTICES:
            self.notices.append(LogNotice(action=action, path=self.path, time=time.time(),
                                          detail=detail, **kw))

    def _successors(
        self, after: Sequence[FileMark], until: FileMark | None = None
    ) -> list[_Handle]:
        """Rotated siblings newer than the first of ``after`` (files read, newest first)
        found among them, that no open handle reads: files that were at the path and
        rotated away between two looks, or copies of later truncations, to read in full
        before what comes next. ``until`` names a file (by inode or first bytes) that
        bounds the search: the truncated file itself, wherever it is now."""
        if not after:
            return []
        reading = [x.identity(0) for x in self._prevs if not x.dead]
        cands = self._siblings()
        try:
            # an empty file rotated and deleted since cannot be found: try older ones
            at = next((i for m in after if (i := _locate(m, cands, ())) is not None), None)
            if at is None:
                return []
            found: list[_Handle] = []
            for cand in cands[at + 1 :]:
                if until is not None and cand.same(until):
                    break
                if not any(cand.same(m) for m in reading):
                    found.append(self._open_candidate(cand, 0))
            return found
        finally:
            for cand in cands:
                cand.close()

    # -- opening ----------------------------------------------------------------

    def _stat_path(self) -> os.stat_result | None:
        """The file the path names now, under the symbolic link policy, or None."""
        try:
            st = os.lstat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            self._exists = False
            self._symlink = None
            return None
        self._exists = True
        if not stat.S_ISLNK(st.st_mode):
            self._symlink = None
            self._regular = True
            return st
        target = os.readlink(self.path)
        if target != self._symlink:
            self._symlink = target
            what = "following it" if self.follow_symlinks else "not followed"
            self._warn(f"{self.path} is a symbolic link to {target} ({what})")
            if self._regular:
                self._notice(SYMLINK, f"{self.path} was replaced by a symbolic link to "
                             f"{target} ({what})", target=target)
        if not self.follow_symlinks:
            self.last_error = f"{self.path} is a symbolic link, not followed"
            return None
        try:
            return os.stat(self.path)
        except OSError:
            return None

    def _open_fd(self, path: str) -> int:
        nofollow = 0 if self.follow_symlinks and path == self.path else os.O_NOFOLLOW
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | nofollow)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(f"{path} is not a regular file")
        return fd

    def _candidate(self, path: str) -> _Candidate:
        return _Candidate(path, self._open_fd(path))

    def _open(self, path: str, offset: int) -> _Handle:
        """Open ``path`` (a plain file) for reading from ``offset``."""
        return self._handle(self._open_fd(path), offset)

    def _open_at_end(self) -> _Handle:
        """Open the path at the start of its last line (its end if that line is done)."""
        fd = self._open_fd(self.path)
        try:
            size = os.fstat(fd).st_size
            tail = os.pread(fd, _TAIL_SCAN, max(0, size - _TAIL_SCAN))
            nl = tail.rfind(b"\n")
            # after the last newline; one unfinished line: all of it if its start is near
            offset = size - len(tail) + nl + 1 if nl >= 0 else 0 if size <= _TAIL_SCAN else size
            return self._handle(fd, offset)
        except BaseException:
            os.close(fd)
            raise

    def _handle(self, fd: int, offset: int) -> _Handle:
        try:
            st = os.fstat(fd)
            head = os.pread(fd, FINGERPRINT_BYTES, 0)  # known by its first bytes: see _peek_heads
        except BaseException:
            os.close(fd)
            raise
        splitter = LineSplitter(self.path, self.stats, self.max_line_bytes, offset)
        return _Handle(fd, None, st.st_dev, st.st_ino, head, splitter)

    def _siblings(self) -> list[_Candidate]:
        cands: list[_Candidate] = []
        for path in rotated_siblings(self.path):
            try:
                cands.append(self._candidate(path))
            except OSError:
                continue
        return cands

    def _resume(self, cp: Checkpoint) -> None:
        """Find the checkpointed files; read the oldest found from its offset, every
        newer sibling in full (or from its own offset), and the file at the path."""
        # A mark without first bytes (an empty file, offset 0) tells nothing, and its
        # inode number may have been reused while nobody held the file open.
        marks = [m for m in cp.previous if m.fingerprint_size]
        if cp.inode and cp.fingerprint_size:
            marks.append(
                FileMark(
                    dev=cp.dev,
                    inode=cp.inode,
                    offset=cp.offset,
                    fingerprint=cp.fingerprint,
                    fingerprint_size=cp.fingerprint_size,
                )
            )
        cands = self._siblings()
        live: _Candidate | None = None
        if self._stat_path() is not None:
            try:
                live = self._candidate(self.path)
                cands.append(live)
            except OSError as e:
                self._error(e)
        try:
            found: dict[int, FileMark] = {}
            for mark in marks:
                i = _locate(mark, cands, found.keys())
                if i is not None:
                    found[i] = mark
            if not found and any(m.offset for m in marks):
                self._warn(
                    f"{self.path}: the checkpointed file is gone; reading the current one from 0"
                )
                self._removed_while_stopped(cp, live)
            first = min(found) if found else len(cands) - (live is not None)
            for i in range(first, len(cands)):
                h = self._open_candidate(cands[i], found[i].offset if i in found else 0)
                if cands[i] is live:
                    self._live = h
                else:
                    self._prevs.append(h)
        finally:
            for cand in cands:
                cand.close()

    def _removed_while_stopped(self, cp: Checkpoint, live: _Candidate | None) -> None:
        """Neither the checkpointed file nor a copy of it is found: it was cut short in
        place (the same file is at the path) or deleted (no file is), while no tailer
        ran. A file of another inode at the path tells nothing sure: files rotated out
        of the kept set look the same."""
        if not cp.inode or self._symlink is not None:
            return
        if live is None:
            if not self._exists:
                self._notice(DELETED, f"{self.path} was deleted while keibi was not "
                             "running; no rotated file holds what it had",
                             size_before=cp.offset, inode=cp.inode, while_stopped=True)
            return
        if (live.dev, live.ino) == (cp.dev, cp.inode):
            self._notice(TRUNCATED, f"{self.path} was cut short or rewritten while keibi was "
                         f"not running ({cp.offset} bytes read, {live.size} now) and no "
                         "rotated file holds what it had", size_before=cp.offset,
                         size_after=live.size, inode=cp.inode, while_stopped=True)

    def _open_candidate(self, cand: _Candidate, offset: int) -> _Handle:
        if cand.compression is None:
            assert cand.fd is not None
            fd, cand.fd = cand.fd, None
            return self._handle(fd, offset)
        stream = open_stream(cand.path)
        head = stream.read(FINGERPRINT_BYTES)
        stream.seek(0)
        _skip(stream, offset)
        splitter = LineSplitter(self.path, self.stats, self.max_line_bytes, offset)
        return _Handle(None, stream, cand.dev, cand.ino, head, splitter)

    def _error(self, e: OSError | str) -> None:
        self.last_error = str(e)

    def _warn(self, message: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message)

    # -- waiting ----------------------------------------------------------------

    def _has_work(self, now: float) -> bool:
        """Whether :meth:`read_batch` would find something (or a timer is due)."""
        deadline = self._deadline()
        if deadline is not None and deadline <= now:
            return True
        for h in (*self._prevs, self._live):
            if h is None:
                continue
            if h.ready or not h.eof:
                return True
            if h.fd is not None:
                try:
                    if os.fstat(h.fd).st_size != h.splitter.position:
                        return True
                except OSError:
                    return True
        try:
            st = self._stat_path()
        except OSError:
            return False
        live = self._live
        if live is None:
            return st is not None
        return st is None or (st.st_dev, st.st_ino) != (live.dev, live.ino)

    def _deadline(self) -> float | None:
        """The monotonic time when a held partial line or a predecessor is due."""
        times = [
            h.changed_at + self.partial_timeout
            for h in (*self._prevs, self._live)
            if h is not None and h.splitter.pending
        ]
        if self._live is not None:  # else predecessors are kept: no timer to wait for
            times += [h.changed_at + self.rotate_wait for h in self._prevs]
        elif self._gone_since is not None and not self._gone_told and self._prevs:
            times.append(self._gone_since + self.rotate_wait)
        return min(times) if times else None

    def _watch_dirs(self) -> set[str]:
        dirs = {os.path.dirname(os.path.abspath(self.path))}
        if self.follow_symlinks and self._symlink is not None:
            dirs.add(os.path.dirname(os.path.realpath(self.path)))
        return dirs


def _locate(mark: FileMark, cands: Sequence[_Candidate], taken: Collection[int]) -> int | None:
    """The index of the candidate ``mark`` names: same inode and first bytes, else (a
    copy, a compressed copy) the same first bytes."""
    for by_inode in (True, False):
        for i, cand in enumerate(cands):
            if i not in taken and cand.matches(mark, by_inode):
                return i
    return None


def _skip(stream: BinaryIO, n: int) -> None:
    """Read and drop the first ``n`` bytes of a (decompressing) stream."""
    while n > 0:
        got = stream.read(min(n, _READ_SIZE))
        if not got:
            return
        n -= len(got)


def _watch_mask() -> int:
    mask: int = (
        flags.MODIFY
        | flags.CREATE
        | flags.DELETE
        | flags.MOVED_FROM
        | flags.MOVED_TO
        | flags.ATTRIB
        | flags.CLOSE_WRITE
        | flags.DELETE_SELF
        | flags.MOVE_SELF
    )
    return mask


def wait_for_change(tailers: Sequence[FileTailer], timeout: float) -> bool:
    """Sleep until one of ``tailers`` has something to read (a file grew, rotated,
    appeared, or a held line is due), or ``timeout`` seconds passed. True if woken by a
    change. Uses inotify on the files' directories when it can, else polls."""
    now = time.monotonic()
    end = now + max(0.0, timeout)
    for t in tailers:
        d = t._deadline()
        if d is not None:
            end = min(end, max(d, now))
    notify = _inotify(tailers) if HAVE_INOTIFY else None
    try:
        while True:
            now = time.monotonic()
            if any(t._has_work(now) for t in tailers):
                return True
            left = end - now
            if left <= 0:
                return False
            if notify is None:
                time.sleep(min(left, _POLL_INTERVAL))
                continue
            ino, names = notify
            events = ino.read(timeout=max(1, int(left * 1000)))
            if any(not e.name or _relevant(e.name, names) for e in events):
                return True
    finally:
        if notify is not None:
            notify[0].close()


def _relevant(name: str, names: set[str]) -> bool:
    return any(name.startswith(n) for n in names)


def _inotify(tailers: Sequence[FileTailer]) -> tuple[Any, set[str]] | None:
    try:
        ino = INotify()
    except OSError:
        return None
    names = {os.path.basename(t.path) for t in tailers}
    watched = 0
    for t in tailers:
        for d in t._watch_dirs():
            try:
                ino.add_watch(d, _watch_mask())
                watched += 1
            except OSError:
                continue
        if t.follow_symlinks and t._symlink is not None:
            names.add(os.path.basename(os.path.realpath(t.path)))
    if not watched:
        ino.close()
        return None
    return ino, names
