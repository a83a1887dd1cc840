"""Live: a real systemd-journald, records sent by real programs, read by JournalReader.

The test starts ``/lib/systemd/systemd-journald`` by hand (no systemd as PID 1 needed)
in a private mount namespace: tmpfs on ``/dev`` (no ``/dev/kmsg``, so the host's kernel
log is neither read nor written; ``/dev/log`` points at journald's socket), on
``/run/systemd`` and ``/run/log``, its journal directory bind-mounted from the test's
temp dir, a journald.conf of its own (volatile storage, no kmsg, no forwarding) over
``/etc/systemd/journald.conf``, and the audit capabilities dropped from its bounding set
(systemd 252 would otherwise join the audit multicast group and switch auditing on for
the whole host). Programs run in that namespace through ``nsenter``; the reader runs
``journalctl --directory`` on the temp dir from outside. journald is stopped by the pid
the test started. Missing programs or privileges make the tests FAIL, with the reason.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.journald import FORGED, parse_journal_line
from keibi.sources.journald import NOT_FOUND, JournalReader
from tests.live.daemons import stop_pid, wait_for

JOURNALD = "/lib/systemd/systemd-journald"
NOBODY = 65534
FORGED_LINE = "Failed password for root from 203.0.113.9 port 22 ssh2"

NS_SETUP = r"""
import os, subprocess, sys
tmp, argv = sys.argv[1], sys.argv[2:]
def run(*a):
    subprocess.run(list(a), check=True)
old = os.path.join(tmp, "olddev")
os.makedirs(old, exist_ok=True)
run("mount", "--rbind", "/dev", old)
run("mount", "-t", "tmpfs", "-o", "mode=755", "keibi-test-dev", "/dev")
for name in ("null", "zero", "urandom", "random", "full"):
    open("/dev/" + name, "w").close()
    run("mount", "--bind", os.path.join(old, name), "/dev/" + name)
os.symlink("/proc/self/fd", "/dev/fd")
os.symlink("/run/systemd/journal/dev-log", "/dev/log")
run("umount", "-l", old)
os.rmdir(old)
run("mount", "-t", "tmpfs", "-o", "mode=755", "keibi-test-run-systemd", "/run/systemd")
run("mount", "-t", "tmpfs", "-o", "mode=755", "keibi-test-run-log", "/run/log")
os.makedirs("/run/log/journal")
run("mount", "--bind", os.path.join(tmp, "journal"), "/run/log/journal")
run("mount", "--bind", os.path.join(tmp, "journald.conf"), "/etc/systemd/journald.conf")
os.execv(argv[0], argv)
"""

CONF = """[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitBurst=0
"""


def _missing() -> list[str]:
    need = [JOURNALD, "journalctl", "systemd-cat", "logger", "unshare", "nsenter", "setpriv"]
    missing = [p for p in need if shutil.which(p) is None and not os.path.exists(p)]
    if os.geteuid() != 0:
        missing.append("root (mount namespaces)")
    return missing


class Journald:
    """systemd-journald in a private mount namespace, writing to ``tmp/journal``."""

    def __init__(self, tmp: Path) -> None:
        missing = _missing()
        assert not missing, f"cannot start a private journald: missing {missing}"
        self.dir = tmp / "journal"
        self.dir.mkdir()
        (tmp / "journald.conf").write_text(CONF)
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c",
             NS_SETUP, str(tmp), "/usr/bin/setpriv",
             "--bounding-set=-audit_control,-audit_read,-audit_write", "--", JOURNALD],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "SYSTEMD_LOG_TARGET": "console", "NOTIFY_SOCKET": ""},
        )  # fmt: skip

        def ready() -> bool:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise AssertionError(f"systemd-journald exited ({self.proc.returncode}): {err}")
            if not glob.glob(str(self.dir / "*" / "system.journal")):
                return False
            return self.run("test", "-S", "/run/systemd/journal/dev-log",
                            check=False).returncode == 0  # fmt: skip

        wait_for(ready, 15, "systemd-journald to open its sockets and journal")

    def run(
        self, *argv: str, uid: int | None = None, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a program inside journald's namespace (as ``uid`` when given)."""
        prefix = ["nsenter", "-t", str(self.proc.pid), "-m", "--"]
        if uid is not None:
            prefix += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        return subprocess.run([*prefix, *argv], input=stdin, capture_output=True,
                              check=check, timeout=30)  # fmt: skip

    def log(self, message: str) -> None:
        self.run("logger", "-t", "keibi-test", message)

    def rotate(self) -> None:
        """SIGUSR2: journald archives its journal file and starts a new one."""
        before = set(glob.glob(str(self.dir / "*" / "system@*.journal")))
        os.kill(self.proc.pid, signal.SIGUSR2)
        wait_for(lambda: set(glob.glob(str(self.dir / "*" / "system@*.journal"))) > before,
                 10, "journald to rotate")  # fmt: skip

    def stop(self) -> None:
        stop_pid(self.proc)


@pytest.fixture
def journald(tmp_path: Path) -> Iterator[Journald]:
    jd = Journald(tmp_path)
    try:
        yield jd
    finally:
        jd.stop()


def _collect(
    reader: JournalReader, done: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[tuple[str, dict[str, Any]]]:
    """(line, record) pairs read until ``done(records)`` holds or ``timeout`` passes."""
    out: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reader.wait(0.05)
        out.extend((line, json.loads(line)) for line, _ in reader.read_batch())
        if done([r for _, r in out]):
            break
    return out


def _messages(pairs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [r["MESSAGE"] for _, r in pairs if isinstance(r.get("MESSAGE"), str)]


def _events(line: str, directory: Path) -> list[Event]:
    return parse_journal_line(line, None, LineContext(path=str(directory)))


@pytest.mark.slow
def test_real_records_and_a_forgery_within_2s(journald: Journald) -> None:
    marker = "keibi-marker-" + secrets.token_hex(4)
    with JournalReader(directory=str(journald.dir)) as reader:
        assert reader.read_batch() == []  # started at the end
        sent = time.monotonic()
        journald.run("systemd-cat", "-t", "keibi-test", stdin=f"{marker} via stdout\n".encode())
        journald.log(f"{marker} via syslog")
        journald.run("logger", "-t", "sshd", FORGED_LINE, uid=NOBODY)

        def seen(records: list[dict[str, Any]]) -> bool:
            msgs = [r.get("MESSAGE") for r in records]
            return (f"{marker} via stdout" in msgs and f"{marker} via syslog" in msgs
                    and FORGED_LINE in msgs)  # fmt: skip

        pairs = _collect(reader, seen, 10.0)
        elapsed = time.monotonic() - sent
        assert seen([r for _, r in pairs]), (elapsed, _messages(pairs), reader.status())
        # latency is reported, not asserted (no timed assertions: CI shares 2 cores)
        print(f"\njournald record -> reader: {elapsed:.3f} s")
        status = reader.status()
        assert status["running"] and not status["entries_maybe_lost"], status

    by_message = {r.get("MESSAGE"): line for line, r in pairs}
    for how, transport in (("stdout", "stdout"), ("syslog", "syslog")):
        (event,) = _events(by_message[f"{marker} via {how}"], journald.dir)
        assert event.action == "log-line" and event.flags is None
        assert event.process_name == "keibi-test" and event.message == f"{marker} via {how}"
        assert event.get("journald.transport") == transport
        assert event.user_id == "0" and event.log_file_path == str(journald.dir)
        assert event.get("journald.cursor")

    events = _events(by_message[FORGED_LINE], journald.dir)
    assert [e.action for e in events] == ["log-forgery"], events
    (forged,) = events
    assert forged.flags == (FORGED,)
    assert forged.get("keibi.claimed_program") == "sshd"
    assert forged.user_id == str(NOBODY) and forged.source_ip is None
    assert forged.process_pid is not None and forged.message == FORGED_LINE


@pytest.mark.slow
def test_restart_from_the_checkpoint_exactly_once(journald: Journald) -> None:
    tag = secrets.token_hex(4)
    reader = JournalReader(directory=str(journald.dir))
    journald.log(f"{tag} first")
    pairs = _collect(reader, lambda rs: f"{tag} first" in _messages([("", r) for r in rs]), 2)
    assert f"{tag} first" in _messages(pairs)
    checkpoint = reader.checkpoint()
    assert checkpoint == pairs[-1][1]["__CURSOR"].encode()
    reader.close()
    assert reader.status()["running"] is False

    wanted = [f"{tag} after-{i}" for i in range(3)]
    for message in wanted:
        journald.log(message)
    with JournalReader(directory=str(journald.dir), cursor=checkpoint) as again:
        pairs = _collect(again, lambda rs: len(rs) >= 3, 2)
        pairs += _collect(again, lambda rs: False, 0.5)  # nothing more may come
        assert _messages(pairs) == wanted
        cursors = [r["__CURSOR"] for _, r in pairs]
        assert len(set(cursors)) == 3 and checkpoint.decode() not in cursors
        assert not again.status()["entries_maybe_lost"], again.status()
        assert again.checkpoint() == pairs[-1][1]["__CURSOR"].encode()


@pytest.mark.slow
def test_rotation_while_following_and_vacuum_while_away(journald: Journald) -> None:
    tag = secrets.token_hex(4)
    reader = JournalReader(directory=str(journald.dir))
    journald.log(f"{tag} before rotation")
    _collect(reader, lambda rs: bool(rs), 2)
    journald.rotate()
    journald.log(f"{tag} after rotation")
    pairs = _collect(reader, lambda rs: f"{tag} after rotation" in [r.get("MESSAGE")
                                                                    for r in rs], 2)  # fmt: skip
    assert f"{tag} after rotation" in _messages(pairs), "lost the journal across a rotation"
    checkpoint = reader.checkpoint()
    reader.close()

    journald.log(f"{tag} vacuumed")
    journald.rotate()
    journald.log(f"{tag} kept")
    subprocess.run(["journalctl", f"--directory={journald.dir}", "--vacuum-files=1"],
                   check=True, capture_output=True)  # fmt: skip
    assert not glob.glob(str(journald.dir / "*" / "system@*.journal"))
    with JournalReader(directory=str(journald.dir), cursor=checkpoint) as again:
        pairs = _collect(again, lambda rs: f"{tag} kept" in [r.get("MESSAGE") for r in rs], 2)
        messages = _messages(pairs)
        assert f"{tag} kept" in messages and f"{tag} vacuumed" not in messages
        status = again.status()
        assert status["entries_maybe_lost"] and status["warnings"], status


# -- without a journald ----------------------------------------------------------------------


def test_journalctl_missing_is_a_clear_status() -> None:
    reader = JournalReader(journalctl="keibi-no-such-journalctl")
    assert reader.read_batch() == [] and reader.checkpoint() == b""
    status = reader.status()
    assert status["last_error"] == NOT_FOUND == "journald: journalctl not found"
    assert status["finished"] and not status["running"]
    reader.close()


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="needs journalctl")
def test_a_journal_that_is_not_there_is_retried(tmp_path: Path) -> None:
    reader = JournalReader(directory=str(tmp_path / "none"), restart_delay=0.05)
    try:
        wait_for(lambda: bool(reader.read_batch() == [] and reader.status()["restarts"] >= 2),
                 10, "journalctl to be restarted")  # fmt: skip
        status = reader.status()
        assert status["last_error"] and "journalctl stopped" in status["last_error"]
        assert not status["finished"]
    finally:
        reader.close()
    assert reader.status()["running"] is False
