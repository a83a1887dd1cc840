"""Live: the built-in ``account_takeover_chain`` fires inside the real `keibi run`.

The agent follows a temporary auth log and the audit multicast group. The test creates
two local accounts (useradd; deleted afterwards) and writes real-format auth lines with
current timestamps: a sudo by the victim account before any login, more than five SSH
failures from 203.0.113.50, an ``Accepted password`` for the victim from that address, a
sudo by the other account, and last the victim's own sudo. Only that last line may
complete the chain: its alert must appear within 10 s with the victim's user.name and
source.ip 203.0.113.50, and exactly once.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keibi.rules.loader import builtin_rules_dir, load_rules
from keibi.sources.audit_netlink import audit_status
from tests.live.agent import (
    RunningAgent,
    alert_kind,
    alerts,
    wait_alerts,
    wait_running,
    wait_search,
)

pytestmark = pytest.mark.slow

CHAIN = "account_takeover_chain"
IP = "203.0.113.50"


def _chain_id() -> str:
    (rule,) = [r for r in load_rules([builtin_rules_dir()]).rules if r.name == CHAIN]
    return str(rule.id)


class AuthLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid = 5000
        path.touch()

    def write(self, prog: str, *msgs: str) -> None:
        now = datetime.now(UTC)
        with self.path.open("a") as fh:
            for msg in msgs:
                self.pid += 1
                fh.write(f"{now:%Y-%m-%dT%H:%M:%S.%f}+00:00 web01 {prog}[{self.pid}]: {msg}\n")

    def sudo(self, user: str) -> None:
        self.write("sudo", f"{user:>8} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; "
                           f"COMMAND=/usr/bin/id")


@pytest.fixture
def accounts() -> Iterator[tuple[str, str]]:
    names = [f"kbt{secrets.token_hex(3)}" for _ in range(2)]
    made: list[str] = []
    try:
        for n in names:
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", n], check=True,
                           timeout=30)
            made.append(n)
            pwd.getpwnam(n)
        yield names[0], names[1]
    finally:
        for n in made:
            subprocess.run(["userdel", n], check=False, timeout=30)


def _chain(got: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [a for a in got if a["rule"]["id"] == rule_id]


def test_account_takeover_chain_fires_in_the_live_agent(
        tmp_path: Path, accounts: tuple[str, str]) -> None:
    assert os.geteuid() == 0, "needs root (useradd, CAP_AUDIT_READ)"
    victim, other = accounts
    rule_id = _chain_id()
    before = audit_status()
    data = tmp_path / "data"
    log = AuthLog(tmp_path / "auth.log")
    agent = RunningAgent(data, [f"{log.path}:auth", "audit-netlink"])
    try:
        st = wait_running(agent)
        kinds = sorted(s["kind"] for s in st["agent"]["sources"])
        assert len(kinds) == 2 and "audit-netlink" in kinds, st["agent"]["sources"]
        # negative: the victim's sudo before any login
        log.sudo(victim)
        wait_search(data, "event.action=sudo-command", f"user.name={victim}", timeout=10)
        # brute force, then the login
        for i in range(7):
            port = 41000 + i
            log.write("sshd", f"pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                              f"euid=0 tty=ssh ruser= rhost={IP}  user={victim}",
                      f"Failed password for {victim} from {IP} port {port} ssh2")
        log.write("sshd", f"Accepted password for {victim} from {IP} port 41999 ssh2",
                  f"pam_unix(sshd:session): session opened for user {victim}(uid="
                  f"{pwd.getpwnam(victim).pw_uid}) by (uid=0)")
        wait_alerts(data, lambda al: any(
            alert_kind(a) == "takeover" and a.get("source", {}).get("ip") == IP
            for a in al), timeout=10)
        # negative: another account's sudo after the login
        log.sudo(other)
        wait_search(data, "event.action=sudo-command", f"user.name={other}", timeout=10)
        time.sleep(1)
        assert not _chain(alerts(data), rule_id), "the chain fired before the victim's sudo"
        # the victim's follow-up action
        start = time.monotonic()
        log.sudo(victim)
        got = wait_alerts(data, lambda al: bool(_chain(al, rule_id)), timeout=10)
        assert time.monotonic() - start < 10
        time.sleep(1)
        got = alerts(data)
    finally:
        agent.stop()
    (alert,) = _chain(got, rule_id)
    assert alert["user"]["name"] == victim, alert.get("user")
    # the chain alert carries no top-level source: the address is on the login evidence
    logins = [e for e in alert["keibi"]["alert"]["evidence"]
              if e["event"]["action"] == "ssh-login" and e["event"]["outcome"] == "success"]
    assert [(e["user"]["name"], e["source"]["ip"]) for e in logins] == [(victim, IP)]
    actions = [e["event"]["action"] for e in alert["keibi"]["alert"]["evidence"]]
    assert actions[-1] == "sudo-command", actions
    after = audit_status()
    assert after.get("enabled") == before.get("enabled"), "the audit enabled flag changed"
