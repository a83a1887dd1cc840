"""Log files read offline: compression, rotated sets, and lines.

:func:`open_stream` opens plain, gzip, bzip2 and xz files alike (told apart by their
magic bytes, whatever their name). :func:`order_rotated` puts the members of rotated
sets in time order, oldest first, as logrotate names them::

    auth.log.3.gz  auth.log.2.gz  auth.log.1  auth.log          (numbered: highest first)
    secure-20261025.gz  secure-20261101  secure                 (dateext: by date)

:func:`expand_inputs` turns command-line paths (files and directories) into the
files to read, grouped by set (:func:`log_inputs`: as :class:`LogInput` values), and
:func:`iter_lines` streams the :class:`~keibi.sources.lines.RawLine` values of one file
(:func:`iter_batches`: in lists, the faster way).

Each member's own mtime is its reference time for inferring the year of classic syslog
time stamps (``parsers.context``): a rotated member was last written when it was
rotated.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, cast

import msgspec

from keibi.sources.lines import DEFAULT_MAX_LINE_BYTES, LineSplitter, LineStats, RawLine

__all__ = [
    "CorruptInput",
    "LogInput",
    "UnsupportedCompression",
    "compression_of",
    "describe_input",
    "expand_inputs",
    "iter_batches",
    "iter_lines",
    "log_inputs",
    "open_stream",
    "order_rotated",
    "rotated_siblings",
    "rotation_key",
]

READ_SIZE = 1 << 18

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_READABLE = ("gzip", "bzip2", "xz")
_COMPRESSED_EXT = re.compile(r"\.(?:gz|bz2|xz|zst|lz4|Z)$")
_NUMBERED = re.compile(r"\.(\d{1,5})$")
# logrotate dateext: -%Y%m%d (default), optionally -%H, -%s, or -%Y-%m-%d
_DATED = re.compile(
    r"[-_.]((?:19|20)\d\d)-?([01]\d)-?([0-3]\d)(?:[-_.]?(\d{2,6}))?(?:[-_.](\d{1,12}))?$"
)


class UnsupportedCompression(OSError):
    """The file is compressed in a format keibi cannot read (zstd, or a pipe)."""


class CorruptInput(OSError):
    """Compressed data is damaged or cut short; the lines before the damage were read."""


class LogInput(msgspec.Struct, frozen=True):
    """One file to read offline.

    ``mtime`` is the reference time for year inference of this file's records;
    ``rotated_set`` names the set it belongs to (directory/base name), so consumers can
    treat the members of one set as one stream, already in time order.
    """

    path: str
    mtime: float
    size: int
    rotated_set: str
    compression: str | None = None


def compression_of(head: bytes) -> str | None:
    """The compression format whose magic bytes start ``head``, or None (plain)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_stream(path: str) -> BinaryIO:
    """``path`` opened for reading its (decompressed) bytes.

    Raises OSError (:class:`UnsupportedCompression` for zstd or a compressed pipe).
    """
    raw = io.BufferedReader(io.FileIO(path, "rb"), READ_SIZE)
    try:
        kind = compression_of(raw.peek(8)[:8])
        if kind is None:
            return raw
        if kind not in _READABLE:
            raise UnsupportedCompression(f"{path}: {kind}-compressed files are not supported")
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
            raise UnsupportedCompression(f"{path}: compressed input must be a regular file")
    except BaseException:
        raw.close()
        raise
    raw.close()
    if kind == "gzip":
        return cast(BinaryIO, gzip.GzipFile(path, "rb"))
    if kind == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(path, "rb"))
    return cast(BinaryIO, lzma.LZMAFile(path, "rb"))


def iter_batches(
    path: str,
    stats: LineStats | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    *,
    label: str | None = None,
) -> Iterator[list[RawLine]]:
    """The lines of ``path`` (decompressed) in lists, one per 256 KiB read (smaller
    reads than usual stay in the CPU cache, which makes splitting twice as fast). The
    last line is returned even without its newline. ``label`` is the path put in the
    lines (default ``path``). Damaged compressed data raises :class:`CorruptInput`
    after the lines before the damage."""
    splitter = LineSplitter(label or path, stats, max_line_bytes)
    with open_stream(path) as stream:
        # read1: one decompression step per call, so damage loses nothing before it
        read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
        try:
            while chunk := read(READ_SIZE):
                if lines := splitter.feed(chunk):
                    yield lines
        except (EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile) as e:
            if last := splitter.flush():
                yield last
            raise CorruptInput(f"{path}: {e or 'compressed data ends early'}") from e
    if last := splitter.flush():
        yield last


def iter_lines(
    path: str,
    stats: LineStats | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    *,
    label: str | None = None,
) -> Iterator[RawLine]:
    """Every line of ``path``, as :func:`iter_batches` reads them."""
    for batch in iter_batches(path, stats, max_line_bytes, label=label):
        yield from batch


def rotation_key(path: str) -> tuple[str, tuple[int, str, int]]:
    """(set name, rank within the set) of a file, from its name alone.

    The set name is directory/base name (``/var/log/auth.log`` for ``auth.log.2.gz``);
    ranks sort oldest first: dated members by date, then numbered ones from the highest
    number, then a compressed member with neither, then the live file.
    """
    directory, name = os.path.split(path)
    base = _COMPRESSED_EXT.sub("", name)
    compressed = base != name
    m = _NUMBERED.search(base)
    if m and m.start() > 0:
        return os.path.join(directory, base[: m.start()]), (1, "", -int(m.group(1)))
    m = _DATED.search(base)
    if m and m.start() > 0 and "01" <= m.group(2) <= "12" and "01" <= m.group(3) <= "31":
        when = m.group(1) + m.group(2) + m.group(3) + (m.group(4) or "").ljust(6, "0")
        return os.path.join(directory, base[: m.start()]), (0, when, int(m.group(5) or 0))
    return os.path.join(directory, base), ((2 if compressed else 3), "", 0)


def order_rotated(paths: Sequence[str]) -> list[str]:
    """``paths`` grouped by rotated set (sets in order of first appearance), each set
    oldest first and its live file last. Duplicates are dropped."""
    sets: dict[str, list[tuple[tuple[int, str, int], str]]] = {}
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        name, rank = rotation_key(path)
        sets.setdefault(name, []).append((rank, path))
    return [path for members in sets.values() for _, path in sorted(members)]


def rotated_siblings(path: str) -> list[str]:
    """The rotated members of ``path``'s set in its directory, oldest first, without
    ``path`` itself. Symbolic links and non-regular files are left out."""
    directory, name = os.path.split(path)
    set_name = rotation_key(path)[0]
    found: list[str] = []
    try:
        with os.scandir(directory or ".") as entries:
            for entry in entries:
                if entry.name == name or not entry.name.startswith(name):
                    continue
                candidate = os.path.join(directory, entry.name)
                if entry.is_file(follow_symlinks=False) and (
                    rotation_key(candidate)[0] == set_name
                ):
                    found.append(candidate)
    except OSError:
        return []
    return order_rotated(found)


def _walk(directory: str) -> Iterator[str]:
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path)
        elif entry.is_file(follow_symlinks=False):
            yield entry.path


def _expand(paths: Iterable[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isdir(path):
            yield from _walk(path)
        else:
            yield path


def expand_inputs(paths: Sequence[str]) -> list[str]:
    """Command-line paths as the files to read, in order: a directory becomes its
    regular files (recursively, sorted, symbolic links inside it skipped); rotated sets
    are grouped and put in time order. A missing path raises FileNotFoundError."""
    for path in paths:
        os.stat(path)
    return order_rotated(list(_expand(paths)))


def describe_input(path: str) -> LogInput:
    """The :class:`LogInput` of one file (raises OSError)."""
    st = os.stat(path)
    compression = None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            compression = compression_of(f.read(8))
    return LogInput(path, st.st_mtime, st.st_size, rotation_key(path)[0], compression)


def log_inputs(paths: Sequence[str]) -> list[LogInput]:
    """:func:`expand_inputs`, each file described."""
    return [describe_input(path) for path in expand_inputs(paths)]
