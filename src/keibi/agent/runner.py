"""The live agent: follow sources, parse, detect, store, alert — exactly once.

One loop, one thread for the data path. Each turn reads a bounded batch from every
source, parses it, runs the engine, and then commits, in ONE SQLite transaction, the
events, the alert updates, every source's position and the engine's state. A kill -9
at any point therefore resumes from the last commit and replays the same lines into the
same state: the same alerts with the same ids, none lost, none doubled. Sinks that live
outside the store (console, alerts.jsonl) run after the commit and skip ids they have
already written.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from keibi.agent.enrich import with_local_names
from keibi.agent.live import (
    AuditNetlinkSource,
    FileSource,
    JournalSource,
    LiveSource,
    WatchSource,
    journal_key,
)
from keibi.agent.notices import notice_event
from keibi.agent.sources import WATCH, PlannedSource
from keibi.alerts.gate import SuppressionGate
from keibi.engine.engine import AlertUpdate, Engine
from keibi.events.model import Event
from keibi.parsers.context import LineContext
from keibi.parsers.registry import source_type
from keibi.parsers.stream import LineStream, StreamParser
from keibi.sinks.base import Sink
from keibi.sources.tailer import wait_for_change
from keibi.store.baselines import LiveBaseline
from keibi.store.sqlite import Store

ENGINE_STATE = "engine"
STATUS_KEY = "agent"


def _no_events(line: str, offset: int | None, ctx: LineContext) -> list[Event]:
    return []


@dataclass(slots=True)
class _Followed:
    planned: PlannedSource
    source: LiveSource
    parser: StreamParser
    ctx: LineContext
    lines: int = 0
    events: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class AgentStats:
    started: float = field(default_factory=time.time)
    lines: int = 0
    events: int = 0
    alerts_new: int = 0
    alert_updates: int = 0
    commits: int = 0
    sink_errors: int = 0
    notices: int = 0  # indicator-removal events (logs truncated, deleted, linked)
    last_error: str | None = None
    # events/s over the last status interval
    rate: float = 0.0


class Agent:
    """The running agent; :meth:`run` returns when :meth:`stop` is called or on SIGTERM."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        sources: list[PlannedSource],
        sinks: list[Sink],
        host_name: str | None = None,
        batch_lines: int = 5000,
        poll_interval: float = 0.25,
        read_existing: bool = False,
        max_line_bytes: int = 65536,
        notes: list[str] | None = None,
        log: Callable[[str], None] | None = None,
        retention_days: float = 30.0,
    ) -> None:
        self.store = store
        self.engine = engine
        self.sinks = sinks
        self.host_name = host_name or socket.gethostname()
        self.batch_lines = batch_lines
        self.poll_interval = poll_interval
        self.retention = retention_days * 86400.0
        self.pruned = 0
        self.stats = AgentStats()
        self.notes = list(notes or [])
        self._log = log or (lambda _msg: None)
        self._stop = False
        self._followed: list[_Followed] = []
        state = store.get_checkpoint(ENGINE_STATE)
        if state is not None:
            engine.restore(state)
        # suppressions (keibi suppress) before the sinks; first-seen anomalies (baseline)
        self.suppressions = SuppressionGate(store)
        self.baseline = LiveBaseline(store)
        for planned in sources:
            source = self._open(planned, read_existing, max_line_bytes)
            if planned.kind == WATCH:  # watched, not parsed: notices only
                parser: StreamParser = LineStream(_no_events)
                dataset = None
            else:
                st = source_type(planned.type)
                parser, dataset = st.make_parser(), st.dataset
            ctx = LineContext(path=planned.path, dataset=dataset, hostname=self.host_name)
            self._followed.append(_Followed(planned, source, parser, ctx))

    def _open(self, planned: PlannedSource, read_existing: bool,
              max_line_bytes: int) -> LiveSource:
        # First start, no checkpoint: an existing log is history, not news, unless
        # the admin asks for it (read_existing) or the source was named explicitly.
        history = read_existing or planned.origin == "command line"
        if planned.kind == "journald":
            directory = None if planned.path == "journald" else planned.path
            cp = self.store.get_checkpoint(journal_key(directory))
            return JournalSource(cp, directory=directory, start_at_end=not history)
        if planned.kind == "audit-netlink":
            return AuditNetlinkSource()
        if planned.kind == WATCH:
            return WatchSource(planned.path, self.store.get_checkpoint(f"watch:{planned.path}"))
        cp = self.store.get_checkpoint(f"tail:{planned.path}")
        at_end = cp is None and not history
        return FileSource(planned.path, planned.type, cp, start_at_end=at_end,
                          max_line_bytes=max_line_bytes)

    # -- control -------------------------------------------------------------------------
    def stop(self, *_args: object) -> None:
        self._stop = True

    def install_signal_handlers(self) -> None:
        def handler(_sig: int, _frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- one turn ------------------------------------------------------------------------
    def step(self) -> int:
        """Read, parse, detect and commit one batch; returns the lines read."""
        events: list[Event] = []
        updates: dict[str, AlertUpdate] = {}
        process = self.engine.process
        now = time.time()
        lines_read = 0

        def take(batch: list[AlertUpdate]) -> None:
            for upd in batch:
                key = upd.alert.alert_id or ""
                prev = updates.get(key)
                updates[key] = upd if prev is None or not prev.new else AlertUpdate(
                    upd.alert, True)

        for f in self._followed:
            try:
                batch = f.source.read_batch(self.batch_lines)
            except OSError as exc:
                f.last_error = f"{f.planned.path}: {exc}"
                self.stats.last_error = f.last_error
                continue
            # a log truncated, deleted or replaced by a link: an event like any other
            for notice in f.source.take_notices():
                ev = notice_event(notice, self.host_name)
                events.append(ev)
                take(process(ev))
                self.stats.notices += 1
            if not batch:
                continue
            f.ctx.set_ref_time(now)
            feed = f.parser.feed
            ctx = f.ctx
            local_ids = f.planned.type == "audit"  # this host's audit: ids -> local names
            for text, offset in batch:
                for ev in feed(text, offset, ctx):
                    if local_ids:
                        ev = with_local_names(ev)
                    events.append(ev)
                    take(process(ev))
            f.lines += len(batch)
            lines_read += len(batch)
        for f in self._followed:
            for ev in f.parser.flush(now):
                if f.planned.type == "audit":
                    ev = with_local_names(ev)
                events.append(ev)
                take(process(ev))
        if events:
            for ev in self.baseline.observe_all(events, now):
                events.append(ev)
                take(process(ev))
        take(self.engine.advance(now))
        if not events and not updates and not lines_read:
            return 0
        updates = self.suppressions.filter(updates, now)
        checkpoints = {f.source.key: f.source.checkpoint() for f in self._followed}
        checkpoints[ENGINE_STATE] = self.engine.snapshot()
        checkpoints.update(self.baseline.checkpoints())
        alerts = [u.alert for u in updates.values()]
        self.store.commit(events, alerts, checkpoints, suppressed=self.suppressions.take_hits())
        self.stats.commits += 1
        self.stats.lines += lines_read
        self.stats.events += len(events)
        new = [u.alert for u in updates.values() if u.new]
        self.stats.alerts_new += len(new)
        self.stats.alert_updates += len(updates) - len(new)
        for sink in self.sinks:
            try:
                sink.emit(new, [u.alert for u in updates.values() if not u.new])
            except Exception as exc:  # a broken sink must not stop detection
                self.stats.sink_errors += 1
                self.stats.last_error = f"sink {sink.name}: {exc}"
        return lines_read

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        sources = []
        for f in self._followed:
            st = f.source.status()
            sources.append({
                "path": f.planned.path,
                "type": f.planned.type,
                "kind": f.planned.kind,
                "origin": f.planned.origin,
                "active": bool(st.get("active")),
                "lines": f.lines,
                "reader": st,
                "last_error": f.last_error or st.get("last_error"),
            })
        return {
            "pid": os.getpid(),
            "host": self.host_name,
            "started": self.stats.started,
            "updated": time.time(),
            "lines": self.stats.lines,
            "events": self.stats.events,
            "events_per_s": round(self.stats.rate, 1),
            "alerts_new": self.stats.alerts_new,
            "alert_updates": self.stats.alert_updates,
            "commits": self.stats.commits,
            "sink_errors": self.stats.sink_errors,
            "log_notices": self.stats.notices,
            "dropped": 0,
            "events_pruned": self.pruned,
            "queue_depth": 0,
            "last_error": self.stats.last_error,
            "sources": sources,
            "notes": self.notes,
            "engine": self.engine.stats(),
        }

    def _write_status(self) -> None:
        self.store.set_status(STATUS_KEY, json.dumps(self.status(), default=str))

    def _wait(self) -> None:
        """Sleep until a file changes or poll_interval passes (journal and audit: polled)."""
        tailers = [f.source.tailer for f in self._followed if isinstance(f.source, FileSource)]
        if len(tailers) == len(self._followed):
            wait_for_change(tailers, self.poll_interval)
            return
        journals = [f.source for f in self._followed if isinstance(f.source, JournalSource)]
        if tailers:
            wait_for_change(tailers, self.poll_interval / 2)
        if journals:
            journals[0].reader.wait(self.poll_interval / 2)
        elif not tailers:
            time.sleep(self.poll_interval / 2)

    # -- main loop -----------------------------------------------------------------------
    def run(self, *, max_seconds: float | None = None, status_every: float = 2.0) -> None:
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        last_status = 0.0
        last_events = 0
        next_prune = 0.0
        self._write_status()
        try:
            while not self._stop:
                read = self.step()
                mono = time.monotonic()
                if mono - last_status >= status_every:
                    span = mono - last_status if last_status else status_every
                    self.stats.rate = (self.stats.events - last_events) / span
                    last_events = self.stats.events
                    last_status = mono
                    self._write_status()
                if mono >= next_prune and self.retention > 0:
                    next_prune = mono + 3600.0
                    try:
                        self.pruned += self.store.prune(time.time() - self.retention)
                    except Exception as exc:  # retention must not stop detection
                        self.stats.last_error = f"retention: {exc}"
                if deadline is not None and mono >= deadline:
                    break
                if read < self.batch_lines:
                    self._wait()
        finally:
            self._write_status()
            for f in self._followed:
                f.source.close()
            for sink in self.sinks:
                sink.close()


def data_paths(data_dir: Path) -> tuple[Path, Path]:
    """(store database, alerts.jsonl) in the data dir."""
    return data_dir / "keibi.db", data_dir / "alerts.jsonl"
