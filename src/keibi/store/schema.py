"""The SQLite schema of keibi's store: DDL, migrations, and which ECS fields have columns.

The schema version lives in ``PRAGMA user_version``. ``MIGRATIONS[i]`` takes a store
from version ``i`` to ``i + 1``; a migration is appended, never edited, once released.
Each runs in its own ``BEGIN IMMEDIATE`` transaction, so two processes opening a new
store at once migrate it once.

Every row keeps the whole event in ``doc`` (canonical JSON, ``keibi.events.encoding``);
the other columns are copies of a few ECS fields, there to be indexed. Search on any
other field reads ``doc`` with SQLite's JSON functions. The per-field event indexes are
partial (``WHERE col IS NOT NULL``): an event without a source address costs no entry in
the source.ip index, and ``col = ?`` still uses it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from keibi.events.encoding import dumps
from keibi.events.model import Event

__all__ = [
    "ALERT_COLUMNS",
    "EVENT_COLUMNS",
    "INSERT_EVENT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "UPSERT_ALERT",
    "UPSERT_CHECKPOINT",
    "Column",
    "SchemaError",
    "alert_row",
    "event_row",
    "migrate",
    "schema_version",
]

ColumnKind = Literal["text", "integer", "time"]


class SchemaError(Exception):
    """The database is not a keibi store this version can use."""


@dataclass(frozen=True, slots=True)
class Column:
    """A table column holding a copy of one ECS field."""

    name: str
    kind: ColumnKind = "text"


_V1 = (
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        host TEXT,
        dataset TEXT,
        action TEXT,
        outcome TEXT,
        user_name TEXT,
        source_ip TEXT,
        process_name TEXT,
        process_pid INTEGER,
        file_path TEXT,
        rule_id TEXT,
        doc BLOB NOT NULL
    )""",
    "CREATE INDEX events_ts ON events (ts)",
    "CREATE INDEX events_host_ts ON events (host, ts) WHERE host IS NOT NULL",
    "CREATE INDEX events_user_ts ON events (user_name, ts) WHERE user_name IS NOT NULL",
    "CREATE INDEX events_source_ip_ts ON events (source_ip, ts) WHERE source_ip IS NOT NULL",
    "CREATE INDEX events_process_ts ON events (process_name, ts) WHERE process_name IS NOT NULL",
    "CREATE INDEX events_action_ts ON events (action, ts) WHERE action IS NOT NULL",
    "CREATE INDEX events_rule_ts ON events (rule_id, ts) WHERE rule_id IS NOT NULL",
    """CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        first_ts REAL NOT NULL,
        last_ts REAL NOT NULL,
        rule_id TEXT,
        rule_name TEXT,
        severity INTEGER,
        severity_name TEXT,
        count INTEGER NOT NULL,
        source_ip TEXT,
        user_name TEXT,
        host TEXT,
        doc BLOB NOT NULL
    )""",
    "CREATE INDEX alerts_last_ts ON alerts (last_ts)",
    "CREATE INDEX alerts_rule_last_ts ON alerts (rule_id, last_ts)",
    "CREATE INDEX alerts_severity_last_ts ON alerts (severity, last_ts)",
    """CREATE TABLE checkpoints (
        name TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        updated REAL NOT NULL
    )""",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)

# Version 2: suppressions (keibi.alerts.suppress), with their hit counts.
_V2 = (
    """CREATE TABLE suppressions (
        id INTEGER PRIMARY KEY,
        rule TEXT,
        fields TEXT NOT NULL,
        reason TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL,
        created_by TEXT,
        removed REAL,
        hits INTEGER NOT NULL DEFAULT 0,
        last_hit REAL,
        last_alert TEXT
    )""",
)

#: ``MIGRATIONS[i]``: the statements from schema version ``i`` to ``i + 1``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)

#: ECS field -> its indexed copy in ``events``.
EVENT_COLUMNS: dict[str, Column] = {
    "@timestamp": Column("ts", "time"),
    "host.name": Column("host"),
    "event.dataset": Column("dataset"),
    "event.action": Column("action"),
    "event.outcome": Column("outcome"),
    "user.name": Column("user_name"),
    "source.ip": Column("source_ip"),
    "process.name": Column("process_name"),
    "process.pid": Column("process_pid", "integer"),
    "file.path": Column("file_path"),
    "rule.id": Column("rule_id"),
}

#: ECS field -> its copy in ``alerts``.
ALERT_COLUMNS: dict[str, Column] = {
    "@timestamp": Column("ts", "time"),
    "keibi.alert.id": Column("alert_id"),
    "rule.id": Column("rule_id"),
    "rule.name": Column("rule_name"),
    "event.severity": Column("severity", "integer"),
    "keibi.alert.severity": Column("severity_name"),
    "keibi.alert.count": Column("count", "integer"),
    "source.ip": Column("source_ip"),
    "user.name": Column("user_name"),
    "host.name": Column("host"),
}


# The column copies below must follow EVENT_COLUMNS / ALERT_COLUMNS.
INSERT_EVENT = (
    "INSERT INTO events (ts, host, dataset, action, outcome, user_name, source_ip,"
    " process_name, process_pid, file_path, rule_id, doc)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPSERT_ALERT = (
    "INSERT INTO alerts (alert_id, ts, first_ts, last_ts, rule_id, rule_name, severity,"
    " severity_name, count, source_ip, user_name, host, doc)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (alert_id) DO UPDATE SET"
    " ts = excluded.ts, first_ts = min(first_ts, excluded.first_ts),"
    " last_ts = max(last_ts, excluded.last_ts), rule_id = excluded.rule_id,"
    " rule_name = excluded.rule_name, severity = excluded.severity,"
    " severity_name = excluded.severity_name, count = excluded.count,"
    " source_ip = excluded.source_ip, user_name = excluded.user_name,"
    " host = excluded.host, doc = excluded.doc"
    " WHERE excluded.count >= alerts.count"
)
UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (name, data, updated) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated = excluded.updated"
)


def event_row(e: Event) -> tuple[object, ...]:
    """The :data:`INSERT_EVENT` parameters for ``e`` (raises if ``e`` cannot be encoded)."""
    return (
        e.timestamp, e.host_name, e.dataset, e.action, e.outcome, e.user_name, e.source_ip,
        e.process_name, e.process_pid, e.file_path, e.rule_id, dumps(e),
    )


def alert_row(a: Event) -> tuple[object, ...]:
    """The :data:`UPSERT_ALERT` parameters for ``a``: its activity runs from ``event.start``
    to ``event.end`` (or ``@timestamp``), a missing ``keibi.alert.count`` counts 1."""
    if not a.alert_id:
        raise ValueError("an alert without keibi.alert.id cannot be stored")
    first = a.timestamp if a.start is None else min(a.start, a.timestamp)
    last = a.timestamp if a.end is None else max(a.end, a.timestamp)
    return (
        a.alert_id, a.timestamp, first, last, a.rule_id, a.rule_name, a.severity,
        a.alert_severity, 1 if a.alert_count is None else a.alert_count, a.source_ip,
        a.user_name, a.host_name, dumps(a),
    )


def schema_version(conn: sqlite3.Connection) -> int:
    """The ``user_version`` of the database behind ``conn``."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the store up to :data:`SCHEMA_VERSION`; return the version found before.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    found = schema_version(conn)
    _check_supported(found)
    if found == SCHEMA_VERSION:  # the usual case: no write lock needed
        return found
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have migrated.
            version = schema_version(conn)
            _check_supported(version)
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return found
            if version == 0:
                _check_empty(conn)
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _check_supported(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"store schema version {version} is newer than this keibi supports "
            f"({SCHEMA_VERSION}); upgrade keibi"
        )


def _check_empty(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()
    if row[0]:
        raise SchemaError("the database has tables but no keibi schema version: not a keibi store")
