"""Sifting parsed lines for the engine: the events some rule can use, and the times of
the others.

``keibi hunt`` gives the engine (:meth:`~keibi.engine.engine.Engine.process_batch`) the
events its :class:`~keibi.engine.index.Prefilter` wants, in order, and between them only
the times of the others that could move its clock: each time later than every earlier
one (``ticks``; ``cuts[i]`` of them come before ``kept[i]``). The engine, passing those
times to :meth:`~keibi.engine.engine.Engine.observe`, does exactly what it does when it is
given every event.

A line parser with a :class:`~keibi.parsers.screen.Screen` is not even run to the end for
a line whose one event no rule can use: the screen's outcomes tell it, and the line is
counted and timed from its header alone. The parse workers (:mod:`keibi.offline_pool`)
and the single-process reader (:func:`keibi.offline.read_batches`) sift the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keibi.engine.index import Prefilter
from keibi.events.model import Event
from keibi.parsers.context import LineContext, LineParser
from keibi.parsers.screen import Screen, Verdicts
from keibi.parsers.stream import LineStream, StreamParser

__all__ = ["Sifted", "Sifter"]


@dataclass(slots=True)
class Sifted:
    """What was sifted so far: the events kept, the ticks and cuts between them, how many
    events there were in all, and the latest time seen."""

    kept: list[Event] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    events: int = 0
    high: float = -float("inf")


class Sifter:
    """Sifts the lines of any parser by one prefilter (see the module docstring)."""

    __slots__ = ("_verdicts", "prefilter")

    def __init__(self, prefilter: Prefilter) -> None:
        self.prefilter = prefilter
        # screens answer for the prefilter's fields; a prefilter that wants everything
        # leaves nothing to screen out
        self._verdicts = (None if prefilter.everything
                          else Verdicts.of(prefilter.attrs, prefilter.wants))

    def sift(self, offsets: list[int], texts: list[str], ctx: LineContext,
             parser: StreamParser, out: Sifted) -> None:
        """Parse the lines ``texts`` (at ``offsets``) into ``out``."""
        if not isinstance(parser, LineStream):
            for offset, text in zip(offsets, texts, strict=True):
                self.events(parser.feed(text, offset, ctx), out)
        else:
            self._lines(offsets, texts, ctx, parser.parse, parser.screen, out)

    def events(self, events: list[Event], out: Sifted) -> None:
        """Sift ``events`` (of one line, or a parser's flush) into ``out``."""
        wants = self.prefilter.wants
        high = out.high
        for ev in events:
            ts = ev.timestamp
            if wants(ev):
                out.cuts.append(len(out.ticks))
                out.kept.append(ev)
                if ts > high:
                    high = ts
            elif ts > high:
                high = ts
                out.ticks.append(ts)
        out.events += len(events)
        out.high = high

    def _lines(self, offsets: list[int], texts: list[str], ctx: LineContext,
               parse: LineParser, screen: Screen | None, out: Sifted) -> None:
        """Every line parsed, each event kept or timed (:meth:`events`, inline); with a
        ``screen``, a line whose one event no rule can use, as the screen tells, is only
        counted and timed."""
        verdicts = self._verdicts if screen is not None else None
        if screen is not None and verdicts is not None:
            scan, resume = screen.screen, screen.resume
            wanted_of, verdict_memo = verdicts.wanted, verdicts.memo
        screening = verdicts is not None
        prefilter = self.prefilter
        wants, key_of, memo = prefilter.wants, prefilter.key, prefilter.memo
        kept, ticks, cuts = out.kept, out.ticks, out.cuts
        keep, tick, cut = kept.append, ticks.append, cuts.append
        high = out.high
        n = 0
        for offset, text in zip(offsets, texts, strict=True):
            found = scan(text, ctx) if screening else None
            if found is None:
                events = parse(text, offset, ctx)
            else:
                h, line, outcomes = found
                if outcomes is not None:
                    wanted = verdict_memo.get((outcomes, h[2]))  # verdicts.wanted(), inline
                    if wanted is None:
                        wanted = wanted_of(outcomes, h[2])
                    if not wanted:  # one event, at the header's time, of no use
                        n += 1
                        ts = h[0]
                        if ts > high:
                            high = ts
                            tick(ts)
                        continue
                events = resume(h, line, offset, ctx)
            n += len(events)
            for ev in events:
                ts = ev.timestamp
                wanted = memo.get(key_of(ev))  # wants(), inline
                if wanted is None:
                    wanted = wants(ev)
                if wanted:
                    cut(len(ticks))
                    keep(ev)
                    if ts > high:
                        high = ts
                elif ts > high:
                    high = ts
                    tick(ts)
        out.events += n
        out.high = high
