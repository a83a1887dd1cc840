"""Readers in other threads and processes see whole commits while the agent writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from keibi.events.model import Event
from keibi.store.query import parse_filters
from keibi.store.sqlite import Store

BATCHES, PER_BATCH = 60, 25


def _write(path: Path, done: threading.Event | None = None) -> None:
    with Store(path) as store:
        for k in range(BATCHES):
            events = [Event(timestamp=1_793_000_000.0 + k * PER_BATCH + i, user_name=f"u{k}",
                            action="ssh-login") for i in range(PER_BATCH)]
            alert = Event(timestamp=1_793_000_000.0 + k, kind="alert", alert_id="a",
                          alert_count=k + 1, severity=50)
            store.commit(events, [alert], {"auth": str(k + 1).encode()})
    if done is not None:
        done.set()


def _consistent(raw: sqlite3.Connection) -> int:
    """The events, alert count and checkpoint seen in one snapshot agree."""
    raw.execute("BEGIN")
    try:
        (events,) = raw.execute("SELECT count(*) FROM events").fetchone()
        row = raw.execute("SELECT data FROM checkpoints WHERE name = 'auth'").fetchone()
        alert = raw.execute("SELECT count FROM alerts WHERE alert_id = 'a'").fetchone()
    finally:
        raw.execute("COMMIT")
    batches = 0 if row is None else int(row[0])
    assert events == batches * PER_BATCH
    assert (alert is None and batches == 0) or alert == (batches,)
    return batches


def test_reader_thread_sees_whole_commits(tmp_path: Path) -> None:
    path = tmp_path / "keibi.db"
    Store(path).close()
    done = threading.Event()
    writer = threading.Thread(target=_write, args=(path, done))
    raw = sqlite3.connect(path, isolation_level=None)
    reads = 0
    with Store.open_readonly(path) as reader:
        writer.start()
        while not done.is_set():
            _consistent(raw)
            reader.search(parse_filters(["event.action=ssh-login"]), limit=10)
            reader.list_alerts()
            reader.stats()
            reads += 1
        writer.join()
        assert _consistent(raw) == BATCHES
        assert len(reader.search(limit=None)) == BATCHES * PER_BATCH
    raw.close()
    assert reads > 0


READER = textwrap.dedent(
    """
    import sqlite3, sys
    from keibi.store.sqlite import Store
    from tests.store.test_concurrency import BATCHES, _consistent
    path = sys.argv[1]
    raw = sqlite3.connect(path, isolation_level=None)
    reads = 0
    with Store.open_readonly(path) as reader:
        print("ready", flush=True)
        while _consistent(raw) < BATCHES:
            reader.search(limit=5)
            reads += 1
    print("reads", reads)
    """
)


def test_reader_process_sees_whole_commits(tmp_path: Path) -> None:
    path = tmp_path / "keibi.db"
    Store(path).close()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", READER, str(path)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        _write(path)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.startswith("reads ")


def test_two_writers_wait_for_each_other(tmp_path: Path) -> None:
    path = tmp_path / "keibi.db"
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with Store(path) as store:
                for k in range(30):
                    store.commit([Event(timestamp=1_793_000_000.0 + k, user_name=name)],
                                 checkpoints={name: str(k).encode()})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open_readonly(path) as store:
        assert store.stats().events == 60
        assert store.checkpoints() == {"w1": b"29", "w2": b"29"}
