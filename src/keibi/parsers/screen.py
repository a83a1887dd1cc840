"""Screening a line before parsing it: whether any rule could use its event at all.

``keibi hunt`` sends the engine only the events some rule can use (the engine's
prefilter looks at ``event.action``, ``event.dataset``, ``process.name`` and
``event.category``) and, for the others, only their times. Most lines of a large log are
of the other kind, and a parser can often tell what a line will become from its syslog
header and the first words of its message, before any pattern runs or any event is
built. A :class:`Screen` does that for one line parser:

- ``screen(line, ctx)`` splits the header as the parser does and says what the line may
  become: ``(header, text, outcomes)``, where ``text`` is what the parser goes on with
  and ``outcomes`` every ``(action, dataset, category)`` the ONE event of that line may
  have (:data:`Outcomes`; ``process.name`` is the header's program), or None when that
  is not known (a ``message repeated`` line...). None for the whole answer: a line to
  parse from the start (no header, or an error).
- ``resume(header, text, offset, ctx)`` finishes the parse: exactly the events the
  parser gives for the line.

A screened line none of whose outcomes any rule can use (:class:`Verdicts`) is one event
at the header's time, and is counted and timed as such without being parsed. The contract
(what ``screen`` says is what parsing gives) is checked line by line over every sample
corpus and generated and hostile logs (``tests/parsers/test_screen.py``).

A screen of syslog lines also answers from the header's parts, so that a caller
screening many lines need not build a header for each (:mod:`keibi.offline_sift`). Such a
screen splits a line that ends in neither ``"\\r"`` nor ``"\\n"`` with
:func:`~keibi.parsers.syslog.split_header` and resumes with the line itself:
``screen(line, ctx) == (h, line, outcomes(h.program, h.message))`` with ``h`` that
header (None when there is none), where

- ``outcomes(program, message)``: the outcomes ``screen`` gives for a line whose header
  has that program and message;
- ``word_outcomes(program, word)``: ``(outcomes, exact)``: every outcome ``outcomes``
  may give for a message whose first word (up to its first space, or the whole message)
  is ``word``, and whether it gives exactly those for each of them (:data:`WordOutcomes`);
  or None when the word does not bound them. A word none of whose outcomes any rule can
  use settles every line with that program and first word at once; so does an exact one
  that some rule can use (each such line is parsed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.syslog import Header

__all__ = ["SCREEN_FIELDS", "Outcome", "Outcomes", "ProgramOutcomes", "ProgramWordOutcomes",
           "Screen", "Screened", "Verdicts", "WordOutcomes"]

#: ``(event.action, event.dataset, event.category)`` of an event a line may give
Outcome = tuple[str, str, tuple[str, ...]]
Outcomes = frozenset[Outcome]
#: what a screen says of a line: (header, text to resume with, outcomes or None)
Screened = tuple[Header, str, Outcomes | None]
#: what a screen says of every message with one first word: (every outcome they may
#: give, whether each gives exactly those)
WordOutcomes = tuple[Outcomes, bool]

#: the Event attributes a screen answers for (``process.name`` is the header's program)
SCREEN_FIELDS = frozenset({"action", "dataset", "process_name", "category"})
_MEMO_LIMIT = 4096


class LineScreen(Protocol):
    def __call__(self, line: str, ctx: LineContext, /) -> Screened | None: ...


class Resume(Protocol):
    def __call__(self, h: Header, line: str, offset: int | None, ctx: LineContext,
                 /) -> list[Event]: ...


class ProgramOutcomes(Protocol):
    def __call__(self, program: str | None, message: str, /) -> Outcomes | None: ...


class ProgramWordOutcomes(Protocol):
    def __call__(self, program: str | None, word: str, /) -> WordOutcomes | None: ...


@dataclass(frozen=True, slots=True)
class Screen:
    """A line parser's screen and the rest of its parse, and for syslog lines the
    screen's answers from a header's parts (see the module docstring)."""

    screen: LineScreen
    resume: Resume
    outcomes: ProgramOutcomes | None = None
    word_outcomes: ProgramWordOutcomes | None = None


class _Probe:
    """What the prefilter looks at of an event, without the event."""

    __slots__ = ("action", "category", "dataset", "process_name")

    def __init__(self, action: str, dataset: str, process_name: str | None,
                 category: tuple[str, ...]) -> None:
        self.action = action
        self.dataset = dataset
        self.process_name = process_name
        self.category = category


class Verdicts:
    """Whether some rule may use the event of a screened line, by the engine's own test
    ``wants(event)`` (:meth:`keibi.engine.index.Prefilter.wants`) over the attributes
    ``attrs`` it reads: asked of each outcome, memoised per (outcomes, program).

    :meth:`of` gives None when ``attrs`` holds a field a screen does not answer for.
    """

    __slots__ = ("_wants", "memo")

    def __init__(self, wants: Callable[[Any], bool]) -> None:
        self._wants = wants
        #: (outcomes, program) -> whether some outcome is wanted (for callers that inline
        #: :meth:`wanted`: a missing key means "ask wanted()")
        self.memo: dict[tuple[Outcomes, str | None], bool] = {}

    @classmethod
    def of(cls, attrs: tuple[str, ...], wants: Callable[[Any], bool]) -> Verdicts | None:
        return cls(wants) if set(attrs) <= SCREEN_FIELDS else None

    def wanted(self, outcomes: Outcomes, program: str | None) -> bool:
        key = (outcomes, program)
        found = self.memo.get(key)
        if found is None:
            wants = self._wants
            found = any(wants(_Probe(action, dataset, program, category))
                        for action, dataset, category in outcomes)
            if len(self.memo) >= _MEMO_LIMIT:
                self.memo.clear()
            self.memo[key] = found
        return found
