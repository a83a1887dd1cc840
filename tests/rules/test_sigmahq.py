"""The SigmaHQ Linux rules (shared/sigma/rules-linux): all load, each gets a verdict."""

from __future__ import annotations

from collections import Counter

import pytest

from keibi.engine.engine import Engine
from keibi.events.model import Event
from keibi.rules.loader import load_rules
from keibi.rules.tool import rule_infos
from tests.rules.sigmahq import sigmahq_dir


def test_all_sigmahq_linux_rules_load_and_get_a_verdict(
        capsys: pytest.CaptureFixture[str]) -> None:
    sigmahq = sigmahq_dir()
    files = sorted(sigmahq.rglob("*.yml"))
    res = load_rules([sigmahq])
    assert res.errors == []
    assert len(res.rules) == len(files) == 210
    infos = rule_infos(res.rules)
    assert all(i.ruleset == "sigma" for i in infos)
    assert all(i.evaluable or i.reason for i in infos)
    evaluable = sum(i.evaluable for i in infos)
    reasons = Counter(i.reason for i in infos if not i.evaluable)
    with capsys.disabled():
        print(f"\nSigmaHQ linux rules: {evaluable}/{len(infos)} evaluable "
              f"({100 * evaluable / len(infos):.1f}%)")
        for reason, n in reasons.most_common():
            print(f"  {n:3d} not evaluable: {reason}")
    assert evaluable / len(infos) >= 0.95  # today: 207/210


def test_sigmahq_rules_run_on_mapped_events() -> None:
    res = load_rules([sigmahq_dir()])
    engine = Engine(res.rules)
    samples = [
        Event(timestamp=1.0, category=("process",), type=("start",),
              process_executable="/usr/bin/curl", process_command_line="curl -O http://x/a.sh",
              process_parent_executable="/opt/jdk/bin/java", user_name="root"),
        Event(timestamp=2.0, dataset="keibi.audit", process_args=("chattr", "-i", "f"),
              extra={"auditd.record_types": ["SYSCALL", "EXECVE", "CWD", "PATH"]}),
        Event(timestamp=3.0, category=("network",), destination_ip="10.0.0.1",
              destination_port=4444, network_direction="outbound"),
        Event(timestamp=4.0, dataset="keibi.syslog", message="segfault at 0000 ip"),
    ]
    hits = {u.alert.rule_name for e in samples for u in engine.process(e)}
    assert {"Curl Usage on Linux", "Suspicious Java Children Processes",
            "Remove Immutable File Attribute - Auditd"} <= hits


def test_a_missing_sample_fails_the_tests_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.rules.sigmahq as where

    monkeypatch.setattr(where, "FOUND", None)
    with pytest.raises(pytest.fail.Exception, match="SigmaHQ Linux rules are missing"):
        where.sigmahq_dir()
