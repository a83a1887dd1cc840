"""su (util-linux and the older shadow-utils one) and login (shadow-utils, util-linux).

su::

    (to root) alice on pts/0            FAILED SU (to root) alice on pts/0   (util-linux)
    Successful su for root by alice     FAILED su for root by alice          (shadow)
    + pts/0 alice:root                  - pts/0 alice:root                   (shadow sulog)

login::

    ROOT LOGIN  on '/dev/tty1' [from 'host']          'alice' logged in  on '/dev/tty1'
    FAILED LOGIN (1) on '/dev/tty1' [from 'host'] FOR 'root', Authentication failure
    ROOT LOGIN ON tty1 [FROM host]    LOGIN ON tty1 BY alice [FROM host]     (util-linux)
    FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure                (util-linux)

The name after ``FOR`` is whatever was typed at the prompt: it is read up to the LAST
``', `` (the reason, a fixed PAM text, ends the line).
"""

from __future__ import annotations

import re
from typing import Any

from keibi.events.model import Event
from keibi.parsers.auth import pam
from keibi.parsers.auth.generic import (
    AUTHENTICATION,
    START,
    Result,
    make,
    outcomes_of,
    source_fields,
    users,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, WordOutcomes
from keibi.parsers.syslog import Header

SU_PROGRAMS = ("su",)
LOGIN_PROGRAMS = ("login",)

_S = re.S
_SU_TO = re.compile(r"(FAILED SU )?\(to ([^)]+)\) (.+) on (\S+)\Z", _S)
_SU_SHADOW = re.compile(r"(Successful|FAILED) su for (.+?) by (.+)\Z", _S)
_SULOG = re.compile(r"([+-]) (\S+) (.+):(.+?)\Z", _S)

_ROOT_LOGIN = re.compile(r"ROOT LOGIN +on '([^']*)'(?: from '([^']*)')?\Z")
_LOGGED_IN = re.compile(r"[`']([^']+)' logged in +on '([^']*)'(?: from '([^']*)')?\Z")
_FAILED_LOGIN = re.compile(
    r"FAILED LOGIN \((\d{1,9})\) *on '([^']*)'(?: from '([^']*)')? FOR [`'](.*)', (.*)\Z", _S
)
_UL_LOGIN = re.compile(r"(?:ROOT LOGIN|LOGIN) ON (\S+)(?: BY (\S+))?(?: FROM (\S+))?\Z")
_UL_FAILED = re.compile(
    r"(?:FAILED LOGIN (\d{1,9}|SESSION)|TOO MANY LOGIN TRIES \((\d{1,9})\)) "
    r"FROM (\S+) FOR (.*), (.*)\Z",
    _S,
)
_TTY_PREFIXES = ("tty", "pts", "/dev/", "console", "hvc")


def _su_event(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str,
    ok: bool, user: str, target: str, tty: str | None,
) -> Event:  # fmt: skip
    return make(
        h, line, offset, ctx, msg, "su-login" if ok else "su-failure", AUTHENTICATION, START,
        "success" if ok else "failure",
        user_name=user, user_target_name=target, related_user=users(user, target),
        extra={"keibi.tty": tty} if tty else None,
    )  # fmt: skip


_SU_OUTCOMES = outcomes_of(("su-login", AUTHENTICATION), ("su-failure", AUTHENTICATION))
_LOGIN_OUTCOMES = outcomes_of(("login", AUTHENTICATION), ("login-failure", AUTHENTICATION))


def su_outcomes(msg: str) -> Outcomes:
    """What :func:`parse_su` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`)."""
    return pam.outcomes(msg) if msg.startswith("pam_") else _SU_OUTCOMES


def login_outcomes(msg: str) -> Outcomes:
    """What :func:`parse_login` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`)."""
    return pam.outcomes(msg) if msg.startswith("pam_") else _LOGIN_OUTCOMES


def su_word_outcomes(word: str) -> WordOutcomes:
    """What :func:`parse_su` may give for any message whose first word is ``word``."""
    return pam.word_outcomes(word) if word.startswith("pam_") else (_SU_OUTCOMES, True)


def login_word_outcomes(word: str) -> WordOutcomes:
    """What :func:`parse_login` may give for any message whose first word is ``word``."""
    return pam.word_outcomes(word) if word.startswith("pam_") else (_LOGIN_OUTCOMES, True)


def parse_su(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The event of one su message, or None."""
    if msg.startswith("pam_"):
        return pam.parse(h, line, offset, ctx, msg)
    m = _SU_TO.match(msg)
    if m is not None:
        failed, target, user, tty = m.groups()
        return [_su_event(h, line, offset, ctx, msg, not failed, user, target, tty)]
    m = _SU_SHADOW.match(msg)
    if m is not None:
        verb, target, user = m.groups()
        return [_su_event(h, line, offset, ctx, msg, verb == "Successful", user, target, None)]
    m = _SULOG.match(msg)
    if m is not None:
        sign, tty, user, target = m.groups()
        return [_su_event(h, line, offset, ctx, msg, sign == "+", user, target, tty)]
    return None


def _login_event(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str,
    ok: bool, user: str | None, tty: str | None, remote: str | None,
    reason: str | None = None, attempts: int | None = None,
) -> Event:  # fmt: skip
    extra: dict[str, Any] = {}
    if tty:
        extra["keibi.tty"] = tty
    if attempts is not None:
        extra["keibi.attempts"] = attempts
    return make(
        h, line, offset, ctx, msg, "login" if ok else "login-failure", AUTHENTICATION, START,
        "success" if ok else "failure",
        user_name=user, related_user=users(user), reason=reason, extra=extra or None,
        **source_fields(remote),
    )  # fmt: skip


def parse_login(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The event of one login message, or None."""
    if msg.startswith("pam_"):
        return pam.parse(h, line, offset, ctx, msg)
    m = _ROOT_LOGIN.match(msg)
    if m is not None:
        return [_login_event(h, line, offset, ctx, msg, True, "root", m[1], m[2])]
    m = _FAILED_LOGIN.match(msg)
    if m is not None:
        count, tty, remote, user, reason = m.groups()
        attempts: int | None = int(count)
        return [_login_event(h, line, offset, ctx, msg, False, user, tty, remote, reason, attempts)]
    m = _LOGGED_IN.match(msg)
    if m is not None:
        user, tty, remote = m.groups()
        return [_login_event(h, line, offset, ctx, msg, True, user, tty, remote)]
    m = _UL_LOGIN.match(msg)
    if m is not None:
        tty, user, remote = m.groups()
        if user is None:
            user = "root" if msg.startswith("ROOT ") else None
        return [_login_event(h, line, offset, ctx, msg, True, user, tty, remote)]
    m = _UL_FAILED.match(msg)
    if m is not None:
        count, tries, where, user, reason = m.groups()
        n = tries or count
        tty = remote = None
        if where.startswith(_TTY_PREFIXES):
            tty = where
        else:
            remote = where
        attempts = int(n) if n and n.isdigit() else None
        return [_login_event(h, line, offset, ctx, msg, False, user, tty, remote, reason, attempts)]
    return None
