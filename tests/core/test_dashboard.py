"""The local dashboard: read-only JSON API and page over a real store, on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from keibi.agent.dashboard import Dashboard
from keibi.events.model import Event
from keibi.store.sqlite import Store


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def dash(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = tmp_path / "keibi.db"
    with Store(db) as st:
        ev = Event(timestamp=100.0, action="ssh-login", outcome="failure",
                   source_ip="203.0.113.5", user_name="<script>alert(1)</script>")
        al = Event(timestamp=101.0, kind="alert", alert_id="a1", rule_id="r1",
                   rule_name="SSH Brute Force", severity=50, alert_severity="medium",
                   alert_count=6, source_ip="203.0.113.5", alert_evidence=(ev,))
        st.commit([ev], [al])
        st.set_status("agent", json.dumps({"pid": 1, "host": "h", "events": 1,
                                           "events_per_s": 0, "alerts_new": 1,
                                           "sources": [], "last_error": None}))
    d = Dashboard(db, "127.0.0.1", 0)
    d.start()
    yield d
    d.stop()


def test_api_serves_alerts_status_and_search(dash: Dashboard) -> None:
    code, body = _get(dash.port, "/api/alerts?limit=10")
    assert code == 200
    alerts = json.loads(body)["alerts"]
    assert [a["keibi"]["alert"]["id"] for a in alerts] == ["a1"]
    assert alerts[0]["rule"]["name"] == "SSH Brute Force"
    code, body = _get(dash.port, "/api/status")
    assert code == 200 and json.loads(body)["agent"]["pid"] == 1
    code, body = _get(dash.port, "/api/search?q=source.ip%3D203.0.113.5")
    assert code == 200
    assert json.loads(body)["events"][0]["user"]["name"] == "<script>alert(1)</script>"


def test_page_and_errors(dash: Dashboard) -> None:
    code, body = _get(dash.port, "/")
    assert code == 200 and b"keibi" in body
    # the page renders values with textContent, never innerHTML
    assert b"innerHTML" not in body
    assert _get(dash.port, "/api/nope")[0] == 404
    assert _get(dash.port, "/api/alerts?limit=x")[0] == 400
    assert _get(dash.port, "/api/search?q=source.port%3Eabc")[0] == 400
