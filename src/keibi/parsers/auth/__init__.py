"""The auth log (``/var/log/auth.log``, ``/var/log/secure``): one line in, its events out.

:func:`parse_auth_line` is a :class:`~keibi.parsers.context.LineParser`. It splits the
syslog header, picks the family by program name (a dict lookup), and the family picks
the message by its first words before any pattern runs. rsyslog's ``message repeated N
times: [ msg ]`` becomes N events of ``msg`` (at most 1000; more is flagged
``repeat-capped``). A line nothing understands, has no header or is garbage still gives
one ``log-line`` event; the parser never raises.

Families: :mod:`.sshd`, :mod:`.pam` (any program's PAM lines), :mod:`.sudo`,
:mod:`.su_login`, :mod:`.logind`, :mod:`.shadow`, :mod:`.generic`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from keibi.events.model import Event
from keibi.parsers.auth import logind, pam, shadow, sshd, su_login, sudo
from keibi.parsers.auth.generic import (
    DATASET,
    ONLY_GENERIC,
    Handler,
    Result,
    generic_event,
    headerless_event,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, Screen, Screened, WordOutcomes
from keibi.parsers.syslog import Header, split_header

__all__ = ["DATASET", "MAX_REPEAT", "PROGRAMS", "SCREEN", "message_outcomes",
           "parse_auth_line", "parse_auth_message", "program_outcomes", "screen_auth_line",
           "word_outcomes"]

#: The most events one ``message repeated N times`` line yields.
MAX_REPEAT = 1000

PROGRAMS: dict[str | None, Handler] = {}
#: what each program's family may give for a message (see :func:`message_outcomes`)
OUTCOMES: dict[str | None, Callable[[str], Outcomes]] = {}
#: ... and for any message with a given first word (see :func:`word_outcomes`)
WORD_OUTCOMES: dict[str | None, Callable[[str], WordOutcomes | None]] = {}
for _names, _handler, _outcomes, _word_outcomes in (
    (sshd.PROGRAMS, sshd.parse, sshd.outcomes, sshd.word_outcomes),
    (sudo.PROGRAMS, sudo.parse, sudo.outcomes, sudo.word_outcomes),
    (su_login.SU_PROGRAMS, su_login.parse_su, su_login.su_outcomes,
     su_login.su_word_outcomes),
    (su_login.LOGIN_PROGRAMS, su_login.parse_login, su_login.login_outcomes,
     su_login.login_word_outcomes),
    (logind.PROGRAMS, logind.parse, logind.outcomes, logind.word_outcomes),
    (shadow.PROGRAMS, shadow.parse, shadow.outcomes, shadow.word_outcomes),
):
    for _name in _names:
        PROGRAMS[_name] = _handler
        OUTCOMES[_name] = _outcomes
        WORD_OUTCOMES[_name] = _word_outcomes

_REPEATED = re.compile(r"message repeated (\d{1,12}) times?: \[ ?(.*)\]\Z", re.S)
_CAPPED = ("repeat-capped",)
_PARSE_ERROR = ("parse-error",)


def _message(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> list[Event]:
    """The events of one message: its program's family, else PAM's, else the generic one."""
    handler = PROGRAMS.get(h[2])
    if handler is not None:
        events = handler(h, line, offset, ctx, msg)
        if events is not None:
            return events
    elif msg.startswith("pam_"):  # cron, systemd-user, gdm, polkit...: their PAM lines
        events = pam.parse(h, line, offset, ctx, msg)
        if events is not None:
            return events
    return [generic_event(h, line, offset, ctx, msg)]


def _repeated(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _REPEATED.match(msg)
    if m is None:
        return None
    n = max(int(m[1]), 1)
    events = _message(h, line, offset, ctx, m[2])
    if n > MAX_REPEAT:
        n = MAX_REPEAT
        events = [msgspec.structs.replace(e, flags=(*(e.flags or ()), *_CAPPED)) for e in events]
    return events * n


def parse_auth_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one auth-log line (usually one; N for ``message repeated N times``)."""
    if line[-1:] == "\n":
        line = line[:-2] if line[-2:] == "\r\n" else line[:-1]
    try:
        h = split_header(line, ctx)
        if h is None:
            return [headerless_event(line, offset, ctx)]
    except Exception:  # a bug must not lose the line: keep it, flagged
        return [headerless_event(line, offset, ctx, _PARSE_ERROR)]
    return parse_auth_message(h, line, offset, ctx)


def parse_auth_message(h: Header, line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """:func:`parse_auth_line` for a line whose header ``h`` is already split (``line``
    without its newline): what the syslog dispatcher calls, so no header is split twice."""
    try:
        msg = h[4]
        if msg[:9] == "message r":
            events = _repeated(h, line, offset, ctx, msg)
            if events is not None:
                return events
        handler = PROGRAMS.get(h[2])  # _message, inline: every line takes this path
        if handler is not None:
            events = handler(h, line, offset, ctx, msg)
            if events is not None:
                return events
            return [generic_event(h, line, offset, ctx, msg)]
        return _message(h, line, offset, ctx, msg)
    except Exception:  # a bug must not lose the line: keep it, flagged
        return [headerless_event(line, offset, ctx, _PARSE_ERROR)]


def message_outcomes(h: Header) -> Outcomes | None:
    """What :func:`parse_auth_message` may give for a line with header ``h``: its one
    event's possible (action, dataset, category) (:data:`~keibi.parsers.screen.Outcome`),
    or None for a ``message repeated`` line (it may give many)."""
    return program_outcomes(h[2], h[4])


def program_outcomes(program: str | None, msg: str) -> Outcomes | None:
    """:func:`message_outcomes` of a header with this program and message."""
    if msg[:9] == "message r":
        return None
    family = OUTCOMES.get(program)
    if family is not None:
        return family(msg)
    return pam.outcomes(msg) if msg.startswith("pam_") else ONLY_GENERIC


def word_outcomes(program: str | None, word: str) -> WordOutcomes | None:
    """What :func:`program_outcomes` may give for ``program`` and any message whose
    first word is ``word`` (:data:`~keibi.parsers.screen.WordOutcomes`), or None when
    the word does not bound it."""
    if word == "message":  # "message repeated N times: [ ... ]"
        return None
    family = WORD_OUTCOMES.get(program)
    if family is not None:
        return family(word)
    return pam.word_outcomes(word) if word.startswith("pam_") else (ONLY_GENERIC, True)


def screen_auth_line(line: str, ctx: LineContext) -> Screened | None:
    """:func:`parse_auth_line` up to its header (a :class:`~keibi.parsers.screen.Screen`):
    what the rest (:func:`parse_auth_message`) may give, or None: parse the line."""
    if line[-1:] == "\n":
        line = line[:-2] if line[-2:] == "\r\n" else line[:-1]
    try:
        h = split_header(line, ctx)
        if h is None:
            return None
        msg = h[4]  # message_outcomes(), inline: every line takes this path
        if msg[:9] == "message r":
            return h, line, None
        family = OUTCOMES.get(h[2])
        if family is not None:
            return h, line, family(msg)
        return h, line, pam.outcomes(msg) if msg.startswith("pam_") else ONLY_GENERIC
    except Exception:  # parse_auth_line keeps the line, flagged: let it
        return None


SCREEN = Screen(screen_auth_line, parse_auth_message, program_outcomes, word_outcomes)
