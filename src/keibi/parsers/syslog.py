"""The syslog line header, as rsyslog and syslog-ng write it to files.

Two shapes are understood::

    Nov  1 00:00:00 host prog[pid]: message                  (RFC 3164, "classic")
    2026-11-26T06:20:49.123456+00:00 host prog[pid]: message  (rsyslog ISO 8601)

:func:`split_header` is on every line's path, so it caches the time conversion of
repeated time stamps and uses one compiled pattern per shape.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from keibi.parsers.context import LineContext

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}

_CLASSIC = re.compile(
    r"([A-Z][a-z]{2}) ([ 0-3]?\d) (\d\d):(\d\d):(\d\d)(\.\d{1,6})? (\S+) (.*)", re.S
)
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)? (\S+) (.*)",
    re.S,
)
# prog[pid]: msg  |  prog: msg   (prog may hold "/", "-", ".", "(", ")" as in "postfix/smtpd")
_TAG = re.compile(r"([^\s\[\]:]{1,64})(?:\[(\d{1,10})\])?: ?(.*)", re.S)

_CACHE_MAX = 4096


class Header(NamedTuple):
    timestamp: float
    host: str
    program: str | None
    pid: int | None
    message: str


def _classic_time(ctx: LineContext, key: str, mon: int, day: int, h: int, m: int, s: int) -> float:
    cache = ctx.time_cache
    ts = cache.get(key)
    if ts is None:
        year = ctx.ref_year - 1 if mon > ctx.ref_month else ctx.ref_year
        try:
            ts = datetime(year, mon, day, h, m, s, tzinfo=ctx.zone).timestamp()
        except ValueError:  # Feb 29 in a year that has none, day 0, hour 25...
            ts = datetime(year, mon, 1, tzinfo=ctx.zone).timestamp()
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = ts
    return ts


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _iso_time(ctx: LineContext, groups: tuple[str | None, ...]) -> float:
    y, mo, d, h, mi, s, frac, zone = groups[:8]
    key = f"{y}{mo}{d}{h}{mi}{s}{zone}"
    cache = ctx.time_cache
    base = cache.get(key)
    if base is None:
        try:
            base = datetime(
                int(y or 0), int(mo or 0), int(d or 0), int(h or 0), int(mi or 0),
                min(int(s or 0), 59), tzinfo=_zone(zone) if zone else ctx.zone,
            ).timestamp()
        except ValueError:
            base = 0.0
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = base
    if frac:
        return round(base + float(frac), 6)
    return base


def _split_tag(host: str, ts: float, rest: str) -> Header:
    colon = rest.find(":")
    if 0 < colon <= 80:
        tag = rest[:colon]
        if " " not in tag:
            msg = rest[colon + 2 :] if rest[colon + 1 : colon + 2] == " " else rest[colon + 1 :]
            br = tag.find("[")
            if br < 0:
                if "]" not in tag:
                    return Header(ts, host, tag, None, msg)
            elif tag[-1] == "]":
                pid_s = tag[br + 1 : -1]
                if pid_s.isdigit() and len(pid_s) <= 10 and br > 0:
                    return Header(ts, host, tag[:br], int(pid_s), msg)
    mt = _TAG.match(rest)
    if mt is None:
        return Header(ts, host, None, None, rest)
    prog, pid, msg = mt.groups()
    return Header(ts, host, prog, int(pid) if pid else None, msg)


def split_header(line: str, ctx: LineContext) -> Header | None:
    """The time, host, program, pid and message of a syslog line, or None if it has none."""
    if not line:
        return None
    first = line[0]
    if "0" <= first <= "9":
        mi = _ISO.match(line)
        if mi is None:
            return None
        groups = mi.groups()
        return _split_tag(groups[8] or "", _iso_time(ctx, groups), groups[9] or "")
    # Fast path: "Mmm dd hh:mm:ss host rest" with a cached time stamp.
    key = line[:15]
    ts = ctx.time_cache.get(key)
    if ts is not None and line[15:16] == " ":
        sp = line.find(" ", 16)
        if sp > 16:
            return _split_tag(line[16:sp], ts, line[sp + 1 :])
    mc = _CLASSIC.match(line)
    if mc is None:
        return None
    mon_s, day_s, h, m, s, frac, host, rest = mc.groups()
    mon = MONTHS.get(mon_s)
    if mon is None:
        return None
    ts = _classic_time(ctx, key, mon, int(day_s), int(h), int(m), int(s))
    if frac:
        ts = round(ts + float(frac), 6)
    return _split_tag(host, ts, rest)
