"""Bytes to lines: the one set of rules every file source applies.

A record is the bytes between two ``b"\\n"``. Each record is decoded as UTF-8 with
invalid bytes replaced by U+FFFD, loses one trailing ``"\\r"`` (CRLF files), and has NUL
bytes replaced by U+FFFD (a NUL breaks terminals, SQLite text and C consumers). A record
longer than ``max_line_bytes`` keeps its first ``max_line_bytes`` bytes (never a split
UTF-8 sequence) and is flagged ``truncated``; the rest of it is skipped without being
held in memory, so a 1 MB line or a binary file neither crashes the reader nor costs the
lines after it. Offsets are byte offsets of each record's first byte in the
(decompressed) stream.

:class:`LineSplitter` applies the rules incrementally to chunks of any size; it keeps
the unfinished last record until its newline arrives or the caller :meth:`flushes
<LineSplitter.flush>` it. Whole chunks of valid text are decoded and split in C (a few
million lines a second); only chunks holding an invalid byte or an over-long record go
line by line.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate, count, repeat
from operator import add

import msgspec

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "LineSplitter",
    "LineStats",
    "RawLine",
    "decode_record",
]

DEFAULT_MAX_LINE_BYTES = 65536
#: records as the splitter finds them: offsets, texts, the indices of truncated ones
_Records = tuple[list[int], list[str], set[int]]
_REPLACEMENT = "\ufffd"
_REPLACEMENT_BYTES = _REPLACEMENT.encode()


class RawLine(msgspec.Struct, frozen=True, gc=False):
    """One record of a file: where it starts and its decoded text (no newline)."""

    path: str
    offset: int
    text: str
    truncated: bool = False


@dataclass(slots=True)
class LineStats:
    """Counters of one source. ``decode_errors`` counts the U+FFFD put in place of
    invalid UTF-8 sequences and of NUL bytes; ``bytes`` counts bytes consumed."""

    lines: int = 0
    bytes: int = 0
    decode_errors: int = 0
    truncated: int = 0


def _cut_utf8(raw: bytes) -> bytes:
    """``raw`` without an incomplete UTF-8 sequence at its end (left by a cut)."""
    n = len(raw)
    for back in range(1, min(4, n) + 1):
        b = raw[n - back]
        if b & 0xC0 != 0x80:  # a lead byte or ASCII
            need = 1 if b < 0x80 else 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return raw[: n - back] if need > back else raw
    return raw


def decode_record(
    raw: bytes, stats: LineStats, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> tuple[str, bool]:
    """Decode one record (without its newline) by the rules above: (text, truncated).

    Counts decode errors and truncation in ``stats``, not the line itself.
    """
    truncated = len(raw) > max_line_bytes
    if truncated:
        raw = _cut_utf8(raw[:max_line_bytes])
        stats.truncated += 1
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        stats.decode_errors += text.count(_REPLACEMENT) - raw.count(_REPLACEMENT_BYTES)
    if text.endswith("\r"):
        text = text[:-1]
    if "\x00" in text:
        stats.decode_errors += text.count("\x00")
        text = text.replace("\x00", _REPLACEMENT)
    return text, truncated


class LineSplitter:
    """Turns a byte stream, fed in chunks, into :class:`RawLine` values.

    ``line_start`` is the offset of the first byte not yet returned in a line (the
    offset to resume from); ``position`` the offset just after the last byte fed.
    """

    __slots__ = ("_carry", "_carry_len", "_start", "max_line_bytes", "path", "stats")

    def __init__(
        self,
        path: str,
        stats: LineStats | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        offset: int = 0,
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.path = path
        self.stats = stats if stats is not None else LineStats()
        self.max_line_bytes = max_line_bytes
        self._start = offset
        self._carry = b""  # the unfinished record's first max_line_bytes bytes
        self._carry_len = 0  # its true length so far

    @property
    def line_start(self) -> int:
        return self._start

    @property
    def position(self) -> int:
        return self._start + self._carry_len

    @property
    def pending(self) -> int:
        """Bytes held in the unfinished last record."""
        return self._carry_len

    def feed(self, data: bytes) -> list[RawLine]:
        """The records completed by ``data``, in order."""
        return self._lines(self._records(data))

    def flush(self) -> list[RawLine]:
        """The unfinished last record as a line (end of stream, or it waited too long)."""
        return self._lines(self._flushed())

    def feed_texts(self, data: bytes) -> tuple[list[int], list[str]]:
        """:meth:`feed` as the offsets and the texts of the records (no RawLine each)."""
        offsets, texts, _ = self._records(data)
        return offsets, texts

    def flush_texts(self) -> tuple[list[int], list[str]]:
        """:meth:`flush` as :meth:`feed_texts` gives records."""
        offsets, texts, _ = self._flushed()
        return offsets, texts

    def _lines(self, records: _Records) -> list[RawLine]:
        offsets, texts, truncated = records
        flags = repeat(False) if not truncated else (i in truncated for i in count())
        return list(map(RawLine, repeat(self.path), offsets, texts, flags))

    def _records(self, data: bytes) -> _Records:
        """(offsets, texts, indices of the truncated ones) of the records ``data`` ends."""
        records: _Records = ([], [], set())
        if not data:
            return records
        self.stats.bytes += len(data)
        if self._carry_len > len(self._carry):  # inside an over-long record: skip on
            nl = data.find(b"\n")
            if nl < 0:
                self._carry_len += len(data)
                return records
            self._carry_len += nl
            self._emit_carry(True, records)
            data = data[nl + 1 :]
        cut = data.rfind(b"\n")
        if cut < 0:
            self._hold(data)
            return records
        # the records and their newlines: ``data`` itself when it ends with one (no copy)
        body = self._carry + data[: cut + 1] if self._carry else data[: cut + 1]
        start = self._start
        self._split(body, start, records)
        self._start = start + len(body)
        self._carry = b""
        self._carry_len = 0
        if cut + 1 < len(data):
            self._hold(data[cut + 1 :])
        return records

    def _flushed(self) -> _Records:
        records: _Records = ([], [], set())
        if self._carry_len:
            self._emit_carry(False, records)
        return records

    def _hold(self, data: bytes) -> None:
        room = self.max_line_bytes - len(self._carry)
        if room > 0:
            self._carry += data[:room]
        self._carry_len += len(data)

    def _emit_carry(self, newline: bool, records: _Records) -> None:
        stats = self.stats
        carry = self._carry
        over_long = self._carry_len > self.max_line_bytes
        if over_long:  # its first max_line_bytes bytes, never a split UTF-8 sequence
            carry = _cut_utf8(carry)
        text, _ = decode_record(carry, stats, self.max_line_bytes)
        offsets, texts, truncated = records
        if over_long:
            stats.truncated += 1
            truncated.add(len(texts))
        stats.lines += 1
        offsets.append(self._start)
        texts.append(text)
        self._start += self._carry_len + newline
        self._carry = b""
        self._carry_len = 0

    def _split(self, body: bytes, start: int, records: _Records) -> None:
        """Add the records of ``body`` (records, each ended by a newline) to ``records``."""
        if body.isascii():
            text = body.decode("ascii")
            texts = text.split("\n")
            texts.pop()  # the nothing after the last newline
            lens: list[int] | None = None  # characters are bytes
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                self._split_slowly(body[:-1], start, records)
                return
            texts = text.split("\n")
            texts.pop()
            lens = list(map(len, body.split(b"\n")))
            lens.pop()
        if max(map(len, texts) if lens is None else lens) > self.max_line_bytes:
            self._split_slowly(body[:-1], start, records)
            return
        if "\x00" in text:
            self.stats.decode_errors += text.count("\x00")
            texts = [t.replace("\x00", _REPLACEMENT) for t in texts]
        if "\r" in text:
            if lens is None:
                lens = list(map(len, texts))
            texts = [t[:-1] if t.endswith("\r") else t for t in texts]
        self.stats.lines += len(texts)
        offsets = records[0]
        offsets += map(add, accumulate(lens or map(len, texts), add, initial=start), count())
        offsets.pop()  # the offset after the last record
        records[1].extend(texts)

    def _split_slowly(self, body: bytes, start: int, records: _Records) -> None:
        """:meth:`_split` record by record (``body`` without its last newline)."""
        stats = self.stats
        limit = self.max_line_bytes
        offsets, texts, truncated = records
        raws = body.split(b"\n")
        for raw in raws:
            text, cut = decode_record(raw, stats, limit)
            if cut:
                truncated.add(len(texts))
            offsets.append(start)
            texts.append(text)
            start += len(raw) + 1
        stats.lines += len(raws)
