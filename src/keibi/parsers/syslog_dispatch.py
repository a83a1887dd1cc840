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
    prog = h[2]
    if prog in AUTH_PROGRAMS:
        return parse_auth_message(h, text, offset, ctx)
    if prog is not None:
        base = prog.split("(", 1)[0] if "(" in prog else prog
        if base in CRON_PROGRAMS:
            events = parse_cron_message(h, text, offset, ctx)
            if events is not None:
                return events
    if h[4][:4] == "pam_":
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


def _is_cron(program: str) -> bool:
    base = program.split("(", 1)[0] if "(" in program else program
    return base in CRON_PROGRAMS


def record_outcomes(program: str | None, msg: str) -> Outcomes | None:
    """What :func:`parse_syslog_record` may give for a header with this program and
    message (see :func:`screen_syslog_line`)."""
    if program in AUTH_PROGRAMS:
        return program_outcomes(program, msg)
    if program is not None and _is_cron(program):
        return None
    if msg[:4] == "pam_":
        return program_outcomes(program, msg)
    return program_generic_outcomes(program)


def word_outcomes(program: str | None, word: str) -> WordOutcomes | None:
    """What :func:`record_outcomes` may give for any message whose first word is
    ``word`` (:data:`~keibi.parsers.screen.WordOutcomes`), or None when the word does not
    bound it."""
    if program in AUTH_PROGRAMS:
        return auth_word_outcomes(program, word)
    if program is not None and _is_cron(program):
        return None
    if word[:4] == "pam_":
        return auth_word_outcomes(program, word)
    found = program_generic_outcomes(program)
    return None if found is None else (found, True)


SCREEN = Screen(screen_syslog_line, parse_syslog_record, record_outcomes, word_outcomes)
