"""Live sources behind one small interface: files, the journal, the audit netlink group,
and files only watched for indicator removal (wtmp, btmp, lastlog).

The agent's loop only needs: a bounded batch of records (text + offset), the notices of
indicator removal seen meanwhile, a checkpoint as bytes to commit with the batch, a
status dict, and close. Each adapter turns one reader into that shape; the parser for
the records is chosen by the source type.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Protocol

import msgspec

from keibi.sources.notices import LogNotice
from keibi.sources.tailer import Checkpoint, FileTailer
from keibi.sources.watch import SizeWatcher, WatchMark


class LiveSource(Protocol):
    """What the agent reads from: one file, the journal, or the audit netlink group."""

    key: str  # the checkpoint name in the store
    path: str  # what to show (a file path, "journald", "audit-netlink")
    type: str  # the source type (parsers.registry)

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]: ...

    def take_notices(self) -> list[LogNotice]:
        """Indicator removal seen since the last call (a log truncated, deleted...)."""
        ...

    def checkpoint(self) -> bytes: ...

    def status(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class FileSource:
    """A followed log file (rotation- and restart-safe, see sources.tailer)."""

    def __init__(self, path: str, stype: str, checkpoint: bytes | None, *, start_at_end: bool,
                 max_line_bytes: int) -> None:
        self.key = f"tail:{path}"
        self.path = path
        self.type = stype
        cp = msgspec.msgpack.decode(checkpoint, type=Checkpoint) if checkpoint else None
        self.tailer = FileTailer(path, checkpoint=cp, start_at_end=start_at_end,
                                 max_line_bytes=max_line_bytes)

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]:
        return [(r.text, r.offset) for r in self.tailer.read_batch(max_records)]

    def take_notices(self) -> list[LogNotice]:
        return self.tailer.take_notices()

    def checkpoint(self) -> bytes:
        return msgspec.msgpack.encode(self.tailer.checkpoint())

    def status(self) -> dict[str, Any]:
        st = self.tailer.status()
        st["active"] = bool(st.get("exists"))
        return st

    def close(self) -> None:
        self.tailer.close()


class JournalSource:
    """The systemd journal, through journalctl, resumed from its cursor."""

    def __init__(self, checkpoint: bytes | None, *, directory: str | None = None,
                 start_at_end: bool = True) -> None:
        from keibi.sources.journald import JournalReader

        self.key = journal_key(directory)
        self.path = directory or "journald"
        self.type = "journald"
        self.directory = directory
        self.reader = JournalReader(directory=directory, cursor=checkpoint or None,
                                    start_at_end=start_at_end)

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]:
        return [(line, None) for line, _cursor in self.reader.read_batch(max_records)]

    def take_notices(self) -> list[LogNotice]:
        return []

    def checkpoint(self) -> bytes:
        return self.reader.checkpoint()

    def status(self) -> dict[str, Any]:
        st = self.reader.status()
        # journalctl waits quietly where there is no journal: say so
        found = journal_available(self.directory)
        st["active"] = found and not self.reader.finished and self.reader.last_error is None
        if not found and not st.get("last_error"):
            where = self.directory or "/var/log/journal or /run/log/journal"
            st["last_error"] = f"no journal files in {where}"
        return st

    def close(self) -> None:
        self.reader.close()


class AuditNetlinkSource:
    """The kernel's audit multicast group (read-only; coexists with auditd).

    Records are handed on in auditd's raw log format (``type=NAME msg=audit(...)``) so
    one audit parser serves the file and the socket. There is nothing to resume: what the
    kernel sent while the agent was down is gone (auditd's log keeps it, if it runs).
    """

    def __init__(self) -> None:
        from keibi.sources.audit_netlink import AuditNetlinkReader

        self.key = "audit-netlink"
        self.path = "audit-netlink"
        self.type = "audit"
        self.error: str | None = None
        self.records = 0
        self.reader: Any = None
        try:
            self.reader = AuditNetlinkReader().open()
        except OSError as exc:
            self.error = f"audit netlink: {exc}"

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]:
        if self.reader is None:
            return []
        from keibi.parsers.audit_record import type_name

        out: list[tuple[str, int | None]] = []
        try:
            for mtype, text in self.reader.read(timeout=0):
                out.append((f"type={type_name(mtype)} msg={text}", None))
        except OSError as exc:
            self.error = f"audit netlink: {exc}"
        self.records += len(out)
        return out

    def take_notices(self) -> list[LogNotice]:
        return []

    def checkpoint(self) -> bytes:
        return b""

    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = {"active": self.reader is not None, "records": self.records,
                              "last_error": self.error}
        if self.reader is not None:
            st["overruns"] = getattr(self.reader, "overruns", 0)
        return st

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None


class WatchSource:
    """A file keibi does not parse, watched for truncation, deletion and a symbolic link
    in its place (wtmp, btmp, lastlog: see sources.watch). Gives notices, no records."""

    def __init__(self, path: str, checkpoint: bytes | None, *, rotate_wait: float = 5.0) -> None:
        self.key = f"watch:{path}"
        self.path = path
        self.type = "watch"
        mark = msgspec.msgpack.decode(checkpoint, type=WatchMark) if checkpoint else None
        if mark is not None and mark.path != path:
            mark = None
        self.watcher = SizeWatcher(path, mark, rotate_wait=rotate_wait)

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]:
        self.watcher.poll()
        return []

    def take_notices(self) -> list[LogNotice]:
        return self.watcher.take_notices()

    def checkpoint(self) -> bytes:
        return msgspec.msgpack.encode(self.watcher.checkpoint())

    def status(self) -> dict[str, Any]:
        st = self.watcher.status()
        st["active"] = bool(st.get("exists"))
        return st

    def close(self) -> None:
        self.watcher.close()


def journal_key(directory: str | None) -> str:
    """The checkpoint name of the journal (the host's, or the one in ``directory``)."""
    return f"journald:{directory}" if directory else "journald"


def journal_available(directory: str | None = None) -> bool:
    """journalctl, and journal files: in ``directory`` (or a machine-id directory in it),
    else where this host writes its journal (persistent or volatile)."""
    if shutil.which("journalctl") is None:
        return False
    if directory is None:
        return any(_has_journal(d) for d in ("/var/log/journal", "/run/log/journal"))
    return _has_journal(directory)


def _has_journal(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            for e in entries:
                if e.name.endswith((".journal", ".journal~")) and e.is_file():
                    return True
                if e.is_dir(follow_symlinks=False) and any(
                        n.endswith((".journal", ".journal~")) for n in os.listdir(e.path)):
                    return True
    except OSError:
        return False
    return False
