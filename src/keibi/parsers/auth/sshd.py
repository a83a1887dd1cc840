"""OpenSSH's sshd (``sshd``, ``sshd-session`` since 9.8, ``sshd-auth`` since 10.0).

Messages are dispatched on their first word, then matched by one pattern each. Every
pattern is anchored where sshd's own text is: a user name (attacker text, up to 100
bytes) sits in the middle of ``Failed password for USER from IP port N ssh2``, so the
address is the one sshd wrote at the END of the line, and a user name that itself reads
``x from 1.2.3.4 port 22`` is kept whole and flagged ``log-injection``. Where attacker
text ends the line (a client's disconnect message, its algorithm offer), the address is
taken from the left, right after sshd's fixed words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from keibi.events.model import Event
from keibi.parsers.auth import pam
from keibi.parsers.auth.generic import (
    AUTHENTICATION,
    DATASET,
    END,
    INFO,
    INJECTION_FLAGS,
    NETWORK,
    ONLY_GENERIC,
    PROCESS,
    START,
    Handler,
    Result,
    event,
    injection_flags,
    is_ip,
    make,
    outcomes_of,
    source_fields,
)
from keibi.parsers.context import LineContext
from keibi.parsers.screen import Outcomes, WordOutcomes
from keibi.parsers.syslog import Header

PROGRAMS = ("sshd", "sshd-session", "sshd-auth")

_PREAUTH = " [preauth]"
_S = re.S

# auth.c auth_log(): "%s %s%s%s for %s%.100s from %.200s port %d ssh2%s%s"
_ATTEMPT = re.compile(
    r"(Failed|Accepted|Partial) (\S+) for (?:(invalid|illegal) user )?(.*) "
    r"from (\S+) port (\d{1,5}) ssh2(?:: (.*))?\Z",
    _S,
)
# auth.c getpwnamallow(): "Invalid user %.100s from %.100s port %d"
_INVALID = re.compile(r"(?:Invalid|Illegal) user (.*) from (\S+?)(?: port (\d{1,5}))?\Z", _S)
# packet.c: "Connection closed by|reset by|Disconnected from" + remote id:
# "[authenticating |invalid ]user USER IP port N" or "IP port N"
_REMOTE_ID = re.compile(r"(?:(?:(authenticating|invalid) )?user (.*) )?(\S+) port (\d{1,5})\Z", _S)
# "Disconnecting <remote id>: reason" (the reason may quote user names: not anchored there)
_DISCONNECTING = re.compile(
    r"Disconnecting (?:(?:(authenticating|invalid) )?user (.*?) )?(\S+) port (\d{1,5}): (.*)\Z",
    _S,
)
# "Received disconnect from IP port N:CODE: client text"
_RECEIVED_DISCONNECT = re.compile(
    r"Received disconnect from (\S+) port (\d{1,5}):(\d{1,10}): ?(.*)\Z", _S
)
_MAX_AUTH = re.compile(
    r"maximum authentication attempts exceeded for (?:(invalid|illegal) user )?(.*) "
    r"from (\S+) port (\d{1,5}) ssh2\Z",
    _S,
)
_NO_IDENT = re.compile(r"Did not receive identification string from (\S+?)(?: port (\d{1,5}))?\Z")
_CONN_FROM = re.compile(
    r"Connection from (?:(?:authenticating |invalid )?user (.*?) )?(\S+) port (\d{1,5}): (.*)\Z",
    _S,
)
_BAD_VERSION = re.compile(
    r"Bad protocol version identification (.*) from (\S+?)(?: port (\d{1,5}))?\Z", _S
)
_NEGOTIATE = re.compile(
    r"Unable to negotiate with (?:(?:authenticating |invalid )?user (.*?) )?(\S+) "
    r"port (\d{1,5}): (.*)\Z",
    _S,
)
_LISTENING = re.compile(r"Server listening on (\S+) port (\d{1,5})\.?\Z")
_SIGNAL = re.compile(r"Received signal (\d{1,4}); terminating\.?\Z")
_TIMEOUT = re.compile(r"Timeout before authentication for (\S+?)(?: port (\d{1,5}))?\Z")
_PAM_KBD = re.compile(
    r"PAM: Authentication failure for (?:(illegal|invalid) user )?(.*) from (\S+)\Z", _S
)


def _ip(text: str) -> str | None:
    return text if is_ip(text) else None


def _strip_preauth(msg: str) -> str:
    return msg[:-10] if msg.endswith(_PREAUTH) else msg


def _invalid_extra(state: str | None) -> dict[str, Any] | None:
    return {"keibi.ssh.invalid_user": True} if state in ("invalid", "illegal") else None


#: what an attempt message gives its event: outcome, user, ip, port, related.ip,
#: related.user, flags, extra (copied for each event)
_Attempt = tuple[str, str, str | None, int, tuple[str, ...] | None, tuple[str, ...] | None,
                 tuple[str, ...] | None, dict[str, Any]]
#: recent attempt messages -> what they give (None: not an attempt). A connection's
#: attempts (up to sshd's MaxAuthTries) repeat one message: "Failed password for root
#: from 10.0.0.5 port 4242 ssh2". Bounded, and only for messages of sshd's own size.
_SEEN_ATTEMPTS: dict[str, _Attempt | None] = {}
_SEEN_MAX = 1024
_SEEN_TEXT_MAX = 512


def _attempt(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    seen = _SEEN_ATTEMPTS
    found = seen.get(msg)
    if found is None and msg not in seen:
        found = _read_attempt(msg[:-10] if msg.endswith(_PREAUTH) else msg)
        if len(msg) <= _SEEN_TEXT_MAX:
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[msg] = found
    if found is None:
        return None
    outcome, user, ip, port, related_ip, related_user, flags, extra = found
    # The hottest event of an auth log: built here rather than through event().
    return [
        Event(
            timestamp=h[0],
            category=AUTHENTICATION,
            type=START,
            action="ssh-login",
            outcome=outcome,
            dataset=DATASET,
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
            related_ip=related_ip,
            related_user=related_user,
            flags=flags,
            extra=dict(extra),
        )
    ]


def _read_attempt(text: str) -> _Attempt | None:
    """What the message ``text`` (without `` [preauth]``) gives its event, or None."""
    m = _ATTEMPT.match(text)
    if m is None:
        return None
    verb, method, invalid, user, host, port, info = m.groups()
    extra: dict[str, Any] = {"keibi.ssh.method": method}
    if "/" in method:  # keyboard-interactive/pam
        extra["keibi.ssh.method"], extra["keibi.ssh.submethod"] = method.split("/", 1)
    if invalid:
        extra["keibi.ssh.invalid_user"] = True
    flags = None
    if info:
        parts = info.split(" ", 2)
        if len(parts) >= 2 and ":" in parts[1] and parts[0].replace("-", "").isalnum():
            extra["keibi.ssh.key_type"] = parts[0]
            extra["keibi.ssh.key_fingerprint"] = parts[1]
        else:
            extra["keibi.ssh.auth_info"] = info
        flags = injection_flags(info)
    if " " in user:
        flags = injection_flags(user) or flags
    if verb == "Accepted":
        outcome = "success"
    elif verb == "Failed":
        outcome = "failure"
    else:  # Partial: this method passed, another one is still required
        outcome = "unknown"
        extra["keibi.ssh.partial"] = True
    ip = host if is_ip(host) else None
    return (outcome, user, ip, int(port), (ip,) if ip else None, (user,) if user else None,
            flags, extra)


def _invalid(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _INVALID.match(msg)
    if m is None:
        return None
    user, host, port = m.groups()
    ip = host if is_ip(host) else None
    # One of the three lines of every brute-force attempt: built here, not via event().
    return [
        Event(
            timestamp=h[0],
            category=AUTHENTICATION,
            type=INFO,
            action="ssh-invalid-user",
            outcome="failure",
            dataset=DATASET,
            original=line,
            message=msg,
            host_name=h[1],
            source_ip=ip,
            source_port=int(port) if port else None,
            user_name=user,
            process_pid=h[3],
            process_name=h[2],
            log_file_path=ctx.path,
            log_offset=offset,
            related_ip=(ip,) if ip else None,
            related_user=(user,) if user else None,
            flags=injection_flags(user) if " " in user else None,
            extra={"keibi.ssh.invalid_user": True},
        )
    ]


def _remote(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str,
    rest: str, action: str, reason: str | None,
) -> Result:  # fmt: skip
    """``<action> [authenticating |invalid ]user USER IP port N``: the peer ends the line."""
    m = _REMOTE_ID.match(rest[:-10] if rest.endswith(_PREAUTH) else rest)
    if m is None:
        return None
    state, user, host, port = m.groups()
    ip = host if is_ip(host) else None
    return [
        Event(
            timestamp=h[0],
            category=NETWORK,
            type=END,
            action=action,
            dataset=DATASET,
            reason=reason,
            original=line,
            message=msg,
            host_name=h[1],
            source_ip=ip,
            source_port=int(port),
            user_name=user,
            process_pid=h[3],
            process_name=h[2],
            log_file_path=ctx.path,
            log_offset=offset,
            related_ip=(ip,) if ip else None,
            related_user=(user,) if user else None,
            flags=injection_flags(user) if user and " " in user else None,
            extra=_invalid_extra(state) if state else None,
        )
    ]


def _connection(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    if msg.startswith("Connection closed by "):
        return _remote(h, line, offset, ctx, msg, msg[21:], "ssh-connection-closed", None)
    if msg.startswith("Connection reset by "):
        reason = "connection reset"
        return _remote(h, line, offset, ctx, msg, msg[20:], "ssh-connection-closed", reason)
    if msg.startswith("Connection from "):  # packet.c sshpkt_fatal(): "...port N: <error>"
        return _conn_error(h, line, offset, ctx, msg, msg)
    return None


def _disconnected(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    if msg.startswith("Disconnected from "):
        return _remote(h, line, offset, ctx, msg, msg[18:], "ssh-disconnected", None)
    return None


def _disconnecting(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    text = _strip_preauth(msg)
    m = _DISCONNECTING.match(text)
    if m is None:
        return None
    state, user, host, port, reason = m.groups()
    ev = event(
        h, line, offset, ctx, msg, "ssh-disconnected", NETWORK, END, None,
        user=user, ip=_ip(host), port=int(port), extra=_invalid_extra(state),
        flags=INJECTION_FLAGS if text.count(" port ") > 1 else None, reason=reason,
    )  # fmt: skip
    return [ev]


def _received(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    if msg.startswith("Received disconnect from "):
        # The client's own text ends the line: the peer is read from the left.
        m = _RECEIVED_DISCONNECT.match(msg[:-10] if msg.endswith(_PREAUTH) else msg)
        if m is None:
            return None
        host, port, code, reason = m.groups()
        ip = host if is_ip(host) else None
        return [
            Event(
                timestamp=h[0],
                category=NETWORK,
                type=END,
                action="ssh-disconnected",
                dataset=DATASET,
                reason=reason or None,
                original=line,
                message=msg,
                host_name=h[1],
                source_ip=ip,
                source_port=int(port),
                process_pid=h[3],
                process_name=h[2],
                log_file_path=ctx.path,
                log_offset=offset,
                related_ip=(ip,) if ip else None,
                flags=INJECTION_FLAGS if " port " in reason else None,
                extra={"keibi.ssh.disconnect_code": int(code)},
            )
        ]
    m = _SIGNAL.match(msg)
    if m is not None:
        extra = {"keibi.signal": int(m[1])}
        return [make(h, line, offset, ctx, msg, "ssh-terminated", PROCESS, END, None, extra=extra)]
    return None


def _max_auth(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _MAX_AUTH.match(_strip_preauth(msg))
    if m is None:
        return None
    invalid, user, host, port = m.groups()
    ev = event(
        h, line, offset, ctx, msg, "ssh-max-auth-exceeded", AUTHENTICATION, INFO, "failure",
        user=user, ip=_ip(host), port=int(port), extra=_invalid_extra(invalid),
        flags=injection_flags(user),
    )  # fmt: skip
    return [ev]


def _no_ident(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _NO_IDENT.match(msg)
    if m is None:
        return None
    host, port = m.groups()
    ev = event(
        h, line, offset, ctx, msg, "ssh-no-identification", NETWORK, INFO, "failure",
        ip=_ip(host), port=int(port) if port else None,
    )  # fmt: skip
    return [ev]


def _protocol(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str,
    host: str | None, port: str | None, reason: str | None, user: str | None = None,
) -> Result:  # fmt: skip
    ev = event(
        h, line, offset, ctx, msg, "ssh-protocol-error", NETWORK, INFO, "failure",
        user=user, ip=_ip(host) if host else None, port=int(port) if port else None,
        reason=reason or None,
    )  # fmt: skip
    return [ev]


def _conn_error(
    h: Header, line: str, offset: int | None, ctx: LineContext, msg: str, text: str
) -> Result:
    """``Connection from [user X ]IP port N: <error>`` (the error is sshd's own text)."""
    m = _CONN_FROM.match(_strip_preauth(text))
    if m is None:
        return None
    user, host, port, reason = m.groups()
    return _protocol(h, line, offset, ctx, msg, host, port, reason, user)


def _banner(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    if msg.startswith("banner exchange: "):
        return _conn_error(h, line, offset, ctx, msg, msg[17:])
    return None


def _kex(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    # "kex_exchange_identification: Connection closed by remote host", "kex_protocol_error:
    # type 20 seq 2": no address on the line (the next line names the peer).
    colon = msg.find(": ")
    reason = _strip_preauth(msg[colon + 2 :]) if colon > 0 else None
    return _protocol(h, line, offset, ctx, msg, None, None, reason)


def _dispatch_fatal(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    # "ssh_dispatch_run_fatal: Connection from IP port N: message authentication code incorrect"
    return _conn_error(h, line, offset, ctx, msg, msg[msg.find(": ") + 2 :])


def _bad_version(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _BAD_VERSION.match(msg)
    if m is None:
        return None
    _ident, host, port = m.groups()
    reason = "bad protocol version identification"
    return _protocol(h, line, offset, ctx, msg, host, port, reason)


def _negotiate(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _NEGOTIATE.match(_strip_preauth(msg))
    if m is None:
        return None
    user, host, port, reason = m.groups()
    ev = event(
        h, line, offset, ctx, msg, "ssh-negotiation-failed", NETWORK, INFO, "failure",
        user=user, ip=_ip(host), port=int(port), reason=reason,
    )  # fmt: skip
    return [ev]


def _server(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _LISTENING.match(msg)
    if m is None:
        return None
    extra = {"server.ip": m[1], "server.port": int(m[2])}
    return [make(h, line, offset, ctx, msg, "ssh-listening", NETWORK, START, None, extra=extra)]


def _timeout(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    m = _TIMEOUT.match(msg)
    if m is None:
        return None
    host, port = m.groups()
    ev = event(
        h, line, offset, ctx, msg, "ssh-connection-closed", NETWORK, END, None,
        ip=_ip(host), port=int(port) if port else None, reason="timeout before authentication",
    )  # fmt: skip
    return [ev]


def _pam_word(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    if not msg.startswith("PAM: "):
        return pam.parse_more(h, line, offset, ctx, msg)  # "PAM N more authentication failures"
    # auth-pam.c (keyboard-interactive): "PAM: Authentication failure for [illegal user ]X
    # from HOST", HOST a name when sshd resolves peers (UseDNS).
    m = _PAM_KBD.match(msg)
    if m is None:
        return None
    invalid, user, host = m.groups()
    extra: dict[str, Any] = {"keibi.pam.service": "sshd"}
    if invalid:
        extra["keibi.ssh.invalid_user"] = True
    ev = make(
        h, line, offset, ctx, msg, "pam-auth-failure", AUTHENTICATION, INFO, "failure",
        user_name=user, related_user=(user,) if user else None, flags=injection_flags(user),
        extra=extra, **source_fields(host),
    )  # fmt: skip
    return [ev]


def _level(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """``error: ...`` / ``fatal: ...``: the same messages at another log level (the event
    keeps the whole message; one prefix only, never recursively)."""
    text = msg[msg.find(" ") + 1 :]
    sp = text.find(" ")
    fn = _WORDS.get(text[:sp] if sp > 0 else text)
    if fn is None or fn is _level:
        return None
    events = fn(h, line, offset, ctx, text)
    if events is None:
        return None
    return [msgspec.structs.replace(e, message=msg) for e in events]


_WORDS: dict[str, Handler] = {
    "Failed": _attempt,
    "Accepted": _attempt,
    "Partial": _attempt,
    "Invalid": _invalid,
    "Illegal": _invalid,
    "Connection": _connection,
    "Disconnected": _disconnected,
    "Disconnecting": _disconnecting,
    "Received": _received,
    "maximum": _max_auth,
    "Did": _no_ident,
    "banner": _banner,
    "kex_exchange_identification:": _kex,
    "kex_protocol_error:": _kex,
    "ssh_dispatch_run_fatal:": _dispatch_fatal,
    "Bad": _bad_version,
    "Unable": _negotiate,
    "Server": _server,
    "Timeout": _timeout,
    "PAM": _pam_word,
    "PAM:": _pam_word,
    "error:": _level,
    "fatal:": _level,
}


_PROTOCOL_ERROR = ("ssh-protocol-error", NETWORK)
_DISCONNECTED = outcomes_of(("ssh-disconnected", NETWORK))
_TERMINATED = outcomes_of(("ssh-terminated", PROCESS))
#: what each handler of :data:`_WORDS` may give (a function of the message where that
#: depends on more than its first word); :func:`_level` is answered in :func:`outcomes`
_OUTCOMES: dict[Handler, Outcomes | Callable[[str], Outcomes]] = {
    _attempt: outcomes_of(("ssh-login", AUTHENTICATION)),
    _invalid: outcomes_of(("ssh-invalid-user", AUTHENTICATION)),
    _connection: outcomes_of(("ssh-connection-closed", NETWORK), _PROTOCOL_ERROR),
    _disconnected: _DISCONNECTED,
    _disconnecting: _DISCONNECTED,
    _received: lambda msg: (
        _DISCONNECTED if msg.startswith("Received disconnect from ") else _TERMINATED
    ),
    _max_auth: outcomes_of(("ssh-max-auth-exceeded", AUTHENTICATION)),
    _no_ident: outcomes_of(("ssh-no-identification", NETWORK)),
    _banner: outcomes_of(_PROTOCOL_ERROR),
    _kex: outcomes_of(_PROTOCOL_ERROR),
    _dispatch_fatal: outcomes_of(_PROTOCOL_ERROR),
    _bad_version: outcomes_of(_PROTOCOL_ERROR),
    _negotiate: outcomes_of(("ssh-negotiation-failed", NETWORK)),
    _server: outcomes_of(("ssh-listening", NETWORK)),
    _timeout: outcomes_of(("ssh-connection-closed", NETWORK)),
    _pam_word: pam.MORE_OUTCOMES | outcomes_of(("pam-auth-failure", AUTHENTICATION)),
}
assert set(_OUTCOMES) == set(_WORDS.values()) - {_level}, "an sshd handler without outcomes"


def _word_outcomes(fn: Handler, msg: str) -> Outcomes:
    found = _OUTCOMES[fn]
    return found if isinstance(found, frozenset) else found(msg)


#: first word -> what parse may give, where the word alone tells
_WORD_OUTCOMES: dict[str, Outcomes] = {
    word: found for word, fn in _WORDS.items()
    if type(found := _OUTCOMES.get(fn)) is frozenset
}


#: first word -> what parse may give for any message starting with it, exactly where the
#: word alone tells (the union where the rest decides); none for ``error:``/``fatal:``
_WORD_BOUNDS: dict[str, WordOutcomes] = {
    word: (found, True) if isinstance(found := _OUTCOMES[fn], frozenset)
    else (_DISCONNECTED | _TERMINATED, False)  # _received, the one handler that reads on
    for word, fn in _WORDS.items() if fn is not _level
}
assert [fn for fn, found in _OUTCOMES.items() if not isinstance(found, frozenset)] == [
    _received], "an sshd handler whose outcomes have no bound by its word"


def word_outcomes(word: str) -> WordOutcomes | None:
    """What :func:`parse` may give for any message whose first word (up to its first
    space, or all of it) is ``word`` (:data:`~keibi.parsers.screen.WordOutcomes`); None
    when the word alone does not bound it (``error:`` and ``fatal:`` messages, a message
    that starts with a space)."""
    found = _WORD_BOUNDS.get(word)
    if found is not None:
        return found
    if not word or word in _WORDS:
        return None
    return pam.word_outcomes(word) if word.startswith("pam_") else (ONLY_GENERIC, True)


def outcomes(msg: str) -> Outcomes:
    """What :func:`parse` may give for ``msg`` (see :data:`~keibi.parsers.screen.Outcome`):
    the same dispatch, without the patterns."""
    sp = msg.find(" ")
    word = msg[:sp] if sp > 0 else msg
    found = _WORD_OUTCOMES.get(word)
    if found is not None:
        return found
    fn = _WORDS.get(word)
    if fn is None:
        return pam.outcomes(msg) if msg.startswith("pam_") else ONLY_GENERIC
    if fn is not _level:
        return _word_outcomes(fn, msg)
    text = msg[msg.find(" ") + 1 :]  # as _level reads it
    sp = text.find(" ")
    inner = _WORDS.get(text[:sp] if sp > 0 else text)
    if inner is None or inner is _level:
        return ONLY_GENERIC
    return _word_outcomes(inner, text)


def parse(h: Header, line: str, offset: int | None, ctx: LineContext, msg: str) -> Result:
    """The events of one sshd message, or None when it is not one this module knows."""
    sp = msg.find(" ")
    fn = _WORDS.get(msg[:sp] if sp > 0 else msg)
    if fn is not None:
        return fn(h, line, offset, ctx, msg)
    if msg.startswith("pam_"):
        return pam.parse(h, line, offset, ctx, msg)
    return None
