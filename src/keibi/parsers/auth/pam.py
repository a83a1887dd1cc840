"""PAM module messages, whatever program wrote them (sshd, sudo, su, login, cron...).

``pam_unix(SERVICE:TYPE): text``: authentication failures, session open/close and
password changes. The failure line is ``... ruser=%s rhost=%s user=%s``: ``user`` (the
name someone typed) ends the line and may hold anything, so the fixed fields are read
from the left and ``user`` is the rest of the line.
"""

from __future__ import annotations

import re
from typing import Any

from keibi.events.model import Event
from keibi.parsers.auth.generic import (
    AUTHENTICATION,
    DATASET,
    END,
    IAM,
    INFO,
    ONLY_GENERIC,
    SESSION,
    START,
    Result,
    injection_flags,
    is_ip,
    make,
    outcomes_of,
    users,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, WordOutcomes
from keibi.parsers.syslog import Header

_S = re.S
# pam_unix support.c: "authentication failure; logname=%s uid=%d euid=%d tty=%s ruser=%s
# rhost=%s%s%s" (then " user=NAME" when known); pam_sss and others write the same fields.
_FAILURE = re.compile(
    r"logname=(\S*) uid=(\d*) euid=(\d*) tty=(\S*) ruser=(\S*) rhost=(\S*)(?: +user=(.*))?\Z", _S
)
_RHOST = re.compile(r"\brhost=(\S*)")
_USER = re.compile(r" user=(.*)\Z", _S)
# pam_unix_sess.c: "session opened for user %s(uid=%lu) by %s(uid=%lu)" (older: no uids)
_OPENED = re.compile(r"(.+?)(?:\(uid=(\d+)\))? by (.*?)(?:\(uid=(\d+)\))?\Z", _S)
_MORE = re.compile(r"PAM (\d{1,9}) more authentication failures?; (.*)\Z", _S)

_USER_CHANGE = ("user", "change")
# Placeholder names PAM writes where there is no user (login before authentication).
_NOT_USERS = frozenset({"", "LOGIN", "(unknown)"})


def _kv_fields(text: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(logname, tty, ruser, rhost, user) of an authentication-failure field list."""
    m = _FAILURE.match(text)
    if m is not None:
        logname, _uid, _euid, tty, ruser, rhost, user = m.groups()
        return logname, tty, ruser, rhost, user
    mh = _RHOST.search(text)
    mu = _USER.search(text)
    return None, None, None, mh[1] if mh else None, mu[1] if mu else None


def _failure_event(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str,
    action: str, service: str | None, fields: str, extra: dict[str, Any],
) -> Event:  # fmt: skip
    """A failed authentication as PAM's field list tells it (``extra`` is filled in)."""
    logname, tty, ruser, rhost, user = _kv_fields(fields)
    if service:
        extra["keibi.pam.service"] = service
    if tty:
        extra["keibi.tty"] = tty
    if ruser:
        extra["keibi.pam.ruser"] = ruser
    ip = domain = None
    if rhost:
        if is_ip(rhost):
            ip = rhost
        else:
            domain = rhost
    audit = logname if logname not in _NOT_USERS else None
    if user and not ruser and not audit:
        related: tuple[str, ...] | None = (user,)  # sshd's lines: the common case
    else:
        related = users(user, ruser, audit)
    return Event(
        timestamp=h[0],
        category=AUTHENTICATION,
        type=INFO,
        action=action,
        outcome="failure",
        dataset=DATASET,
        original=line,
        message=msg,
        host_name=h[1],
        source_ip=ip,
        source_domain=domain,
        user_name=user or None,
        user_audit_name=audit,
        process_pid=h[3],
        process_name=h[2],
        log_file_path=ctx.path,
        log_offset=offset,
        related_ip=(ip,) if ip else None,
        related_user=related,
        flags=injection_flags(user) if user and " " in user else None,
        extra=extra,
    )


def _session(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str, service: str,
    text: str,
) -> Event | None:  # fmt: skip
    if text.startswith("session opened for user "):
        m = _OPENED.match(text, 24)
        if m is None:
            return None
        user, uid, by, _by_uid = m.groups()
        audit = by if by not in _NOT_USERS else None
        return Event(
            timestamp=h[0],
            category=SESSION,
            type=START,
            action="session-opened",
            outcome="success",
            dataset=DATASET,
            original=line,
            message=msg,
            host_name=h[1],
            user_name=user,
            user_id=uid,
            user_audit_name=audit,
            process_pid=h[3],
            process_name=h[2],
            log_file_path=ctx.path,
            log_offset=offset,
            related_user=(user, audit) if audit and audit != user else (user,),
            extra={"keibi.pam.service": service},
        )
    if text.startswith("session closed for user "):
        user = text[24:]
        if not user:
            return None
        return Event(
            timestamp=h[0],
            category=SESSION,
            type=END,
            action="session-closed",
            outcome="success",
            dataset=DATASET,
            original=line,
            message=msg,
            host_name=h[1],
            user_name=user,
            process_pid=h[3],
            process_name=h[2],
            log_file_path=ctx.path,
            log_offset=offset,
            related_user=(user,),
            extra={"keibi.pam.service": service},
        )
    return None


_SESSIONS = outcomes_of(("session-opened", SESSION), ("session-closed", SESSION))
_AUTH_FAILURE = outcomes_of(("pam-auth-failure", AUTHENTICATION))
_SUDO_AUTH_FAILURE = outcomes_of(("sudo-auth-failure", AUTHENTICATION))
_PASSWORD_CHANGED = outcomes_of(("password-changed", IAM))
#: what :func:`parse_more` may give
MORE_OUTCOMES = outcomes_of(("pam-auth-failures-summary", AUTHENTICATION))
#: what :func:`parse` may give for a ``pam_MODULE(SERVICE...): `` message, by service
_SERVICE_OUTCOMES = _SESSIONS | _AUTH_FAILURE | _PASSWORD_CHANGED
_SUDO_SERVICE_OUTCOMES = _SESSIONS | _SUDO_AUTH_FAILURE | _PASSWORD_CHANGED
_ANY_OUTCOMES = _SERVICE_OUTCOMES | _SUDO_SERVICE_OUTCOMES


def outcomes(msg: str) -> Outcomes:
    """What :func:`parse` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`):
    its dispatch, read in place (keep the two alike)."""
    paren = msg.find("(")
    close = msg.find("): ", paren)
    if paren <= 0 or close < 0:
        return ONLY_GENERIC
    at = close + 3  # where parse's text starts
    first = msg[at : at + 8]
    if first == "session ":
        return _SESSIONS
    if first == "authenti" and msg.startswith("authentication failure; ", at):
        service = msg[paren + 1 : close].partition(":")[0]
        return _SUDO_AUTH_FAILURE if service == "sudo" else _AUTH_FAILURE
    if first == "password" and msg.startswith("password changed for ", at):
        return _PASSWORD_CHANGED
    return ONLY_GENERIC


def word_outcomes(word: str) -> WordOutcomes:
    """What :func:`parse` may give for any message whose first word (up to its first
    space, or all of it) is ``word``: :func:`outcomes` of them all, read from the word
    (exact only where the word settles it: ``(`` first).

    A word ``pam_MODULE(SERVICE:TYPE):`` names the service (the ``"): "`` that
    :func:`outcomes` looks for can only be at its end); any other word leaves it open.
    """
    paren = word.find("(")
    if paren == 0:
        return ONLY_GENERIC, True
    if paren < 0 or word[-2:] != "):":
        return _ANY_OUTCOMES, False
    service = word[paren + 1 : -2].partition(":")[0]
    return (_SUDO_SERVICE_OUTCOMES if service == "sudo" else _SERVICE_OUTCOMES), False


def parse(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The event of a ``pam_MODULE(SERVICE:TYPE): text`` message, or None."""
    paren = msg.find("(")
    close = msg.find("): ", paren)
    if paren <= 0 or close < 0:
        return None
    service = msg[paren + 1 : close].partition(":")[0]
    text = msg[close + 3 :]
    first = text[:8]
    if first == "session ":
        ev = _session(h, line, offset, ctx, msg, service, text)
        return [ev] if ev is not None else None
    if first == "authenti" and text.startswith("authentication failure; "):
        action = "sudo-auth-failure" if service == "sudo" else "pam-auth-failure"
        return [_failure_event(h, line, offset, ctx, msg, action, service, text[24:], {})]
    if first == "password" and text.startswith("password changed for "):
        target = text[21:]
        ev = make(
            h, line, offset, ctx, msg, "password-changed", IAM, _USER_CHANGE, "success",
            user_target_name=target, related_user=(target,) if target else None,
            extra={"keibi.pam.service": service},
        )  # fmt: skip
        return [ev]
    return None


def parse_more(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """``PAM N more authentication failures; logname=... rhost=... user=...``."""
    m = _MORE.match(msg)
    if m is None:
        return None
    extra: dict[str, Any] = {"keibi.attempts": int(m[1])}
    service = h[2]
    if service in ("sshd-session", "sshd-auth"):
        service = "sshd"
    return [
        _failure_event(h, line, offset, ctx, msg, "pam-auth-failures-summary", service, m[2], extra)
    ]
