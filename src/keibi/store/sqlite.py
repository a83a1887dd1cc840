"""keibi's embedded store: events, alerts, checkpoints and agent status in one SQLite file.

One writer (the live agent, from one thread at a time) and any number of readers in
other processes (``keibi alerts``, ``keibi search``, ``keibi status``) share the file:
WAL journal mode lets readers see the last committed state while the writer works, and
the busy timeout makes a second writer wait instead of failing.

:meth:`Store.commit` writes events, alert upserts and checkpoints (source offsets,
engine state) in one transaction, so after a crash they agree: replaying from the stored
offsets neither loses nor duplicates events.

Suppressions (:mod:`keibi.alerts.suppress`) live here too, with the count of alerts
each held back, added in the same transaction as the alerts that were kept.

Errors: :class:`StoreError` (unusable store, schema too new, not a keibi store, a write
on a read-only store, an alert without id), :class:`keibi.store.query.QueryError` (bad
filter, limit or severity), :class:`keibi.alerts.suppress.SuppressionError` (a
suppression without reason or condition); an event that cannot be encoded raises what the encoder
raises, before anything is written; anything else from SQLite (disk full, I/O) is
``sqlite3.Error``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self

import msgspec

from keibi.alerts.suppress import Hit, Suppression, validate
from keibi.events.encoding import loads
from keibi.events.model import SEVERITY_NAMES, Event
from keibi.store import schema
from keibi.store.query import Filter, QueryError, sqlite_where

__all__ = ["Store", "StoreError", "StoreStats"]

_NO_CHECKPOINTS: Mapping[str, bytes] = MappingProxyType({})
_STATUS = "status:"
_SUPPRESSIONS_VERSION = "suppressions:version"
_CONTROL = "control:"
_ADD_HITS = (
    "UPDATE suppressions SET hits = hits + ?, last_hit = max(coalesce(last_hit, ?), ?),"
    " last_alert = coalesce(?, last_alert) WHERE id = ?"
)


class StoreError(Exception):
    """The store cannot do what was asked; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What ``keibi status`` shows about the store."""

    path: str
    schema_version: int
    events: int
    alerts: int
    checkpoints: int
    oldest_event: float | None
    newest_event: float | None
    db_bytes: int
    wal_bytes: int


class Store:
    """A keibi store in the SQLite file ``path``, created (mode 0600) and migrated as needed.

    One connection per instance; an instance may be shared by threads (a lock serialises
    its calls), but each process opens its own.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = Path(path)
        self._readonly = readonly
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = _open(self._path, readonly, busy_timeout)

    @classmethod
    def open_readonly(cls, path: str | Path, *, busy_timeout: float = 5.0) -> Store:
        """An existing store opened for reading only (never created nor migrated)."""
        return cls(path, readonly=True, busy_timeout=busy_timeout)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def readonly(self) -> bool:
        return self._readonly

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if not self._readonly:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    def commit(
        self,
        events: Sequence[Event],
        alerts: Sequence[Event] = (),
        checkpoints: Mapping[str, bytes] = _NO_CHECKPOINTS,
        suppressed: Mapping[int, Hit] | None = None,
    ) -> None:
        """Store ``events``, upsert ``alerts``, set ``checkpoints`` and add the hit counts
        of ``suppressed`` (suppression id -> alerts it held back), all or nothing.

        An alert replaces the stored one with the same ``keibi.alert.id`` when its
        ``keibi.alert.count`` is at least the stored count (a stale update with a lower
        count is ignored); ``first_ts`` keeps the earliest time seen.
        """
        self._check_writable()
        event_rows = [schema.event_row(e) for e in events]
        if any(not a.alert_id for a in alerts):
            raise StoreError("an alert without keibi.alert.id cannot be stored")
        alert_rows = [schema.alert_row(a) for a in alerts]
        now = self._clock()
        checkpoint_rows = [_checkpoint_row(n, d, now) for n, d in checkpoints.items()]
        hit_rows = _hit_rows(suppressed)
        if not (event_rows or alert_rows or checkpoint_rows or hit_rows):
            return
        with self._lock, _transaction(self._conn):
            if event_rows:
                self._conn.executemany(schema.INSERT_EVENT, event_rows)
            if alert_rows:
                self._conn.executemany(schema.UPSERT_ALERT, alert_rows)
            if checkpoint_rows:
                self._conn.executemany(schema.UPSERT_CHECKPOINT, checkpoint_rows)
            if hit_rows:
                self._conn.executemany(_ADD_HITS, hit_rows)

    # -- suppressions ------------------------------------------------------------------

    def add_suppression(
        self, *, reason: str, rule: str | None = None, fields: Mapping[str, str] | None = None,
        expires: float | None = None, created_by: str | None = None,
    ) -> Suppression:
        """Store a new suppression (checked by :func:`keibi.alerts.suppress.validate`,
        which raises SuppressionError) and return it with its id."""
        self._check_writable()
        now = self._clock()
        fields = dict(fields or {})
        validate(rule, fields, reason, expires, now)
        with self._lock, _transaction(self._conn):
            cur = self._conn.execute(
                "INSERT INTO suppressions (rule, fields, reason, created, expires, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rule, msgspec.json.encode(fields).decode(), reason.strip(), now, expires,
                 created_by))
            sid = int(cur.lastrowid or 0)
            self._bump_suppressions()
        return Suppression(id=sid, rule=rule, fields=fields, reason=reason.strip(),
                           created=now, expires=expires, created_by=created_by)

    def remove_suppression(self, sid: int) -> bool:
        """Retire suppression ``sid`` (kept, with its hits, as removed); False when there
        is no such suppression in force."""
        self._check_writable()
        with self._lock, _transaction(self._conn):
            n = self._conn.execute(
                "UPDATE suppressions SET removed = ? WHERE id = ? AND removed IS NULL",
                (self._clock(), sid)).rowcount
            if n:
                self._bump_suppressions()
        return bool(n)

    def suppressions(self) -> list[Suppression]:
        """Every suppression ever made (removed and expired ones too), oldest first."""
        rows = self._all(
            "SELECT id, rule, fields, reason, created, expires, created_by, removed, hits,"
            " last_hit, last_alert FROM suppressions ORDER BY id", ())
        return [Suppression(id=r[0], rule=r[1], fields=msgspec.json.decode(r[2]), reason=r[3],
                            created=r[4], expires=r[5], created_by=r[6], removed=r[7],
                            hits=r[8], last_hit=r[9], last_alert=r[10]) for r in rows]

    def suppressions_version(self) -> int:
        """A number that changes whenever a suppression is added or removed (cheap to
        poll: the agent re-reads the suppressions when it changes)."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (_SUPPRESSIONS_VERSION,))
        return 0 if row is None else int(row[0])

    def set_control(self, name: str, value: Any,
                    checkpoints: Mapping[str, bytes] = _NO_CHECKPOINTS) -> None:
        """Leave the JSON-encodable ``value`` as request ``name`` for the agent (e.g. a
        baseline reset), with ``checkpoints`` set in the same transaction."""
        self._check_writable()
        data = msgspec.json.encode(value).decode()
        now = self._clock()
        rows = [_checkpoint_row(n, d, now) for n, d in checkpoints.items()]
        with self._lock, _transaction(self._conn):
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_CONTROL + name, data))
            if rows:
                self._conn.executemany(schema.UPSERT_CHECKPOINT, rows)

    def get_control(self, name: str) -> Any:
        """The value last given to :meth:`set_control` for ``name``, or None."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (_CONTROL + name,))
        return None if row is None else msgspec.json.decode(row[0])

    def _bump_suppressions(self) -> None:
        """In the caller's transaction, with the lock held."""
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key)"
            " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            (_SUPPRESSIONS_VERSION,))

    def set_status(self, name: str, value: Any) -> None:
        """Record the JSON-encodable ``value`` as the status of ``name`` (e.g. ``agent``);
        :meth:`get_status` returns an equal value (JSON text given as a str stays a str)."""
        self._check_writable()
        data = msgspec.json.encode(value).decode()
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_STATUS + name, data),
            )

    def prune(self, before: float, *, prune_alerts: bool = False, batch: int = 10_000) -> int:
        """Delete events older than ``before`` (and alerts last seen before it when
        ``prune_alerts``), in batches so readers and the writer are never held up long.
        Returns the number of rows deleted."""
        self._check_writable()
        deleted = 0
        statements = ["DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? LIMIT ?)"]
        if prune_alerts:
            statements.append(
                "DELETE FROM alerts WHERE alert_id IN"
                " (SELECT alert_id FROM alerts WHERE last_ts < ? LIMIT ?)"
            )
        for sql in statements:
            while True:
                with self._lock, _transaction(self._conn):
                    n = self._conn.execute(sql, (before, batch)).rowcount
                deleted += n
                if n < batch:
                    break
        return deleted

    # -- reading -----------------------------------------------------------------------

    def get_checkpoint(self, name: str) -> bytes | None:
        row = self._one("SELECT data FROM checkpoints WHERE name = ?", (name,))
        return None if row is None else bytes(row[0])

    def checkpoints(self) -> dict[str, bytes]:
        rows = self._all("SELECT name, data FROM checkpoints ORDER BY name", ())
        return {name: bytes(data) for name, data in rows}

    def get_status(self, name: str) -> Any:
        """The value last given to :meth:`set_status` for ``name``, or None."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (_STATUS + name,))
        return None if row is None else msgspec.json.decode(row[0])

    def statuses(self) -> dict[str, Any]:
        rows = self._all(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(_STATUS), _STATUS),
        )
        return {key[len(_STATUS):]: msgspec.json.decode(value) for key, value in rows}

    def search(
        self,
        filters: Sequence[Filter] = (),
        since: float | None = None,
        until: float | None = None,
        limit: int | None = 100,
    ) -> list[Event]:
        """Stored events matching every filter with ``since <= @timestamp < until``,
        newest first; ``limit`` None for all."""
        where, params = sqlite_where(filters, schema.EVENT_COLUMNS)
        where, params = _bounds(where, params, "ts", "ts", since, until)
        sql = f"SELECT doc FROM events WHERE {where} ORDER BY ts DESC, id DESC LIMIT ?"
        return [loads(doc) for (doc,) in self._all(sql, (*params, _limit(limit)))]

    def list_alerts(
        self,
        since: float | None = None,
        until: float | None = None,
        min_severity: int | str | None = None,
        rule: str | None = None,
        filters: Sequence[Filter] = (),
        limit: int | None = 100,
    ) -> list[Event]:
        """Stored alerts, most recently active first.

        An alert is in ``[since, until)`` when its activity (first to last time seen)
        overlaps it. ``min_severity`` is a score (0-100) or a word (``high``: 70 and
        up); ``rule`` matches ``rule.id`` or ``rule.name`` exactly.
        """
        where, params = sqlite_where(filters, schema.ALERT_COLUMNS)
        where, params = _bounds(where, params, "last_ts", "first_ts", since, until)
        if min_severity is not None:
            where += " AND severity >= ?"
            params.append(_severity_floor(min_severity))
        if rule is not None:
            where += " AND (rule_id = ? OR rule_name = ?)"
            params.extend((rule, rule))
        sql = (
            f"SELECT doc FROM alerts WHERE {where}"
            " ORDER BY last_ts DESC, rowid DESC LIMIT ?"
        )
        return [loads(doc) for (doc,) in self._all(sql, (*params, _limit(limit)))]

    def stats(self) -> StoreStats:
        """Counts and sizes, read in one snapshot."""
        with self._lock, _transaction(self._conn, "BEGIN"):
            q = self._conn.execute
            events, oldest, newest = q("SELECT count(*), min(ts), max(ts) FROM events").fetchone()
            (alerts,) = q("SELECT count(*) FROM alerts").fetchone()
            (checkpoints,) = q("SELECT count(*) FROM checkpoints").fetchone()
            (pages,) = q("PRAGMA page_count").fetchone()
            (page_size,) = q("PRAGMA page_size").fetchone()
            version = schema.schema_version(self._conn)
        try:
            wal = os.stat(f"{self._path}-wal").st_size
        except OSError:
            wal = 0
        return StoreStats(
            str(self._path), version, events, alerts, checkpoints, oldest, newest,
            pages * page_size, wal,
        )

    # -- helpers -----------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._readonly:
            raise StoreError(f"{self._path}: store opened read-only")

    def _one(self, sql: str, params: Sequence[object]) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[object]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()


class _transaction:
    """``BEGIN ... COMMIT``, or ``ROLLBACK`` when the body raises."""

    def __init__(self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


def _open(path: Path, readonly: bool, busy_timeout: float) -> sqlite3.Connection:
    try:
        if readonly:
            if not path.is_file():
                raise StoreError(f"{path}: no keibi store there")
            target = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro"
        else:
            _create_private(path)
            target = str(path)
        conn = sqlite3.connect(
            target, timeout=busy_timeout, isolation_level=None, check_same_thread=False,
            uri=readonly,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open store: {exc}") from None
    try:
        _configure(conn, path, readonly, busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def _create_private(path: Path) -> None:
    """Create the file owner-only: it holds command lines, user names and addresses."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot create store: {exc.strerror}") from None


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch to WAL. SQLite answers "locked" at once, without its busy handler, while
    another connection creates the same new store, so wait here."""
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _configure(conn: sqlite3.Connection, path: Path, readonly: bool, busy_timeout: float) -> None:
    try:
        if readonly:
            conn.execute("PRAGMA query_only = ON")
            version = schema.schema_version(conn)
            if version != schema.SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: store schema version {version}, this keibi reads "
                    f"{schema.SCHEMA_VERSION}; open it read-write (start the agent) to migrate"
                )
            return
        mode = _enable_wal(conn, busy_timeout)
        if mode.lower() != "wal":
            raise StoreError(f"{path}: cannot use WAL journal mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")
        schema.migrate(conn)
    except schema.SchemaError as exc:
        raise StoreError(f"{path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable store: {exc}") from None


def _hit_rows(hits: Mapping[int, Hit] | None) -> list[tuple[object, ...]]:
    if not hits:
        return []
    return [(h.count, h.last, h.last, h.last_alert, sid)
            for sid, h in hits.items() if h.count > 0]


def _checkpoint_row(name: str, data: bytes, now: float) -> tuple[object, ...]:
    if not isinstance(name, str) or not isinstance(data, bytes | bytearray | memoryview):
        raise StoreError(f"checkpoint {name!r}: name must be str and data bytes")
    return (name, bytes(data), now)


def _bounds(
    where: str, params: list[object], end_col: str, start_col: str,
    since: float | None, until: float | None,
) -> tuple[str, list[object]]:
    if since is not None:
        where += f" AND {end_col} >= ?"
        params.append(since)
    if until is not None:
        where += f" AND {start_col} < ?"
        params.append(until)
    return where, params


def _limit(limit: int | None) -> int:
    if limit is None:
        return -1
    if limit < 0:
        raise QueryError(f"limit must be 0 or more, not {limit}")
    return limit


def _severity_floor(value: int | str) -> int:
    if isinstance(value, int):
        return value
    for floor, name in SEVERITY_NAMES:
        if name == value.lower():
            return floor
    names = ", ".join(name for _, name in SEVERITY_NAMES)
    raise QueryError(f"unknown severity {value!r} (one of {names}, or 0-100)")
