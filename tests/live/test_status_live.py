"""Live: `keibi status` says which sources are active and which were not found.

First `keibi run` with no config on this machine (Debian 12 in a container: no init,
no rsyslog, an empty /var/log/journal, no auditd, but root) and `journald: on`: the
distro's logs that exist (dpkg.log...) are active, those that do not (auth.log, syslog,
audit.log) not found, the host journal not found (no journal files), the audit netlink
group active (root), wtmp/btmp/lastlog watched. The agent only reads: it changes no
audit setting and no file. Then, with a private systemd-journald, the same command shows
that journal directory active.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.live.agent import RunningAgent, keibi, wait_running
from tests.sources.test_journald_live import Journald

pytestmark = pytest.mark.slow


def _lines(data: Path) -> dict[str, str]:
    """`keibi status` source lines: path -> "active" or "not found"."""
    out = keibi("status", "--data-dir", str(data)).stdout
    got = {}
    for line in out.splitlines():
        m = re.match(r"  (active|not found)\s+(\S+)\s+(\S+) \[", line)
        if m:
            got[m.group(3)] = m.group(1)
    return got


def test_status_on_this_machine(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the audit netlink group needs root"
    conf = tmp_path / "keibi.yaml"
    conf.write_text('journald: "on"\n')
    data = tmp_path / "data"
    agent = RunningAgent(data, [], "--config", str(conf))
    try:
        st = wait_running(agent)["agent"]
        got = _lines(data)
    finally:
        agent.stop()
    by_path = {s["path"]: s for s in st["sources"]}
    for path in ("/var/log/auth.log", "/var/log/syslog", "/var/log/dpkg.log",
                 "/var/log/audit/audit.log", "/var/log/wtmp", "/var/log/btmp",
                 "/var/log/lastlog"):
        assert got[path] == ("active" if os.path.exists(path) else "not found"), path
        assert by_path[path]["active"] == os.path.exists(path)
    assert by_path["/var/log/wtmp"]["kind"] == "watch"
    # an empty /var/log/journal: journalctl would wait forever on nothing
    has_journal = any(f.endswith(".journal") for d in ("/var/log/journal", "/run/log/journal")
                      if os.path.isdir(d) for _, _, fs in os.walk(d) for f in fs)
    assert got["journald"] == ("active" if has_journal else "not found")
    if not has_journal:
        assert "no journal files" in by_path["journald"]["last_error"]
    assert got["audit-netlink"] == "active"
    assert by_path["audit-netlink"]["reader"]["last_error"] is None


def test_status_shows_a_private_journal_active(tmp_path: Path) -> None:
    journald = Journald(tmp_path)
    data = tmp_path / "data"
    missing = tmp_path / "no-such.log"
    agent = RunningAgent(data, [f"journald:{journald.dir}", "audit-netlink", str(missing)])
    try:
        wait_running(agent)
        got = _lines(data)
    finally:
        agent.stop()
        journald.stop()
    assert got == {str(journald.dir): "active", "audit-netlink": "active",
                   str(missing): "not found"}
