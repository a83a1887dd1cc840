"""sudo's own log lines (its PAM lines go to :mod:`keibi.parsers.auth.pam`).

``USER : [REASON ; ]TTY=... ; PWD=... ; USER=... ; [GROUP=... ; ][ENV=... ; ]COMMAND=...``

sudo writes the keys in a fixed order and does not escape ``" ; "`` inside values, so a
working directory or a command can hold text such as ``; USER=root ; COMMAND=``. The
parse goes left to right, takes each key once (a repeated key continues the previous
value) and treats everything after the first ``COMMAND=`` as the command; a line where a
value holds another ``" ; KEY="`` is flagged ``log-injection``, as it cannot be read
unambiguously.
"""

from __future__ import annotations

import re
from typing import Any

from keibi.events.model import Event
from keibi.parsers.auth import pam
from keibi.parsers.auth.generic import (
    AUTHENTICATION,
    DATASET,
    INFO,
    INJECTION_FLAGS,
    PROCESS,
    START,
    Result,
    outcomes_of,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, WordOutcomes
from keibi.parsers.syslog import Header

PROGRAMS = ("sudo",)

_KEYS = frozenset({"TTY", "CHROOT", "PWD", "USER", "GROUP", "TSID", "ENV", "COMMAND"})
_ATTEMPTS = re.compile(r"(\d{1,9}) incorrect password attempts?\Z")
_INJECTED = re.compile(r" ; (?:TTY|CHROOT|PWD|USER|GROUP|TSID|ENV|COMMAND)=")
_EXTRA_KEYS = {
    "GROUP": "user.target.group.name",
    "ENV": "keibi.sudo.env",
    "TSID": "keibi.sudo.tsid",
    "CHROOT": "keibi.sudo.chroot",
}


def _fields(body: str) -> tuple[str | None, dict[str, str], bool]:
    """(reason, KEY -> value, ambiguous) of the text after ``user : ``."""
    parts = body.split(" ; ")
    values: dict[str, list[str]] = {}
    reason: list[str] = []
    last: list[str] | None = None
    ambiguous = False
    for i, part in enumerate(parts):
        eq = part.find("=")
        key = part[:eq] if eq > 0 else ""
        if key == "COMMAND":  # the last field: the rest of the line is the command
            command = " ; ".join(parts[i:])[8:]
            values["COMMAND"] = [command]
            ambiguous = ambiguous or _INJECTED.search(command) is not None
            break
        if key in _KEYS and key not in values:
            last = values[key] = [part[eq + 1 :]]
        elif last is not None:  # a value that holds " ; "
            last.append(part)
            ambiguous = ambiguous or key in _KEYS
        else:
            reason.append(part)
    fields = {key: " ; ".join(value) for key, value in values.items()}
    return " ; ".join(reason) if reason else None, fields, ambiguous


def _action(reason: str) -> tuple[str, int | None]:
    m = _ATTEMPTS.match(reason)
    if m is not None:
        return "sudo-password-attempts", int(m[1])
    if reason == "user NOT in sudoers":
        return "sudo-not-in-sudoers", None
    if reason in ("command not allowed", "user NOT authorized on host"):
        return "sudo-command-not-allowed", None
    return "sudo-auth-failure", None


_OUTCOMES = outcomes_of(
    ("sudo-command", PROCESS),
    *((action, AUTHENTICATION) for action in ("sudo-password-attempts", "sudo-not-in-sudoers",
                                              "sudo-command-not-allowed", "sudo-auth-failure")),
)


def outcomes(msg: str) -> Outcomes:
    """What :func:`parse` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`)."""
    text = msg.lstrip(" ")
    return pam.outcomes(text) if text.startswith("pam_") else _OUTCOMES


def word_outcomes(word: str) -> WordOutcomes | None:
    """What :func:`parse` may give for any message whose first word is ``word`` (None
    for a message that starts with a space: its first word is further on)."""
    if not word:
        return None
    return pam.word_outcomes(word) if word.startswith("pam_") else (_OUTCOMES, True)


def parse(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The event of one sudo message, or None."""
    text = msg.lstrip(" ")
    if text.startswith("pam_"):
        return pam.parse(h, line, offset, ctx, text)
    colon = text.find(" : ")
    if colon <= 0:
        return None
    user = text[:colon]
    reason, fields, ambiguous = _fields(text[colon + 3 :])
    if " ; " in user or "=" in user:
        ambiguous = True
    target = fields.get("USER")
    command = fields.get("COMMAND")
    if target is None and command is None:
        return None
    extra: dict[str, Any] | None = None
    tty = fields.get("TTY")
    if tty is not None:
        extra = {"keibi.tty": tty}
    for key, name in _EXTRA_KEYS.items():
        value = fields.get(key)
        if value is not None:
            if extra is None:
                extra = {}
            extra[name] = value
    if reason is None:
        action, category, type_, outcome = "sudo-command", PROCESS, START, "success"
    else:
        action, attempts = _action(reason)
        category, type_, outcome = AUTHENTICATION, INFO, "failure"
        if attempts is not None:
            extra = extra or {}
            extra["keibi.attempts"] = attempts
    return [
        Event(
            timestamp=h[0],
            category=category,
            type=type_,
            action=action,
            outcome=outcome,
            dataset=DATASET,
            reason=reason,
            original=line,
            message=text,
            host_name=h[1],
            user_name=user,
            user_target_name=target,
            process_pid=h[3],
            process_name=h[2],
            process_command_line=command,
            process_working_directory=fields.get("PWD"),
            log_file_path=ctx.path,
            log_offset=offset,
            related_user=(user, target) if target and target != user else (user,),
            flags=INJECTION_FLAGS if ambiguous else None,
            extra=extra,
        )
    ]
