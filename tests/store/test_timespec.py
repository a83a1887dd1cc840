"""Time specs of --since / --until: durations back from an injected now, ISO times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from keibi.store.timespec import TimeSpecError, parse_absolute, parse_duration, parse_timespec

NOW = datetime(2026, 11, 26, 6, 20, 49, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("spec", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604_800), ("2w", 1_209_600),
     ("1h30m", 5400), ("1d12h", 129_600), ("0m", 0), (" 15M ", 900)],
)
def test_durations_count_back_from_now(spec: str, seconds: int) -> None:
    assert parse_timespec(spec, now=NOW) == NOW - seconds
    assert parse_duration(spec) == seconds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00.250000Z", datetime(2026, 11, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-01T10:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01 10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T12:00:00+02:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ],
)
def test_absolute_times_are_utc_unless_they_say_otherwise(spec: str, expected: datetime) -> None:
    assert parse_timespec(spec, now=NOW) == expected.timestamp()


def test_naive_times_use_the_given_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    got = parse_timespec("2026-11-01T09:00", now=NOW, zone=tokyo)
    assert got == datetime(2026, 11, 1, 0, tzinfo=UTC).timestamp()
    # an explicit offset wins over the zone
    midnight = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    assert parse_absolute("2026-11-01T00:00Z", tokyo) == midnight


def test_epoch_and_now() -> None:
    assert parse_timespec("@1790000000", now=NOW) == 1_790_000_000.0
    assert parse_timespec("@1790000000.5", now=NOW) == 1_790_000_000.5
    assert parse_timespec("now", now=NOW) == NOW
    assert parse_timespec("1h", NOW) == NOW - 3600  # now may be given by position


@pytest.mark.parametrize(
    "spec", ["", "  ", "15", "15x", "m", "-5m", "yesterday", "2026-13-01", "2026-11-01T25:00",
             "1.5h", "@", "@abc", "15m ago", "2026/11/01"],
)
def test_bad_specs_raise_one_line_errors(spec: str) -> None:
    with pytest.raises(TimeSpecError) as info:
        parse_timespec(spec, now=NOW)
    message = str(info.value)
    assert "\n" not in message and message
    assert isinstance(info.value, ValueError)
