"""Live: a built-in cross-source chain fires inside the real `keibi run`.

The agent follows the kernel's audit multicast group (`--follow audit-netlink`). The test
adds three audit rules with keys of its own (a write watch on a fresh directory under
/tmp, execve, connect), copies /usr/bin/bash into that directory, runs the copy and has
it connect (bash's /dev/tcp) to a listener of the test's own inside a network namespace
the test creates (a veth pair on a private /30; the chain ignores loopback
connections, and no traffic leaves this machine). The
``malware_dropped_executable_chain`` alert must appear in `keibi alerts --json` within
10 s. The negative control, /usr/bin/bash itself making the same connection, must not
raise it. Exactly the rules added are removed and the enabled flag is restored.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from keibi.rules.loader import builtin_rules_dir, load_rules
from keibi.sources.audit_netlink import audit_status, execve_rule, temporary_rule
from tests.live.agent import RunningAgent, alerts, search, wait_alerts, wait_running
from tests.live.audit import assert_audit_as_found

pytestmark = pytest.mark.slow

CHAIN = "malware_dropped_executable_chain"


def _chain_id() -> str:
    (rule,) = [r for r in load_rules([builtin_rules_dir()]).rules if r.name == CHAIN]
    return str(rule.id)


LISTENER = r"""
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(16)
s.settimeout(30)
print(s.getsockname()[1], flush=True)
n = 0
try:
    while n < 2:
        c, _ = s.accept()
        n += 1
        c.close()
        print("accepted", flush=True)
except OSError:
    pass
"""


class NamespaceListener:
    """A TCP listener in a network namespace of the test's own, reached over a veth pair."""

    def __init__(self) -> None:
        tok = secrets.token_hex(3)
        self.ns = f"keibi-t-{tok}"
        self.veth = f"kb{tok}a"
        net = 4 * secrets.randbelow(64)
        self.host_ip = f"10.213.{secrets.randbelow(256)}.{net + 1}"
        self.ip = self.host_ip.rsplit(".", 1)[0] + f".{net + 2}"
        run = lambda *a: subprocess.run(list(a), check=True, timeout=10)  # noqa: E731
        run("ip", "netns", "add", self.ns)
        try:
            run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", f"kb{tok}b")
            run("ip", "link", "set", f"kb{tok}b", "netns", self.ns)
            run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth)
            run("ip", "link", "set", self.veth, "up")
            run("ip", "-n", self.ns, "addr", "add", f"{self.ip}/30", "dev", f"kb{tok}b")
            run("ip", "-n", self.ns, "link", "set", f"kb{tok}b", "up")
            run("ip", "-n", self.ns, "link", "set", "lo", "up")
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, "python3", "-c", LISTENER, self.ip],
                stdout=subprocess.PIPE, text=True)
            assert self.proc.stdout is not None
            self.port = int(self.proc.stdout.readline())
        except BaseException:
            self.close()
            raise

    def accepted(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return out.count("accepted")

    def close(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        subprocess.run(["ip", "link", "del", self.veth], check=False,
                       stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.ns], check=False,
                       stderr=subprocess.DEVNULL)


@pytest.fixture
def drop_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="keibi-test-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _connect(exe: str, ip: str, port: int) -> None:
    subprocess.run([exe, "-c", f"exec 3<>/dev/tcp/{ip}/{port}; exec 3>&-"], check=True,
                   timeout=10)


def _chain_alerts(got: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [a for a in got if a["rule"]["id"] == rule_id]


def test_dropped_executable_chain_fires_in_the_live_agent(tmp_path: Path,
                                                          drop_dir: Path) -> None:
    assert os.geteuid() == 0, "needs root (CAP_AUDIT_READ and CAP_AUDIT_CONTROL)"
    rule_id = _chain_id()
    token = secrets.token_hex(6)
    key = f"keibi-test-{token}"
    rules = [
        ("always,exit", "-F", "arch=b64", "-F", f"dir={drop_dir}", "-F", "perm=wa",
         "-F", f"key={key}-w"),
        execve_rule(f"{key}-x"),
        ("always,exit", "-F", "arch=b64", "-S", "connect", "-F", f"key={key}-c"),
    ]
    payload = drop_dir / "payload"
    before = audit_status()
    data = tmp_path / "data"
    listener = NamespaceListener()
    ip = listener.ip
    agent = RunningAgent(data, ["audit-netlink"])
    try:
        st = wait_running(agent)
        (src,) = st["agent"]["sources"]
        assert (src["kind"], src["active"]) == ("audit-netlink", True), src
        with ExitStack() as stack:
            for rule in rules:
                stack.enter_context(temporary_rule(rule))
            # negative control first: a program from /usr/bin connecting out
            _connect("/usr/bin/bash", ip, listener.port)
            # the dropper: written under /tmp, run, connecting out
            shutil.copyfile("/usr/bin/bash", payload)
            payload.chmod(0o755)
            _connect(str(payload), ip, listener.port)
            got = wait_alerts(data, lambda a: bool(_chain_alerts(a, rule_id)), timeout=10)
        assert listener.accepted() >= 2
        (alert,) = _chain_alerts(got, rule_id)
        assert alert["process"]["executable"] == str(payload)
        assert alert["destination"] == {"ip": ip, "port": listener.port}
        actions = [e["event"]["action"] for e in alert["keibi"]["alert"]["evidence"]]
        assert actions[-1] == "network-connect" and "process-started" in actions, actions
        # the negative control was seen (its connect is in the store) and raised nothing
        controls = search(data, "event.action=network-connect",
                          "process.executable=/usr/bin/bash")
        assert any(e.get("destination", {}).get("port") == listener.port for e in controls)
        got = alerts(data)
        assert [a["process"]["executable"] for a in _chain_alerts(got, rule_id)] == [
            str(payload)]
    finally:
        agent.stop()
        listener.close()
    assert_audit_as_found(before, key)
