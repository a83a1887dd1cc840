"""Record streams: what turns a source's lines into events, stateless or not.

Most logs are one record per line and use a pure :class:`LineParser`. A few formats
need state across lines (apt history blocks, audit records of one event): those
implement :class:`StreamParser` directly. :class:`LineStream` adapts a line parser.
"""

from __future__ import annotations

from typing import Protocol

from keibi.events.model import Event
from keibi.parsers.context import LineContext, LineParser
from keibi.parsers.screen import Screen


class StreamParser(Protocol):
    """Feeds lines in file order; may hold records back until they are complete."""

    def feed(self, line: str, offset: int | None, ctx: LineContext) -> list[Event]: ...

    def flush(self, now: float | None = None) -> list[Event]:
        """Events still held back (all of them when ``now`` is None)."""
        ...


class LineStream:
    """A :class:`StreamParser` over a stateless line parser, and the parser's
    :class:`~keibi.parsers.screen.Screen` if it has one."""

    __slots__ = ("_parse", "screen")

    def __init__(self, parse: LineParser, screen: Screen | None = None) -> None:
        self._parse = parse
        self.screen = screen

    @property
    def parse(self) -> LineParser:
        """The line parser itself (what :meth:`feed` calls)."""
        return self._parse

    def feed(self, line: str, offset: int | None, ctx: LineContext) -> list[Event]:
        return self._parse(line, offset, ctx)

    def flush(self, now: float | None = None) -> list[Event]:
        return []
