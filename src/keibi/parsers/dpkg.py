"""``/var/log/dpkg.log``: one event per package change, status change and dpkg run.

dpkg writes one line per action (``src/main/`` ``log_action``/``log_message``), in local
time without a zone::

    2026-11-20 10:01:02 startup archives unpack
    2026-11-20 10:01:02 install foo:amd64 <none> 1.2-3
    2026-11-20 10:01:02 upgrade foo:amd64 1.2-2 1.2-3
    2026-11-20 10:01:03 status half-configured foo:amd64 1.2-3
    2026-11-20 10:01:03 conffile /etc/foo.conf keep

The four-field actions are ``<action> <pkg[:arch]> <installed-version> <available-version>``
with ``<none>`` for a missing version. ``package.version`` is the version the package has
after the action (the available one when given, else the installed one) and the older one
of an upgrade is ``keibi.package.previous_version``.

This module also holds the small helpers the other header-less package logs share
(:func:`wall_time`, :func:`unparsed_event`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

from keibi.events.model import Event
from keibi.parsers.context import LineContext

__all__ = ["DATASET", "parse_dpkg_line", "unparsed_event", "wall_time"]

DATASET = "keibi.dpkg"
MALFORMED = ("malformed",)
PARSE_ERROR = ("malformed", "parse-error")

_CACHE_MAX = 4096
_CACHE_TAG = "\x01"  # keeps these keys apart from parsers.syslog's in ctx.time_cache
_DIGITS = frozenset("0123456789")

# action -> (event.type, event.action, take the previous version)
_CHANGES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "install": (("installation",), "package-installed", False),
    "upgrade": (("change",), "package-upgraded", True),
    "remove": (("deletion",), "package-removed", False),
    "purge": (("deletion",), "package-purged", False),
    "configure": (("change",), "package-configured", False),
    "trigproc": (("info",), "package-triggers-processed", False),
}
_PACKAGE = ("package",)
_PACKAGE_FILE = ("package", "file")
_INFO = ("info",)
_CHANGE = ("change",)
_START = ("start",)


def _offset_zone(text: str) -> tzinfo | None:
    """``+0000``, ``+00:00``, ``-0530`` or ``Z`` as a fixed zone (None if not one)."""
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    if text[:1] not in ("+", "-") or len(digits) != 4 or not _DIGITS.issuperset(digits):
        return None
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    if minutes >= 24 * 60:
        return None
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def wall_time(ctx: LineContext, text: str, zone: str = "") -> float | None:
    """Epoch seconds of ``YYYY-MM-DD HH:MM:SS`` (``T`` also accepted between the two).

    ``zone`` is an explicit UTC offset (``+0000``, ``Z``); without one the time is local
    to ``ctx.zone``. The start of each hour is cached in ``ctx.time_cache``, so a file of
    lines from the same hour costs one dictionary look-up per line. None when ``text`` is
    not such a time.
    """
    if (
        len(text) != 19
        or text[4] != "-"
        or text[7] != "-"
        or text[10] not in " T"
        or text[13] != ":"
        or text[16] != ":"
    ):
        return None
    mi_s, s_s = text[14:16], text[17:19]
    if not (mi_s.isdigit() and s_s.isdigit() and mi_s.isascii() and s_s.isascii()):
        return None
    minute, second = int(mi_s), int(s_s)
    if minute > 59 or second > 60:
        return None
    key = _CACHE_TAG + text[:10] + text[11:13] + zone
    cache = ctx.time_cache
    base = cache.get(key)
    if base is None:
        date, hour = text[:10], text[11:13]
        if not (_DIGITS.issuperset(date[:4] + date[5:7] + date[8:]) and _DIGITS.issuperset(hour)):
            return None
        tz: tzinfo | None = _offset_zone(zone) if zone else ctx.zone
        if tz is None:
            return None
        try:
            base = datetime(
                int(date[:4]), int(date[5:7]), int(date[8:]), int(hour), tzinfo=tz
            ).timestamp()
        except (ValueError, OverflowError):
            return None
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = base
    return base + minute * 60 + second


def unparsed_event(
    line: str,
    offset: int | None,
    ctx: LineContext,
    dataset: str,
    *,
    timestamp: float | None = None,
    flags: tuple[str, ...] | None = MALFORMED,
    message: str | None = None,
) -> Event:
    """The generic ``log-line`` event for a record a parser does not understand.

    Without a time of its own the record is stamped with ``ctx.ref_time`` (the file's
    mtime offline, now live), the latest time it can have.
    """
    return Event(
        timestamp=round(ctx.ref_time, 6) if timestamp is None else timestamp,
        type=_INFO,
        action="log-line",
        dataset=dataset,
        original=line,
        message=message,
        host_name=ctx.hostname,
        log_file_path=ctx.path,
        log_offset=offset,
        flags=flags,
    )


def _split_package(spec: str) -> tuple[str, str | None]:
    colon = spec.find(":")
    if colon > 0:
        return spec[:colon], spec[colon + 1 :] or None
    return spec, None


def _parse(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    text = line.rstrip("\r\n")
    if not text.strip():
        return []
    ts = wall_time(ctx, text[:19])
    if ts is None or text[19:20] != " ":
        return [unparsed_event(line, offset, ctx, DATASET)]
    words = text[20:].split(" ")
    verb = words[0]
    n = len(words)
    change = _CHANGES.get(verb)
    if change is not None:
        if n != 4 or not words[1]:
            return [unparsed_event(line, offset, ctx, DATASET, timestamp=ts)]
        types, action, upgrade = change
        name, arch = _split_package(words[1])
        old = None if words[2] == "<none>" else words[2]
        new = None if words[3] == "<none>" else words[3]
        previous = old if upgrade and new is not None else None
        return [
            Event(
                timestamp=ts, category=_PACKAGE, type=types, action=action, dataset=DATASET,
                original=line, host_name=ctx.hostname, log_file_path=ctx.path,
                log_offset=offset, package_name=name,
                package_version=new if new is not None else old, package_architecture=arch,
                extra={"keibi.package.previous_version": previous} if previous else None,
            )
        ]
    if verb == "status":
        if n != 4 or not words[2]:
            return [unparsed_event(line, offset, ctx, DATASET, timestamp=ts)]
        name, arch = _split_package(words[2])
        return [
            Event(
                timestamp=ts, category=_PACKAGE, type=_INFO, action="package-status",
                dataset=DATASET, original=line, host_name=ctx.hostname,
                log_file_path=ctx.path, log_offset=offset, package_name=name,
                package_version=None if words[3] == "<none>" else words[3],
                package_architecture=arch, extra={"keibi.package.status": words[1]},
            )
        ]
    if verb == "conffile":
        if n < 3:
            return [unparsed_event(line, offset, ctx, DATASET, timestamp=ts)]
        what = words[-1]
        return [
            Event(
                timestamp=ts, category=_PACKAGE_FILE,
                type=_CHANGE if what == "install" else _INFO, action="package-conffile",
                dataset=DATASET, original=line, host_name=ctx.hostname,
                log_file_path=ctx.path, log_offset=offset, file_path=" ".join(words[1:-1]),
                extra={"keibi.package.conffile_action": what},
            )
        ]
    if verb == "startup":
        if n != 3:
            return [unparsed_event(line, offset, ctx, DATASET, timestamp=ts)]
        return [
            Event(
                timestamp=ts, category=_PACKAGE, type=_START, action="package-manager-run",
                dataset=DATASET, original=line, host_name=ctx.hostname,
                log_file_path=ctx.path, log_offset=offset, process_name="dpkg",
                extra={"keibi.dpkg.startup": f"{words[1]} {words[2]}"},
            )
        ]
    return [unparsed_event(line, offset, ctx, DATASET, timestamp=ts, flags=None)]


def parse_dpkg_line(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    """The events of one ``dpkg.log`` line (a :class:`~keibi.parsers.context.LineParser`).

    An empty line gives no event; a line that is not dpkg's gives a ``log-line`` event
    flagged ``malformed``.
    """
    try:
        return _parse(line, offset, ctx)
    except Exception:  # never raise on input; the flag makes the bug visible
        return [unparsed_event(line, offset, ctx, DATASET, flags=PARSE_ERROR)]
