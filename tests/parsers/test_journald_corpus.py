"""journald export records (``journalctl -o json``): the corpora exactly, parity with the
same records as syslog lines, the forgery rule, and hostile input."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keibi.events.model import Event
from keibi.parsers.journald import (
    DATASET,
    FORGED,
    PRIVILEGED,
    UNVERIFIED,
    parse_journal_line,
    parse_journal_record,
)
from keibi.parsers.registry import guess_type, source_type
from keibi.parsers.syslog_dispatch import parse_syslog_any
from tests.parsers.sample_corpus import (
    HOSTNAME,
    SAMPLES,
    DataLine,
    check_common,
    check_hostile_events,
    flatten,
    hostile_lines,
    load,
    mutations,
    sample_ctx,
)

FILES = sorted((SAMPLES / "journald").glob("*.json"))
LINES = [(path, line) for path in FILES for line in load(path).lines if line.text.strip()]
CASES = [pytest.param(path, line, id=f"{path.name}:{line.lineno}") for path, line in LINES]


def _record(line: DataLine) -> dict[str, Any]:
    record = json.loads(line.text)
    assert isinstance(record, dict)
    return record


def _events(line: DataLine, path: Path) -> list[Event]:
    return parse_journal_line(line.text, line.offset, sample_ctx(path))


def test_corpus_is_there() -> None:
    assert {p.name for p in FILES} >= {
        "auth.json", "cron.json", "kernel.json", "forged.json", "misc.json"
    }
    assert len(CASES) >= 50
    actions: set[tuple[str | None, str | None]] = set()
    for path, line in LINES:
        actions.update((e.action, e.outcome) for e in _events(line, path))
    for want in (
        ("ssh-login", "failure"), ("ssh-login", "success"), ("ssh-invalid-user", "failure"),
        ("sudo-command", "success"), ("su-failure", "failure"), ("cron-command", None),
        ("process-segfault", None), ("user-created", "success"), ("log-forgery", None),
    ):  # fmt: skip
        assert want in actions


@pytest.mark.parametrize(("path", "line"), CASES)
def test_corpus_line(path: Path, line: DataLine) -> None:
    assert line.expected is not None, f"{path}:{line.lineno} has no '# expect:' line"
    ctx = sample_ctx(path)
    events = parse_journal_line(line.text, line.offset, ctx)
    assert [flatten(e) for e in events] == line.expected, f"{path}:{line.lineno}"
    host = _record(line).get("_HOSTNAME") or HOSTNAME
    for event in events:
        check_common(event, line.text, line.offset, ctx, host)
        assert event.get("journald.cursor") == _record(line)["__CURSOR"]


@pytest.mark.parametrize(("path", "line"), CASES)
def test_trailing_newline_is_not_part_of_the_record(path: Path, line: DataLine) -> None:
    ctx = sample_ctx(path)
    assert parse_journal_line(line.text + "\n", line.offset, ctx) == parse_journal_line(
        line.text, line.offset, ctx
    )


# -- the same record as a syslog line gives the same event ----------------------------------

# What the journal adds to the event its syslog line gives (module docstring).
ADDED = {
    "journald.cursor", "journald.transport", "journald.unit", "journald.syslog_pid",
    "process.executable", "process.user.id", "user.audit.id", "log.level",
}  # fmt: skip
DIFFERENT = {"event.original", "log.file.path", "log.offset"}


def _as_syslog_line(record: dict[str, Any], event_time: float) -> str | None:
    """The record as rsyslog writes it to auth.log (RSYSLOG_FileFormat), or None when no
    syslog line can hold it."""
    message, ident = record.get("MESSAGE"), record.get("SYSLOG_IDENTIFIER")
    if isinstance(message, list):
        if not message or not isinstance(message[0], int):
            return None
        message = bytes(message).decode("utf-8", "replace").replace("\x00", "\ufffd")
    if not isinstance(message, str) or not isinstance(ident, str) or "\n" in message:
        return None
    stamp = datetime.fromtimestamp(event_time, UTC).isoformat(timespec="microseconds")
    pid = record.get("_PID")
    tag = f"{ident}[{pid}]" if pid else ident
    return f"{stamp} {record['_HOSTNAME']} {tag}: {message}"


@pytest.mark.parametrize(("path", "line"), CASES)
def test_same_events_as_the_syslog_line(path: Path, line: DataLine) -> None:
    events = _events(line, path)
    if any(e.dataset == DATASET for e in events):
        return  # forged or malformed: keibi's own verdict, no syslog twin
    syslog = _as_syslog_line(_record(line), events[0].timestamp)
    if syslog is None:
        return
    twins = parse_syslog_any(syslog, line.offset, sample_ctx(path))
    assert len(twins) == len(events)
    for event, twin in zip(events, twins, strict=True):
        ours = {k: v for k, v in flatten(event).items() if k not in DIFFERENT}
        theirs = {k: v for k, v in flatten(twin).items() if k not in DIFFERENT}
        for key, value in theirs.items():
            assert ours.pop(key) == value, key
        if "keibi.flags" in ours:
            assert ours.pop("keibi.flags") == [UNVERIFIED]
        if "user.id" in ours:  # a generic line's user is the sender
            assert event.action == "log-line" and ours.pop("user.id") == _record(line)["_UID"]
        assert set(ours) <= ADDED, set(ours) - ADDED


# -- forgery -------------------------------------------------------------------------------


def test_forged_records_never_reach_the_daemon_parsers() -> None:
    forged = [(path, line) for path, line in LINES if path.name == "forged.json"]
    assert len(forged) >= 8
    for path, line in forged:
        (event,) = _events(line, path)
        record = _record(line)
        assert event.action == "log-forgery"
        assert event.flags == (FORGED,)
        assert event.dataset == DATASET and event.category == ("process",)
        assert event.source_ip is None and event.user_name is None
        assert event.process_pid == int(record["_PID"])
        assert event.user_id == record["_UID"]
        assert event.process_name == record.get("_COMM")
        claimed = event.get("keibi.claimed_program")
        ident = record["SYSLOG_IDENTIFIER"]
        assert claimed in PRIVILEGED or claimed in ("kernel", "audit")
        assert claimed in (ident if isinstance(ident, list) else [ident]) or (
            event.message is not None and event.message.startswith(f"pam_unix({claimed}:")
        )


def test_brief_example_logger_t_sshd_by_uid_1000() -> None:
    """``logger -t sshd "Failed password for root from 1.2.3.4 port 22 ssh2"`` by an
    unprivileged user is not a failed SSH login, and is itself reported."""
    path = SAMPLES / "journald" / "forged.json"
    line = next(
        dl for dl in load(path).lines
        if dl.text.strip() and _record(dl).get("_COMM") == "logger"
        and "Failed password" in str(_record(dl).get("MESSAGE"))
    )  # fmt: skip
    assert _record(line)["_UID"] == "1000"
    (event,) = _events(line, path)
    assert event.action == "log-forgery" and event.action != "ssh-login"
    assert event.get("keibi.claimed_program") == "sshd"


BASE = {
    "__CURSOR": "s=1;i=1", "__REALTIME_TIMESTAMP": "1795679669556027", "_HOSTNAME": "h",
    "_TRANSPORT": "syslog", "PRIORITY": "6", "_PID": "4242", "_GID": "0",
}  # fmt: skip
FAILED = "Failed password for root from 203.0.113.9 port 22 ssh2"
DISCONNECT = "Disconnected from user alice 203.0.113.9 port 2222"


def _one(**fields: Any) -> Event:
    record = {**BASE, **{k: v for k, v in fields.items() if v is not None}}
    for k in [k for k, v in fields.items() if v is None]:
        record.pop(k, None)
    (event,) = parse_journal_record(record, json.dumps(record), 0, sample_ctx("j"))
    return event


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        # genuine sshd monitor, also after an upgrade replaced its binary
        ({"_EXE": "/usr/sbin/sshd"}, "ssh-login"),
        ({"_EXE": "/usr/sbin/sshd (deleted)"}, "ssh-login"),
        ({"_EXE": "/usr/lib/openssh/sshd-session", "_COMM": "sshd-session",
          "SYSLOG_IDENTIFIER": "sshd-session"}, "ssh-login"),
        # a root sender that exited before journald read /proc: accepted
        ({"_EXE": None, "_COMM": None}, "ssh-login"),
        # forgeries
        ({"_COMM": "logger", "_EXE": "/usr/bin/logger"}, "comm"),
        ({"_EXE": "/tmp/sshd"}, "exe"),
        ({"_EXE": "/usr/local/sbin/sshd"}, "exe"),
        ({"_UID": None}, "no-sender"),
        ({"_UID": "x"}, "no-sender"),
        ({"_UID": "1000", "_EXE": None}, "uid"),  # only the root monitor decides logins
        ({"_UID": "1000"}, "uid"),  # a user's own sshd cannot log in anyone either
        ({"_UID": "1000", "_EXE": None, "_COMM": None}, "unknown-sender"),
        ({"SYSLOG_IDENTIFIER": ["keibi-app", "sshd"], "_COMM": "python3"}, "comm"),
        ({"SYSLOG_IDENTIFIER": [115, 115, 104, 100], "_COMM": "logger"}, "comm"),  # bytes
        ({"SYSLOG_IDENTIFIER": "app", "_COMM": "app", "_EXE": "/usr/bin/app", "_UID": "1000",
          "MESSAGE": "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                     "tty=ssh ruser= rhost=203.0.113.9  user=root"}, "comm"),
    ],
)
def test_sshd_claims(fields: dict[str, Any], verdict: str) -> None:
    base = {"SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_EXE": "/usr/sbin/sshd",
            "_UID": "0", "MESSAGE": FAILED}  # fmt: skip
    event = _one(**{**base, **fields})
    if verdict == "ssh-login":
        assert event.action == "ssh-login" and event.outcome == "failure"
        assert event.source_ip == "203.0.113.9" and event.flags is None
    else:
        assert event.action == "log-forgery", event
        assert event.get("keibi.forgery.reason") == verdict
        assert event.get("keibi.claimed_program") in ("sshd", "sshd-session")


def test_unprivileged_sshd_child_may_only_disconnect() -> None:
    child = {"SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_UID": "1001", "MESSAGE": DISCONNECT}
    event = _one(**child, _EXE="/usr/sbin/sshd")
    assert event.action == "ssh-disconnected" and event.flags is None
    assert event.get("process.user.id") == "1001"
    event = _one(**child, _EXE=None)
    assert event.action == "ssh-disconnected" and event.flags == (UNVERIFIED,)


@pytest.mark.parametrize(
    ("fields", "action", "flags"),
    [
        # setuid programs log with the invoking user's uid
        ({"SYSLOG_IDENTIFIER": "sudo", "_COMM": "sudo", "_EXE": "/usr/bin/sudo",
          "_UID": "1001"}, "sudo-command", None),
        ({"SYSLOG_IDENTIFIER": "sudo", "_COMM": "sudo", "_UID": "1001"}, "sudo-command",
         (UNVERIFIED,)),
        ({"SYSLOG_IDENTIFIER": "sudo", "_UID": "1001"}, "log-forgery", (FORGED,)),
        ({"SYSLOG_IDENTIFIER": "sudo", "_COMM": "sudo", "_EXE": "/home/a/sudo",
          "_UID": "1001"}, "log-forgery", (FORGED,)),
    ],
)
def test_setuid_claims(
    fields: dict[str, Any], action: str, flags: tuple[str, ...] | None
) -> None:
    message = "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh"
    event = _one(**fields, MESSAGE=message)
    assert (event.action, event.flags) == (action, flags)


@pytest.mark.parametrize(
    ("fields", "forged"),
    [
        ({"SYSLOG_IDENTIFIER": "useradd", "_COMM": "useradd", "_EXE": "/usr/sbin/useradd",
          "_UID": "0"}, False),
        ({"SYSLOG_IDENTIFIER": "useradd", "_COMM": "useradd", "_EXE": "/usr/sbin/useradd",
          "_UID": "1000"}, True),  # root-only program: a user's run adds no one
        ({"SYSLOG_IDENTIFIER": "CRON", "_COMM": "cron", "_EXE": "/usr/sbin/cron",
          "_UID": "0"}, False),
        ({"SYSLOG_IDENTIFIER": "CRON", "_COMM": "crond", "_EXE": "/usr/sbin/crond",
          "_UID": "0"}, True),
        ({"SYSLOG_IDENTIFIER": "systemd-journald", "_COMM": "systemd-journal",
          "_EXE": "/lib/systemd/systemd-journald", "_UID": "0"}, False),  # comm: 15 bytes
        ({"SYSLOG_IDENTIFIER": "kernel", "_TRANSPORT": "kernel", "_PID": None, "_UID": None},
         False),
        ({"SYSLOG_IDENTIFIER": "kernel", "_COMM": "logger", "_UID": "0"}, True),
        ({"SYSLOG_IDENTIFIER": "audit", "_TRANSPORT": "audit", "_UID": "0"}, False),
        # early boot: systemd writes to /dev/kmsg, which only root can
        ({"SYSLOG_IDENTIFIER": "systemd", "_TRANSPORT": "kernel", "_PID": None,
          "_UID": None}, False),
        ({"SYSLOG_IDENTIFIER": "systemd", "_COMM": "systemd", "_EXE": "/lib/systemd/systemd",
          "_UID": "1000"}, False),  # a user manager
        ({"SYSLOG_IDENTIFIER": "systemd", "_COMM": "logger", "_UID": "1000"}, True),
        ({"SYSLOG_IDENTIFIER": "my-app", "_COMM": "logger", "_UID": "1000"}, False),
    ],
)
def test_other_claims(fields: dict[str, Any], forged: bool) -> None:
    event = _one(MESSAGE="new user: name=x, UID=5000, GID=5000, home=/h, shell=/bin/sh",
                 **fields)  # fmt: skip
    assert (event.action == "log-forgery") is forged, event


def test_enrichment() -> None:
    event = _one(SYSLOG_IDENTIFIER="sshd", _COMM="sshd", _EXE="/usr/sbin/sshd", _UID="0",
                 MESSAGE=FAILED, SYSLOG_PID="17", _AUDIT_LOGINUID="4294967295",
                 _SYSTEMD_UNIT="ssh.service", PRIORITY="3")  # fmt: skip
    assert event.process_pid == 4242 and event.process_executable == "/usr/sbin/sshd"
    assert event.get("journald.syslog_pid") == 17
    assert event.get("journald.unit") == "ssh.service"
    assert event.get("journald.transport") == "syslog"
    assert event.user_audit_id is None and event.log_level == "err"
    assert event.user_name == "root" and event.user_id is None
    assert event.timestamp == 1795679669.556027 and event.host_name == "h"


# -- malformed and hostile input --------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"MESSAGE": None},
        {"MESSAGE": "drop"},  # removed below
        {"MESSAGE": ["a", "b"]},
        {"MESSAGE": 5},
        {"MESSAGE": {"a": 1}},
        {"MESSAGE": [300, -1]},
        {"MESSAGE": [[104, 105], "x", None]},
        {"SYSLOG_IDENTIFIER": ["a", "b"]},
    ],
)
def test_malformed_records(fields: dict[str, Any]) -> None:
    record = {**BASE, "SYSLOG_IDENTIFIER": "app", "MESSAGE": "x", "_UID": "1000", **fields}
    if fields.get("MESSAGE") == "drop":
        del record["MESSAGE"]
    line = json.dumps(record)
    (event,) = parse_journal_line(line, 0, sample_ctx("j"))
    assert event.action == "log-line" and event.flags == ("malformed",)
    assert event.dataset == DATASET and event.original == line
    assert event.user_id == "1000" and event.process_pid == 4242


@pytest.mark.parametrize(
    "stamp", [None, "", "abc", "-1", "99999999999999999999", "253402300800000000", "1e9"]
)
def test_bad_time_stamps(stamp: str | None) -> None:
    record = {**BASE, "SYSLOG_IDENTIFIER": "app", "MESSAGE": "x", "_UID": "1000",
              "__REALTIME_TIMESTAMP": stamp}  # fmt: skip
    ctx = sample_ctx("j")
    (event,) = parse_journal_line(json.dumps(record), 0, ctx)
    assert event.timestamp == ctx.ref_time and event.flags == ("malformed",)


@pytest.mark.parametrize(
    "line",
    ["[1, 2]", '"text"', "null", "{", '{"MESSAGE": "x"', "{}x", "[" * 100_000, "{" * 100_000],
    ids=lambda s: repr(s[:12]),
)
def test_not_a_record(line: str) -> None:
    (event,) = parse_journal_line(line, 7, sample_ctx("j"))
    assert event.action == "log-line" and event.flags == ("malformed",)
    assert event.original == line and event.log_offset == 7


def test_blank_lines_give_nothing() -> None:
    ctx = sample_ctx("j")
    assert parse_journal_line("", 0, ctx) == []
    assert parse_journal_line("\n", 0, ctx) == []
    assert parse_journal_line("  \r\n", 0, ctx) == []


def test_empty_record() -> None:
    (event,) = parse_journal_line("{}", 0, sample_ctx("j"))
    assert event.flags == ("malformed",) and event.host_name == HOSTNAME


@pytest.mark.parametrize("line", hostile_lines(), ids=lambda s: repr(s[:12]))
def test_hostile_lines(line: str) -> None:
    started = time.perf_counter()
    events = parse_journal_line(line, 0, sample_ctx("j"))
    check_hostile_events(events, line.rstrip("\r\n") or None)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "message",
    [m for m in hostile_lines() if m.strip()] + ["Failed password for " + "x " * 500_000],
    ids=lambda s: repr(s[:12]),
)
def test_hostile_messages_of_a_genuine_sshd(message: str) -> None:
    record = {**BASE, "SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_UID": "0",
              "_EXE": "/usr/sbin/sshd", "MESSAGE": message}  # fmt: skip
    line = json.dumps(record)
    started = time.perf_counter()
    check_hostile_events(parse_journal_line(line, 0, sample_ctx("j")), line)
    assert time.perf_counter() - started < 1.0


def test_mutated_records() -> None:
    path = SAMPLES / "journald" / "forged.json"
    lines = [dl.text for dl in load(path).lines if dl.text.strip()][:3]
    for seed, line in enumerate(lines):
        for mutant in mutations(line, seed):
            events = parse_journal_line(mutant, 0, sample_ctx("j"))
            check_hostile_events(events, mutant.rstrip("\r\n") or None)
            assert all(e.action in ("log-forgery", "log-line") for e in events)


# -- registry ----------------------------------------------------------------------------------


def test_registry_sniffs_exports_not_any_json() -> None:
    head = (SAMPLES / "journald" / "misc.json").read_text().splitlines()
    assert guess_type("export.json", head) == "journald"
    assert guess_type("boot.log", [ln for ln in head if ln.startswith("{")][:1]) == "journald"
    assert guess_type("events.json", ['{"@timestamp": "2026-11-26T00:00:00Z"}']) is None
    st = source_type("journald")
    assert st.dataset == "keibi.journald"
    parser = st.make_parser()
    path = SAMPLES / "journald" / "forged.json"
    line = next(dl for dl in load(path).lines if dl.text.strip())
    ctx = sample_ctx(path)
    assert parser.feed(line.text, line.offset, ctx) == parse_journal_line(
        line.text, line.offset, ctx
    )
    assert parser.flush() == []


def test_claims_without_an_identifier_and_with_decorations() -> None:
    # no SYSLOG_IDENTIFIER: parsed under _COMM, which the sender can set with prctl
    event = _one(SYSLOG_IDENTIFIER=None, _COMM="sshd", _EXE="/usr/bin/python3.11",
                 _UID="1000", MESSAGE=FAILED)  # fmt: skip
    assert event.action == "log-forgery" and event.get("keibi.forgery.reason") == "exe"
    # "CRON(x)" goes to the cron parser like CRON, so it claims CRON
    event = _one(SYSLOG_IDENTIFIER="CRON(x)", _COMM="logger", _UID="1000",
                 MESSAGE="(root) CMD (id)")  # fmt: skip
    assert event.action == "log-forgery" and event.get("keibi.claimed_program") == "CRON(x)"


def test_pam_lines_of_unknown_services_from_users_are_unverified() -> None:
    message = ("pam_unix(kde:auth): authentication failure; logname= uid=1000 euid=1000 "
               "tty=:0 ruser= rhost=203.0.113.9  user=alice")  # fmt: skip
    event = _one(SYSLOG_IDENTIFIER="kscreenlocker", _COMM="kscreenlocker", _UID="1000",
                 _EXE="/usr/bin/kscreenlocker", MESSAGE=message)  # fmt: skip
    assert event.action == "pam-auth-failure" and event.flags == (UNVERIFIED,)
    event = _one(SYSLOG_IDENTIFIER="gdm-password", _COMM="gdm-session-wor", _UID="0",
                 MESSAGE=message.replace("kde", "gdm-password"))  # fmt: skip
    assert event.action == "pam-auth-failure" and event.flags is None
