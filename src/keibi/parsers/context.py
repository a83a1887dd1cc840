"""What a line parser needs to know besides the line: where it came from and when.

Classic syslog time stamps (``Nov  1 00:00:00``) carry neither a year nor a zone. The
year is inferred from a reference time (the file's mtime offline, the wall clock live):
a record is never later than the reference, so a month after the reference month means
the previous year, which also rolls a file over New Year correctly. The zone is the
host's local zone unless configured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Protocol

from keibi.events.model import Event


def local_zone() -> tzinfo:
    """The zone this host writes classic syslog time stamps in."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


@dataclass(slots=True)
class LineContext:
    """Per-input state shared by the parsers of one file or stream."""

    path: str | None = None
    ref_time: float = field(default_factory=time.time)
    zone: tzinfo = field(default_factory=local_zone)
    hostname: str | None = None
    dataset: str | None = None
    # The reference year and month derived from ref_time (set by __post_init__).
    ref_year: int = 0
    ref_month: int = 0
    # classic header "Nov  1 00:00:00" -> epoch seconds; bounded, see parsers.syslog.
    time_cache: dict[str, float] = field(default_factory=dict)
    # the last classic header split whole by its pattern (parsers.syslog): (its text
    # "Mmm dd hh:mm:ss host prog[pid]: ", time, host, program, pid, minute "Mmm dd hh:mm",
    # the minute's time, "host prog[pid]: "). A line that starts with its text has that
    # header; one that starts with its minute, another ":ss " and its "host prog[pid]: "
    # has it too, at the minute's time plus that second.
    last_header: tuple[str, float, str, str | None, int | None, str, float, str] | None = None
    # "host prog[pid]: " of classic headers split -> (host, program, pid), and "host prog"
    # of those with a pid -> (host, program); parsers.syslog
    host_tags: dict[str, tuple[str, str, int | None]] = field(default_factory=dict)
    host_progs: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.set_ref_time(self.ref_time)

    def set_ref_time(self, ref_time: float) -> None:
        self.ref_time = ref_time
        dt = datetime.fromtimestamp(ref_time, self.zone)
        if (dt.year, dt.month) != (self.ref_year, self.ref_month):
            self.time_cache.clear()
            self.last_header = None
        self.ref_year = dt.year
        self.ref_month = dt.month


class LineParser(Protocol):
    """A pure function from one text record to the events it holds (usually one).

    ``offset`` is the byte offset of the record in its file (``log.offset``). A parser
    never raises on bad input: a record it does not understand still becomes a generic
    event.
    """

    def __call__(self, line: str, offset: int | None, ctx: LineContext) -> list[Event]: ...
