"""What a reader saw done to a log file that was not a rotation (T1070.002).

Rotations are normal: a file renamed and another created in its place, or copied and
then truncated. What is left is how logs are cleared to hide a trace: a file cut short
with no copy of what it held, deleted with nothing taking its place, or replaced by a
symbolic link (to ``/dev/null``, or to a file the attacker controls). The file tailer
(:mod:`keibi.sources.tailer`) and the size watcher (:mod:`keibi.sources.watch`) report
these as :class:`LogNotice` values; the agent turns each into an event.
"""

from __future__ import annotations

import msgspec

__all__ = ["DELETED", "NOTICE_ACTIONS", "SYMLINK", "TRUNCATED", "LogNotice"]

TRUNCATED = "log-truncated"
DELETED = "log-deleted"
SYMLINK = "log-replaced-by-symlink"
NOTICE_ACTIONS = (TRUNCATED, DELETED, SYMLINK)


class LogNotice(msgspec.Struct, frozen=True, kw_only=True):
    """One thing done to the log at ``path``: ``action`` is one of NOTICE_ACTIONS."""

    action: str
    path: str
    time: float  # wall clock, epoch seconds
    detail: str  # what was seen, in words
    size_before: int | None = None  # bytes the file held (or had been read) before
    size_after: int | None = None
    inode: int = 0
    target: str | None = None  # where the symbolic link points
    while_stopped: bool = False  # found on start: it happened while keibi was not running
