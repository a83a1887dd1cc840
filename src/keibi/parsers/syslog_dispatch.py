"""A whole syslog stream (``/var/log/syslog``, ``/var/log/messages``, journald text):
each record goes to the parser of the program that wrote it.

Authentication programs (sshd, sudo, su, login, logind, shadow-utils, and any program's
``pam_*`` lines) go to the auth parser, so ``keibi hunt /var/log/messages`` on RHEL, or a
Debian 12 host that logs auth to syslog only, finds the same attacks as in auth.log; cron
programs go to the cron parser; everything else to the generic syslog parser, which
never gives up on a line.
"""

from __future__ import annotations

from keibi.events.model import Event
from keibi.parsers.auth import PROGRAMS as _AUTH_HANDLERS
from keibi.parsers.auth import parse_auth_message, program_outcomes
from keibi.parsers.auth import word_outcomes as auth_word_outcomes
from keibi.parsers.context import LineContext
from keibi.parsers.cron import PROGRAMS as CRON_PROGRAMS
from keibi.parsers.cron import parse_cron_message
from keibi.parsers.screen import Outcomes, Screen, Screened, WordOutcomes
from keibi.parsers.syslog import Header, split_header
from keibi.parsers.syslog_generic import (
    DATASET,
    no_header_event,
    parse_syslog_message,
    program_generic_outcomes,
)

AUTH_PROGRAMS: frozenset[str] = frozenset(p for p in _AUTH_HANDLERS if p is not None)


def parse_syslog_any(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one syslog line, whichever program wrote it (a LineParser)."""
    text = line.rstrip("\r\n")
    if not text or text.isspace():  # == not text.strip(), without a copy
        return []
    try:
        h = split_header(text, ctx)
    except Exception:
        h = None
    if h is None:
        return [no_header_event(text, offset, ctx, DATASET)]
    return parse_syslog_record(h, text, offset, ctx)


def parse_syslog_record(h: Header, text: str, offset: int | None,
                        ctx: LineContext) -> list[Event]:
    """:func:`parse_syslog_any` for a line whose header ``h`` is already split (``text``
    without its line end)."""
    family = _family(h[2], h[4])
    if family == _CRON:
        events = parse_cron_message(h, text, offset, ctx)
        if events is not None:
            return events
        if h[4][:4] == "pam_":  # what a cron program's line no cron parser knows
            family = _AUTH
    if family == _AUTH:
        return parse_auth_message(h, text, offset, ctx)
    events = parse_syslog_message(h, text, offset, ctx)
    return events if events is not None else [no_header_event(text, offset, ctx, DATASET)]


def screen_syslog_line(line: str, ctx: LineContext) -> Screened | None:
    """:func:`parse_syslog_any` up to its header (a :class:`~keibi.parsers.screen.Screen`):
    what the rest (:func:`parse_syslog_record`) may give, or None: parse the line.

    Auth lines are screened as in auth.log; a program no parser knows gives one generic
    ``log-line`` event; cron and the programs of the generic parser are not screened."""
    text = line.rstrip("\r\n")
    if not text or text.isspace():
        return None
    try:
        h = split_header(text, ctx)
        if h is None:
            return None
        return h, text, record_outcomes(h[2], h[4])
    except Exception:
        return None


#: the parser a record goes to (:func:`_family`)
_AUTH, _CRON, _GENERIC = 0, 1, 2


def _family(program: str | None, msg: str) -> int:
    """Which parser a record of ``program`` goes to: an auth program's, or any program's
    ``pam_*`` line, to the auth parser, a cron program's to the cron parser (and on from
    there when it knows no such line: :func:`parse_syslog_record`), anything else to the
    generic one. ``msg`` may be the message's first word only: ``pam_`` has no space."""
    if program in AUTH_PROGRAMS:
        return _AUTH
    if program is not None:
        base = program.split("(", 1)[0] if "(" in program else program
        if base in CRON_PROGRAMS:
            return _CRON
    return _AUTH if msg[:4] == "pam_" else _GENERIC


def record_outcomes(program: str | None, msg: str) -> Outcomes | None:
    """What :func:`parse_syslog_record` may give for a header with this program and
    message (see :func:`screen_syslog_line`); cron lines are not screened."""
    family = _family(program, msg)
    if family == _AUTH:
        return program_outcomes(program, msg)
    return None if family == _CRON else program_generic_outcomes(program)


def word_outcomes(program: str | None, word: str) -> WordOutcomes | None:
    """What :func:`record_outcomes` may give for any message whose first word is
    ``word`` (:data:`~keibi.parsers.screen.WordOutcomes`), or None when the word does not
    bound it."""
    family = _family(program, word)
    if family == _AUTH:
        return auth_word_outcomes(program, word)
    if family == _CRON:
        return None
    found = program_generic_outcomes(program)
    return None if found is None else (found, True)


SCREEN = Screen(screen_syslog_line, parse_syslog_record, record_outcomes, word_outcomes)
