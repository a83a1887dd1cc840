"""systemd-logind: sessions and seats.

``New session 3 of user alice.`` (systemd 256 and later quote the values and add the
class and type: ``New session '3' of user 'alice' with class 'user' and type 'tty'.``),
``Session 3 logged out. Waiting for processes to exit.``, ``Removed session 3.``,
``New seat seat0.``
"""

from __future__ import annotations

import re

from keibi.parsers.auth.generic import (
    END,
    HOST,
    INFO,
    SESSION,
    START,
    Result,
    make,
    outcomes_of,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, WordOutcomes
from keibi.parsers.syslog import Header

PROGRAMS = ("systemd-logind",)

_NEW = re.compile(
    r"New session '?([^' ]+)'? of user '?([^' ]+)'?"
    r"(?: with class '([^']*)' and type '([^']*)')?\.\Z",
    re.S,
)
_LOGGED_OUT = re.compile(r"Session '?([^' ]+?)'? logged out\. Waiting for processes to exit\.\Z")
_REMOVED = re.compile(r"Removed session '?([^' ]+?)'?\.\Z")
_SEAT = re.compile(r"New seat '?([^' ]+?)'?\.\Z")


_OUTCOMES = outcomes_of(
    ("logind-session-new", SESSION), ("logind-session-logout", SESSION),
    ("logind-session-removed", SESSION), ("logind-seat-new", HOST),
)


def outcomes(msg: str) -> Outcomes:
    """What :func:`parse` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`)."""
    return _OUTCOMES


def word_outcomes(word: str) -> WordOutcomes:
    """What :func:`parse` may give for any message whose first word is ``word``."""
    return _OUTCOMES, True


def parse(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The event of one systemd-logind message, or None."""
    m = _NEW.match(msg)
    if m is not None:
        sid, user, cls, kind = m.groups()
        extra = {"keibi.session.id": sid}
        if cls is not None:
            extra["keibi.session.class"] = cls
            extra["keibi.session.type"] = kind
        ev = make(h, line, offset, ctx, msg, "logind-session-new", SESSION, START, "success",
                  user_name=user, related_user=(user,), extra=extra)  # fmt: skip
        return [ev]
    m = _LOGGED_OUT.match(msg)
    if m is not None:
        ev = make(h, line, offset, ctx, msg, "logind-session-logout", SESSION, END, "success",
                  extra={"keibi.session.id": m[1]})  # fmt: skip
        return [ev]
    m = _REMOVED.match(msg)
    if m is not None:
        ev = make(h, line, offset, ctx, msg, "logind-session-removed", SESSION, END, "success",
                  extra={"keibi.session.id": m[1]})  # fmt: skip
        return [ev]
    m = _SEAT.match(msg)
    if m is not None:
        ev = make(h, line, offset, ctx, msg, "logind-seat-new", HOST, INFO, None,
                  extra={"keibi.seat": m[1]})  # fmt: skip
        return [ev]
    return None
