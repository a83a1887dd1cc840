"""shadow-utils: useradd, userdel, usermod, groupadd, groupdel, groupmod, gpasswd, passwd,
chpasswd, chage, chsh, chfn (the formats of shadow 4.1 to 4.17; old ones quote names as
```name'``, new ones as ``'name'``).

Each known message is one row of :data:`_RULES`: a pattern, the action, its ECS types and
a string that says what each group of the pattern fills (see :data:`_ROLES`).

Several programs log one change per database: groupadd writes ``group added to
/etc/group``, ``group added to /etc/gshadow`` and then ``new group``; ``add 'bob' to
group 'sudo'`` comes with ``add 'bob' to shadow group 'sudo'``. The per-database lines
carry the same action plus ``keibi.iam.database``, so a rule that counts operations can
leave them out.
"""

from __future__ import annotations

import re
from typing import Any

from keibi.parsers.auth import pam
from keibi.parsers.auth.generic import (
    IAM,
    PRIVILEGED_GROUPS,
    Result,
    make,
    outcomes_of,
    users,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, WordOutcomes
from keibi.parsers.syslog import Header

PROGRAMS = (
    "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod", "gpasswd", "passwd",
    "chpasswd", "chgpasswd", "chage", "chsh", "chfn", "newusers", "groupmems",
)  # fmt: skip

USER_CREATION = ("user", "creation")
USER_DELETION = ("user", "deletion")
USER_CHANGE = ("user", "change")
GROUP_CREATION = ("group", "creation")
GROUP_DELETION = ("group", "deletion")
GROUP_CHANGE = ("group", "change")

#: What a pattern group fills, by role letter. Upper-case roles fill ``keibi.change.*``
#: or the database; ``-`` fills nothing.
_ROLES = {
    "t": "user_target_name",
    "i": "user_target_id",
    "a": "user_name",  # the actor, when the message names one
    "g": "group_name",
    "j": "group_id",
    "h": "keibi.user.home",
    "s": "keibi.user.shell",
    "y": "keibi.tty",
    "r": "user.changes.name",
    "F": "keibi.change.field",
    "O": "keibi.change.from",
    "N": "keibi.change.to",
    "D": "keibi.iam.database",
}
_ATTRS = frozenset({"user_target_name", "user_target_id", "user_name", "group_name", "group_id"})

# N is a quoted name: 'bob' or `bob' (never spanning a quote, so every pattern is linear).
_N = r"[`']([^']*)'"
# (pattern, action, types, roles, fixed keibi.change.field or None)
_TABLE: tuple[tuple[str, str, tuple[str, str], str, str | None], ...] = (
    # useradd
    (r"new user: name=([^,]*), UID=(\d+), GID=(\d+), home=([^,]*), shell=([^,]*)"
     r"(?:, from=(.*))?", "user-created", USER_CREATION, "tijhsy", None),
    (r"new group: name=([^,]*), GID=(\d+)", "group-created", GROUP_CREATION, "gj", None),
    (r"add N to (shadow )?group N", "user-added-to-group", GROUP_CHANGE, "tSg", None),
    (r"failed adding user N, (?:exit code: \d+|data deleted)", "user-created!", USER_CREATION,
     "t", None),
    # userdel
    (r"delete user N", "user-deleted", USER_DELETION, "t", None),
    (r"delete N from (shadow )?group N", "user-removed-from-group", GROUP_CHANGE, "tSg", None),
    (r"removed (shadow )?group N owned by N", "group-deleted", GROUP_DELETION, "Sgt", None),
    # usermod
    (r"lock user N password", "user-locked", USER_CHANGE, "t", None),
    (r"unlock user N password", "user-unlocked", USER_CHANGE, "t", None),
    (r"change user N password", "password-changed", USER_CHANGE, "t", None),
    (r"change user name N to N", "user-renamed", USER_CHANGE, "tr", None),
    (r"change user N (UID|GID|home|shell|inactive|expiration) from N to N", "user-modified",
     USER_CHANGE, "tFON", None),
    (r"change N to N in (shadow )?group N", "group-modified", GROUP_CHANGE, "tNSg", "member"),
    (r"change admin N to N in (shadow )?group N", "group-modified", GROUP_CHANGE, "tNSg",
     "admin"),
    # groupadd, groupdel, groupmod
    (r"group added to (\S+): name=([^,]*)(?:, GID=(\d+))?", "group-created", GROUP_CREATION,
     "Dgj", None),
    (r"group N removed from (\S+)", "group-deleted", GROUP_DELETION, "gD", None),
    (r"group N removed", "group-deleted", GROUP_DELETION, "g", None),
    (r"remove group N", "group-deleted", GROUP_DELETION, "g", None),
    # "group changed in /etc/group (group ops/1002, new name: devops)"
    (r"group changed in (\S+) \(group ([^/,\s]+)(?:/(\d+))?, new (name|gid|password)(?:: (.*))?\)",
     "group-modified", GROUP_CHANGE, "DgjFN", None),
    (r"change group N to N", "group-modified", GROUP_CHANGE, "gN", "name"),
    (r"change GID for N to (\d+)", "group-modified", GROUP_CHANGE, "gN", "gid"),
    # gpasswd
    (r"user (\S+) added by (\S+) to group ([^\s,]+)(?:[ ,].*)?", "user-added-to-group",
     GROUP_CHANGE, "tag", None),
    (r"user (\S+) removed by (\S+) from group ([^\s,]+)(?:[ ,].*)?", "user-removed-from-group",
     GROUP_CHANGE, "tag", None),
    (r"add member (\S+) to group (\S+) by (\S+)", "user-added-to-group", GROUP_CHANGE, "tga",
     None),
    (r"remove member (\S+) from group (\S+) by (\S+)", "user-removed-from-group", GROUP_CHANGE,
     "tga", None),
    (r"(members|administrators) of group (\S+) set by (\S+) to (.*)", "group-modified",
     GROUP_CHANGE, "FgaN", None),
    (r"set (administrators|members) of (\S+) to (.*)", "group-modified", GROUP_CHANGE, "FgN",
     None),
    (r"password of group ([^\s,]+) (?:changed|removed) by ([^\s,]+)(?:,.*)?", "group-modified",
     GROUP_CHANGE, "ga", "password"),
    (r"(?:change the password for|remove password from) group (\S+) by (\S+)", "group-modified",
     GROUP_CHANGE, "ga", "password"),
    (r"(?:access to group ([^\s,]+) restricted by ([^\s,]+)(?:,.*)?|restrict access to group "
     r"(\S+) by (\S+))", "group-modified", GROUP_CHANGE, "gaga", "access"),
    # passwd, chage, chsh, chfn
    (r"password for N changed by N", "password-changed", USER_CHANGE, "ta", None),
    (r"changed password expiry for (.+)", "password-expiry-changed", USER_CHANGE, "t", None),
    (r"changed user N shell to N", "user-modified", USER_CHANGE, "tN", "shell"),
    (r"changed user N information", "user-modified", USER_CHANGE, "t", "gecos"),
)  # fmt: skip

_RULES = tuple(
    (re.compile(pattern.replace("N", _N) + r"\Z", re.S), action, types, roles, field)
    for pattern, action, types, roles, field in _TABLE
)


_OUTCOMES = outcomes_of(*((action.rstrip("!"), IAM) for _, action, _, _, _ in _TABLE))


def outcomes(msg: str) -> Outcomes:
    """What :func:`parse` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`)."""
    return pam.outcomes(msg) if msg.startswith("pam_") else _OUTCOMES


def word_outcomes(word: str) -> WordOutcomes:
    """What :func:`parse` may give for any message whose first word is ``word``."""
    return pam.word_outcomes(word) if word.startswith("pam_") else (_OUTCOMES, True)


def _fields(
    m: re.Match[str], roles: str, field: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Event attributes, extra) that the groups of ``m`` fill."""
    attrs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if field is not None:
        extra["keibi.change.field"] = field
    for role, value in zip(roles, m.groups(), strict=True):
        if value is None or role == "-":
            continue
        if role == "S":  # "shadow group": the same change, made in /etc/gshadow
            extra["keibi.iam.database"] = "/etc/gshadow"
            continue
        name = _ROLES[role]
        if role == "F":
            value = value.lower()
        if name in _ATTRS:
            attrs[name] = value
        else:
            extra[name] = value
    if attrs.get("group_name") in PRIVILEGED_GROUPS:
        extra["keibi.group.privileged"] = True
    return attrs, extra


def parse(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The event of one shadow-utils message, or None."""
    if msg.startswith("pam_"):
        return pam.parse(h, line, offset, ctx, msg)
    # userdel and groupdel end some messages with "\n", which rsyslog writes as "#012".
    text = msg[:-4] if msg.endswith("#012") else msg.rstrip("\n")
    for pattern, action, types, roles, field in _RULES:
        m = pattern.match(text)
        if m is None:
            continue
        attrs, extra = _fields(m, roles, field)
        outcome = "success"
        if action.endswith("!"):  # the operation was attempted and failed
            action, outcome = action[:-1], "failure"
        related = users(
            attrs.get("user_name"), attrs.get("user_target_name"), extra.get("user.changes.name")
        )
        return [
            make(h, line, offset, ctx, msg, action, IAM, types, outcome,
                 related_user=related, extra=extra or None, **attrs)
        ]  # fmt: skip
    return None
