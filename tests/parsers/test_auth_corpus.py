"""The auth-log corpora (tests/samples/auth/*.log), line by line and exactly.

The format is tests/samples/README.md's, plus one rule for rsyslog's repeated-message
lines: ``# expect-count: N`` before an ``# expect:`` says that the next data line gives N
events, each equal to the expectation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keibi.events.encoding import dumps, loads
from keibi.events.model import Event
from keibi.parsers.auth import PROGRAMS, parse_auth_line
from keibi.parsers.context import LineContext
from keibi.parsers.syslog import split_header
from tests.parsers.sample_corpus import HOSTNAME, check_common, corpus_files, flatten, sample_ctx


@dataclass(frozen=True)
class Sample:
    path: Path
    lineno: int
    offset: int
    text: str
    expected: dict[str, Any]
    count: int


def load_samples(path: Path) -> list[Sample]:
    """The data lines of one corpus with their expectations (every one must have one)."""
    out: list[Sample] = []
    data = path.read_bytes()
    offset = 0
    expected: dict[str, Any] | None = None
    count: int | None = None
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        start = offset
        offset += len(raw) + 1
        if offset == len(data) + 1 and not raw:
            break
        text = raw.decode("utf-8")
        where = f"{path.name}:{lineno}"
        if text.startswith("##"):
            continue
        if text.startswith("# expect-count:"):
            assert count is None and expected is None, f"{where}: misplaced expect-count"
            count = int(text.split(":", 1)[1])
            continue
        if text.startswith("# expect:"):
            assert expected is None, f"{where}: two expectations for one line"
            expected = json.loads(text[len("# expect:") :])
            assert isinstance(expected, dict), f"{where}: one event per expectation"
            continue
        assert expected is not None, f"{where}: data line without '# expect:'"
        out.append(Sample(path, lineno, start, text, expected, count or 1))
        expected = count = None
    assert expected is None and count is None, f"{path.name}: expectation at end of file"
    return out


FILES = corpus_files("auth")
SAMPLES = [s for path in FILES for s in load_samples(path)]
CASES = [pytest.param(s, id=f"{s.path.name}:{s.lineno}") for s in SAMPLES]

VOCABULARY = {
    "ssh-login", "ssh-invalid-user", "ssh-connection-closed", "ssh-disconnected",
    "ssh-max-auth-exceeded", "ssh-no-identification", "ssh-protocol-error",
    "ssh-negotiation-failed", "ssh-listening", "ssh-terminated",
    "pam-auth-failure", "pam-auth-failures-summary", "session-opened", "session-closed",
    "sudo-command", "sudo-auth-failure", "sudo-password-attempts", "sudo-not-in-sudoers",
    "sudo-command-not-allowed", "su-login", "su-failure", "login", "login-failure",
    "logind-session-new", "logind-session-removed", "user-created", "user-deleted",
    "user-modified", "user-renamed", "user-locked", "group-created", "group-deleted",
    "group-modified", "user-added-to-group", "user-removed-from-group", "password-changed",
    "password-expiry-changed", "log-line",
}  # fmt: skip


def _host(sample: Sample) -> str | None:
    header = split_header(sample.text, sample_ctx(sample.path))
    return header.host if header is not None else HOSTNAME


def test_corpus_is_there() -> None:
    assert {p.name for p in FILES} >= {
        "sshd.log", "sshd_iso.log", "pam.log", "sudo.log", "su_login.log", "logind.log",
        "shadow.log", "generic.log", "hostile.log",
    }  # fmt: skip
    assert len(SAMPLES) >= 120
    actions = {s.expected["event.action"] for s in SAMPLES}
    assert actions >= VOCABULARY, VOCABULARY - actions
    # both header formats, IPv6 peers, host names in rhost, flagged hostile names
    assert any(s.text[:4].isdigit() for s in SAMPLES)
    assert any(s.text[:3] == "Nov" for s in SAMPLES)
    assert any(":" in s.expected.get("source.ip", "") for s in SAMPLES)
    assert any("source.domain" in s.expected for s in SAMPLES)
    assert any("log-injection" in s.expected.get("keibi.flags", ()) for s in SAMPLES)
    assert any(s.count > 1 for s in SAMPLES)


@pytest.mark.parametrize("sample", CASES)
def test_corpus_line(sample: Sample) -> None:
    ctx = sample_ctx(sample.path)
    events = parse_auth_line(sample.text, sample.offset, ctx)
    assert len(events) == sample.count
    for event in events:
        assert flatten(event) == sample.expected
        check_common(event, sample.text, sample.offset, ctx, _host(sample))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_whole_file_in_one_context(path: Path) -> None:
    """One context for the whole file (warm time caches, as when tailing) changes nothing."""
    ctx = sample_ctx(path)
    for sample in load_samples(path):
        events = parse_auth_line(sample.text, sample.offset, ctx)
        assert [flatten(e) for e in events] == [sample.expected] * sample.count, sample.lineno


@pytest.mark.parametrize("sample", CASES)
def test_json_round_trip(sample: Sample) -> None:
    for event in parse_auth_line(sample.text, sample.offset, sample_ctx(sample.path)):
        assert loads(dumps(event)) == event


def test_trailing_newline_is_not_part_of_the_record() -> None:
    sample = SAMPLES[0]
    ctx = sample_ctx(sample.path)
    for suffix in ("\n", "\r\n"):
        (event,) = parse_auth_line(sample.text + suffix, sample.offset, ctx)
        assert event.original == sample.text
        assert flatten(event) == sample.expected


def _ctx_at(ref: datetime) -> LineContext:
    return LineContext(path="/var/log/auth.log", ref_time=ref.timestamp(), zone=UTC)


def test_year_inference_across_new_year() -> None:
    # a file read on 1 Jan 2027: its December lines are from 2026
    ctx = _ctx_at(datetime(2027, 1, 1, 0, 10, tzinfo=UTC))
    dec = "Dec 31 23:59:58 web1 sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2"
    jan = "Jan  1 00:00:02 web1 sshd[1]: Failed password for root from 203.0.113.5 port 2 ssh2"
    (e1,) = parse_auth_line(dec, 0, ctx)
    (e2,) = parse_auth_line(jan, len(dec) + 1, ctx)
    assert e1.timestamp == datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC).timestamp()
    assert e2.timestamp == datetime(2027, 1, 1, 0, 0, 2, tzinfo=UTC).timestamp()
    assert e2.timestamp - e1.timestamp == 4.0
    # the same lines read in June 2027: December is last year's, January this year's
    ctx = _ctx_at(datetime(2027, 6, 1, tzinfo=UTC))
    assert parse_auth_line(dec, 0, ctx)[0].timestamp == e1.timestamp
    assert parse_auth_line(jan, 0, ctx)[0].timestamp == e2.timestamp


def test_year_inference_follows_the_reference_time() -> None:
    ctx = _ctx_at(datetime(2027, 1, 1, 0, 10, tzinfo=UTC))
    line = "Dec 31 23:59:58 web1 sshd[1]: Received signal 15; terminating."
    first = parse_auth_line(line, 0, ctx)[0].timestamp
    ctx.set_ref_time(datetime(2028, 1, 1, 0, 10, tzinfo=UTC).timestamp())
    # set_ref_time drops the cached conversions: the line now falls in 2027
    assert parse_auth_line(line, 0, ctx)[0].timestamp == first + 365 * 86400


def test_every_family_is_reached_by_program_name() -> None:
    assert {
        "sshd", "sshd-session", "sshd-auth", "sudo", "su", "login", "systemd-logind",
        "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod", "gpasswd",
        "passwd", "chpasswd", "chage",
    } <= set(PROGRAMS)  # fmt: skip


def test_events_are_events() -> None:
    for sample in SAMPLES:
        for event in parse_auth_line(sample.text, sample.offset, sample_ctx(sample.path)):
            assert isinstance(event, Event)
            assert event.dataset == "keibi.auth"
            assert event.kind == "event"
