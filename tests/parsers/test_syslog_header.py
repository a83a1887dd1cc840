"""The syslog header (keibi.parsers.syslog.split_header): both time stamp shapes, the
program tag, year inference, zones, and agreement of the fast paths with the reference
implementation (``_split_header_slow``) on generated and hostile lines."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from keibi.parsers.context import LineContext
from keibi.parsers.syslog import _CACHE_MAX, Header, _split_header_slow, split_header

REF = datetime(2026, 11, 26, 12, tzinfo=UTC)


def ctx_for(zone: timezone | ZoneInfo = UTC, ref: datetime = REF) -> LineContext:
    return LineContext(path="/var/log/auth.log", ref_time=ref.timestamp(), zone=zone)


def ts(*args: int, zone: timezone | ZoneInfo = UTC) -> float:
    return datetime(*args, tzinfo=zone).timestamp()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Nov 26 06:20:49 web1 sshd[1234]: Failed password",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "sshd", 1234, "Failed password")),
        ("Nov  1 00:00:00 web1 sudo:    alice : TTY=pts/0",
         Header(ts(2026, 11, 1), "web1", "sudo", None, "   alice : TTY=pts/0")),
        ("Nov 01 00:00:00 web1 kernel: [1.0] x",
         Header(ts(2026, 11, 1), "web1", "kernel", None, "[1.0] x")),
        ("Nov 26 06:20:49.250 web1 sshd[7]: m",
         Header(ts(2026, 11, 26, 6, 20, 49) + 0.25, "web1", "sshd", 7, "m")),
        ("Dec 31 23:59:59 web1 sshd[7]: m",
         Header(ts(2025, 12, 31, 23, 59, 59), "web1", "sshd", 7, "m")),
        ("Nov 26 06:20:49 web1 sshd[7]:no-space",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "sshd", 7, "no-space")),
        ("Nov 26 06:20:49 web1 sshd[7]: ",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "sshd", 7, "")),
        ("Nov 26 06:20:49 web1 postfix/smtpd[7]: connect",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "postfix/smtpd", 7, "connect")),
        ("Nov 26 06:20:49 web1 no tag here",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", None, None, "no tag here")),
        ("2026-11-26T06:20:49.123456+00:00 web1 sshd-session[9]: m",
         Header(ts(2026, 11, 26, 6, 20, 49) + 0.123456, "web1", "sshd-session", 9, "m")),
        ("2026-11-26T07:20:49.123456+01:00 web1 sshd[9]: m",
         Header(ts(2026, 11, 26, 6, 20, 49) + 0.123456, "web1", "sshd", 9, "m")),
        ("2026-11-26T01:20:49.5-05:00 web1 sshd[9]: m",
         Header(ts(2026, 11, 26, 6, 20, 49) + 0.5, "web1", "sshd", 9, "m")),
        ("2026-11-26T06:20:49Z web1 sshd[9]: m",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "sshd", 9, "m")),
        ("2026-11-26T06:20:49.123456789+0000 web1 sshd[9]: m",
         Header(ts(2026, 11, 26, 6, 20, 49) + 0.123457, "web1", "sshd", 9, "m")),
        ("2026-11-26T06:20:49 web1 sshd[9]: m",  # no zone: the context's
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "sshd", 9, "m")),
        ("2026-11-26 06:20:49 web1 sshd[9]: m",
         Header(ts(2026, 11, 26, 6, 20, 49), "web1", "sshd", 9, "m")),
    ],
)  # fmt: skip
def test_headers(line: str, expected: Header) -> None:
    assert split_header(line, ctx_for()) == expected
    assert _split_header_slow(line, ctx_for()) == expected
    warm = ctx_for()
    split_header(line, warm)
    assert split_header(line, warm) == expected  # from the caches


@pytest.mark.parametrize(
    "line",
    ["", "x", "not a header", "Nov", "Foo 26 06:20:49 web1 sshd: m", "2026-11-26",
     "Nov 26 06:20:49", "Nov 26 06:20:49 ", "2026-11-26T06:20:49.123456+00:00 ",
     "2026-11-26T06:20:49.123456+00:00"],
)  # fmt: skip
def test_no_header(line: str) -> None:
    assert split_header(line, ctx_for()) is None
    assert _split_header_slow(line, ctx_for()) is None


def time_of(line: str, ctx: LineContext) -> float:
    header = split_header(line, ctx)
    assert header is not None
    return header.timestamp


def test_year_inference() -> None:
    jan = ctx_for(ref=datetime(2027, 1, 2, tzinfo=UTC))
    assert time_of("Dec 31 23:00:00 h p: m", jan) == ts(2026, 12, 31, 23)
    assert time_of("Jan  2 00:00:00 h p: m", jan) == ts(2027, 1, 2)
    # a month later than the reference is last year's, the reference month this year's
    nov = ctx_for()
    assert time_of("Nov 30 00:00:00 h p: m", nov) == ts(2026, 11, 30)
    assert time_of("Dec  1 00:00:00 h p: m", nov) == ts(2025, 12, 1)


def test_impossible_dates_keep_their_line() -> None:
    ctx = ctx_for()
    for line in ("Feb 30 10:00:00 h p: m", "Nov 26 25:00:00 h p: m", "Nov 00 10:00:00 h p: m",
                 "Nov 26 10:61:00 h p: m", "Nov 26 10:00:60 h p: m",
                 "2026-02-30T10:00:00.000000+00:00 h p: m", "2026-11-26T25:00:00.000000Z h p: m",
                 "2026-11-26T10:00:00.000000+99:00 h p: m"):  # fmt: skip
        fast = split_header(line, ctx)
        assert fast is not None and fast == _split_header_slow(line, ctx_for()), line
        assert fast.message == "m"


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_zones_with_daylight_saving(name: str) -> None:
    """The minute/day caches give what datetime gives, on the days clocks change too."""
    zone = ZoneInfo(name)
    ctx = ctx_for(zone, ref=datetime(2026, 12, 31, tzinfo=UTC))
    start = datetime(2026, 1, 1)
    rnd = random.Random(name)
    stamps = [start + timedelta(seconds=rnd.randrange(365 * 86400)) for _ in range(3000)]
    for day in (datetime(2026, 3, 8), datetime(2026, 3, 29), datetime(2026, 4, 5),
                datetime(2026, 10, 4), datetime(2026, 10, 25), datetime(2026, 11, 1)):  # fmt: skip
        stamps += [day + timedelta(minutes=m) for m in range(0, 24 * 60, 7)]
    for when in stamps:
        line = f"{when:%b} {when.day:2d} {when:%H:%M:%S} web1 sshd[1]: m"
        expected = when.replace(tzinfo=zone).timestamp()
        header = split_header(line, ctx)
        assert header is not None and header.timestamp == expected, line
        assert _split_header_slow(line, ctx_for(zone, ref=datetime(2026, 12, 31, tzinfo=UTC)))


_TAGS = ["sshd[1234]", "sshd", "sudo", "CRON[1]", "postfix/smtpd[22]", "a]b[1]", "x[", "y]",
         "z[12a]", "w[²]", "v[١٢]", "u[12345678901]", "t" * 70, "s" * 64 + "[1]", "(sd-pam)",
         "gdm-password]", "k:", "", "p q", "r\t[1]"]  # fmt: skip
_MESSAGES = ["m", "", " lead", "a: b", "x" * 200, "tab\there", "ünïcödé ✓", "[1]: y"]
_ZONES = ["+00:00", "Z", "-05:00", "+0530", "", "+14:00"]


def _random_line(rnd: random.Random) -> str:
    tag = rnd.choice(_TAGS)
    msg = rnd.choice(_MESSAGES)
    host = rnd.choice(["web1", "h", "10.0.0.1", "a.b.c", "ñ"])
    rest = f"{host} {tag}: {msg}" if rnd.random() < 0.9 else f"{host} {tag}{msg}"
    when = datetime(2025, 1, 1) + timedelta(seconds=rnd.randrange(700 * 86400))
    if rnd.random() < 0.5:
        day = f"{when.day:2d}" if rnd.random() < 0.8 else f"{when.day:02d}"
        frac = "" if rnd.random() < 0.9 else f".{rnd.randrange(1000):03d}"
        return f"{when:%b} {day} {when:%H:%M:%S}{frac} {rest}"
    digits = rnd.choice([0, 3, 6, 6, 6, 9])
    frac = f".{rnd.randrange(10**digits):0{digits}d}" if digits else ""
    sep = "T" if rnd.random() < 0.95 else " "
    return f"{when:%Y-%m-%d}{sep}{when:%H:%M:%S}{frac}{rnd.choice(_ZONES)} {rest}"


def test_fast_paths_agree_with_the_reference() -> None:
    rnd = random.Random(7)
    warm = ctx_for()
    for _ in range(20000):
        line = _random_line(rnd)
        expected = _split_header_slow(line, ctx_for())
        assert split_header(line, ctx_for()) == expected, line
        assert split_header(line, warm) == expected, line


def test_mutated_lines_agree_with_the_reference() -> None:
    rnd = random.Random(11)
    base = [_random_line(rnd) for _ in range(300)]
    warm = ctx_for()
    for line in base:
        for _ in range(20):
            i = rnd.randrange(len(line) + 1)
            c = rnd.choice(" :[]T.+-Z0159\t\x00é")
            mutated = line[:i] + c + line[i + rnd.randrange(2) :]
            expected = _split_header_slow(mutated, ctx_for())
            assert split_header(mutated, ctx_for()) == expected, mutated
            assert split_header(mutated, warm) == expected, mutated


def test_cache_stays_bounded() -> None:
    ctx = ctx_for()
    start = datetime(2026, 1, 1)
    for i in range(3 * _CACHE_MAX):
        when = start + timedelta(seconds=37 * i)
        split_header(f"{when:%b} {when.day:2d} {when:%H:%M:%S} h p: m", ctx)
        split_header(f"{when:%Y-%m-%dT%H:%M:%S}.000001+00:00 h p: m", ctx)
    assert len(ctx.time_cache) <= _CACHE_MAX


def test_hostile_lines_are_fast_and_never_raise() -> None:
    ctx = ctx_for()
    huge = "A" * 1_000_000
    lines = [
        "Nov 26 06:20:49 " + huge,
        "Nov 26 06:20:49 web1 " + huge,
        "Nov 26 06:20:49 web1 sshd[" + "9" * 100_000 + "]: m",
        "Nov 26 06:20:49 web1 " + "[" * 100_000 + ": m",
        "2026-11-26T06:20:49." + "1" * 100_000 + "+00:00 web1 p: m",
        "2026-11-26T06:20:49.123456+00:00 " + " " * 100_000 + "web1 p: m",
        "9" * 1_000_000,
        "\x00" * 1000,
    ]
    t0 = time.perf_counter()
    for line in lines:
        split_header(line, ctx)
    assert time.perf_counter() - t0 < 2.0


def test_the_last_header_is_reused_only_where_it_is_the_same() -> None:
    """Lines that start like the last classic header split (one session's lines in one
    second) reuse it; what follows it, and a new reference month, still count."""
    ctx = ctx_for()
    heads = ["Nov 26 06:20:49 web1 sshd[7]:", "Nov 26 06:20:49 web1 sshd[7]",
             "Nov 26 06:20:49 web1", "Nov 26 06:20:49 web1 sshd:", "Nov 26 06:20:4",
             "Dec 31 23:59:59 h p[1]:"]
    tails = [" m", "  two spaces", "", ":", ": x", "[8]: y", " [preauth]", "é"]
    rnd = random.Random(3)
    for _ in range(3000):
        line = rnd.choice(heads) + rnd.choice(tails) + rnd.choice(tails)
        expected = _split_header_slow(line, ctx_for())
        assert split_header(line, ctx) == expected, line
    line = "Dec 31 23:59:59 h p[1]: m"
    before = split_header(line, ctx)
    assert split_header(line, ctx) == before
    ctx.set_ref_time(datetime(2027, 1, 5, tzinfo=UTC).timestamp())  # Dec 31 is 2026 now
    after = split_header(line, ctx)
    assert after is not None and before is not None
    assert after.timestamp - before.timestamp == 365 * 86400


@pytest.mark.parametrize("odd", ["\t", "\n", "\x0b", "\x0c", "\r", "\u2003", "\x1c"])
def test_a_header_does_not_depend_on_what_was_read_before(odd: str) -> None:
    """Whitespace other than a space where the host name is: the answer is the same on a
    fresh context and on one that has just read a line of the same second."""
    line = f"Nov 26 06:20:49 web{odd}01 sshd[4242]: Failed password for root"
    cold = _split_header_slow(line, ctx_for())
    warm_ctx = ctx_for()
    assert split_header("Nov 26 06:20:49 web01 cron[1]: ok", warm_ctx) is not None
    assert _split_header_slow(line, warm_ctx) == cold
    assert split_header(line, warm_ctx) == split_header(line, ctx_for()) == cold


def test_known_hosts_programs_and_minutes_agree_with_the_reference() -> None:
    """Lines that a warm context splits from what it has seen (a known minute with another
    second, a known "host prog[pid]: ", a known "host prog" with another pid, another
    minute of a known day) split as the reference splits them on a fresh context."""
    rnd = random.Random(29)
    warm = ctx_for(ZoneInfo("Europe/Berlin"))
    hosts = ["web1", "web2", "a[b", "h:", "ñ"]
    progs = ["sshd", "CRON", "sshd-session", "postfix/smtpd", "(sd-pam)", "x]", "k:"]
    pids = ["1", "4242", "0", "9999999999", "12345678901", "", "١٢", "1a", " 1", "1]"]
    days = ["Nov 26", "Nov  1", "Mar 29", "Oct 25", "Feb 29", "Feb 30", "Nov 00", "Nov 0١"]
    clocks = ["06:20", "00:00", "23:59", "02:30", "24:00", "06:60", "0١:20", "6:20 "]
    seconds = ["49", "00", "59", "60", "5١", "4", "4x"]
    tails = [": m", ": ", ":", ":m", ": [1]: x", "", "]: m"]
    for _ in range(30000):
        pid = rnd.choice(pids)
        tag = rnd.choice(progs) + (rnd.choice([f"[{pid}]", f"[{pid}]", f"[{pid}", f"[{pid}x", ""]))
        line = (f"{rnd.choice(days)} {rnd.choice(clocks)}:{rnd.choice(seconds)} "
                f"{rnd.choice(hosts)} {tag}{rnd.choice(tails)}")
        expected = _split_header_slow(line, ctx_for(ZoneInfo("Europe/Berlin")))
        assert split_header(line, warm) == expected, line


def test_remembered_headers_stay_bounded() -> None:
    """Host names are any length and attacker text: what is remembered of them is not."""
    from keibi.parsers.syslog import _HOST_TAG_MAX

    ctx = ctx_for()
    for i in range(2 * _CACHE_MAX + 10):
        host = f"h{i}-" + "x" * (10 if i % 2 else 5000)
        assert split_header(f"Nov 26 06:20:49 {host} sshd[{i}]: m", ctx) is not None
        assert split_header(f"Nov 26 06:20:50 {host} sshd[{i + 1}]: m", ctx) is not None
    for cache in (ctx.host_tags, ctx.host_progs):
        assert 0 < len(cache) <= _CACHE_MAX
        assert max(map(len, cache)) <= _HOST_TAG_MAX
