"""``/var/log/apt/history.log``: one event per package that an apt run changed.

apt writes one block per run, in local time without a zone (two spaces before the time)::

    Start-Date: 2026-11-20  10:01:02
    Commandline: apt-get install -y foo
    Requested-By: alice (1000)
    Install: foo:amd64 (1.2-3), libbar:amd64 (1.0, automatic)
    Upgrade: baz:amd64 (1.0, 1.1)
    End-Date: 2026-11-20  10:01:05

Lists are ``Install``, ``Upgrade`` (old, new), ``Downgrade`` (old, new), ``Remove``,
``Purge`` and ``Reinstall``; ``Error:`` reports a failed run. A record spans lines, so
:class:`AptHistoryAssembler` keeps the open block and emits its events at ``End-Date``,
at the next ``Start-Date`` or at :meth:`~AptHistoryAssembler.flush` (end of input). A
block is bounded in lines and bytes: past the bound its events are emitted early,
flagged ``truncated``, and the rest of the block carries on with the same run details.

Every event of a block has the block's text as ``event.original`` and the offset of its
first line as ``log.offset``; ``@timestamp`` is the start of the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.dpkg import PARSE_ERROR, unparsed_event, wall_time

__all__ = ["DATASET", "AptHistoryAssembler", "iter_apt_history"]

DATASET = "keibi.apt"
MAX_BLOCK_LINES = 10_000
MAX_BLOCK_BYTES = 8 * 1024 * 1024
MAX_HOLD_SECONDS = 6 * 3600.0  # a dist-upgrade can take a while

_PACKAGE = ("package",)
# list key -> (event.type, event.action, the list gives "old, new")
_LISTS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "Install": (("installation",), "package-installed", False),
    "Upgrade": (("change",), "package-upgraded", True),
    "Downgrade": (("change",), "package-downgraded", True),
    "Reinstall": (("change",), "package-reinstalled", False),
    "Remove": (("deletion",), "package-removed", False),
    "Purge": (("deletion",), "package-purged", False),
}
_META = frozenset({"Start-Date", "End-Date", "Commandline", "Requested-By", "Error"})
_FIELD = re.compile(r"[A-Z][A-Za-z-]{0,40}")
_REQUESTER = re.compile(r"(.*) \((\d{1,10})\)")


def _apt_time(ctx: LineContext, text: str) -> float | None:
    # "2026-11-20  10:01:02" (apt's "%F  %T"); one space accepted as well.
    text = text.strip()
    date, _, clock = text.partition(" ")
    return wall_time(ctx, f"{date} {clock.strip()}")


def _items(value: str) -> tuple[list[tuple[str, str]], bool]:
    """``foo:amd64 (1.2-3), bar (1.0, automatic)`` -> [(spec, inside)], and whether the
    whole list read cleanly. A linear scan (a hostile 1 MB list stays cheap)."""
    items: list[tuple[str, str]] = []
    clean = True
    pos, n = 0, len(value)
    while pos < n:
        opening = value.find(" (", pos)
        closing = value.find(")", opening + 2) if opening >= 0 else -1
        if closing < 0:
            clean = clean and not value[pos:].strip(", ")
            break
        spec = value[pos:opening].strip(", ")
        inside = value[opening + 2 : closing]
        if spec and " " not in spec and "(" not in inside:
            items.append((spec, inside))
        else:
            clean = False
        pos = closing + 1
    return items, clean


class _Block:
    __slots__ = (
        "bytes", "command", "end", "error", "flags", "lines", "lists", "offset", "start",
        "uid", "user",
    )

    def __init__(self, offset: int | None) -> None:
        self.offset = offset
        self.lines: list[str] = []
        self.bytes = 0
        self.lists: list[tuple[str, str]] = []
        self.start: float | None = None
        self.end: float | None = None
        self.command: str | None = None
        self.user: str | None = None
        self.uid: str | None = None
        self.error: str | None = None
        self.flags: list[str] = []

    def carry_on(self, offset: int | None) -> _Block:
        """A block for the rest of this run once this one hit the bounds."""
        nxt = _Block(offset)
        nxt.start, nxt.command, nxt.user, nxt.uid = self.start, self.command, self.user, self.uid
        nxt.flags = ["truncated"]
        return nxt


class AptHistoryAssembler:
    """Feed history.log lines in order; get the events of each finished block.

    A :class:`~keibi.parsers.stream.StreamParser`: ``feed`` returns the events completed
    by that line (usually none); ``flush()`` at the end of the input returns those of a
    block still open, and ``flush(now)`` (live) only those of a block that started more
    than ``max_hold`` seconds before ``now`` (apt died without writing ``End-Date``).
    """

    def __init__(
        self,
        ctx: LineContext | None = None,
        *,
        max_lines: int = MAX_BLOCK_LINES,
        max_bytes: int = MAX_BLOCK_BYTES,
        max_hold: float = MAX_HOLD_SECONDS,
    ) -> None:
        self.ctx = ctx if ctx is not None else LineContext()
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.max_hold = max_hold
        self._block: _Block | None = None

    def feed(self, line: str, offset: int | None, ctx: LineContext | None = None) -> list[Event]:
        """Take one line (with or without its newline) at byte ``offset``."""
        if ctx is not None:
            self.ctx = ctx
        try:
            return self._feed(line, offset)
        except Exception:  # never raise on input; the flag makes the bug visible
            self._block = None
            return [unparsed_event(line, offset, self.ctx, DATASET, flags=PARSE_ERROR)]

    def flush(self, now: float | None = None) -> list[Event]:
        """The events of the open block: always at end of input (``now`` None), else
        only when it has been open longer than ``max_hold``."""
        block = self._block
        if block is None:
            return []
        if now is not None and (block.start is None or now - block.start < self.max_hold):
            return []
        self._block = None
        try:
            return self._emit(block)
        except Exception:
            text = "\n".join(block.lines)
            return [unparsed_event(text, block.offset, self.ctx, DATASET, flags=PARSE_ERROR)]

    def _feed(self, line: str, offset: int | None) -> list[Event]:
        text = line.rstrip("\r\n")
        block = self._block
        if not text.strip():
            return []
        key, sep, value = text.partition(": ")
        if not sep and text.endswith(":"):
            key, sep, value = text[:-1], ":", ""
        if not (sep and (key in _LISTS or key in _META)):
            if block is None:
                return [unparsed_event(line, offset, self.ctx, DATASET)]
            if not (sep and _FIELD.fullmatch(key)) and "malformed" not in block.flags:
                block.flags.append("malformed")  # (a field of a newer apt is fine)
            return self._append(block, text, offset)
        out: list[Event] = []
        if key == "Start-Date" or block is None:
            if block is not None:
                out.extend(self._emit(block))
            block = self._block = _Block(offset)
            if key != "Start-Date":
                block.flags.append("truncated")  # the file starts inside a block
        if key == "Start-Date":
            block.start = _apt_time(self.ctx, value)
            if block.start is None:
                block.flags.append("malformed")
        elif key == "End-Date":
            block.end = _apt_time(self.ctx, value)
            if block.end is None:
                block.flags.append("malformed")
            block.lines.append(text)
            self._block = None
            out.extend(self._emit(block))
            return out
        elif key == "Commandline":
            block.command = value
        elif key == "Requested-By":
            m = _REQUESTER.fullmatch(value)
            if m is None:
                block.user = value or None
            else:
                block.user, block.uid = m.group(1), m.group(2)
        elif key == "Error":
            block.error = value
        else:
            block.lists.append((key, value))
        out.extend(self._append(block, text, offset))
        return out

    def _append(self, block: _Block, text: str, offset: int | None) -> list[Event]:
        if not block.lines:
            block.offset = offset
        block.lines.append(text)
        block.bytes += len(text) + 1
        if len(block.lines) < self.max_lines and block.bytes < self.max_bytes:
            return []
        block.flags.append("truncated")
        self._block = block.carry_on(None)
        return self._emit(block)

    def _emit(self, block: _Block) -> list[Event]:
        ctx = self.ctx
        original = "\n".join(block.lines)
        if block.start is not None:
            ts = block.start
        elif block.end is not None:
            ts = block.end
        else:
            ts = round(ctx.ref_time, 6)
            if "truncated" not in block.flags:
                block.flags.append("malformed")
        flags = tuple(dict.fromkeys(block.flags)) or None
        if block.error is not None:
            outcome = "failure"
        elif block.end is not None:
            outcome = "success"
        else:
            outcome = "unknown"
        user = block.user
        related = (user,) if user else None
        command = block.command
        process_name = None
        if command:
            first = command.split(None, 1)[0] if command.strip() else ""
            process_name = first.rsplit("/", 1)[-1] or None
        events: list[Event] = []
        for key, value in block.lists:
            types, action, two = _LISTS[key]
            items, clean = _items(value)
            if not clean:
                flags = tuple(dict.fromkeys((*(flags or ()), "malformed")))
            for spec, inside in items:
                parts = [p.strip() for p in inside.split(",")]
                automatic = "automatic" in parts
                if automatic:
                    parts.remove("automatic")
                if two and len(parts) >= 2:
                    previous: str | None = parts[0]
                    version: str | None = parts[1]
                else:
                    previous, version = None, (parts[0] if parts and parts[0] else None)
                name, _, arch = spec.partition(":")
                extra: dict[str, object] = {}
                if previous:
                    extra["keibi.package.previous_version"] = previous
                if automatic:
                    extra["keibi.package.automatic"] = True
                if block.error is not None:
                    extra["keibi.apt.error"] = block.error
                events.append(
                    Event(
                        timestamp=ts, category=_PACKAGE, type=types, action=action,
                        outcome=outcome, dataset=DATASET, original=original,
                        start=block.start, end=block.end, host_name=ctx.hostname,
                        user_name=user, user_id=block.uid, process_name=process_name,
                        process_command_line=command, package_name=name,
                        package_version=version, package_architecture=arch or None,
                        log_file_path=ctx.path, log_offset=block.offset,
                        related_user=related, flags=flags, extra=extra or None,
                    )
                )
        if events:
            return events
        return [
            Event(
                timestamp=ts, category=_PACKAGE, type=("start",), action="package-manager-run",
                outcome=outcome, dataset=DATASET, original=original, start=block.start,
                end=block.end, host_name=ctx.hostname, user_name=user, user_id=block.uid,
                process_name=process_name, process_command_line=command,
                log_file_path=ctx.path, log_offset=block.offset, related_user=related,
                flags=flags,
                extra={"keibi.apt.error": block.error} if block.error is not None else None,
            )
        ]


def iter_apt_history(
    lines: Iterable[tuple[str, int | None]], ctx: LineContext
) -> Iterator[Event]:
    """The events of a whole history.log given as ``(line, byte offset)`` pairs."""
    assembler = AptHistoryAssembler(ctx)
    for line, offset in lines:
        yield from assembler.feed(line, offset, ctx)
    yield from assembler.flush()
