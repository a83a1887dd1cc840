"""`keibi incidents` and `keibi suppress` over a real store of the chain scenario's alerts.

The alerts come from `keibi hunt` over the constructed log set of test_hunt_chains (an
account takeover, a dropper, a trojanised package, an exfiltration), stored as the agent
stores them; the commands run as a user runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.e2e.test_hunt_chains import build, hunt

from keibi.events.encoding import loads
from keibi.store.sqlite import Store

KEIBI = [sys.executable, "-m", "keibi.cli.main"]


def keibi(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run([*KEIBI, *args], capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mgmt")
    alerts = [loads(json.dumps(a).encode()) for a in hunt(build(tmp / "log", "chains"))]
    d = tmp / "data"
    d.mkdir()
    with Store(d / "keibi.db") as s:
        s.commit([], alerts)
    return d


def test_incidents_link_the_takeover_story(data_dir: Path) -> None:
    r = keibi("incidents", "--json", "--data-dir", str(data_dir))
    assert r.returncode == 0, r.stderr
    incidents = [json.loads(x) for x in r.stdout.splitlines()]
    by_size = sorted(incidents, key=lambda i: (-i["alerts"], i["title"]))
    story, webshell, package = by_size
    assert webshell["title"].startswith("Data Archived Then Uploaded By The Same Service")
    assert webshell["entities"]["user"] == ["www-data"]
    assert story["alerts"] == 6 and story["severity_name"] == "critical"
    assert story["entities"] == {"ip": ["203.0.113.77"], "user": ["backdoor", "deploy"]}
    names = [t["rule_name"] for t in story["timeline"]]
    assert names[0] == "SSH Brute Force" and names[1] == "SSH Login After Brute Force"
    assert story["title"].startswith("Account Takeover Chain")
    assert [t["time"] for t in story["timeline"]] == sorted(t["time"] for t in story["timeline"])
    assert package["alerts"] == 1 and package["title"].startswith("Package Installed")
    # the text form and the filters
    r = keibi("incidents", "--data-dir", str(data_dir), "--min-alerts", "2")
    assert r.returncode == 0 and r.stdout.count("incident ") == 1
    assert "linked by: ip 203.0.113.77; user backdoor, deploy" in r.stdout
    r = keibi("incidents", "--data-dir", str(data_dir), "--window", "nonsense")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_suppress_add_list_remove_and_usage_errors(data_dir: Path, tmp_path: Path) -> None:
    d = str(data_dir)
    r = keibi("suppress", "add", "--rule", "package_install_then_beacon", "--field",
              "process.name=sysupdated", "--for", "7d", "--reason", "vendor agent, SEC-12",
              "--json", "--data-dir", d)
    assert r.returncode == 0, r.stderr
    added = json.loads(r.stdout)
    assert added["rule"] == "7d4f1a96-0c2e-4b7b-9f53-e6a8c2d5b107"  # the name, resolved
    assert added["state"] == "active" and added["hits"] == 0 and added["expires"]
    r = keibi("suppress", "list", "--json", "--data-dir", d)
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == [added["id"]]
    # keibi hunt applies it, and says so
    logs = str(data_dir.parent / "log")
    r = keibi("hunt", "--json", "-j", "1", logs, "--data-dir", d)
    assert r.returncode == 0, r.stderr
    rules = [json.loads(x)["rule"]["name"] for x in r.stdout.splitlines()]
    assert len(rules) == 7 and not any(n.startswith("Package Installed") for n in rules)
    assert "1 alerts suppressed (keibi suppress list; --no-suppress shows them)" in r.stderr
    r = keibi("hunt", "--json", "-q", "-j", "1", logs, "--data-dir", d, "--no-suppress")
    assert len(r.stdout.splitlines()) == 8 and "suppressed" not in r.stderr
    for bad in (["--rule", "no_such_rule", "--reason", "x"],
                ["--field", "process.name", "--reason", "x"],
                ["--rule", "ssh_brute_force"],  # no reason
                ["--rule", "ssh_brute_force", "--reason", " "],
                ["--reason", "no condition"],
                ["--rule", "ssh_brute_force", "--reason", "x", "--until", "2001-01-01"]):
        r = keibi("suppress", "add", *bad, "--data-dir", d)
        assert r.returncode == 2, (bad, r.stderr)
        assert r.stderr.strip().splitlines()[-1].startswith("keibi suppress"), r.stderr
    r = keibi("suppress", "remove", str(added["id"]), "--data-dir", d)
    assert r.returncode == 0
    r = keibi("suppress", "remove", str(added["id"]), "--data-dir", d)
    assert r.returncode == 2
    r = keibi("suppress", "list", "--data-dir", d)
    assert r.stdout == "" and "no suppressions in force" in r.stderr
    r = keibi("suppress", "list", "--all", "--data-dir", d)
    assert "removed" in r.stdout and "vendor agent, SEC-12" in r.stdout
    # a suppression made before the agent ever ran creates the store
    fresh = tmp_path / "fresh"
    r = keibi("suppress", "add", "--field", "source.ip=10.0.0.0/8", "--forever",
              "--reason", "internal scanner", "--data-dir", str(fresh))
    assert r.returncode == 0, r.stderr
    assert "never expires" in r.stdout
    r = keibi("status", "--data-dir", str(fresh))
    assert r.returncode == 0, r.stderr
    assert "suppressions: 1 in force, 0 expired, 0 alerts suppressed" in r.stdout
