"""Following the systemd journal live, resuming exactly where a cursor says.

A :class:`JournalReader` runs ``journalctl --output=json --follow`` (an argument list,
never a shell) and reads its lines without blocking; each comes with its journal cursor
(``__CURSOR``), and :meth:`JournalReader.checkpoint` is the cursor of the last line
returned. ``journalctl`` rather than python-systemd: Debian's ``python3-systemd`` is
built for Debian's interpreter, not for keibi's venv, and ``journalctl`` already follows
rotation, vacuuming and new journal files.

- **Where to start**: at the given cursor (``--cursor``, inclusive: the cursor's own
  entry, already seen, is dropped); else at the end (the cursor of the newest entry is
  taken first, so a checkpoint made before anything arrives still resumes without a gap),
  or at the beginning with ``start_at_end=False``. ``--merge`` is passed because
  ``--follow`` alone implies ``--boot`` (systemd >= 250), which would skip what the
  previous boot wrote after the checkpoint; on the system journal it also takes in
  journals received from other hosts (``/var/log/journal/remote``), each record with
  its own ``_HOSTNAME``.
- **Lost entries**: when the first entry after a resumed cursor is not that cursor's, the
  cursor's entry is no longer in the journal (rotated and vacuumed, or another journal):
  entries between it and the first one read may have been lost. The reader goes on and
  reports it (``status()["entries_maybe_lost"]``, a warning). An invalid cursor is
  reported the same way, and reading restarts at the end.
- **The child**: when ``journalctl`` exits while following, it is started again from the
  last line read (after ``restart_delay`` seconds, doubling up to 30 s while it keeps
  failing). :meth:`JournalReader.close` terminates it by its pid. If keibi dies without
  closing, the child exits at its next write (a broken pipe).
- **Lines**: decoded by the rules of :mod:`keibi.sources.lines`; a line longer than
  ``max_line_bytes`` is cut (counted in ``truncated``) and its cursor taken from what
  is left, if there. ``journalctl -o json`` writes ``null`` for a field value of 4096
  bytes or more, so lines stay short unless a record has very many fields.

``directory`` reads a journal directory (``--directory``), ``files`` journal files
(``--file``); neither means the system journal, all of which only root (or the
``systemd-journal`` and ``adm`` groups) can read: ``journalctl``'s own notes, such as
that hint, land in ``warnings``. ``follow=False`` reads what is there and stops. Not
thread-safe: one thread calls.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from keibi.sources.lines import LineSplitter, LineStats

__all__ = ["NOT_FOUND", "JournalReader"]

NOT_FOUND = "journald: journalctl not found"
_CURSOR = re.compile(r'"__CURSOR"\s*:\s*"([^"\\]{1,512})"')
_READ_SIZE = 1 << 18
_MAX_DELAY = 30.0
_MAX_WARNINGS = 50


class JournalReader:
    """Follows the journal through ``journalctl``; see the module docstring."""

    def __init__(
        self,
        directory: str | None = None,
        cursor: str | bytes | None = None,
        start_at_end: bool = True,
        *,
        files: Sequence[str] = (),
        follow: bool = True,
        journalctl: str = "journalctl",
        max_line_bytes: int = 1 << 20,
        restart_delay: float = 1.0,
    ) -> None:
        self.directory = directory
        self.files = tuple(files)
        self.follow = follow
        self.restart_delay = restart_delay
        if isinstance(cursor, bytes):
            cursor = cursor.decode("ascii", "replace")
        self._cursor = cursor or None  # of the last line returned
        self._read_cursor = self._cursor  # of the last line read from the child
        self._start_at_end = start_at_end and cursor is None
        self._expect: str | None = None  # the cursor the child's first line must have
        self._ready: deque[tuple[str, str]] = deque()
        self.stats = LineStats()
        self._splitter = LineSplitter(directory or "journal", self.stats, max_line_bytes)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr = b""
        self._child_err: deque[str] = deque(maxlen=10)  # the running child's stderr
        self._retry_at = 0.0
        self._failures = 0
        self._closed = False
        self.finished = False
        self.lines = 0
        self.restarts = 0
        self.cursorless = 0
        self.entries_maybe_lost = False
        self.last_error: str | None = None
        self.warnings: deque[str] = deque(maxlen=_MAX_WARNINGS)
        found = shutil.which(journalctl)
        self._journalctl = found
        if found is None:
            self.last_error = NOT_FOUND
            self.finished = True
        else:
            self._start()

    # -- public ----------------------------------------------------------------------

    def read_batch(self, max_lines: int = 5000) -> list[tuple[str, str]]:
        """Up to ``max_lines`` (JSON line, cursor) pairs available now. It does not wait
        for the journal (only for ``journalctl`` to start again, after it stopped).

        The cursor is ``""`` for a line whose cursor was cut off (see ``max_line_bytes``).
        """
        if self._closed:
            return []
        if self._proc is None and not self.finished and time.monotonic() >= self._retry_at:
            self._start()
        while len(self._ready) < max_lines and self._proc is not None:
            if not self._pull():
                break
        self._drain_stderr()
        out = [self._ready.popleft() for _ in range(min(max_lines, len(self._ready)))]
        for _, cursor in out:
            if cursor:
                self._cursor = cursor
        self.lines += len(out)
        return out

    def checkpoint(self) -> bytes:
        """The cursor of the last line returned (``b""``: nothing yet), for ``cursor=``."""
        return (self._cursor or "").encode("ascii", "replace")

    def fileno(self) -> int:
        """The child's output, for ``select``/``poll`` (-1 when none runs)."""
        proc = self._proc
        return proc.stdout.fileno() if proc is not None and proc.stdout is not None else -1

    def wait(self, timeout: float) -> bool:
        """Sleep until there is something to read (or the child must be restarted)."""
        if self._ready:
            return True
        fd = self.fileno()
        if fd < 0:
            delay = max(0.0, min(timeout, self._retry_at - time.monotonic()))
            if not self.finished:
                time.sleep(delay)
            return not self.finished and delay < timeout
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)

    def status(self) -> dict[str, Any]:
        """What the reader is doing, JSON-ready."""
        proc = self._proc
        return {
            "source": "journald",
            "directory": self.directory,
            "files": list(self.files),
            "running": proc is not None and proc.poll() is None,
            "pid": proc.pid if proc is not None else None,
            "finished": self.finished,
            "cursor": self._cursor,
            "lines": self.lines,
            "bytes": self.stats.bytes,
            "truncated": self.stats.truncated,
            "decode_errors": self.stats.decode_errors,
            "cursorless": self.cursorless,
            "restarts": self.restarts,
            "entries_maybe_lost": self.entries_maybe_lost,
            "last_error": self.last_error,
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        """Stop the ``journalctl`` this reader started (by its pid)."""
        self._closed = True
        self._stop()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the child -------------------------------------------------------------------

    def _base_argv(self) -> list[str]:
        assert self._journalctl is not None
        argv = [self._journalctl, "--output=json", "--no-pager", "--merge"]
        if self.directory is not None:
            argv.append(f"--directory={self.directory}")
        argv.extend(f"--file={f}" for f in self.files)
        return argv

    def _newest_cursor(self) -> tuple[str | None, bool]:
        """The cursor of the newest entry (None: the journal is empty), and whether
        ``journalctl`` could tell."""
        try:
            r = subprocess.run(
                [*self._base_argv(), "--lines=1"], capture_output=True, timeout=30,
                stdin=subprocess.DEVNULL, env={**os.environ, "SYSTEMD_COLORS": "0"},
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as e:
            self.last_error = f"journald: {e}"
            return None, False
        m = _CURSOR.search(r.stdout.decode("utf-8", "replace"))
        return (m[1] if m else None), r.returncode == 0

    def _start(self) -> None:
        cursor = self._read_cursor
        where = ["--no-tail"] if self.follow else []  # from the beginning
        if cursor is None and self._start_at_end and self.follow:
            # nothing read yet: the newest entry is where a checkpoint resumes
            cursor, known = self._newest_cursor()
            self._read_cursor = self._cursor = cursor
            if not known:
                where = ["--lines=0"]  # at the end, with no cursor to resume at yet
        if cursor is not None:
            where = [f"--cursor={cursor}"]
        argv = [*self._base_argv(), *(["--follow"] if self.follow else []), *where]
        self._expect = cursor
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env={**os.environ, "SYSTEMD_COLORS": "0"},
            )  # fmt: skip
        except OSError as e:
            self.last_error = f"journald: cannot run journalctl: {e}"
            self._schedule_retry()
            return
        assert proc.stdout is not None and proc.stderr is not None
        os.set_blocking(proc.stdout.fileno(), False)
        os.set_blocking(proc.stderr.fileno(), False)
        self._proc = proc
        self._stderr = b""
        self._child_err.clear()
        old = self._splitter
        self._splitter = LineSplitter(old.path, self.stats, old.max_line_bytes)

    def _pull(self) -> bool:
        """Read what the child has written; False when nothing more is there now."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            data = os.read(proc.stdout.fileno(), _READ_SIZE)
        except BlockingIOError:
            return False
        except OSError as e:
            self.last_error = f"journald: {e}"
            data = b""
        if not data:
            if self._splitter.pending:  # cut off mid-line: read again from _read_cursor
                self.warnings.append("journalctl stopped in the middle of an entry")
            self._exited()
            return False
        for raw in self._splitter.feed(data):
            self._accept(raw.text)
        self._failures = 0
        return True

    def _accept(self, text: str) -> None:
        m = _CURSOR.search(text)
        cursor = m[1] if m else ""
        if self._expect is not None and cursor:
            expect, self._expect = self._expect, None
            if cursor == expect:
                return  # the resumed cursor's own entry: returned before
            self._lost(
                f"the cursor {expect} is not in the journal any more (rotated and "
                "vacuumed?): entries before the next one read may have been lost"
            )
        if cursor:
            self._read_cursor = cursor
        else:
            self.cursorless += 1
        self._ready.append((text, cursor))

    def _exited(self) -> None:
        proc = self._proc
        assert proc is not None
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        self._drain_stderr(final=True)
        self._stop()
        tail = list(self._child_err)
        if not self.follow and code == 0:
            self.finished = True
            return
        why = tail[-1] if tail else f"exit status {code}"
        self.last_error = f"journald: journalctl stopped: {why}"
        if self._expect is not None and any("cursor" in line for line in tail):
            self._lost(f"journalctl rejected the cursor {self._expect}; reading from the end")
            self._read_cursor = self._cursor = None
            self._start_at_end = True
            self._expect = None
        if not self.follow:
            self.finished = True
            return
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._failures += 1
        delay = min(_MAX_DELAY, self.restart_delay * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        self.restarts += 1

    def _lost(self, message: str) -> None:
        self.entries_maybe_lost = True
        self.warnings.append(message)

    def _drain_stderr(self, final: bool = False) -> None:
        """Move the child's complete stderr lines (all of them when ``final``) to
        ``warnings`` and to the last words of this child."""
        proc = self._proc
        if proc is None or proc.stderr is None:
            return
        while True:
            try:
                data = os.read(proc.stderr.fileno(), 65536)
            except OSError:  # BlockingIOError included
                break
            if not data:
                break
            self._stderr = (self._stderr + data)[-65536:]
        if final:
            done, self._stderr = self._stderr, b""
        else:
            done, _, self._stderr = self._stderr.rpartition(b"\n")
        for line in done.decode("utf-8", "replace").splitlines():
            if line.strip():
                self.warnings.append(f"journalctl: {line.strip()}")
                self._child_err.append(line.strip())

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
