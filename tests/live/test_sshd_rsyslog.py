"""Live, with the real producers: sshd -> rsyslogd -> auth log -> `keibi run` -> alerts.

The test starts rsyslogd and sshd (tests/live/daemons.py: own configs, loopback port,
private /dev/log), creates its own user, fails to log in over SSH several times with a
wrong password and then logs in with the right one. `keibi run` follows the auth log
rsyslogd writes and must raise the SSH brute-force alert and the login-after-brute-force
(takeover) alert for 127.0.0.1 from what sshd really wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.live.agent import RunningAgent, alert_kind, jsonl_alerts, keibi, wait_alerts
from tests.live.daemons import LocalUser, Rsyslog, Sshd, have_daemons, wait_for

pytestmark = pytest.mark.slow


def test_real_sshd_brute_force_then_login_raises_both_alerts(tmp_path: Path) -> None:
    missing = have_daemons()
    assert not missing, f"missing programs (run `make test-deps`): {missing}"
    rs = Rsyslog(tmp_path)
    user = LocalUser()
    sshd = None
    agent = None
    try:
        sshd = Sshd(tmp_path, rs.sock, user.name)
        agent = RunningAgent(tmp_path / "data", [f"{rs.auth_iso}:auth"])
        failures = 7
        for _ in range(failures):
            assert not sshd.login(user.name, "wrong-" + user.password)
        assert sshd.login(user.name, user.password), "the right password must log in"
        wait_for(lambda: "Accepted password" in rs.auth_iso.read_text(errors="replace"),
                 10, "sshd's Accepted line in the rsyslog file")

        def kinds(alerts: list[dict]) -> dict[str, list[dict]]:
            out: dict[str, list[dict]] = {}
            for a in alerts:
                if a.get("source", {}).get("ip") == "127.0.0.1":
                    out.setdefault(alert_kind(a), []).append(a)
            return out

        got = wait_alerts(tmp_path / "data",
                          lambda al: {"brute-force", "takeover"} <= set(kinds(al)), timeout=30)
        mine = kinds(got)
        assert len(mine["brute-force"]) == 1 and len(mine["takeover"]) == 1, mine.keys()
        brute, takeover = mine["brute-force"][0], mine["takeover"][0]
        # counted attempts, not lines: sshd wrote one Failed line per attempt
        assert brute["keibi"]["alert"]["count"] == failures
        assert takeover["user"]["name"] == user.name
        assert takeover["event"]["severity"] >= 70
        assert "T1110.001" in brute["threat"]["technique"]["id"]
        assert "T1078" in takeover["threat"]["technique"]["id"]
        # what sshd wrote (not a fixture) is the evidence
        ev = brute["keibi"]["alert"]["evidence"][0]
        assert "Failed password for " + user.name in ev["event"]["original"]
        assert ev["process"]["name"] in ("sshd", "sshd-session")
        # the classic-format copy rsyslogd wrote gives the same verdict offline
        r = keibi("hunt", "--json", "-q", str(rs.auth_classic), check=False)
        offline = {alert_kind(a) for a in map(json.loads, r.stdout.splitlines())
                   if a.get("source", {}).get("ip") == "127.0.0.1"}
        assert {"brute-force", "takeover"} <= offline, r.stdout
    finally:
        if agent is not None:
            agent.stop()
        if sshd is not None:
            sshd.stop()
        rs.stop()
        user.delete()
    new_ids = [a["keibi"]["alert"]["id"] for a in jsonl_alerts(tmp_path / "data")]
    assert len(new_ids) == len(set(new_ids)), "alerts.jsonl holds an alert twice"
