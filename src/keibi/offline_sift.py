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

Syslog lines (auth.log, /var/log/messages) are screened from the header's parts
(:meth:`Sifter._syslog_lines`): a line that starts like the last header split
(``LineContext.last_header``: one session's lines in one second) has that header without
splitting it again, and the verdict of a program and the first word of its message
(``Screen.word_outcomes``: ``Failed``, ``pam_unix(sshd:auth):``, ``Received``...) is
remembered, so most lines cost a prefix test, a slice and a lookup: drop the line, parse
it, or (where the word alone does not tell) screen it to the end (``Screen.outcomes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from keibi.engine.index import Prefilter
from keibi.events.model import Event
from keibi.parsers.context import LineContext, LineParser
from keibi.parsers.screen import ProgramWordOutcomes, Screen, Verdicts
from keibi.parsers.stream import LineStream, StreamParser
from keibi.parsers.syslog import MINUTE_END, SECONDS, TIME_END, Header, split_header

__all__ = ["Sifted", "Sifter"]

#: line ends a screen strips before splitting the header (such lines are parsed whole)
_LINE_ENDS = frozenset({"\r", "\n"})
#: first words (attacker text, like program names) remembered: at most this many per
#: program, programs per screen, and characters a word
_WORDS_MAX = 512
_PROGRAMS_MAX = 64
_WORD_LEN_MAX = 64
_new_header = tuple.__new__
#: what the first word of a message says of its line: of no use (drop it), of use (parse
#: it), or ask the screen of the whole message
_DROP, _PARSE, _SCREEN = 0, 1, 2
#: program -> first word of its message -> its verdict
_WordVerdicts = dict[str | None, dict[str, int]]


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

    __slots__ = ("_verdicts", "_words", "prefilter")

    def __init__(self, prefilter: Prefilter) -> None:
        self.prefilter = prefilter
        # screens answer for the prefilter's fields; a prefilter that wants everything
        # leaves nothing to screen out
        self._verdicts = (None if prefilter.everything
                          else Verdicts.of(prefilter.attrs, prefilter.wants))
        self._words: dict[ProgramWordOutcomes, _WordVerdicts] = {}  # per screen

    def sift(self, offsets: list[int], texts: list[str], ctx: LineContext,
             parser: StreamParser, out: Sifted) -> None:
        """Parse the lines ``texts`` (at ``offsets``) into ``out``."""
        if not isinstance(parser, LineStream):
            for offset, text in zip(offsets, texts, strict=True):
                self.events(parser.feed(text, offset, ctx), out)
            return
        screen = parser.screen
        if (screen is not None and screen.word_outcomes is not None
                and self._verdicts is not None):
            self._syslog_lines(offsets, texts, ctx, parser.parse, screen, out)
        else:
            self._lines(offsets, texts, ctx, parser.parse, screen, out)

    def events(self, events: list[Event], out: Sifted) -> None:
        """Sift ``events`` (of one line, or a parser's flush) into ``out``."""
        out.high = self._settler(out)(events, out.high)
        out.events += len(events)

    def _settler(self, out: Sifted) -> Callable[[list[Event], float], float]:
        """A function keeping each of a line's events the prefilter wants in ``out`` (after
        the ticks so far) and ticking the time of each other one later than every earlier
        time; it takes and returns that latest time (the callers keep it in a local)."""
        prefilter = self.prefilter
        wants, key_of, memo = prefilter.wants, prefilter.key, prefilter.memo
        ticks = out.ticks
        keep, tick, cut = out.kept.append, ticks.append, out.cuts.append

        def settle(events: list[Event], high: float) -> float:
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
            return high

        return settle

    def _lines(self, offsets: list[int], texts: list[str], ctx: LineContext,
               parse: LineParser, screen: Screen | None, out: Sifted) -> None:
        """Every line parsed, each event kept or timed (:meth:`_settler`); with a
        ``screen``, a line whose one event no rule can use, as the screen tells, is only
        counted and timed."""
        verdicts = self._verdicts if screen is not None else None
        if screen is not None and verdicts is not None:
            scan, resume = screen.screen, screen.resume
            wanted_of, verdict_memo = verdicts.wanted, verdicts.memo
        screening = verdicts is not None
        settle, tick = self._settler(out), out.ticks.append
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
            high = settle(events, high)
        out.events += n
        out.high = high

    def _word_verdicts(self, screen: Screen, program: str | None) -> dict[str, int]:
        """The verdicts of first words of ``program``'s messages (see :meth:`_verdict`)."""
        assert screen.word_outcomes is not None
        programs = self._words.setdefault(screen.word_outcomes, {})
        words = programs.get(program)
        if words is None:
            if len(programs) >= _PROGRAMS_MAX:
                programs.clear()
            words = programs[program] = {}
        return words

    def _verdict(self, screen: Screen, program: str | None, word: str,
                 words: dict[str, int]) -> int:
        """What to do with a line of ``program`` whose message starts with ``word``: drop
        it (no outcome of that word may be wanted), parse it (one may, and the word tells
        them exactly), or screen it to the end. Remembered in ``words`` (a word of
        reasonable length)."""
        assert screen.word_outcomes is not None and self._verdicts is not None
        found = screen.word_outcomes(program, word)
        if found is None:
            verdict = _SCREEN
        elif not self._verdicts.wanted(found[0], program):
            verdict = _DROP
        else:
            verdict = _PARSE if found[1] else _SCREEN
        if len(word) <= _WORD_LEN_MAX:
            if len(words) >= _WORDS_MAX:
                words.clear()
            words[word] = verdict
        return verdict

    def _syslog_lines(self, offsets: list[int], texts: list[str], ctx: LineContext,
                      parse: LineParser, screen: Screen, out: Sifted) -> None:
        """:meth:`_lines` for a screen of syslog lines, from the header's parts (see the
        module docstring): the same events, ticks and counts.

        The header of a line that continues the last one (``LineContext.last_header``: the
        same text, or the same minute, host and tag at another second) is read in place;
        any other line's is split (:func:`~keibi.parsers.syslog.split_header`)."""
        verdicts = self._verdicts
        outcomes_of = screen.outcomes
        assert verdicts is not None and outcomes_of is not None
        wanted_of, verdict_memo = verdicts.wanted, verdicts.memo
        resume, verdict_of, words_of = screen.resume, self._verdict, self._word_verdicts
        settle, tick = self._settler(out), out.ticks.append
        high = out.high
        n = 0
        # The last header (text, time, host, program, pid, minute, the minute's time and
        # "host prog[pid]: "), as locals, and its program's word verdicts. A tuple of no
        # prefixes is one no line starts with.
        plast = None
        prefix: str | tuple[()] = ()
        minute: str | tuple[()] = ()
        host_tag: str | tuple[()] = ()
        plen, pts, start, phost, ppid = 0, 0.0, 0.0, "", None
        pprog: str | None = None
        pwords = words_of(screen, pprog)
        for offset, text in zip(offsets, texts, strict=True):
            h: Header | None = None
            whole = False  # parse the line from the start
            try:
                if text.startswith(prefix) and text[-1] not in "\r\n":
                    # the last header's text: that header
                    ts, prog, msg, words = pts, pprog, text[plen:], pwords
                elif (text.startswith(host_tag, TIME_END) and text.startswith(minute)
                      and text[-1] not in "\r\n"
                      and (sec := SECONDS.get(text[MINUTE_END:TIME_END])) is not None):
                    # its minute, "host prog[pid]: " and another second: the header of
                    # that second, from now on the last one
                    pts = ts = start + sec
                    prefix = text[:plen]
                    prog, msg, words = pprog, text[plen:], pwords
                else:  # anything else is split (as the screen does)
                    h = split_header(text, ctx) if text[-1:] not in _LINE_ENDS else None
                    if h is None:
                        whole = True
                    else:
                        last = ctx.last_header
                        if last is not plast and last is not None:  # a new last header
                            plast, was = last, pprog
                            prefix, pts, phost, pprog, ppid, minute, start, host_tag = last
                            plen = len(prefix)
                            if pprog != was:
                                pwords = words_of(screen, pprog)
                        ts, prog, msg = h[0], h[2], h[4]
                        words = pwords if prog == pprog else words_of(screen, prog)
                if not whole:
                    sp = msg.find(" ")
                    word = msg[:sp] if sp >= 0 else msg
                    verdict = words.get(word)
                    if verdict is None:
                        verdict = verdict_of(screen, prog, word, words)
                    if verdict == _SCREEN:
                        outcomes = outcomes_of(prog, msg)
                        if outcomes is not None:
                            wanted = verdict_memo.get((outcomes, prog))  # wanted(), inline
                            if wanted is None:
                                wanted = wanted_of(outcomes, prog)
                            verdict = wanted
                    if not verdict:  # one event, at the header's time, of no use
                        n += 1
                        if ts > high:
                            high = ts
                            tick(ts)
                        continue
            except Exception:  # as the screen would: parse the line, which keeps it
                whole = True
            if whole:
                events = parse(text, offset, ctx)
            else:
                if h is None:
                    h = _new_header(Header, (pts, phost, pprog, ppid, msg))
                events = resume(h, text, offset, ctx)
            n += len(events)
            high = settle(events, high)
        out.events += n
        out.high = high
