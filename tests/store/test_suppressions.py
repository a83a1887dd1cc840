"""Suppressions in the store: add, list, retire, hit counts committed with the alerts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from keibi.alerts.suppress import Hit, SuppressionError
from keibi.events.model import Event
from keibi.store import schema
from keibi.store.sqlite import Store, StoreError

T0 = 1_795_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "keibi.db", clock=lambda: T0) as s:
        yield s


def test_add_list_remove(store: Store) -> None:
    v0 = store.suppressions_version()
    a = store.add_suppression(reason="scanner", rule="r1", fields={"source.ip": "10.0.0.0/8"},
                              expires=T0 + 3600, created_by="alice")
    b = store.add_suppression(reason="backup job", fields={"user.name": "backup"})
    assert (a.id, b.id) == (1, 2)
    assert store.suppressions_version() == v0 + 2
    got = store.suppressions()
    assert got == [a, b]
    assert got[0].fields == {"source.ip": "10.0.0.0/8"} and got[1].expires is None
    assert store.remove_suppression(1)
    assert not store.remove_suppression(1)  # already retired
    assert not store.remove_suppression(99)
    assert store.suppressions_version() == v0 + 3
    (gone, kept) = store.suppressions()
    assert gone.removed == T0 and gone.state(T0) == "removed" and kept.active(T0)


def test_bad_suppressions_are_refused(store: Store) -> None:
    with pytest.raises(SuppressionError):
        store.add_suppression(reason="", rule="r1")
    with pytest.raises(SuppressionError):
        store.add_suppression(reason="why")
    assert store.suppressions() == []


def test_hits_are_added_in_the_commit(store: Store) -> None:
    s = store.add_suppression(reason="scanner", rule="r1")
    alert = Event(timestamp=T0, kind="alert", alert_id="kept1", rule_id="r2")
    store.commit([], [alert], suppressed={s.id: Hit(count=2, last=T0 + 5,
                                                     last_alert="a9 Rule: msg")})
    store.commit([], [], suppressed={s.id: Hit(count=1, last=T0 + 2)})
    (got,) = store.suppressions()
    assert (got.hits, got.last_hit, got.last_alert) == (3, T0 + 5, "a9 Rule: msg")
    assert [a.alert_id for a in store.list_alerts()] == ["kept1"]


def test_readonly_store_lists_but_does_not_write(tmp_path: Path) -> None:
    with Store(tmp_path / "keibi.db") as s:
        s.add_suppression(reason="why", rule="r1")
    with Store.open_readonly(tmp_path / "keibi.db") as r:
        assert len(r.suppressions()) == 1
        with pytest.raises(StoreError, match="read-only"):
            r.add_suppression(reason="why", rule="r2")


def test_a_version_1_store_is_migrated_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "keibi.db"
    raw = sqlite3.connect(path)
    for statement in schema.MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute("INSERT INTO alerts (alert_id, ts, first_ts, last_ts, count, doc)"
                " VALUES ('old', 1, 1, 1, 1, ?)",
                (b'{"@timestamp":"2026-01-01T00:00:00Z","event":{"kind":"alert"},'
                 b'"keibi":{"alert":{"id":"old"}}}',))
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    with Store(path) as s:
        assert s.stats().schema_version == schema.SCHEMA_VERSION == 2
        assert [a.alert_id for a in s.list_alerts()] == ["old"]
        assert s.suppressions() == []
