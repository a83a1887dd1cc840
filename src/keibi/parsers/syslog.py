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
                if pid_s.isdigit() and pid_s.isascii() and len(pid_s) <= 10 and br > 0:
                    return Header(ts, host, tag[:br], int(pid_s), msg)
    mt = _TAG.match(rest)
    if mt is None:
        return Header(ts, host, None, None, rest)
    prog, pid, msg = mt.groups()
    return Header(ts, host, prog, int(pid) if pid else None, msg)


_new_header = tuple.__new__


def _fast_tag(line: str, start: int, host: str, ts: float) -> Header:
    """:func:`_split_tag` of ``line[start:]`` without copying the rest of the line first."""
    colon = line.find(":", start, start + 81)
    if colon > start and line.find(" ", start, colon) < 0:
        nxt = colon + 1
        msg = line[nxt + 1 :] if line[nxt : nxt + 1] == " " else line[nxt:]
        br = line.find("[", start, colon)
        if br < 0:
            if line.find("]", start, colon) < 0:
                return _new_header(Header, (ts, host, line[start:colon], None, msg))
        elif line[colon - 1] == "]" and br > start:
            pid_s = line[br + 1 : colon - 1]
            if pid_s.isdigit() and pid_s.isascii() and len(pid_s) <= 10:
                return _new_header(Header, (ts, host, line[start:br], int(pid_s), msg))
    return _split_tag(host, ts, line[start:])


def _iso_fast(line: str, ctx: LineContext) -> Header | None:
    # "2026-11-26T06:20:49[.ffffff][Z|+hh:mm|+hhmm] host rest": the whole seconds and the
    # zone are looked up in the cache the slow path fills; the fraction is added here.
    sp = line.find(" ", 19, 40)
    if sp < 0:
        return None
    last = line[sp - 1]
    if last == "Z":
        zend = sp - 1
    elif line[sp - 6] in "+-" and line[sp - 3] == ":":
        zend = sp - 6
    elif line[sp - 5] in "+-":
        zend = sp - 5
    else:
        zend = sp
    base = ctx.time_cache.get(line[:19] + line[zend:sp])
    if base is None:
        return None
    ts = base
    if zend > 19:
        frac = line[19:zend]
        digits = frac[1:]
        if frac[0] != "." or len(digits) > 9 or not (digits.isdigit() and digits.isascii()):
            return None
        ts = round(base + float(frac), 6)
    sp2 = line.find(" ", sp + 1)
    if sp2 <= sp + 1:
        return None
    return _fast_tag(line, sp2 + 1, line[sp + 1 : sp2], ts)


def split_header(line: str, ctx: LineContext) -> Header | None:
    """The time, host, program, pid and message of a syslog line, or None if it has none."""
    if not line:
        return None
    first = line[0]
    if "0" <= first <= "9":
        if line[10:11] == "T":
            hdr = _iso_fast(line, ctx)
            if hdr is not None:
                return hdr
        return _split_header_slow(line, ctx)
    # Fast path: "Mmm dd hh:mm:ss host rest" with a cached time stamp.
    ts = ctx.time_cache.get(line[:15])
    if ts is not None and line[15:16] == " ":
        sp = line.find(" ", 16)
        if sp > 16:
            return _fast_tag(line, sp + 1, line[16:sp], ts)
    return _split_header_slow(line, ctx)


def _split_header_slow(line: str, ctx: LineContext) -> Header | None:
    """The reference (regex) implementation; :func:`split_header` must agree with it."""
    if not line:
        return None
    first = line[0]
    if "0" <= first <= "9":
        mi = _ISO.match(line)
        if mi is None:
            return None
        groups = mi.groups()
        ts = _iso_time(ctx, groups)
        if line[10] == "T":
            # Also remember the whole-second time under the fast path's key.
            cache = ctx.time_cache
            base = cache.get(
                f"{groups[0]}{groups[1]}{groups[2]}{groups[3]}{groups[4]}{groups[5]}{groups[7]}"
            )
            if base is not None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[line[:19] + (groups[7] or "")] = base
        return _split_tag(groups[8] or "", ts, groups[9] or "")
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
