"""Source types and the parsers that read them.

A source type names a log family (``auth``, ``syslog``, ``dpkg``...). Each has a factory
for a fresh :class:`~keibi.parsers.stream.StreamParser` (one per file, since some keep
state) and a content test used when ``keibi hunt`` meets a file it cannot name.
"""

from __future__ import annotations

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
    from keibi.parsers.auth import parse_auth_line

    return LineStream(parse_auth_line)


SOURCE_TYPES: dict[str, SourceType] = {
    "auth": SourceType(
        "auth",
        "keibi.auth",
        _auth,
        ("auth.log", "secure"),
        re.compile(r"\b(sshd|sshd-session|sudo|su|login|useradd|systemd-logind)(\[\d+\])?: "),
    ),
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
