"""The generic auth event, and the helpers every auth family shares.

Any line no family understands (unknown program or message, no syslog header, binary
garbage) still becomes one ``log-line`` event here, with whatever the header gave. The
helpers build events the same way in every family, validate addresses cheaply and spot
attacker text that tries to look like log structure.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcome, Outcomes
from keibi.parsers.syslog import Header

DATASET = "keibi.auth"
LOG_INJECTION = "log-injection"
INJECTION_FLAGS: tuple[str, ...] = (LOG_INJECTION,)

#: What a family's parse function returns: its events, or None for "not mine".
Result = list[Event] | None
#: A family's parse function: (header, line, offset, context, message) -> Result. The
#: message is the header's, or the inner one of a ``message repeated`` line.
Handler = Callable[[Header, str, int | None, LineContext, str], Result]

# event.category / event.type values, shared so every event holds the same tuples.
AUTHENTICATION = ("authentication",)
SESSION = ("session",)
NETWORK = ("network",)
PROCESS = ("process",)
HOST = ("host",)
IAM = ("iam",)
START = ("start",)
END = ("end",)
INFO = ("info",)

#: Groups whose members can become root or read secrets (``keibi.group.privileged``).
PRIVILEGED_GROUPS = frozenset(
    {"sudo", "wheel", "adm", "root", "admin", "docker", "lxd", "disk", "shadow"}
)

# A family's ``outcomes(msg)`` gives every (action, dataset, category) its ``parse`` may
# give for that message, and GENERIC (``parse`` giving up), so that a line no rule can use
# need not be parsed (:mod:`keibi.parsers.screen`).
#: the ``log-line`` event of a message no family understands
GENERIC: Outcome = ("log-line", DATASET, ())
ONLY_GENERIC: Outcomes = frozenset({GENERIC})


def outcomes_of(*events: tuple[str, tuple[str, ...]]) -> Outcomes:
    """The outcomes of a message that becomes one of these ``(action, category)`` auth
    events, or the generic one."""
    return frozenset({GENERIC, *((action, DATASET, category) for action, category in events)})

# Attacker text (a user name, a client's message) that reads like the structure of an sshd
# or PAM line: "x from 1.2.3.4 port 22", "x 1.2.3.4 port 22", "ssh2", "[preauth]", "rhost=".
_SUSPECT = re.compile(
    r"\bport \d|\bfrom \S|\bssh2\b|\[preauth\]|\b(?:logname|uid|euid|tty|ruser|rhost|user)="
)
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
_SCOPE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_IP_CACHE: dict[str, bool] = {}
_IP_CACHE_MAX = 65536
_IP_MAX_LEN = 80  # the longest IPv6 text with a scope; longer text is never an address


def _check_ip(text: str) -> bool:
    if _IPV4.fullmatch(text) is not None:
        return True
    if ":" not in text or len(text) > _IP_MAX_LEN or not text.isascii():
        return False
    addr, pct, scope = text.partition("%")
    if pct and _SCOPE.fullmatch(scope) is None:
        return False
    try:
        ipaddress.IPv6Address(addr)
    except ValueError:
        return False
    return True


def is_ip(text: str) -> bool:
    """Whether ``text`` is exactly an IPv4 or IPv6 address (``fe80::1%eth0`` included)."""
    ok = _IP_CACHE.get(text)
    if ok is None:
        ok = _check_ip(text)
        if len(text) <= _IP_MAX_LEN:  # never keep attacker-sized keys
            if len(_IP_CACHE) >= _IP_CACHE_MAX:
                _IP_CACHE.clear()
            _IP_CACHE[text] = ok
    return ok


def injection_flags(*texts: str | None) -> tuple[str, ...] | None:
    """``("log-injection",)`` when attacker-controlled text mimics log structure."""
    for t in texts:
        if t and " " in t and _SUSPECT.search(t) is not None:
            return INJECTION_FLAGS
    return None


def users(*names: str | None) -> tuple[str, ...] | None:
    """``related.user``: the distinct non-empty names, in order."""
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return tuple(out) or None


def event(
    h: Header,
    line: str,
    offset: int | None,
    ctx: LineContext,
    msg: str,
    action: str,
    category: tuple[str, ...],
    type_: tuple[str, ...],
    outcome: str | None,
    *,
    user: str | None = None,
    ip: str | None = None,
    port: int | None = None,
    extra: dict[str, Any] | None = None,
    flags: tuple[str, ...] | None = None,
    reason: str | None = None,
) -> Event:
    """An auth event with the fields most families fill.

    ``ip`` must already be validated; ``user`` also fills ``related.user``.
    """
    return Event(
        timestamp=h[0],
        category=category,
        type=type_,
        action=action,
        outcome=outcome,
        dataset=DATASET,
        reason=reason,
        original=line,
        message=msg,
        host_name=h[1],
        source_ip=ip,
        source_port=port,
        user_name=user,
        process_pid=h[3],
        process_name=h[2],
        log_file_path=ctx.path,
        log_offset=offset,
        related_ip=(ip,) if ip else None,
        related_user=(user,) if user else None,
        flags=flags,
        extra=extra,
    )


def make(
    h: Header,
    line: str,
    offset: int | None,
    ctx: LineContext,
    msg: str,
    action: str,
    category: tuple[str, ...],
    type_: tuple[str, ...],
    outcome: str | None,
    **fields: Any,
) -> Event:
    """Any auth event: ``fields`` are :class:`Event` attributes (slower; for rare lines)."""
    return Event(
        timestamp=h[0],
        category=category,
        type=type_,
        action=action,
        outcome=outcome,
        dataset=DATASET,
        original=line,
        message=msg,
        host_name=h[1],
        process_pid=h[3],
        process_name=h[2],
        log_file_path=ctx.path,
        log_offset=offset,
        **fields,
    )


def source_fields(host: str | None) -> dict[str, Any]:
    """``source.ip`` (and ``related.ip``) for an address, ``source.domain`` for a name."""
    if not host:
        return {}
    if is_ip(host):
        return {"source_ip": host, "related_ip": (host,)}
    return {"source_domain": host}


def generic_event(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Event:
    """The ``log-line`` event of a line with a header that no family understood."""
    return Event(
        timestamp=h[0],
        action="log-line",
        dataset=DATASET,
        original=line,
        message=msg,
        host_name=h[1],
        process_pid=h[3],
        process_name=h[2],
        log_file_path=ctx.path,
        log_offset=offset,
    )


def headerless_event(
    line: str, offset: int | None, ctx: LineContext, flags: tuple[str, ...] | None = None
) -> Event:
    """The ``log-line`` event of a line without a syslog header: the time is the reference
    time (``ctx.ref_time``, to the microsecond like every parsed time), the host the
    configured one."""
    return Event(
        timestamp=round(ctx.ref_time, 6),
        action="log-line",
        dataset=DATASET,
        original=line,
        message=line,
        host_name=ctx.hostname,
        log_file_path=ctx.path,
        log_offset=offset,
        flags=flags,
    )
