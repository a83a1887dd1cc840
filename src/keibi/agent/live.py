"""Live sources behind one small interface: files, the journal, the audit netlink group.

The agent's loop only needs: a bounded batch of records (text + offset), a checkpoint
as bytes to commit with the batch, a status dict, and close. Each adapter turns one
reader into that shape; the parser for the records is chosen by the source type.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Protocol

import msgspec

from keibi.sources.tailer import Checkpoint, FileTailer


class LiveSource(Protocol):
    """What the agent reads from: one file, the journal, or the audit netlink group."""

    key: str  # the checkpoint name in the store
    path: str  # what to show (a file path, "journald", "audit-netlink")
    type: str  # the source type (parsers.registry)

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]: ...

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

        self.key = "journald"
        self.path = directory or "journald"
        self.type = "journald"
        self.reader = JournalReader(directory=directory, cursor=checkpoint or None,
                                    start_at_end=start_at_end)

    def read_batch(self, max_records: int) -> list[tuple[str, int | None]]:
        return [(line, None) for line, _cursor in self.reader.read_batch(max_records)]

    def checkpoint(self) -> bytes:
        return self.reader.checkpoint()

    def status(self) -> dict[str, Any]:
        st = self.reader.status()
        st["active"] = not self.reader.finished and self.reader.last_error is None
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


def journal_available() -> bool:
    """A journal this host writes (persistent or volatile) and journalctl to read it."""
    return shutil.which("journalctl") is not None and any(
        os.path.isdir(d) and bool(os.listdir(d))
        for d in ("/var/log/journal", "/run/log/journal"))
