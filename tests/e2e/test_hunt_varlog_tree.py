"""`keibi hunt DIR` on a whole copied /var/log tree: every source found by name or content.

The tree (tests/e2e/varlog_tree.py) is Debian's: a rotated auth log with a brute force
that ends in a login, syslog with cron and kernel lines, dpkg, apt, auditd, a journal
export, and the binary and foreign files that live there too. Each log must be read
with its parser, each other file skipped with a reason on stderr, and the attack found.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from tests.e2e.varlog_tree import ATTACKER, EXPECTED, build

from keibi.offline import ReadReport, plan_inputs
from keibi.parsers.registry import guess_type, skip_reason

KEIBI = [sys.executable, "-m", "keibi.cli.main"]

#: source type -> the datasets its files must give (at least one event of each)
DATASETS = {
    "auth": {"keibi.auth"},
    "syslog": {"keibi.syslog"},
    "dpkg": {"keibi.dpkg"},
    "apt": {"keibi.apt"},
    "audit": {"keibi.audit"},
    "journald": {"keibi.auth"},
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("varlog"))


def _rel(tree: Path, path: str) -> str:
    return str(Path(path).relative_to(tree))


def test_every_file_gets_its_parser_or_a_reason(tree: Path) -> None:
    report = ReadReport()
    plan_inputs([str(tree)], None, report)
    read = {_rel(tree, p): t for p, t in report.files}
    skipped = {_rel(tree, p) for p, _ in report.skipped}
    assert read == {k: v for k, v in EXPECTED.items() if v is not None}
    assert skipped == {k for k, v in EXPECTED.items() if v is None}
    assert "README" not in read and "README" not in skipped  # a symbolic link: not entered


def test_skip_reasons_say_what_the_file_is(tree: Path) -> None:
    why = {k: skip_reason(str(tree / k)) for k, v in EXPECTED.items() if v is None}
    for name in ("wtmp", "wtmp.1", "btmp", "lastlog", "faillog"):
        assert why[name].startswith("binary login records"), (name, why[name])
    assert why["random.gz"] == "gzip-compressed binary data, not a text log"
    assert why["fail2ban.log"] == "empty file"
    journal = next(k for k in why if k.endswith("system.journal"))
    assert why[journal].startswith("binary systemd journal file")
    assert why["apt/term.log"].startswith("text in no log format keibi knows")
    assert "update-alternatives" in why["alternatives.log"]


def test_events_come_from_every_log_with_the_right_parser(tree: Path) -> None:
    r = subprocess.run([*KEIBI, "events", "--json", str(tree)], capture_output=True,
                       text=True, check=True, timeout=120)
    datasets: dict[str, set[str]] = defaultdict(set)
    for line in r.stdout.splitlines():
        ev = json.loads(line)
        datasets[_rel(tree, ev["log"]["file"]["path"])].add(ev["event"]["dataset"])
    for name, stype in EXPECTED.items():
        if stype is None:
            assert name not in datasets, name
        elif name != "evidence/host-auth.txt":
            assert DATASETS[stype] <= datasets[name], (name, datasets[name])
    # syslog: its cron lines go to the cron parser, its kernel lines to the generic one
    assert datasets["syslog"] == {"keibi.syslog", "keibi.cron"}
    assert datasets["evidence/host-auth.txt"] == {"keibi.auth"}


def test_hunt_finds_the_attack_and_names_the_skipped_files(tree: Path) -> None:
    r = subprocess.run([*KEIBI, "hunt", "--json", str(tree)], capture_output=True,
                       text=True, check=True, timeout=120)
    alerts = [json.loads(line) for line in r.stdout.splitlines()]
    by_rule = {(a["rule"]["name"], a.get("source", {}).get("ip")) for a in alerts}
    assert ("SSH Brute Force", ATTACKER) in by_rule, by_rule
    assert ("SSH Login After Brute Force", ATTACKER) in by_rule, by_rule
    brute = next(a for a in alerts if a["rule"]["name"] == "SSH Brute Force")
    assert brute["keibi"]["alert"]["count"] == 7  # 3 in auth.log.2.gz + 4 in auth.log.1
    skipped = {line.split(": ")[1] for line in r.stderr.splitlines() if ": skipped: " in line}
    assert skipped == {str(tree / k) for k, v in EXPECTED.items() if v is None}
    read = sum(v is not None for v in EXPECTED.values())
    assert f"keibi hunt: {read} files," in r.stderr


def test_sniffing_long_journal_export_lines() -> None:
    # journalctl puts __CURSOR first, but a line cut at the sniffer's limit or a
    # reordered export still starts with its fields
    head = ['{"__REALTIME_TIMESTAMP":"1795679855408180","MESSAGE":"' + "x" * 5000]
    assert guess_type("boot-export", head) == "journald"
