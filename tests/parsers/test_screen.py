"""The screens of the auth and syslog parsers (keibi.parsers.screen) tell what parsing
gives, line by line.

For every line: when a screen splits the header, resuming from it gives exactly the
events the parser gives for the whole line; and when it names the line's outcomes, the
line gives ONE event, at the header's time, with the header's program as process.name and
one of those outcomes as (action, dataset, category). A worker that skips the lines the
prefilter rejects by their outcomes then sends the same events, ticks and counts as one
that parses every line, whatever the prefilter. Lines: every sample corpus (read as auth
and as syslog), a generated auth log (classic and ISO headers), attacker text, garbage,
invalid UTF-8, 1 MB lines and mutations of every corpus line.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keibi.engine.index import Prefilter
from keibi.events.model import Event
from keibi.offline_pool import ChunkResult, Setup, _range_tasks, _Worker
from keibi.offline_sift import Sifted, Sifter
from keibi.parsers import auth, syslog_dispatch
from keibi.parsers.auth import parse_auth_line
from keibi.parsers.context import LineContext, LineParser
from keibi.parsers.screen import Outcomes, Screen, Verdicts
from keibi.parsers.syslog_dispatch import parse_syslog_any
from tests.parsers.sample_corpus import SAMPLES, hostile_lines, mutations, sample_ctx

ROOT = Path(__file__).resolve().parents[2]
KINDS: dict[str, tuple[LineParser, Screen]] = {
    "auth": (parse_auth_line, auth.SCREEN),
    "syslog": (parse_syslog_any, syslog_dispatch.SCREEN),
}
SAMPLE_FILES = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix != ".md")

PROGRAMS = ["sshd[1]", "sshd-session[1]", "sshd-auth[2]", "sudo", "su[1]", "login[1]",
            "systemd-logind[1]", "useradd[1]", "usermod[1]", "userdel[1]", "groupadd[1]",
            "gpasswd[1]", "passwd[1]", "chage[1]", "CRON[1]", "cron[1]", "crontab[1]",
            "kernel", "systemd[1]", "rsyslogd", "rsyslogd-2177", "gdm-password]", "polkitd[9]",
            "CURL[3]", "curl", "SSHD[4]", "(sd-pam)[5]", "run-parts(/etc/cron.daily)[6]"]
MESSAGES = [
    "Failed password for root from 10.0.0.5 port 22 ssh2",
    "Failed password for invalid user x from 1.2.3.4 port 22 from 10.0.0.5 port 4242 ssh2",
    "Accepted publickey for alice from 10.0.0.5 port 22 ssh2: ED25519 SHA256:abc",
    "Partial publickey for alice from 10.0.0.5 port 22 ssh2",
    "Invalid user admin from 10.0.0.5 port 22", "Illegal user x from 10.0.0.5",
    "Connection closed by authenticating user root 10.0.0.5 port 22 [preauth]",
    "Connection reset by 10.0.0.5 port 22", "Connection from 10.0.0.5 port 1: oops",
    "Disconnected from user alice 10.0.0.5 port 22", "Disconnecting 10.0.0.5 port 1: x",
    "Received disconnect from 10.0.0.5 port 22:11: bye [preauth]",
    "Received signal 15; terminating.", "Received disconnect from x",
    "maximum authentication attempts exceeded for root from 10.0.0.5 port 22 ssh2",
    "Did not receive identification string from 10.0.0.5 port 22",
    "banner exchange: Connection from 10.0.0.5 port 22: invalid format",
    "kex_exchange_identification: Connection closed by remote host",
    "ssh_dispatch_run_fatal: Connection from 10.0.0.5 port 22: message authentication code",
    "Bad protocol version identification 'x' from 10.0.0.5 port 22",
    "Unable to negotiate with 10.0.0.5 port 22: no matching key exchange method found.",
    "Server listening on 0.0.0.0 port 22.", "Timeout before authentication for 10.0.0.5",
    "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.5",
    "PAM: Authentication failure for root from 10.0.0.5",
    "error: Failed password for root from 10.0.0.5 port 22 ssh2",
    "error: Received signal 15; terminating.", "fatal: Timeout before authentication for x",
    "error: error: Failed password for root from 10.0.0.5 port 22 ssh2", "error:", "fatal: x",
    "error: PAM: Authentication failure for root from 10.0.0.5",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
    "rhost=10.0.0.5  user=root",
    "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 "
    "ruser=alice rhost=  user=alice",
    "pam_unix(sshd:auth): check pass; user unknown",
    "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
    "pam_unix(cron:session): session closed for user root",
    "pam_unix(passwd:chauthtok): password changed for bob", "pam_unix(x): y", "pam_",
    "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
    "   alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
    "alice : user NOT in sudoers ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
    "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0", "+ pts/0 alice:root",
    "ROOT LOGIN  on '/dev/tty1'", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication",
    "New session 3 of user alice.", "Removed session 3.", "New seat seat0.",
    "new user: name=eve, UID=1001, GID=1001, home=/home/eve, shell=/bin/bash, from=/dev/pts/0",
    "add 'eve' to group 'sudo'", "add 'eve' to shadow group 'sudo'", "delete user 'eve'",
    "new group: name=eve, GID=1001", "delete user 'eve'#012",
    "(root) CMD (run-parts --report /etc/cron.hourly)", "(root) REPLACE (root)",
    "Started Session 1 of User root.", "Killed process 1 (x) total-vm:1kB",
    "message repeated 3 times: [ Failed password for root from 10.0.0.5 port 22 ssh2]",
    "message repeated 2 times: [ Invalid user x from 10.0.0.5 port 22]",
    "message repeated 9999 times: [ Received signal 15; terminating.]",
    "message repeated 3 times: [ x", "message r", "", " ", "x", "Failed", "Received",
]
_ISO = "2026-11-26T06:20:49.123456+00:00"


def _contexts() -> tuple[LineContext, LineContext]:
    return sample_ctx("/var/log/auth.log"), sample_ctx("/var/log/auth.log")


def check(kind: str, line: str, offset: int, ref: LineContext, ctx: LineContext) -> None:
    """The screen's contract for one line (``ref`` and ``ctx``: apart, each kept warm)."""
    parse, screen = KINDS[kind]
    expected = parse(line, offset, ref)
    found = screen.screen(line, ctx)
    if found is None:
        assert parse(line, offset, ctx) == expected, line[:300]
        return
    h, text, outcomes = found
    assert screen.resume(h, text, offset, ctx) == expected, line[:300]
    if outcomes is not None:
        assert len(expected) == 1, line[:300]
        ev = expected[0]
        assert ev.timestamp == h[0] and ev.process_name == h[2], line[:300]
        assert (ev.action, ev.dataset, ev.category) in outcomes, line[:300]


def _lines() -> Iterator[str]:
    for prog in PROGRAMS:
        for msg in MESSAGES:
            yield f"Nov 26 06:20:49 web1 {prog}: {msg}"
            yield f"{_ISO} web1 {prog}: {msg}"
        yield f"Nov 26 06:20:49 web1 {prog}:no space"
    for msg in MESSAGES:
        yield msg
        yield f"Nov 26 06:20:49 web1 sshd[1]: {msg} [preauth]"
        yield f"Nov 26 06:20:49 web1 sshd[1]: message repeated 2 times: [ {msg}]"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_program_and_message_shape(kind: str) -> None:
    ref, ctx = _contexts()
    for line in _lines():
        check(kind, line, 7, ref, ctx)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_corpora(kind: str, path: Path) -> None:
    ref, ctx = _contexts()
    offset = 0
    for raw in path.read_bytes().split(b"\n"):
        check(kind, raw.decode("utf-8", "replace"), offset, ref, ctx)
        offset += len(raw) + 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_hostile_lines(kind: str) -> None:
    ref, ctx = _contexts()
    for text in hostile_lines():
        check(kind, text, 0, ref, ctx)
        for prog in PROGRAMS:
            head = f"Nov 26 06:20:49 web1 {prog}: "
            check(kind, head + text, 0, ref, ctx)
            check(kind, head + "error: " + text, 0, ref, ctx)
            check(kind, head + "message repeated 2 times: [ " + text + "]", 0, ref, ctx)
            check(kind, head + "pam_unix(sshd:auth): " + text, 0, ref, ctx)


def _corpus_lines() -> list[str]:
    lines = [f"Nov 26 06:20:49 web1 {p}: {m}" for p in PROGRAMS[::3] for m in MESSAGES]
    for path in SAMPLE_FILES:
        if path.parent.name in ("auth", "syslog", "cron"):
            lines += [ln for ln in path.read_text().splitlines() if ln and ln[0] != "#"]
    return lines


CORPUS = _corpus_lines()


@pytest.mark.parametrize("chunk", range(8))
def test_mutated_lines(chunk: int) -> None:
    ref, ctx = _contexts()
    for index in range(chunk, len(CORPUS), 8):
        for line in mutations(CORPUS[index], seed=index, count=6):
            check("auth", line, 0, ref, ctx)
            check("syslog", line, 0, ref, ctx)


def test_verdicts_ask_the_prefilter_of_each_outcome() -> None:
    pf = Prefilter(("action", "process_name"),
                   (frozenset({"ssh-login"}), frozenset({"curl"})), False)
    verdicts = Verdicts.of(pf.attrs, pf.wants)
    assert verdicts is not None
    o: Outcomes = frozenset({("log-line", "keibi.auth", ()), ("ssh-login", "keibi.auth", ())})
    assert verdicts.wanted(o, "sshd")
    assert not verdicts.wanted(frozenset({("log-line", "keibi.auth", ())}), "sshd")
    assert verdicts.wanted(frozenset({("log-line", "keibi.auth", ())}), "CURL")  # lower-cased
    assert Verdicts.of(("action", "source_ip"), pf.wants) is None  # a field it cannot tell


# -- whole chunks, as a worker reads them ------------------------------------------------

@pytest.fixture(scope="module")
def logfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated auth log, a third of it with ISO headers, and hostile records."""
    d = tmp_path_factory.mktemp("screen")
    gen = d / "gen.log"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_authlog.py"), str(gen),
                    "--lines", "20000", "--seed", "5"], check=True, capture_output=True)
    rnd = random.Random(5)
    out = bytearray()
    for n, raw in enumerate(gen.read_bytes().splitlines(keepends=True)):
        if n % 3 == 1:  # "Oct  1 00:01:34 host ..." -> "2026-10-01T00:01:34.NNNNNN+00:00 host ..."
            day = int(raw[4:6])
            out += b"2026-10-%02dT%s.%06d+00:00" % (day, raw[7:15], rnd.randrange(10**6))
            out += raw[15:]
        else:
            out += raw
        if n % 997 == 0:
            out += b"Oct  1 00:01:34 web01 sshd[1]: Failed password for \xff\xfe from 10.0.0.5 "
            out += b"port 22 ssh2\r\n"
        if n % 4999 == 0:
            out += b"Oct  1 00:01:35 web01 sshd[1]: Invalid user " + b"A" * 1_000_000 + b"\n"
            out += b"\x00garbage\x80\n\n \nno header at all\n"
            out += b"Oct  1 00:01:36 web01 sshd[1]: message repeated 3 times: [ Failed "
            out += b"password for root from 10.0.0.5 port 22 ssh2]\n"
    for path in SAMPLE_FILES:
        out += path.read_bytes()
    out += b"Oct  1 00:01:37 web01 sshd[1]: Invalid user no-newline from 10.0.0.5"
    log = d / "auth.log"
    log.write_bytes(bytes(out))
    os.utime(log, (1_798_000_000, 1_798_000_000))
    return log


def _all_outcomes() -> set[tuple[str, str, tuple[str, ...]]]:
    from keibi.parsers.auth import generic, logind, pam, shadow, sshd, su_login, sudo

    found: set[tuple[str, str, tuple[str, ...]]] = {generic.GENERIC}
    for msg in MESSAGES:
        for fn in (sshd.outcomes, pam.outcomes, sudo.outcomes, su_login.su_outcomes,
                   su_login.login_outcomes, logind.outcomes, shadow.outcomes):
            found |= fn(msg)
    return found


def _prefilters() -> list[Prefilter]:
    attrs = ("action", "dataset", "process_name", "category")
    none: frozenset[str] = frozenset()
    out = [Prefilter(attrs, (none, none, none, none), False),
           Prefilter(attrs, (none, frozenset({"keibi.auth"}), none, none), False),
           Prefilter(attrs, (none, none, frozenset({"sshd", "curl"}), none), False),
           Prefilter(attrs, (none, none, none, frozenset({"session"})), False),
           Prefilter(attrs, (frozenset({"log-line"}), none, none, none), False),
           Prefilter(("action",), (frozenset({"ssh-login"}),), False),
           Prefilter(attrs, (none, none, none, none), True)]
    out += [Prefilter(attrs, (frozenset({action}), none, none, none), False)
            for action, _, _ in sorted(_all_outcomes())]
    from keibi.config import load_config
    from keibi.detection import build_engine

    out.append(build_engine(load_config(None), updates=False).prefilter())
    return out


def _results(path: Path, stype: str, pf: Prefilter, screened: bool) -> list[ChunkResult]:
    worker = _Worker(Setup(pf.attrs, pf.values, pf.everything, 65536))
    worker._sifter = Sifter(pf)  # this very prefilter (with whatever else it holds)
    if not screened:
        worker._sifter._verdicts = None
    return [worker.run(t) for t in _range_tasks(stype, str(path), os.stat(path).st_mtime)]


@pytest.mark.parametrize("stype", ["auth", "syslog"])
def test_workers_send_the_same_with_and_without_screening(
        logfile: Path, stype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from keibi import offline_pool

    monkeypatch.setattr(offline_pool, "CHUNK_BYTES", 256 << 10)
    prefilters = _prefilters()
    rejected = 0
    for pf in prefilters:
        plain = _results(logfile, stype, pf, screened=False)
        screened = _results(logfile, stype, pf, screened=True)
        assert screened == plain, pf.values
        rejected += sum(r.events - len(r.kept) for r in plain)
    assert rejected > 100_000  # most lines were screened out, and the same came of it
    total = plain[0]
    assert sum(r.decode_errors for r in plain) > 0 and sum(r.truncated for r in plain) > 0
    assert total.lines > 0


def test_unknown_lines_and_flags_are_unchanged(logfile: Path) -> None:
    """What ``keibi events`` prints does not go through the screen at all; the events a
    screened worker keeps are the parser's own (flags, generic events included)."""
    pf = Prefilter(("action",), (frozenset({"log-line", "ssh-login"}),), False)
    kept: list[Event] = [e for r in _results(logfile, "auth", pf, True) for e in r.kept]
    assert any(e.flags and "log-injection" in e.flags for e in kept)
    assert any(e.action == "log-line" and e.process_name is None for e in kept)


# -- answers from a header's parts, and the sifter that uses them --------------------------

def _word_of(msg: str) -> str:
    sp = msg.find(" ")
    return msg[:sp] if sp >= 0 else msg


def _check_word_outcomes(kind: str, line: str, ctx: LineContext) -> None:
    """``outcomes(program, message)`` is what ``screen`` says of the line, and the answer
    for its first word bounds it (and is it, where the word says it is exact)."""
    screen = KINDS[kind][1]
    assert screen.outcomes is not None and screen.word_outcomes is not None
    found = screen.screen(line, ctx)
    if found is None:
        return
    h, _, outcomes = found
    assert screen.outcomes(h[2], h[4]) == outcomes, line[:300]
    bound = screen.word_outcomes(h[2], _word_of(h[4]))
    if bound is None:
        return
    assert outcomes is not None, line[:300]  # a bounded word: one event a line
    assert outcomes <= bound[0], line[:300]
    if bound[1]:
        assert outcomes == bound[0], line[:300]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_word_outcomes_bound_what_the_screen_says(kind: str) -> None:
    ctx = sample_ctx("/var/log/auth.log")
    lines = list(_lines()) + CORPUS
    for index, line in enumerate(CORPUS[::5]):
        lines += mutations(line, seed=index, count=4)
    for text in hostile_lines():
        lines += [f"Nov 26 06:20:49 web1 {prog}: {text}" for prog in PROGRAMS]
        lines += [f"Nov 26 06:20:49 web1 sshd[1]: {word}{text}"
                  for word in ("pam_unix(sshd:auth): ", "pam_x(sudo:auth): ", "pam_x(", "(",
                               "pam_x):", "error: ", "Received ", "message ")]
    pam_shapes = [f"pam_unix{service}{rest}" for service in (
        "(sudo: x)", "(sudo x)", "(sudo:auth) ", "(sudo:", "(sudo", "(sudo)", "(x(sudo:a)",
        "(sshd:auth)", "", "(", ")(sudo:a)") for rest in (
        ": authentication failure; logname= uid=0 euid=0 tty= ruser= rhost= user=x",
        " x): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost= user=x",
        ": session opened for user root(uid=0) by (uid=0)", ": password changed for x",
        "): session closed for user x", ":x")]
    lines += [f"Nov 26 06:20:49 web1 {prog}: {msg}" for prog in PROGRAMS for msg in pam_shapes]
    for line in lines:
        _check_word_outcomes(kind, line, ctx)


def test_word_outcomes_of_pam_words() -> None:
    """A ``pam_MODULE(SERVICE:TYPE):`` word names the service; any other leaves it open."""
    from keibi.parsers.auth import pam

    sudo, _ = pam.word_outcomes("pam_unix(sudo:auth):")
    sshd, _ = pam.word_outcomes("pam_unix(sshd:auth):")
    anyone, exact = pam.word_outcomes("pam_unix")
    actions = {action for action, _, _ in anyone}
    assert not exact and {"sudo-auth-failure", "pam-auth-failure"} <= actions
    assert "sudo-auth-failure" in {a for a, _, _ in sudo} - {a for a, _, _ in sshd}
    assert pam.word_outcomes("(x):") == (frozenset({("log-line", "keibi.auth", ())}), True)


def _sequences() -> Iterator[list[str]]:
    """Runs of lines that continue each other the ways a sifter reads in place (the same
    header; the same minute, host and tag at another second; the same host and program
    with another pid) and the ways that must not be read so (another minute, a line end,
    other digits, another host or tag, no header)."""
    rnd = random.Random(17)
    messages = [m for m in MESSAGES if m] + [ln.split(": ", 1)[1] for ln in CORPUS[:400]
                                            if ": " in ln]
    seconds = ["49", "50", "59", "00", "5١", "6x", "4"]
    for n in range(400):
        lines = []
        minute = rnd.choice(["Nov 26 06:20", "Nov 26 06:21", "Oct  1 00:01", "Feb 30 10:00"])
        prog = rnd.choice(PROGRAMS)
        for _ in range(rnd.randrange(1, 40)):
            r = rnd.random()
            if r < 0.1:
                minute = rnd.choice(["Nov 26 06:22", "Nov 26 23:59", "Nov 26 25:00"])
            elif r < 0.2:
                prog = rnd.choice(PROGRAMS)
            elif r < 0.3:
                prog = prog.split("[")[0] + f"[{rnd.choice(['7', '8', '12345678901', '١', ''])}]"
            second = rnd.choice(seconds) if rnd.random() < 0.3 else "49"
            host = "web1" if rnd.random() < 0.9 else rnd.choice(["web2", "w\teb1", "a:"])
            line = f"{minute}:{second} {host} {prog}: {rnd.choice(messages)}"
            r = rnd.random()
            if r < 0.03:
                line += rnd.choice(["\r", "\n", " \r"])
            elif r < 0.06:
                line = line.replace(": ", ":", 1)
            elif r < 0.08:
                line = rnd.choice(hostile_lines()[:10])
            elif r < 0.1:
                line = f"{_ISO} {host} {prog}: {rnd.choice(messages)}"
            lines.append(line)
        if n % 2:
            lines = [ln.replace(": ", ": message repeated 2 times: [ ", 1) + "]"
                     if rnd.random() < 0.1 else ln for ln in lines]
        yield lines


def _sift(kind: str, pf: Prefilter, lines: list[str], in_place: bool) -> Sifted:
    from keibi.parsers.stream import LineStream

    parse, screen = KINDS[kind]
    if not in_place:  # the same screen, line by line: no answers from a header's parts
        screen = Screen(screen.screen, screen.resume)
    out = Sifted()
    Sifter(pf).sift(list(range(len(lines))), lines, sample_ctx("/var/log/auth.log"),
                    LineStream(parse, screen), out)
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_sifter_reads_headers_in_place_as_they_are_split(kind: str) -> None:
    """Sifting from the header's parts (lines that continue the last header, verdicts per
    first word) keeps, times and counts exactly what screening each line whole does."""
    prefilters = _prefilters()
    for lines in _sequences():
        for pf in prefilters[::3]:
            fast, whole = _sift(kind, pf, lines, True), _sift(kind, pf, lines, False)
            assert (fast.kept, fast.ticks, fast.cuts, fast.events) == (
                whole.kept, whole.ticks, whole.cuts, whole.events), (pf.values, lines)


def test_the_sifter_remembers_a_bounded_number_of_words() -> None:
    from keibi import offline_sift
    from keibi.parsers.stream import LineStream

    sifter = Sifter(Prefilter(("action",), (frozenset({"ssh-login"}),), False))
    lines = [f"Nov 26 06:20:49 web1 p{i % 300}[{i}]: w{i}{'x' * (i * 7 % 150)} y"
             for i in range(20000)]
    sifter.sift(list(range(len(lines))), lines, sample_ctx("/var/log/auth.log"),
                LineStream(parse_auth_line, auth.SCREEN), Sifted())
    for programs in sifter._words.values():
        assert len(programs) <= offline_sift._PROGRAMS_MAX
        for words in programs.values():
            assert len(words) <= offline_sift._WORDS_MAX
            assert all(len(w) <= offline_sift._WORD_LEN_MAX for w in words)
