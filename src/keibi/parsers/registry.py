"""Source types and the parsers that read them.

A source type names a log family (``auth``, ``syslog``, ``dpkg``...). Each has a factory
for a fresh :class:`~keibi.parsers.stream.StreamParser` (one per file, since some keep
state) and a content test used when ``keibi hunt`` meets a file it cannot name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from keibi.parsers.stream import LineStream, StreamParser


@dataclass(frozen=True, slots=True)
class SourceType:
    """A log family: how to parse it and how to recognise it."""

    name: str
    dataset: str
    make_parser: Callable[[], StreamParser]
    # File names (basename, rotation suffix removed) that carry this type.
    file_names: tuple[str, ...]
    # A pattern some line near the start of such a file matches.
    sniff: re.Pattern[str] | None = None


def _auth() -> StreamParser:
    from keibi.parsers.auth import SCREEN, parse_auth_line

    return LineStream(parse_auth_line, SCREEN)


def _syslog() -> StreamParser:
    from keibi.parsers.syslog_dispatch import SCREEN, parse_syslog_any

    return LineStream(parse_syslog_any, SCREEN)


def _cron() -> StreamParser:
    from keibi.parsers.cron import parse_cron_line

    return LineStream(parse_cron_line)


def _dpkg() -> StreamParser:
    from keibi.parsers.dpkg import parse_dpkg_line

    return LineStream(parse_dpkg_line)


def _apt() -> StreamParser:
    from keibi.parsers.apt_history import AptHistoryAssembler

    return AptHistoryAssembler()


def _yum() -> StreamParser:
    from keibi.parsers.rpm import parse_yum_line

    return LineStream(parse_yum_line)


def _dnf() -> StreamParser:
    from keibi.parsers.rpm import parse_dnf_line

    return LineStream(parse_dnf_line)


def _zypper() -> StreamParser:
    from keibi.parsers.rpm import parse_zypper_line

    return LineStream(parse_zypper_line)


def _journald() -> StreamParser:
    from keibi.parsers.journald import parse_journal_line

    return LineStream(parse_journal_line)


def _audit() -> StreamParser:
    from keibi.parsers.audit_assembly import AuditLineStream

    return AuditLineStream()


_SYSLOG_HEADER = r"^(?:[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ \S+"

# Sniffing order matters: the most specific formats first, generic syslog last.
SOURCE_TYPES: dict[str, SourceType] = {
    st.name: st
    for st in (
        # `journalctl -o json` exports: one JSON object per line, each with its cursor.
        SourceType("journald", "keibi.journald", _journald, (),
                   re.compile(r'^\{.*"(?:__CURSOR|__REALTIME_TIMESTAMP)"')),
        SourceType("audit", "keibi.audit", _audit, ("audit.log",),
                   re.compile(r"^(?:node=\S+ )?type=\w+ msg=audit\(\d+\.\d+:\d+\)")),
        SourceType("dpkg", "keibi.dpkg", _dpkg, ("dpkg.log",),
                   re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:install|upgrade|remove|"
                              r"purge|status|trigproc|configure|startup|conffile) ")),
        SourceType("apt", "keibi.apt", _apt, ("history.log",),
                   re.compile(r"^Start-Date: \d{4}-\d\d-\d\d")),
        SourceType("dnf", "keibi.dnf", _dnf, ("dnf.rpm.log", "dnf.log", "dnf.librepo.log"),
                   re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d{4}) "
                              r"(?:SUBDEBUG|DDEBUG|DEBUG|INFO|WARNING|ERROR) ")),
        SourceType("yum", "keibi.yum", _yum, ("yum.log",),
                   re.compile(r"^[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d "
                              r"(?:Installed|Updated|Erased|Dep-Installed): ")),
        SourceType("zypper", "keibi.zypper", _zypper, (),
                   re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\|(?:install|remove|command|"
                              r"radd|rremove|patch)")),
        SourceType("cron", "keibi.cron", _cron, ("cron",), None),
        SourceType("auth", "keibi.auth", _auth, ("auth.log", "secure"), None),
        SourceType("syslog", "keibi.syslog", _syslog,
                   ("syslog", "messages", "kern.log", "daemon.log", "user.log"),
                   re.compile(_SYSLOG_HEADER)),
    )
}


def source_type(name: str) -> SourceType:
    """The source type called ``name``; KeyError lists the known ones."""
    try:
        return SOURCE_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(SOURCE_TYPES))
        raise KeyError(f"unknown source type {name!r} (known: {known})") from None


_ROTATION = re.compile(r"(\.\d+)?(\.(gz|bz2|xz))?$|-\d{8}(\.(gz|bz2|xz))?$")


def base_name(file_name: str) -> str:
    """``auth.log.2.gz`` -> ``auth.log``; ``secure-20261101`` -> ``secure``."""
    return _ROTATION.sub("", file_name, count=1)


def guess_type(file_name: str, head: list[str]) -> str | None:
    """The source type of a file, by its name, else by its first lines; None if unknown."""
    name = base_name(file_name)
    for st in SOURCE_TYPES.values():
        if name in st.file_names:
            return st.name
    for st in SOURCE_TYPES.values():
        if st.sniff is not None and any(st.sniff.search(line) for line in head):
            return st.name
    return None


# -- why a file is not read ------------------------------------------------------------

#: Binary files of /var/log that hold login records (utmp format, lastlog, faillog).
LOGIN_RECORD_FILES = frozenset({"wtmp", "btmp", "utmp", "lastlog", "faillog"})
_JOURNAL_MAGIC = b"LPKSHHRH"
_TEXT_BYTES = frozenset(b"\t\n\r\f\b\x1b\x1d") | frozenset(range(0x20, 0x7F))


def _looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than a tenth of bytes that are neither text nor UTF-8."""
    if not data:
        return False
    if b"\0" in data:
        return True
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut by the sample's end
            return False
    odd = sum(1 for b in data if b not in _TEXT_BYTES and b < 0x80)
    high = sum(1 for b in data if b >= 0x80)
    return (odd + high) * 10 > len(data)


def skip_reason(path: str, sample: int = 4096) -> str:
    """Why ``keibi hunt`` does not read ``path`` (which :func:`guess_type` could not
    name): empty, unreadable, a binary journal or login-record file, other binary data
    (compressed or not), or text in no format keibi knows (its first line is quoted)."""
    from keibi.sources.files import compression_of, open_stream

    name = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
        compression = compression_of(raw)
        with open_stream(path) as stream:
            data = stream.read(sample)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    except (EOFError, ValueError) as exc:  # damaged compressed data
        return f"cannot be read: {exc}"
    packed = f"{compression}-compressed " if compression else ""
    if not data:
        return f"empty {packed}file"
    if data.startswith(_JOURNAL_MAGIC):
        return ("binary systemd journal file; export it with `journalctl --file "
                f"{path} -o json > export.json` and hunt the export")
    if base_name(name) in LOGIN_RECORD_FILES or name.split(".")[0] in LOGIN_RECORD_FILES:
        return ("binary login records (utmp/wtmp/btmp/lastlog/faillog), not a text log; "
                "read them with `last -f` or `utmpdump`")
    if _looks_binary(data):
        return f"{packed}binary data, not a text log"
    first = next((ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()),
                 "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"{packed}text in no log format keibi knows (first line: {first!r})"
