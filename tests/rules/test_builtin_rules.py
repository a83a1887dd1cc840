"""keibi's own rules: their embedded tests pass and their metadata is complete."""

from __future__ import annotations

import uuid

import pytest

from keibi.rules.loader import LoadedRule, builtin_rules_dir, load_rules
from keibi.rules.tool import run_rule_tests

EXPECTED = {
    # name: (alerts on its own, techniques)
    "ssh_failed_login": (False, ("T1110",)),
    "ssh_successful_login": (False, ("T1078",)),
    "sudo_auth_failure": (False, ("T1548.003",)),
    "ssh_brute_force": (True, ("T1110.001",)),
    "ssh_password_spraying": (True, ("T1110.003",)),
    "ssh_login_after_brute_force": (True, ("T1078", "T1110.001")),
    "ssh_root_login": (True, ("T1078.003",)),
    "sudo_repeated_failures": (True, ("T1548.003",)),
    "sudo_user_not_in_sudoers": (True, ("T1548.003",)),
    "account_created": (True, ("T1136.001",)),
    "account_deleted": (True, ("T1531",)),
    "account_added_to_privileged_group": (True, ("T1098",)),
    "log_file_tampering": (True, ("T1070.002",)),
    # cross-source chains and their building blocks
    "account_takeover_chain": (True, ("T1078", "T1110.001", "T1098.004", "T1136.001",
                                      "T1053.003", "T1548.003")),
    "post_login_privileged_action": (False, ("T1098.004", "T1136.001", "T1053.003",
                                             "T1548.003")),
    "privileged_action_logged": (False, ("T1548.003", "T1053.003")),
    "privileged_action_audited": (False, ("T1098.004", "T1136.001", "T1053.003")),
    "malware_dropped_executable_chain": (True, ("T1105", "T1204.002", "T1071")),
    "executable_written_to_temp_dir": (False, ("T1105",)),
    "process_started_from_temp_dir": (False, ("T1204.002",)),
    "outbound_network_connection": (False, ("T1071",)),
    "package_install_then_beacon": (True, ("T1195.002", "T1204.002", "T1071")),
    "package_installed": (False, ("T1195.002",)),
    "any_process_started": (False, ("T1204.002",)),
    "exfiltration_archive_then_upload": (True, ("T1560.001", "T1048")),
    "archive_collection": (False, ("T1560.001",)),
    "network_upload_tool": (False, ("T1048",)),
    "exfiltration_by_service_account": (True, ("T1560.001", "T1048")),
    "archive_collection_by_service": (False, ("T1560.001",)),
    "network_upload_tool_by_service": (False, ("T1048",)),
    # baseline anomalies (keibi.engine.baseline)
    "baseline_login_anomaly": (True, ("T1078",)),
    "baseline_first_sudo": (True, ("T1548.003",)),
    "baseline_process_anomaly": (True, ("T1059.004", "T1204.002")),
    "baseline_network_anomaly": (True, ("T1571", "T1071")),
}


@pytest.fixture(scope="module")
def rules() -> list[LoadedRule]:
    res = load_rules([builtin_rules_dir()])
    assert res.errors == []
    return res.rules


def test_the_expected_rules_ship(rules: list[LoadedRule]) -> None:
    assert {r.name for r in rules} == set(EXPECTED)
    for r in rules:
        alerts, techniques = EXPECTED[r.name or ""]
        assert (r.name, r.alerts) == (r.name, alerts)
        assert r.techniques == techniques
        assert r.ruleset == "keibi"


def test_metadata_is_complete(rules: list[LoadedRule]) -> None:
    for r in rules:
        assert uuid.UUID(r.id).version == 4, r.title
        assert r.level is not None and r.sigma.description, r.title
        assert r.sigma.falsepositives, r.title
        assert r.tactics, r.title
        if r.refs or not r.is_correlation:
            stem = r.path.stem
            assert r.name == stem or any(x.name == stem for x in rules), r.path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_embedded_tests_pass(rules: list[LoadedRule], name: str) -> None:
    rule = next(r for r in rules if r.name == name)
    result = run_rule_tests(rule)
    assert result.ok, result.failures
    assert result.cases >= 2
