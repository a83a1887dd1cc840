"""cron, crontab and anacron records, in syslog, journald text or ``/var/log/cron``.

Debian's cron and cronie both log ``(<user>) <EVENT> (<detail>)``::

    CRON[1234]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)
    crond[812]: (CRON) STARTUP (1.5.7)
    cron[611]: (root) RELOAD (crontabs/root)
    crontab[999]: (alice) REPLACE (alice)
    CRON[1234]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
    anacron[700]: Job `cron.daily' started
    run-parts(/etc/cron.hourly)[1240]: starting 0anacron

A ``CMD`` is a process start (``cron-command``) whose parent is the cron child that
logged it (``process.parent.pid``, ``process.parent.name`` ``cron`` or ``crond``); a
crontab edit is a configuration change where ``user.name`` is who ran crontab and
``user.target.name`` whose table it was. Debian's relative ``crontabs/<user>`` is
reported under its spool, ``/var/spool/cron/crontabs/<user>``.

The syslog dispatcher routes :data:`PROGRAMS` here; ``run-parts(<dir>)`` carries its
directory in the program name, so match that one by the part before ``(``.
"""

from __future__ import annotations

import re

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.syslog import Header, split_header
from keibi.parsers.syslog_generic import log_line_event, no_header_event

__all__ = ["DATASET", "PROGRAMS", "parse_cron_line", "parse_cron_message"]

DATASET = "keibi.cron"
PROGRAMS: frozenset[str] = frozenset(
    {"cron", "CRON", "crond", "CROND", "crontab", "anacron", "run-parts"}
)
DEBIAN_SPOOL = "/var/spool/cron/"

_DAEMONS = {"cron": "cron", "CRON": "cron", "crond": "crond", "CROND": "crond"}
_MESSAGE = re.compile(r"\(([^()]{0,256})\) ([A-Za-z][A-Za-z' >1]{0,40}?) \((.*)\)(.*)", re.S)
_PAM = re.compile(
    r"pam_unix\((\w{1,32}):session\): session (opened|closed) for user ([^\s()]{1,256})"
    r"(?:\(uid=(\d{1,10})\))?"
)
_JOB = re.compile(r"Job [`'](.{1,256}?)' (started|terminated)")

_PROCESS = ("process",)
_CONFIG = ("configuration",)
_SESSION = ("session",)
_START = ("start",)
_END = ("end",)
_INFO = ("info",)
_CHANGE = ("change",)
_ACCESS = ("access",)
_DELETION = ("deletion",)

# crontab's own events -> (event.type, event.action)
_CRONTAB: dict[str, tuple[tuple[str, ...], str]] = {
    "REPLACE": (_CHANGE, "crontab-replaced"),
    "BEGIN EDIT": (_CHANGE, "crontab-edit-started"),
    "END EDIT": (_CHANGE, "crontab-edit-finished"),
    "DELETE": (_DELETION, "crontab-deleted"),
    "LIST": (_ACCESS, "crontab-listed"),
}
_ERRORS = frozenset(
    {
        "ERROR", "error", "FAILED", "WRONG FILE OWNER", "WRONG INODE INFO", "INSECURE MODE",
        "BAD FILE MODE", "ORPHAN", "NUMBER OF HARD LINKS > 1", "CAN'T OPEN", "bad",
    }
)


def _is_user(name: str) -> bool:
    return bool(name) and name != "CRON" and not name.startswith("*system*")


def _table(
    user: str, event: str, detail: str, h: Header, line: str, offset: int | None,
    ctx: LineContext,
) -> Event:
    """``(user) EVENT (detail)`` -> its event."""
    actor = user if _is_user(user) else None
    if event in ("CMD", "CMDEND"):
        daemon = _DAEMONS.get(h.program or "", h.program)
        start = event == "CMD"
        return Event(
            timestamp=h.timestamp, category=_PROCESS, type=_START if start else _END,
            action="cron-command" if start else "cron-command-ended", dataset=DATASET,
            original=line, message=h.message, host_name=h.host or None, user_name=actor,
            process_command_line=detail.strip(), process_parent_pid=h.pid,
            process_parent_name=daemon, log_file_path=ctx.path, log_offset=offset,
            related_user=(actor,) if actor else None,
        )
    if event == "CMDOUT":
        return Event(
            timestamp=h.timestamp, category=_PROCESS, type=_INFO,
            action="cron-command-output", dataset=DATASET, original=line, message=h.message,
            host_name=h.host or None, user_name=actor, process_parent_pid=h.pid,
            process_parent_name=_DAEMONS.get(h.program or "", h.program),
            log_file_path=ctx.path, log_offset=offset,
            related_user=(actor,) if actor else None,
        )
    crontab = _CRONTAB.get(event)
    if crontab is not None:
        types, action = crontab
        target = detail.strip()
        target = target if _is_user(target) and " " not in target else ""
        related = tuple(dict.fromkeys(u for u in (actor, target) if u)) or None
        return Event(
            timestamp=h.timestamp, category=_CONFIG, type=types, action=action,
            dataset=DATASET, original=line, message=h.message, host_name=h.host or None,
            user_name=actor, user_target_name=target or None, process_pid=h.pid,
            process_name=h.program, log_file_path=ctx.path, log_offset=offset,
            related_user=related,
        )
    if event == "AUTH":
        return Event(
            timestamp=h.timestamp, category=_CONFIG, type=_ACCESS, action="crontab-denied",
            outcome="failure", dataset=DATASET, original=line, message=h.message,
            host_name=h.host or None, user_name=actor, process_pid=h.pid,
            process_name=h.program, log_file_path=ctx.path, log_offset=offset,
            related_user=(actor,) if actor else None,
        )
    if event == "RELOAD":
        path = detail.strip()
        if path.startswith("crontabs/"):
            path = DEBIAN_SPOOL + path
        return Event(
            timestamp=h.timestamp, category=_CONFIG, type=_CHANGE, action="crontab-reloaded",
            dataset=DATASET, original=line, message=h.message, host_name=h.host or None,
            user_name=actor, process_pid=h.pid, process_name=h.program,
            file_path=path or None, log_file_path=ctx.path, log_offset=offset,
            related_user=(actor,) if actor else None,
        )
    if event == "STARTUP":
        return Event(
            timestamp=h.timestamp, category=_PROCESS, type=_START, action="cron-started",
            dataset=DATASET, original=line, message=h.message, host_name=h.host or None,
            process_pid=h.pid, process_name=h.program, log_file_path=ctx.path,
            log_offset=offset,
        )
    failed = event in _ERRORS
    return Event(
        timestamp=h.timestamp, category=_PROCESS, type=_INFO,
        action="cron-error" if failed else "cron-info",
        outcome="failure" if failed else None, dataset=DATASET, original=line,
        message=h.message, host_name=h.host or None, user_name=actor, process_pid=h.pid,
        process_name=h.program, log_file_path=ctx.path, log_offset=offset,
        related_user=(actor,) if actor else None, extra={"keibi.cron.event": event},
    )


def _other(h: Header, line: str, offset: int | None, ctx: LineContext, base: str) -> Event:
    """pam_unix sessions, anacron and run-parts."""
    msg = h.message
    if msg.startswith("pam_unix("):
        m = _PAM.match(msg)
        if m is not None and "cron" in m.group(1):
            opened = m.group(2) == "opened"
            user = m.group(3)
            return Event(
                timestamp=h.timestamp, category=_SESSION, type=_START if opened else _END,
                action="cron-session-opened" if opened else "cron-session-closed",
                outcome="success", dataset=DATASET, original=line, message=msg,
                host_name=h.host or None, user_name=user, user_id=m.group(4),
                process_pid=h.pid, process_name=h.program, log_file_path=ctx.path,
                log_offset=offset, related_user=(user,),
            )
    elif base == "anacron":
        m = _JOB.match(msg)
        if m is not None:
            started = m.group(2) == "started"
            return Event(
                timestamp=h.timestamp, category=_PROCESS, type=_START if started else _END,
                action="cron-job-started" if started else "cron-job-finished",
                dataset=DATASET, original=line, message=msg, host_name=h.host or None,
                process_parent_pid=h.pid, process_parent_name="anacron",
                log_file_path=ctx.path, log_offset=offset,
                extra={"keibi.cron.job": m.group(1)},
            )
        if msg.startswith("Anacron ") and " started" in msg:
            return Event(
                timestamp=h.timestamp, category=_PROCESS, type=_START, action="cron-started",
                dataset=DATASET, original=line, message=msg, host_name=h.host or None,
                process_pid=h.pid, process_name="anacron", log_file_path=ctx.path,
                log_offset=offset,
            )
        return Event(
            timestamp=h.timestamp, category=_PROCESS, type=_INFO, action="cron-info",
            dataset=DATASET, original=line, message=msg, host_name=h.host or None,
            process_pid=h.pid, process_name="anacron", log_file_path=ctx.path,
            log_offset=offset,
        )
    elif base == "run-parts":
        # "run-parts(/etc/cron.hourly)[9]: starting x" (older)
        # "run-parts[9]: (/etc/cron.hourly) starting x" (newer)
        program = h.program or ""
        directory = program[program.find("(") + 1 : -1] if program.endswith(")") else ""
        body = msg
        if msg[:1] == "(" and ") " in msg:
            directory, _, body = msg[1:].partition(") ")
        verb, _, script = body.partition(" ")
        if verb in ("starting", "finished") and script and " " not in script:
            started = verb == "starting"
            job = f"{directory.rstrip('/')}/{script}" if directory else script
            return Event(
                timestamp=h.timestamp, category=_PROCESS, type=_START if started else _END,
                action="cron-job-started" if started else "cron-job-finished",
                dataset=DATASET, original=line, message=msg, host_name=h.host or None,
                process_parent_pid=h.pid, process_parent_name="run-parts",
                log_file_path=ctx.path, log_offset=offset, extra={"keibi.cron.job": job},
            )
    return log_line_event(h, line, offset, ctx, DATASET)


def parse_cron_message(
    header: Header, line: str, offset: int | None, ctx: LineContext
) -> list[Event] | None:
    """The events of one syslog record of a cron program; None if not a cron program.

    ``line`` is the whole record (``event.original``), ``header`` its
    :func:`~keibi.parsers.syslog.split_header`.
    """
    program = header.program
    if program is None:
        return None
    base = program.split("(", 1)[0] if "(" in program else program
    if base not in PROGRAMS:
        return None
    try:
        msg = header.message
        if msg[:1] == "(" and base != "run-parts":
            m = _MESSAGE.match(msg)
            if m is not None:
                user, event, detail, _ = m.groups()
                return [_table(user, event, detail, header, line, offset, ctx)]
            return [log_line_event(header, line, offset, ctx, DATASET)]
        return [_other(header, line, offset, ctx, base)]
    except Exception:  # never raise on input; the flag makes the bug visible
        return [
            log_line_event(header, line, offset, ctx, DATASET, flags=("malformed", "parse-error"))
        ]


def parse_cron_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one line of a cron-only file such as RHEL's ``/var/log/cron``.

    Records of other programs become ``log-line`` events of dataset ``keibi.cron``;
    a line without a syslog header one flagged ``malformed``; an empty line none.
    """
    text = line.rstrip("\r\n")
    if not text.strip():
        return []
    try:
        header = split_header(text, ctx)
    except Exception:
        header = None
    if header is None:
        return [no_header_event(line, offset, ctx, DATASET)]
    events = parse_cron_message(header, line, offset, ctx)
    if events is None:
        return [log_line_event(header, line, offset, ctx, DATASET)]
    return events
