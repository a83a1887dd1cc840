"""Hostile input to the auth-log parser: log injection through user names and other
attacker text, garbage, control characters, 1 MB lines, and patterns an attacker could
use to make a regular expression take quadratic time."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest

import keibi.parsers.auth as auth
from keibi.events.model import Event
from keibi.parsers.auth import MAX_REPEAT, parse_auth_line
from keibi.parsers.auth.generic import is_ip
from tests.parsers.sample_corpus import (
    check_hostile_events,
    corpus_files,
    hostile_lines,
    mutations,
    sample_ctx,
)
from tests.parsers.test_auth_corpus import load_samples

CTX_PATH = Path("/var/log/auth.log")
HEAD = "Nov 26 06:20:49 web1 sshd[1234]: "
ISO_HEAD = "2026-11-26T06:20:49.123456+00:00 web1 sshd-session[1234]: "


def parse(msg: str, head: str = HEAD) -> list[Event]:
    return parse_auth_line(head + msg, 0, sample_ctx(CTX_PATH))


def one(msg: str, head: str = HEAD) -> Event:
    events = parse(msg, head)
    assert len(events) == 1
    return events[0]


def test_the_textbook_injection() -> None:
    e = one("Failed password for invalid user x from 1.2.3.4 port 22 from 10.0.0.5 port 4242 ssh2")
    assert e.action == "ssh-login" and e.outcome == "failure"
    assert e.source_ip == "10.0.0.5" and e.source_port == 4242
    assert e.user_name == "x from 1.2.3.4 port 22"
    assert e.related_ip == ("10.0.0.5",)
    assert e.flags is not None and "log-injection" in e.flags


HOSTILE_USERS = [
    "x from 1.2.3.4 port 22",
    "x from 9.9.9.9 port 22 ssh2",
    "y 9.9.9.9 port 22",
    "z from 2001:db8::bad port 1 ssh2: RSA SHA256:fake",
    "q] from 9.9.9.9 port 1 ssh2",
    "w [preauth]",
    "v from 9.9.9.9",
    "u port 7",
]
PLAIN_USERS = ["ñandú😀", "' OR 1=1-- \"", "\\033[31mred", "C:\\Windows", "a;b", "x ", "", "$(id)"]
REAL_IPS = ["10.0.0.5", "2001:db8::5", "::ffff:192.0.2.10", "fe80::1%eth0"]
# (template, action, flagged when the user is hostile)
USER_TEMPLATES = [
    ("Failed password for invalid user {u} from {ip} port 4242 ssh2", "ssh-login"),
    ("Failed password for {u} from {ip} port 4242 ssh2", "ssh-login"),
    ("Accepted publickey for {u} from {ip} port 4242 ssh2: ED25519 SHA256:abcDEF123+/",
     "ssh-login"),
    ("Failed keyboard-interactive/pam for invalid user {u} from {ip} port 4242 ssh2 [preauth]",
     "ssh-login"),
    ("Invalid user {u} from {ip} port 4242", "ssh-invalid-user"),
    ("Connection closed by invalid user {u} {ip} port 4242 [preauth]", "ssh-connection-closed"),
    ("Connection closed by authenticating user {u} {ip} port 4242 [preauth]",
     "ssh-connection-closed"),
    ("Connection reset by invalid user {u} {ip} port 4242 [preauth]", "ssh-connection-closed"),
    ("Disconnected from invalid user {u} {ip} port 4242 [preauth]", "ssh-disconnected"),
    ("error: maximum authentication attempts exceeded for invalid user {u} from {ip} port 4242 "
     "ssh2 [preauth]", "ssh-max-auth-exceeded"),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
     "rhost={ip}  user={u}", "pam-auth-failure"),
    ("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  "
     "user={u}", "pam-auth-failures-summary"),
]  # fmt: skip


@pytest.mark.parametrize("ip", REAL_IPS)
@pytest.mark.parametrize(("template", "action"), USER_TEMPLATES)
@pytest.mark.parametrize("user", HOSTILE_USERS + PLAIN_USERS)
def test_user_names_cannot_move_the_source(template: str, action: str, user: str, ip: str) -> None:
    if template.startswith(("pam_unix", "PAM")) and user in ("", "x "):
        return  # PAM writes no "user=" for an empty name; a trailing space is lost
    for head in (HEAD, ISO_HEAD):
        e = one(template.format(u=user, ip=ip), head)
        assert e.action == action
        assert e.source_ip == ip
        assert e.user_name == (user or ("" if action != "pam-auth-failure" else None)) or (
            user == "" and e.user_name is None
        )
        if user in HOSTILE_USERS:
            assert e.flags is not None and "log-injection" in e.flags, user
        elif user in PLAIN_USERS:
            assert not e.flags


@pytest.mark.parametrize("user", HOSTILE_USERS)
def test_repeated_message_keeps_the_real_source(user: str) -> None:
    events = parse(f"message repeated 3 times: [ Failed password for invalid user {user} from "
                   "10.0.0.5 port 4242 ssh2]")  # fmt: skip
    assert len(events) == 3
    for e in events:
        assert e.source_ip == "10.0.0.5" and e.user_name == user


@pytest.mark.parametrize(
    ("msg", "ip"),
    [
        ("Received disconnect from 10.0.0.9 port 4245:11: from 1.2.3.4 port 22 [preauth]",
         "10.0.0.9"),
        ("Received disconnect from 10.0.0.9 port 4245:11: x 9.9.9.9 port 22:11: y", "10.0.0.9"),
        ("Unable to negotiate with 10.0.0.9 port 4245: no matching cipher found. Their offer: "
         "with 9.9.9.9 port 22: aes [preauth]", "10.0.0.9"),
        ("banner exchange: Connection from 10.0.0.9 port 4245: invalid format", "10.0.0.9"),
        ("Did not receive identification string from 10.0.0.9 port 4245", "10.0.0.9"),
    ],
)  # fmt: skip
def test_trailing_attacker_text_cannot_move_the_source(msg: str, ip: str) -> None:
    e = one(msg)
    assert e.source_ip == ip


def test_non_addresses_never_become_source_ip() -> None:
    for msg in (
        "Failed password for root from UNKNOWN port 65535 ssh2",
        "Failed password for root from 999.1.1.1 port 22 ssh2",
        "Failed password for root from 01.2.3.4 port 22 ssh2",
        "Invalid user x from fe80::1%<script> port 22",
        "Connection closed by evil.example.com port 22 [preauth]",
    ):
        e = one(msg)
        assert e.source_ip is None and e.related_ip is None, msg
    e = one("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
            "rhost=evil.example.com  user=root")  # fmt: skip
    assert e.source_ip is None and e.source_domain == "evil.example.com"


@pytest.mark.parametrize(
    ("text", "valid"),
    [("1.2.3.4", True), ("255.255.255.255", True), ("0.0.0.0", True), ("256.1.1.1", False),
     ("1.2.3", False), ("01.2.3.4", False), ("1.2.3.4 ", False), (" 1.2.3.4", False),
     ("1.2.3.4\n", False), ("١.٢.٣.٤", False), ("::", True), ("::1", True),
     ("2001:db8::1", True), ("::ffff:1.2.3.4", True), ("fe80::1%eth0", True),
     ("fe80::1%<x>", False), ("fe80::1%", False), ("2001:db8::g", False),
     ("1:2:3:4:5:6:7:8:9", False), ("", False), ("localhost", False), ("1.2.3.4/24", False)],
)  # fmt: skip
def test_is_ip(text: str, valid: bool) -> None:
    assert is_ip(text) is valid
    assert is_ip(text) is valid  # cached


def test_sudo_values_holding_key_text_are_flagged() -> None:
    pwd = one("   alice : TTY=pts/0 ; PWD=/tmp/x ; USER=root ; COMMAND=/bin/true ; USER=alice ; "
              "COMMAND=/usr/bin/id", head="Nov 26 06:20:49 web1 sudo: ")  # fmt: skip
    cmd = one("   alice : TTY=pts/0 ; PWD=/home/alice ; USER=nobody ; COMMAND=/bin/echo ; "
              "USER=root ; COMMAND=/bin/sh", head="Nov 26 06:20:49 web1 sudo: ")  # fmt: skip
    for e in (pwd, cmd):
        assert e.action == "sudo-command"
        assert e.flags == ("log-injection",)
        assert e.user_name == "alice"
        assert "COMMAND=" in (e.process_command_line or "")
    plain = one("   alice : TTY=pts/0 ; PWD=/a ; b ; USER=root ; COMMAND=/bin/echo 'a ; b'",
                head="Nov 26 06:20:49 web1 sudo: ")  # fmt: skip
    assert plain.flags is None
    assert plain.process_working_directory == "/a ; b"
    assert plain.process_command_line == "/bin/echo 'a ; b'"


def test_repeat_count_is_capped_and_flagged() -> None:
    events = parse("message repeated 5000 times: [ Failed password for root from 10.0.0.5 "
                   "port 22 ssh2]")  # fmt: skip
    assert len(events) == MAX_REPEAT == 1000
    assert all(e.flags == ("repeat-capped",) and e.source_ip == "10.0.0.5" for e in events)
    huge = parse("message repeated 999999999999 times: [ x]")
    assert len(huge) == MAX_REPEAT
    assert len(parse("message repeated 0 times: [ Failed password for root from 10.0.0.5 "
                     "port 22 ssh2]")) == 1  # fmt: skip
    assert len(parse("message repeated 99999999999999999 times: [ x]")) == 1  # not a count


PROGRAM_HEADS = [f"Nov 26 06:20:49 web1 {p}: " for p in (
    "sshd[1]", "sshd-session[1]", "sudo", "su[1]", "login[1]", "systemd-logind[1]",
    "useradd[1]", "usermod[1]", "groupmod[1]", "gpasswd[1]", "passwd[1]", "CRON[1]",
)]  # fmt: skip


@pytest.mark.parametrize("head", PROGRAM_HEADS)
def test_hostile_lines_never_raise(head: str) -> None:
    ctx = sample_ctx(CTX_PATH)
    for text in hostile_lines():
        for line in (text, head + text):
            events = parse_auth_line(line, 0, ctx)
            assert len(events) == 1
            check_hostile_events(events, line.rstrip("\r\n") if line.endswith("\n") else line)


CORPUS_LINES = [s.text for p in corpus_files("auth") for s in load_samples(p)]


@pytest.mark.parametrize("index", range(0, len(CORPUS_LINES), 3))
def test_mutated_corpus_lines(index: int) -> None:
    ctx = sample_ctx(CTX_PATH)
    for line in mutations(CORPUS_LINES[index], seed=index):
        events = parse_auth_line(line, 5, ctx)
        assert events
        check_hostile_events(events, line)
        for e in events:
            assert e.log_offset == 5 and e.dataset == "keibi.auth"
            if e.source_ip is not None:
                assert e.source_ip in line
                ipaddress.ip_address(e.source_ip)
                assert e.related_ip == (e.source_ip,)


# Units an attacker can repeat to make a backtracking pattern work hard.
_UNITS = [" from 1.2.3.4 port 22", " 9.9.9.9 port 1", " port 1: ", " by ", "(uid=1)", "' to '",
          " ; USER=root", " ; COMMAND=x", ", ", "'", "=", " ", "ssh2: ", ": ", "a", "[", "]",
          " rhost=1.2.3.4", " user=", "' FOR '", "', "]  # fmt: skip
_PREFIXES = {
    "sshd[1]": ["Failed password for invalid user ", "Accepted publickey for x from ",
                "Invalid user ", "Connection closed by invalid user ", "Disconnecting user ",
                "Received disconnect from 1.2.3.4 port 1:11: ", "Unable to negotiate with ",
                "error: maximum authentication attempts exceeded for ", "banner exchange: ",
                "ssh_dispatch_run_fatal: Connection from ", "Bad protocol version identification ",
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                "ruser= rhost=", "PAM 3 more authentication failures; ",
                "pam_unix(sshd:session): session opened for user ", "message repeated 2 times: [ "],
    "sudo": ["   alice : TTY=pts/0 ; PWD=", "   alice : 3 incorrect password attempts ; "],
    "su[1]": ["(to root) ", "FAILED SU (to ", "+ pts/0 ", "Successful su for "],
    "login[1]": ["ROOT LOGIN  on '", "FAILED LOGIN (1) on '", "'a' logged in  on '",
                 "FAILED LOGIN 1 FROM ", "LOGIN ON "],
    "systemd-logind[1]": ["New session ", "New session '1' of user '", "Removed session "],
    "usermod[1]": ["change user '", "change user name '", "add '", "change '"],
    "useradd[1]": ["new user: name=", "new group: name=", "failed adding user '"],
    "groupmod[1]": ["group changed in /etc/group (group "],
    "gpasswd[1]": ["user a added by b to group ", "members of group a set by b to "],
}  # fmt: skip


@pytest.mark.parametrize("program", sorted(_PREFIXES))
def test_no_quadratic_time_on_repetitive_input(program: str) -> None:
    ctx = sample_ctx(CTX_PATH)
    worst = 0.0
    for prefix in _PREFIXES[program]:
        for unit in _UNITS:
            line = f"Nov 26 06:20:49 web1 {program}: {prefix}{unit * (200_000 // len(unit))}x"
            t0 = time.perf_counter()
            events = parse_auth_line(line, 0, ctx)
            worst = max(worst, time.perf_counter() - t0)
            assert events and events[0].original == line
            assert "parse-error" not in (events[0].flags or ())
    assert worst < 1.0, worst  # linear: a few ms; quadratic: minutes


def test_safety_net_keeps_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> list[Event]:
        raise RuntimeError("a bug")

    monkeypatch.setitem(auth.PROGRAMS, "sshd", broken)
    line = HEAD + "Failed password for root from 10.0.0.5 port 22 ssh2"
    (e,) = parse_auth_line(line, 7, sample_ctx(CTX_PATH))
    assert e.original == line and e.log_offset == 7 and e.action == "log-line"
    assert e.flags == ("parse-error",)


def test_repeated_attempt_messages_give_what_a_first_reading_gives() -> None:
    """sshd's ``Failed``/``Accepted``/``Partial`` messages are read once while they
    repeat (one connection's attempts): a message read before gives, under another
    header, path and offset, exactly the events it gives read afresh."""
    from keibi.parsers.auth import sshd

    users = HOSTILE_USERS + PLAIN_USERS + ["root", "invalid user x", "illegal user "]
    messages = [f"{verb} {method} for {user} from {ip} port 22 ssh2{info}"
                for verb in ("Failed", "Accepted", "Partial")
                for method in ("password", "keyboard-interactive/pam", "publickey")
                for user in users for ip in ("10.0.0.5", "host.example", "2001:db8::1")
                for info in ("", ": RSA SHA256:abc", ": x from 1.2.3.4 port 1 ssh2")]
    messages += [m + " [preauth]" for m in messages[::7]] + ["Failed", "Failed password"]
    heads = [HEAD, ISO_HEAD, "Nov 27 01:02:03 other sshd-auth[9]: "]
    contexts = [sample_ctx(CTX_PATH), sample_ctx("/var/log/secure")]
    for n, msg in enumerate(messages):
        for i, head in enumerate(heads):
            ctx = contexts[(n + i) % 2]
            warm = parse_auth_line(head + msg, n + i, ctx)  # the second and third: seen
            sshd._SEEN_ATTEMPTS.clear()
            assert warm == parse_auth_line(head + msg, n + i, ctx), head + msg
            parse_auth_line(HEAD + msg, 0, ctx)  # seen again, under another header
    assert len(sshd._SEEN_ATTEMPTS) <= sshd._SEEN_MAX


def test_attempt_messages_seen_are_bounded() -> None:
    from keibi.parsers.auth import sshd

    for i in range(3 * sshd._SEEN_MAX):
        parse(f"Failed password for u{i} from 10.0.0.5 port 22 ssh2")
    parse("Failed password for " + "x" * 100_000 + " from 10.0.0.5 port 22 ssh2")
    assert len(sshd._SEEN_ATTEMPTS) <= sshd._SEEN_MAX
    assert all(len(m) <= sshd._SEEN_TEXT_MAX for m in sshd._SEEN_ATTEMPTS)
