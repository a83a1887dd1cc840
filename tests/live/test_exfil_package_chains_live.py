"""Live: the package-install-then-beacon chain fires inside the real `keibi run`.

The agent follows the kernel's audit multicast group (`--follow audit-netlink`) and the
real /var/log/dpkg.log (`--follow /var/log/dpkg.log:dpkg`). The test adds execve and
connect audit rules with keys of its own; the network peer is a listener of the test's
own inside a network namespace it creates (a veth pair on a private /30, as in
test_chains_live.py; no traffic leaves this machine).

A tiny .deb the test builds with `dpkg-deb` installs a copy of bash as
/usr/local/bin/<package name> (the chain links package.name to process.name); it is
installed with `dpkg -i`, run, and connects out (bash's /dev/tcp). The
``package_install_then_beacon`` alert must appear within 10 s; the package is purged
afterwards. Exactly the audit rules added are removed and the enabled flag is restored.

The archive -> upload exfiltration chain has its own live test
(tests/live/test_exfil_chain_live.py).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from keibi.rules.loader import builtin_rules_dir, load_rules
from keibi.sources.audit_netlink import audit_status, execve_rule, temporary_rule
from tests.live.agent import RunningAgent, wait_alerts, wait_running
from tests.live.audit import assert_audit_as_found
from tests.live.packages import build_deb, dpkg
from tests.live.test_chains_live import NamespaceListener

pytestmark = pytest.mark.slow

PACKAGE_CHAIN = "package_install_then_beacon"
DPKG_LOG = "/var/log/dpkg.log"


def _rule_id(name: str) -> str:
    (rule,) = [r for r in load_rules([builtin_rules_dir()]).rules if r.name == name]
    return str(rule.id)


def _of(got: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [a for a in got if a["rule"]["id"] == rule_id]


def _deb(tmp: Path, name: str) -> Path:
    """A package ``name`` installing a copy of bash as /usr/local/bin/``name``."""
    return build_deb(tmp, name, {f"/usr/local/bin/{name}": Path("/usr/bin/bash")},
                     "beacon package made by a keibi test")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Path, NamespaceListener]]:
    """The agent (audit netlink + dpkg.log), execve/connect rules and a listener."""
    assert os.geteuid() == 0, "needs root (audit control, dpkg -i, network namespaces)"
    key = f"keibi-test-{secrets.token_hex(6)}"
    rules = [
        execve_rule(f"{key}-x"),
        ("always,exit", "-F", "arch=b64", "-S", "connect", "-F", f"key={key}-c"),
    ]
    before = audit_status()
    data = tmp_path / "data"
    listener = NamespaceListener()
    agent = RunningAgent(data, ["audit-netlink", f"{DPKG_LOG}:dpkg"])
    try:
        st = wait_running(agent)
        assert all(s["active"] for s in st["agent"]["sources"]), st["agent"]["sources"]
        assert len(st["agent"]["sources"]) == 2, st["agent"]["sources"]
        with ExitStack() as stack:
            for rule in rules:
                stack.enter_context(temporary_rule(rule))
            yield data, listener
    finally:
        agent.stop()
        listener.close()
    assert_audit_as_found(before, key)


def test_package_install_then_beacon_fires_in_the_live_agent(
        tmp_path: Path, live: tuple[Path, NamespaceListener]) -> None:
    data, listener = live
    rule_id = _rule_id(PACKAGE_CHAIN)
    name = "kbt-" + secrets.token_hex(4)  # the program's name: under comm's 15 characters
    deb = _deb(tmp_path, name)
    prog = f"/usr/local/bin/{name}"
    installed = False
    try:
        dpkg("-i", str(deb))
        installed = True
        subprocess.run([prog, "-c", f"exec 3<>/dev/tcp/{listener.ip}/{listener.port}; "
                        "exec 3>&-"], check=True, timeout=10)
        got = wait_alerts(data, lambda a: bool(_of(a, rule_id)), timeout=10)
        (alert,) = _of(got, rule_id)
        assert alert["process"]["name"] == name, alert["process"]
        assert alert["destination"] == {"ip": listener.ip, "port": listener.port}
        evidence = alert["keibi"]["alert"]["evidence"]
        actions = [e["event"]["action"] for e in evidence]
        assert actions[0] == "package-installed" and actions[-1] == "network-connect", actions
        assert "process-started" in actions, actions
        assert evidence[0]["package"]["name"] == name
        dpkg("-P", name)
        installed = False
    finally:
        if installed:
            subprocess.run(["dpkg", "-P", name], capture_output=True, check=False)
    assert listener.accepted() >= 1
    listed = subprocess.run(["dpkg-query", "-W", name], capture_output=True, check=False)
    assert listed.returncode != 0, "the test package was left installed"
    assert not os.path.exists(prog)
