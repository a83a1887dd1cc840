"""The syslog line header, as rsyslog and syslog-ng write it to files.

Two shapes are understood::

    Nov  1 00:00:00 host prog[pid]: message                  (RFC 3164, "classic")
    2026-11-26T06:20:49.123456+00:00 host prog[pid]: message  (rsyslog ISO 8601)

:func:`split_header` is on every line's path, so it caches the time conversion of
repeated time stamps and uses one compiled pattern per shape.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
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
_HOST = re.compile(r"\S+")
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


def _day_start(ctx: LineContext, year: int, mon: int, day: int) -> float | None:
    """Local midnight of that day in epoch seconds, or None when the day is not 86,400 s
    long there (a DST change) or does not exist; cached in ``ctx.time_cache``."""
    cache = ctx.time_cache
    key = f"{year}-{mon}-{day}"
    start = cache.get(key)
    if start is None:
        try:
            midnight = datetime(year, mon, day, tzinfo=ctx.zone)
            start = midnight.timestamp()
            if (midnight + timedelta(days=1)).timestamp() - start != 86_400.0:
                start = math.nan
        except (ValueError, OverflowError):
            start = math.nan
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = start
    return None if start != start else start


def _classic_time(ctx: LineContext, key: str, mon: int, day: int, h: int, m: int, s: int) -> float:
    cache = ctx.time_cache
    ts = cache.get(key)
    if ts is None:
        year = ctx.ref_year - 1 if mon > ctx.ref_month else ctx.ref_year
        start = _day_start(ctx, year, mon, day) if h < 24 and m < 60 and s < 60 else None
        if start is not None:  # == the datetime below, without building one per second
            ts = start + (h * 3600 + m * 60 + s)
        else:
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
        return UTC
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
# The fast paths: "host prog[pid]: " (or "host prog: ") after a time stamp whose conversion
# is cached; anything they do not take goes to the reference implementation below.
_HOST_TAG_S = re.compile(r"(\S+) ([^\s\[\]:]{1,64})(?:\[([0-9]{1,10})\])?: ?")
_MINUTE = re.compile(r"([A-Z][a-z]{2}) ([ 0-3]\d) (\d\d):(\d\d)")
# "Mmm dd hh:mm:ss host prog[pid]: ": the minute (cached), the second, host, tag
_CLASSIC_HOST_TAG = re.compile(
    r"([A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d):([0-5]\d) "
    r"(\S+) ([^\s\[\]:]{1,64})(?:\[([0-9]{1,10})\])?: ?"
)
_ISO_MINUTE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)([+-])(\d\d):(\d\d)")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ISO_HOST_TAG = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)? "
    r"(\S+) ([^\s\[\]:]{1,64})(?:\[([0-9]{1,10})\])?: ?"
)


def _iso_minute_start(key: str, cache: dict[str, float]) -> float:
    """The time of ``YYYY-MM-DDThh:mm+hh:mm`` (NaN when a field is out of range), cached."""
    start = math.nan
    m = _ISO_MINUTE.fullmatch(key)
    if m is not None:
        y, mo, d, h, mi, sign, oh, om = m.groups()
        hour, minute, off_h, off_m = int(h), int(mi), int(oh), int(om)
        if hour < 24 and minute < 60 and off_h < 24 and off_m < 60:
            try:
                days = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
            except ValueError:
                days = None
            if days is not None:
                offset = (off_h * 3600 + off_m * 60) * (-1 if sign == "-" else 1)
                start = float(days * 86_400 + hour * 3600 + minute * 60 - offset)
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = start
    return start


def _iso_fixed_base(line: str, key: str, cache: dict[str, float]) -> float | None:
    """The whole-second time of a fixed-layout ISO stamp not cached yet, from its minute
    (None: a field out of range; the slow path decides)."""
    mkey = line[:16] + line[26:32]
    start = cache.get(mkey)
    if start is None:
        start = _iso_minute_start(mkey, cache)
    ss = line[17:19]
    if start != start or line[16] != ":" or not ss.isdecimal():
        return None
    sec = int(ss)
    if sec > 59:
        return None
    base = start + sec
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = base
    return base


def _minute_start(ctx: LineContext, key: str) -> float:
    """The time of ``Mmm dd hh:mm`` (NaN when it is not a valid minute), cached."""
    start = math.nan
    m = _MINUTE.fullmatch(key)
    if m is not None:
        mon = MONTHS.get(m[1])
        hour, minute = int(m[3]), int(m[4])
        if mon is not None and hour < 24 and minute < 60:
            year = ctx.ref_year - 1 if mon > ctx.ref_month else ctx.ref_year
            day = _day_start(ctx, year, mon, int(m[2]))
            if day is not None:
                start = day + (hour * 3600 + minute * 60)
    cache = ctx.time_cache
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = start
    return start


def _iso_fast(line: str, ctx: LineContext) -> Header | None:
    cache = ctx.time_cache
    if line[32:33] == " " and line[19:20] == ".":
        # rsyslog's default "2026-11-26T06:20:49.123456+00:00 ": fixed offsets, no regex.
        key = line[:19] + line[26:32]
        base = cache.get(key)
        if base is None:
            base = _iso_fixed_base(line, key, cache)
        digits = line[20:26]
        if base is not None and digits.isdecimal():
            m = _HOST_TAG_S.match(line, 33)
            if m is not None:
                host, prog, pid = m.groups()
                # == round(base + float(frac), 6) for the whole-second bases cached here,
                # without round()'s decimal conversion.
                ts = (int(base) * 1_000_000 + int(digits)) / 1_000_000
                return _new_header(
                    Header, (ts, host, prog, int(pid) if pid else None, line[m.end() :])
                )
        return None
    m = _ISO_HOST_TAG.match(line)
    if m is None:
        return None
    sec, frac, zone, host, prog, pid = m.groups()
    base = cache.get(sec + zone if zone else sec)
    if base is None:
        return None
    ts = round(base + float(frac), 6) if frac else base
    return _new_header(Header, (ts, host, prog, int(pid) if pid else None, line[m.end() :]))


def split_header(line: str, ctx: LineContext) -> Header | None:
    """The time, host, program, pid and message of a syslog line, or None if it has none."""
    last = ctx.last_header
    if last is not None and line.startswith(last[0]):
        # The same "Mmm dd hh:mm:ss host prog[pid]: " as the last classic header (half the
        # lines of an auth log: one session's lines in one second): the pattern below
        # reads no further than that text, and its time depends on nothing else.
        return _new_header(Header, (*last[1:], line[len(last[0]) :]))
    if not line:
        return None
    first = line[0]
    if "0" <= first <= "9":
        if line[10:11] == "T":
            hdr = _iso_fast(line, ctx)
            if hdr is not None:
                return hdr
        return _split_header_slow(line, ctx)
    m = _CLASSIC_HOST_TAG.match(line)
    if m is not None:
        minute, ss, host, prog, pid = m.groups()
        cache = ctx.time_cache
        start = cache.get(minute)
        if start is None:
            start = _minute_start(ctx, minute)
        if start == start:  # a valid minute (NaN: the slow path judges)
            end = m.end()
            ts = start + int(ss)
            pid_n = int(pid) if pid else None
            if line[end - 1] == " ":  # the match ends with ": ", not just ":"
                ctx.last_header = (line[:end], ts, host, prog, pid_n)
            return _new_header(Header, (ts, host, prog, pid_n, line[end:]))
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
            if base is not None and base.is_integer():
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[line[:19] + (groups[7] or "")] = base
        return _split_tag(groups[8] or "", ts, groups[9] or "")
    key = line[:15]
    cached = ctx.time_cache.get(key)
    if cached is not None and line[15:16] == " ":
        sp = line.find(" ", 16)
        if sp > 16 and _HOST.fullmatch(line, 16, sp):  # the host as _CLASSIC reads it
            return _split_tag(line[16:sp], cached, line[sp + 1 :])
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
