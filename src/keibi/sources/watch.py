"""Watching a log keibi does not parse (wtmp, btmp, lastlog) for indicator removal.

Login records are binary and keibi does not read them, but clearing them is how an
intruder hides a login (``> /var/log/wtmp``, ``utmpdump`` edits, ``ln -sf /dev/null``).
A :class:`SizeWatcher` looks at one such file on every :meth:`~SizeWatcher.poll` (a
``stat``, no reading) and reports, as :class:`~keibi.sources.notices.LogNotice`:

- the file got smaller with no rotated sibling starting with its first bytes (a copy
  made by copytruncate): ``log-truncated``;
- the file was unlinked and nothing took its place within ``rotate_wait`` seconds:
  ``log-deleted`` (renaming it away, as logrotate does, is a rotation);
- a regular file replaced by a symbolic link: ``log-replaced-by-symlink``.

:meth:`~SizeWatcher.checkpoint` names the file (device, inode, size); a watcher resumed
from it reports the file cut short, or gone with nothing at its path, meanwhile.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any

import msgspec

from keibi.sources.files import open_stream, rotated_siblings
from keibi.sources.notices import DELETED, SYMLINK, TRUNCATED, LogNotice

__all__ = ["SizeWatcher", "WatchMark"]

_HEAD = 1024


class WatchMark(msgspec.Struct, frozen=True, kw_only=True):
    """The watched file when last seen: ``inode`` 0 when there was none."""

    path: str
    dev: int = 0
    inode: int = 0
    size: int = 0
    head: bytes = b""  # its first bytes (up to 1 KiB), to know a copy of it


class SizeWatcher:
    """Watches the file named ``path``; see the module docstring."""

    def __init__(self, path: str, checkpoint: WatchMark | None = None, *,
                 rotate_wait: float = 5.0) -> None:
        if checkpoint is not None and checkpoint.path != path:
            raise ValueError(f"checkpoint is for {checkpoint.path}, not {path}")
        self.path = path
        self.rotate_wait = rotate_wait
        self.notices: list[LogNotice] = []
        self.notices_total = 0
        self.last_error: str | None = None
        self._fd: int | None = None  # the file watched, held open to see it unlinked
        self._dev = self._ino = self._size = 0
        self._head = b""
        self._exists = False
        self._symlink: str | None = None
        self._regular = False  # a regular file was seen at the path (or checkpointed)
        self._gone_since: float | None = None
        self._gone_told = False
        self._gone_while_stopped = False
        self._resumed = checkpoint if checkpoint is not None and checkpoint.inode else None
        if self._resumed is not None:
            self._regular = True
            self._dev, self._ino, self._size = (self._resumed.dev, self._resumed.inode,
                                                self._resumed.size)
            self._head = self._resumed.head
        self.poll()

    # -- public ---------------------------------------------------------------------------

    def poll(self) -> None:
        """Look at the path once; notices go to :attr:`notices`."""
        now = time.monotonic()
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            self.last_error = f"{self.path}: {exc.strerror or exc}"
            return
        resumed, self._resumed = self._resumed, None
        if st is None:
            self._exists = False
            self._symlink = None
            self._gone(now, resumed)
            return
        self._exists = True
        self._gone_since = None
        self._gone_told = False
        if stat.S_ISLNK(st.st_mode):
            self._linked()
            return
        self._symlink = None
        if not stat.S_ISREG(st.st_mode):
            self.last_error = f"{self.path} is not a regular file"
            return
        self._regular = True
        if (st.st_dev, st.st_ino) == (self._dev, self._ino):
            if st.st_size < self._size and not self._has_copy():
                later = " while keibi was not running" if resumed else ""
                self._notice(TRUNCATED, f"{self.path} was cut short{later} ({self._size} "
                             f"bytes before, {st.st_size} now) and no rotated file holds "
                             "what it had", size_before=self._size, size_after=st.st_size,
                             inode=self._ino, while_stopped=resumed is not None)
            shrunk = st.st_size < self._size
            self._size = st.st_size
            if self._fd is None:
                self._reopen()
            elif shrunk or len(self._head) < min(_HEAD, st.st_size):
                try:
                    self._head = os.pread(self._fd, _HEAD, 0)
                except OSError as exc:
                    self.last_error = f"{self.path}: {exc.strerror or exc}"
            return
        self._reopen()  # a new file at the path: rotated, or it appeared

    def take_notices(self) -> list[LogNotice]:
        out, self.notices = self.notices, []
        return out

    def checkpoint(self) -> WatchMark:
        return WatchMark(path=self.path, dev=self._dev, inode=self._ino, size=self._size,
                         head=self._head)

    def status(self) -> dict[str, Any]:
        return {"path": self.path, "exists": self._exists, "symlink": self._symlink,
                "inode": self._ino, "size": self._size, "notices": self.notices_total,
                "last_error": self.last_error}

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- inside ---------------------------------------------------------------------------

    def _reopen(self) -> None:
        """Watch the file now at the path (its size and first bytes)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            self.last_error = f"{self.path}: {exc.strerror or exc}"
            return
        try:
            st = os.fstat(fd)
            head = os.pread(fd, _HEAD, 0)
        except OSError as exc:
            os.close(fd)
            self.last_error = f"{self.path}: {exc.strerror or exc}"
            return
        self.close()
        self._fd = fd
        self._dev, self._ino, self._size, self._head = st.st_dev, st.st_ino, st.st_size, head
        self.last_error = None

    def _gone(self, now: float, resumed: WatchMark | None) -> None:
        if self._gone_since is None:
            self._gone_since = now
            self._gone_while_stopped = resumed is not None
        if self._gone_told or not self._regular or now - self._gone_since < self.rotate_wait:
            return
        self._gone_told = True
        if self._fd is not None:
            try:
                unlinked = os.fstat(self._fd).st_nlink == 0
            except OSError:
                unlinked = False
        else:  # resumed with no file at the path: is it among the rotated ones?
            unlinked = not any(self._same_inode(p) for p in rotated_siblings(self.path))
        if unlinked:
            stopped = self._gone_while_stopped
            later = " while keibi was not running" if stopped else ""
            self._notice(DELETED, f"{self.path} was deleted{later} and nothing took its place"
                         f" within {self.rotate_wait:g}s", size_before=self._size,
                         inode=self._ino, while_stopped=stopped)

    def _linked(self) -> None:
        try:
            target = os.readlink(self.path)
        except OSError:
            return
        if target == self._symlink:
            return
        self._symlink = target
        if self._regular:
            self._notice(SYMLINK, f"{self.path} was replaced by a symbolic link to {target}",
                         target=target, inode=self._ino)

    def _same_inode(self, path: str) -> bool:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (self._dev, self._ino)

    def _has_copy(self) -> bool:
        """A rotated sibling that starts with the file's first bytes (copytruncate)."""
        if not self._head:
            return False
        for path in rotated_siblings(self.path):
            try:
                with open_stream(path) as fh:
                    got = fh.read(len(self._head))
            except (OSError, EOFError, ValueError):
                continue
            if got and self._head.startswith(got):
                return True
        return False

    def _notice(self, action: str, detail: str, **kw: Any) -> None:
        self.notices_total += 1
        self.notices.append(LogNotice(action=action, path=self.path, time=time.time(),
                                      detail=detail, **kw))
