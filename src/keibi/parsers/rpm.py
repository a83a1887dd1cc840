"""The logs of the rpm package managers: yum, dnf and zypper.

::

    Nov 20 10:01:02 Installed: 1:foo-1.2-3.el7.x86_64                       yum.log
    2026-11-20T10:01:02+0000 SUBDEBUG Upgrade: foo-1.2-4.fc39.x86_64          dnf.rpm.log
    2026-11-20T10:01:02+0000 DDEBUG Command: dnf install foo                  dnf.log
    2026-11-20 10:01:02|install|foo|1.2-3|x86_64|root@host|repo-oss|sha256|   zypp/history

yum.log has neither year nor zone (the year is inferred as for classic syslog, see
:mod:`keibi.parsers.context`); zypper writes local time; dnf writes an explicit offset.
Package strings are rpm NEVRAs: ``[epoch:]name-[epoch:]version-release[.arch]`` where the
name may hold dashes (:func:`split_nevra`). ``package.version`` is ``[epoch:]version-release``.

dnf logs an upgrade as two records, ``Upgrade:`` (the new package, ``package-upgraded``)
and ``Upgraded:`` (the old one, ``package-status`` with ``keibi.package.status``
``upgraded``); downgrades and reinstalls likewise.
"""

from __future__ import annotations

import re
from datetime import datetime

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.dpkg import PARSE_ERROR, unparsed_event, wall_time

__all__ = [
    "DNF_DATASET",
    "YUM_DATASET",
    "ZYPPER_DATASET",
    "parse_dnf_line",
    "parse_rpm_line",
    "parse_yum_line",
    "parse_zypper_line",
    "split_nevra",
]

YUM_DATASET = "keibi.yum"
DNF_DATASET = "keibi.dnf"
ZYPPER_DATASET = "keibi.zypper"

ARCHES = frozenset(
    {
        "noarch", "x86_64", "i386", "i486", "i586", "i686", "athlon", "amd64", "aarch64",
        "arm64", "armv6hl", "armv7hl", "armv7hnl", "armv7l", "armhfp", "ppc", "ppc64",
        "ppc64le", "ppc64p7", "s390", "s390x", "riscv64", "loongarch64", "ia64", "alpha",
        "sparc64", "sparcv9", "mips", "mipsel", "mips64", "mips64el", "src", "nosrc",
    }
)

_PACKAGE = ("package",)
_INFO = ("info",)
_CHANGE = ("change",)
_INSTALL = ("installation",)
_DELETE = ("deletion",)
_START = ("start",)
_CONFIG = ("configuration",)

# "<Action>: <nevra>" as yum and dnf write it -> (event.type, event.action, status)
_ACTIONS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "Installed": (_INSTALL, "package-installed", None),
    "Updated": (_CHANGE, "package-upgraded", None),
    "Upgrade": (_CHANGE, "package-upgraded", None),
    "Upgraded": (_INFO, "package-status", "upgraded"),
    "Downgrade": (_CHANGE, "package-downgraded", None),
    "Downgraded": (_INFO, "package-status", "downgraded"),
    "Reinstall": (_CHANGE, "package-reinstalled", None),
    "Reinstalled": (_INFO, "package-status", "reinstalled"),
    "Erase": (_DELETE, "package-removed", None),
    "Erased": (_DELETE, "package-removed", None),
    "Obsolete": (_INSTALL, "package-installed", None),
    "Obsoleted": (_DELETE, "package-removed", None),
    "Cleanup": (_INFO, "package-status", "cleanup"),
    "Verified": (_INFO, "package-status", "verified"),
}
_DNF_LEVELS = frozenset(
    {"TRACE", "DDEBUG", "SUBDEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
)
_EPOCH = re.compile(r"\d{1,10}")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CACHE_MAX = 4096
_CLASSIC_TAG = "\x02"  # keeps these keys apart from others in ctx.time_cache


def _classic_time(ctx: LineContext, stamp: str) -> float | None:
    """``Nov 20 10:01:02`` (no year, no zone) as epoch seconds; the year is inferred as
    for classic syslog (never after ``ctx.ref_time``), the zone is ``ctx.zone``."""
    if len(stamp) != 15 or stamp[3] != " " or stamp[6] != " " or stamp[9] != ":":
        return None
    if stamp[12] != ":":
        return None
    mi_s, s_s = stamp[10:12], stamp[13:15]
    if not (mi_s.isdigit() and s_s.isdigit() and mi_s.isascii() and s_s.isascii()):
        return None
    minute, second = int(mi_s), int(s_s)
    if minute > 59 or second > 60:
        return None
    key = _CLASSIC_TAG + stamp[:9]
    cache = ctx.time_cache
    base = cache.get(key)
    if base is None:
        month = _MONTHS.get(stamp[:3])
        day_s, hour_s = stamp[4:6].lstrip(" "), stamp[7:9]
        if month is None or not (day_s.isdigit() and day_s.isascii()):
            return None
        if not (hour_s.isdigit() and hour_s.isascii()):
            return None
        year = ctx.ref_year - 1 if month > ctx.ref_month else ctx.ref_year
        try:
            base = datetime(year, month, int(day_s), int(hour_s), tzinfo=ctx.zone).timestamp()
        except ValueError:
            return None
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = base
    return base + minute * 60 + second


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def split_nevra(text: str) -> tuple[str, str | None, str | None]:
    """``(name, [epoch:]version-release, arch)`` of an rpm package string.

    Takes ``foo-1.2-3.el9.x86_64``, ``1:foo-1.2-3.el9.x86_64`` (yum), ``foo-1:1.2-3.x86_64``
    (dnf) and a bare name (``foo``, ``perl-Net-SSLeay``: no version then).
    """
    body = text.strip()
    arch = None
    dot = body.rfind(".")
    if dot > 0 and body[dot + 1 :] in ARCHES:
        arch, body = body[dot + 1 :], body[:dot]
    epoch = None
    colon = body.find(":")
    if colon > 0 and _EPOCH.fullmatch(body[:colon]):  # yum's E:N-V-R
        epoch, body = body[:colon], body[colon + 1 :]
    rel_at = body.rfind("-")
    ver_at = body.rfind("-", 0, rel_at) if rel_at > 0 else -1
    if ver_at <= 0:
        return body, None, arch
    name, version, release = body[:ver_at], body[ver_at + 1 : rel_at], body[rel_at + 1 :]
    colon = version.find(":")
    if colon > 0 and _EPOCH.fullmatch(version[:colon]):  # dnf's N-E:V-R
        epoch, version = version[:colon], version[colon + 1 :]
    if not (version and release and _has_digit(version) and _has_digit(release)):
        return body, None, arch
    evr = f"{version}-{release}" if epoch is None else f"{epoch}:{version}-{release}"
    return name, evr, arch


def _package_event(
    line: str,
    offset: int | None,
    ctx: LineContext,
    ts: float,
    dataset: str,
    verb: str,
    spec: str,
    level: str | None = None,
) -> Event | None:
    known = _ACTIONS.get(verb)
    spec = spec.strip()
    if known is None or not spec or " " in spec:
        return None
    types, action, status = known
    name, version, arch = split_nevra(spec)
    return Event(
        timestamp=ts, category=_PACKAGE, type=types, action=action, outcome="success",
        dataset=dataset, original=line, host_name=ctx.hostname, package_name=name,
        package_version=version, package_architecture=arch, log_file_path=ctx.path,
        log_offset=offset, log_level=level,
        extra={"keibi.package.status": status} if status else None,
    )


def _yum(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    text = line.rstrip("\r\n")
    if not text.strip():
        return []
    ts = _classic_time(ctx, text[:15])
    if ts is None or text[15:16] != " ":
        return [unparsed_event(line, offset, ctx, YUM_DATASET)]
    verb, sep, spec = text[16:].partition(": ")
    event = _package_event(line, offset, ctx, ts, YUM_DATASET, verb, spec)
    if event is None:
        return [
            unparsed_event(
                line, offset, ctx, YUM_DATASET, timestamp=ts,
                flags=None if sep else ("malformed",), message=text[16:],
            )
        ]
    return [event]


def _dnf(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    text = line.rstrip("\r\n")
    if not text.strip():
        return []
    stamp, _, rest = text.partition(" ")
    ts = wall_time(ctx, stamp[:19], stamp[19:]) if len(stamp) >= 20 else None
    if ts is None:
        # continuation of a multi-line record (a traceback, scriptlet output)
        return [unparsed_event(line, offset, ctx, DNF_DATASET, flags=None, message=text)]
    level, _, message = rest.partition(" ")
    if level not in _DNF_LEVELS:
        level, message = "", rest
    verb, sep, value = message.partition(": ")
    lvl = level.lower() or None
    if sep:
        event = _package_event(line, offset, ctx, ts, DNF_DATASET, verb, value, lvl)
        if event is not None:
            return [event]
        if verb == "Command":
            first = value.split(None, 1)[0] if value.strip() else ""
            return [
                Event(
                    timestamp=ts, category=_PACKAGE, type=_START,
                    action="package-manager-run", dataset=DNF_DATASET, original=line,
                    host_name=ctx.hostname, process_name=first.rsplit("/", 1)[-1] or None,
                    process_command_line=value, log_file_path=ctx.path, log_offset=offset,
                    log_level=lvl,
                )
            ]
    return [
        Event(
            timestamp=ts, type=_INFO, action="log-line", dataset=DNF_DATASET, original=line,
            message=message, host_name=ctx.hostname, log_file_path=ctx.path,
            log_offset=offset, log_level=lvl,
        )
    ]


def _requester(text: str) -> str | None:
    # "root@host"; "" for a dependency; "1234:ruby:yast" style for a front end
    user, at, _ = text.partition("@")
    return user if at and user else None


def _zypper_args(text: str) -> tuple[str, ...] | None:
    """``'zypper' 'in' 'it\\'s'`` -> the arguments; None if not in that shape. Linear."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        if text[i] != "'":
            return None
        j = i + 1
        parts: list[str] = []
        while True:
            quote = text.find("'", j)
            if quote < 0:
                return None
            escape = text.find("\\", j, quote)
            if escape < 0:
                parts.append(text[j:quote])
                i = quote + 1
                break
            parts.append(text[j:escape])
            parts.append(text[escape + 1 : escape + 2])
            j = escape + 2
        args.append("".join(parts))
        if i < n and text[i] != " ":
            return None
    return tuple(args) or None


def _zypper(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    text = line.rstrip("\r\n")
    if not text.strip():
        return []
    if text.startswith("#"):
        body = text[1:].strip()
        ts = wall_time(ctx, body[:19])
        return [
            unparsed_event(
                line, offset, ctx, ZYPPER_DATASET, timestamp=ts, flags=None, message=body
            )
        ]
    fields = text.split("|")
    ts = wall_time(ctx, fields[0])
    if ts is None or len(fields) < 3:
        return [unparsed_event(line, offset, ctx, ZYPPER_DATASET)]
    verb = fields[1].strip()
    n = len(fields)
    if verb in ("install", "remove") and n >= 6:
        user = _requester(fields[5])
        extra: dict[str, object] = {}
        if verb == "install" and n >= 7 and fields[6]:
            extra["keibi.package.repository"] = fields[6]
        if fields[5] and user is None:
            extra["keibi.zypper.requested_by"] = fields[5]
        installed = verb == "install"
        return [
            Event(
                timestamp=ts, category=_PACKAGE, type=_INSTALL if installed else _DELETE,
                action="package-installed" if installed else "package-removed",
                outcome="success", dataset=ZYPPER_DATASET, original=line,
                host_name=ctx.hostname, user_name=user, package_name=fields[2] or None,
                package_version=fields[3] or None, package_architecture=fields[4] or None,
                log_file_path=ctx.path, log_offset=offset,
                related_user=(user,) if user else None, extra=extra or None,
            )
        ]
    if verb == "command" and n >= 4:
        user = _requester(fields[2])
        args = _zypper_args(fields[3])
        program = args[0].rsplit("/", 1)[-1] if args else ""
        return [
            Event(
                timestamp=ts, category=_PACKAGE, type=_START, action="package-manager-run",
                dataset=ZYPPER_DATASET, original=line, host_name=ctx.hostname, user_name=user,
                process_name=program or None,
                process_command_line=" ".join(args) if args else fields[3],
                process_args=args, log_file_path=ctx.path, log_offset=offset,
                related_user=(user,) if user else None,
            )
        ]
    repo = _REPO_ACTIONS.get(verb)
    if repo is not None and n >= 3:
        types, action = repo
        extra = {"keibi.package.repository": fields[2]}
        if verb in ("radd", "rurl") and n >= 4 and fields[3]:
            extra["url.original"] = fields[3]
        return [
            Event(
                timestamp=ts, category=_CONFIG, type=types, action=action,
                dataset=ZYPPER_DATASET, original=line, host_name=ctx.hostname,
                log_file_path=ctx.path, log_offset=offset, extra=extra,
            )
        ]
    return [unparsed_event(line, offset, ctx, ZYPPER_DATASET, timestamp=ts, flags=None)]


_REPO_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "radd": (("creation",), "package-repository-added"),
    "rremove": (("deletion",), "package-repository-removed"),
    "rrename": (_CHANGE, "package-repository-changed"),
    "rurl": (_CHANGE, "package-repository-changed"),
}


def parse_yum_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one ``/var/log/yum.log`` line (dataset ``keibi.yum``)."""
    try:
        return _yum(line, offset, ctx)
    except Exception:  # never raise on input; the flag makes the bug visible
        return [unparsed_event(line, offset, ctx, YUM_DATASET, flags=PARSE_ERROR)]


def parse_dnf_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one ``dnf.log`` / ``dnf.rpm.log`` line (dataset ``keibi.dnf``)."""
    try:
        return _dnf(line, offset, ctx)
    except Exception:
        return [unparsed_event(line, offset, ctx, DNF_DATASET, flags=PARSE_ERROR)]


def parse_zypper_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one ``/var/log/zypp/history`` line (dataset ``keibi.zypper``)."""
    try:
        return _zypper(line, offset, ctx)
    except Exception:
        return [unparsed_event(line, offset, ctx, ZYPPER_DATASET, flags=PARSE_ERROR)]


def parse_rpm_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """Any of the three, told apart by the line's shape (for a file of unknown kind)."""
    if line[:1].isalpha():
        return parse_yum_line(line, offset, ctx)
    if line[10:11] == "T":
        return parse_dnf_line(line, offset, ctx)
    if line[19:20] == "|" or line[:1] == "#":
        return parse_zypper_line(line, offset, ctx)
    return parse_dnf_line(line, offset, ctx)
