"""The syslog line header, as rsyslog and syslog-ng write it to files.

Two shapes are understood::

    Nov  1 00:00:00 host prog[pid]: message                  (RFC 3164, "classic")
    2026-11-26T06:20:49.123456+00:00 host prog[pid]: message  (rsyslog ISO 8601)

:func:`split_header` is on every line's path, so it caches the time conversion of
repeated time stamps and uses one compiled pattern per shape. It also remembers the
classic headers its pattern matched whole (:func:`_remember`): a line that starts like one
(the same text; a known minute, another second and a known ``host prog[pid]: ``; a known
``host prog`` with another pid) is read without the pattern, as the pattern reads no
character past the ``: `` a header ends with. The reference implementation
(:func:`_split_header_slow`) is what every shortcut is tested against.
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
#: " hh:mm" of a classic minute -> its seconds into the day (ASCII digits only)
_CLOCK = {f" {h:02d}:{m:02d}": h * 3600 + m * 60 for h in range(24) for m in range(60)}
_DAY_TAG = "\x03"  # keeps the day keys ("Mmm dd") of _minute_start apart in ctx.time_cache
#: the longest "host prog[pid]: " remembered (a host name is any length)
_HOST_TAG_MAX = 256
#: A classic header ``Mmm dd hh:mm:ss host prog[pid]: ``: its minute ends at MINUTE_END,
#: its time (``:ss ``) at TIME_END; ``SECONDS`` reads the ``:ss `` between (ASCII only).
MINUTE_END = 12
TIME_END = 16
SECONDS = {f":{s:02d} ": s for s in range(60)}
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
    """The time of ``Mmm dd hh:mm`` (NaN when it is not a valid minute), cached; another
    minute of a day read before is that day's start plus its clock time."""
    cache = ctx.time_cache
    day_key = _DAY_TAG + key[:6]
    day = cache.get(day_key)
    clock = _CLOCK.get(key[6:])
    if day is not None and clock is not None:
        start = day + clock  # NaN for a day _day_start has no start for
    else:
        start = math.nan
        m = _MINUTE.fullmatch(key)
        if m is not None and (mon := MONTHS.get(m[1])) is not None:
            year = ctx.ref_year - 1 if mon > ctx.ref_month else ctx.ref_year
            day = _day_start(ctx, year, mon, int(m[2]))
            hour, minute = int(m[3]), int(m[4])
            if day is not None and hour < 24 and minute < 60:
                start = day + (hour * 3600 + minute * 60)
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[day_key] = math.nan if day is None else day
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
        return _new_header(Header, (last[1], last[2], last[3], last[4], line[len(last[0]) :]))
    if not line:
        return None
    first = line[0]
    if "0" <= first <= "9":
        if line[10:11] == "T":
            hdr = _iso_fast(line, ctx)
            if hdr is not None:
                return hdr
        return _split_header_slow(line, ctx)
    cache = ctx.time_cache
    minute = line[:MINUTE_END]
    start = cache.get(minute)  # "Mmm dd hh:mm", a minute matched before
    if start is not None:
        sec = SECONDS.get(line[MINUTE_END:TIME_END])  # ":ss "
        end = line.find(": ", TIME_END) + 2
        if sec is not None and end > 1 and start == start:
            tags = ctx.host_tags
            host_tag = line[TIME_END:end]
            known = tags.get(host_tag)
            if known is None:
                known = _other_pid(line, end, ctx)
                if known is not None and len(host_tag) <= _HOST_TAG_MAX:
                    if len(tags) >= _CACHE_MAX:
                        tags.clear()
                    tags[host_tag] = known
            if known is not None:  # "host prog[pid]: " as the pattern reads it (_remember)
                host, prog, pid_n = known
                ts = start + sec
                ctx.last_header = (line[:end], ts, host, prog, pid_n, minute, start, host_tag)
                return _new_header(Header, (ts, host, prog, pid_n, line[end:]))
    m = _CLASSIC_HOST_TAG.match(line)
    if m is not None:
        minute, ss, host, prog, pid = m.groups()
        start = cache.get(minute)
        if start is None:
            start = _minute_start(ctx, minute)
        if start == start:  # a valid minute (NaN: the slow path judges)
            end = m.end()
            ts = start + int(ss)
            pid_n = int(pid) if pid else None
            if line[end - 1] == " ":  # the match ends with ": ", not just ":"
                _remember(ctx, line[:end], ts, host, prog, pid_n, minute, start)
            return _new_header(Header, (ts, host, prog, pid_n, line[end:]))
    return _split_header_slow(line, ctx)


def _other_pid(line: str, end: int, ctx: LineContext) -> tuple[str, str, int] | None:
    """(host, program, pid) of ``host prog[pid]: `` (from TIME_END to ``end``) whose
    ``host prog`` was matched whole before with another pid (_remember), or None."""
    bracket = line.find("[", TIME_END, end)
    known = ctx.host_progs.get(line[TIME_END:bracket]) if bracket > 0 else None
    if known is None or line[end - 3] != "]":
        return None
    pid = line[bracket + 1 : end - 3]
    if 0 < len(pid) <= 10 and pid.isascii() and pid.isdigit():  # [0-9]{1,10}
        return known[0], known[1], int(pid)
    return None


def _remember(ctx: LineContext, text: str, ts: float, host: str, prog: str,
              pid: int | None, minute: str, start: float) -> None:
    """Keep a classic header ``text`` (``Mmm dd hh:mm:ss host prog[pid]: ``) the pattern
    matched whole for the lines that start like it: whole (``ctx.last_header``), or with
    another second of a known minute and its ``host prog[pid]: `` (``ctx.host_tags``).
    The pattern's time part is TIME_END characters long and it reads no character past the
    ``: `` it ends with, so such a line is matched the same way, to the same header.
    So is one with the same ``host prog`` and another ``[pid]`` (``ctx.host_progs``):
    the pattern reads the host and the program up to the same ``[`` in both."""
    host_tag = text[TIME_END:]
    ctx.last_header = (text, ts, host, prog, pid, minute, start, host_tag)
    if len(host_tag) > _HOST_TAG_MAX:  # an attacker's host name: not kept
        return
    tags = ctx.host_tags
    if len(tags) >= _CACHE_MAX:
        tags.clear()
    tags[host_tag] = (host, prog, pid)
    if pid is not None:
        progs = ctx.host_progs
        if len(progs) >= _CACHE_MAX:
            progs.clear()
        progs[text[TIME_END : TIME_END + len(host) + 1 + len(prog)]] = (host, prog)


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
