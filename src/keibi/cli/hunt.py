"""``keibi hunt PATH... [--json]``: offline detection with event time as the clock.

Alerts are printed as the engine closes them (their group window passed in event time),
in closing order, and the ones still open at the end of input last: a long run holds
only the open alerts, never all of them. The suppressions in force in the data dir's
store (``keibi suppress``) hold alerts back, counted on stderr (``--no-suppress``: all).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import BinaryIO

from keibi.alerts.suppress import Suppressor
from keibi.cli.common import (
    UsageError,
    add_common,
    alert_line,
    config_of,
    severity_arg,
    write_json_line,
)
from keibi.cli.progress import progress_for
from keibi.cli.suppress import stored_suppressor
from keibi.config import Config
from keibi.detection import RuleLoadError, build_engine, load_rule_set
from keibi.engine.engine import Engine
from keibi.events.encoding import dumps
from keibi.events.model import Event
from keibi.offline import (
    InputError,
    PoolError,
    ReadReport,
    Spawned,
    default_jobs,
    read_batches,
    spawn_workers,
)
from keibi.parsers.registry import SOURCE_TYPES


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hunt", help="run detection over log files (event time as clock)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files, rotated sets (.gz too) or a copied /var/log tree")
    p.add_argument("--json", action="store_true", help="one ECS alert per line")
    p.add_argument("--source", choices=sorted(SOURCE_TYPES), help="force a parser")
    p.add_argument("--rules", action="append", default=[], metavar="PATH",
                   help="extra rule files or directories (repeatable)")
    p.add_argument("--no-builtin", action="store_true", help="do not load built-in rules")
    p.add_argument("--min-severity", type=severity_arg, default=0, metavar="SEV",
                   help="print only alerts at or above SEV")
    p.add_argument("--fail-on", type=severity_arg, metavar="SEV",
                   help="exit 1 when an alert at or above SEV is found")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    p.add_argument("--jobs", "-j", type=_jobs_arg, metavar="N",
                   help="processes for a large input: this one detecting, N-1 parsing"
                        " (default: the CPUs available; 1: parse in this process)")
    p.add_argument("--no-suppress", action="store_true",
                   help="ignore the suppressions of the data dir's store (keibi suppress)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="where the suppressions are (default as for keibi run)")
    add_common(p, data_dir=False)
    p.set_defaults(func=run)


def _jobs_arg(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1-64)")
    return int(text)


class _Output:
    """Prints alerts as the engine hands them over (closing order), counting them."""

    def __init__(self, args: argparse.Namespace, suppressor: Suppressor | None = None) -> None:
        self.suppressor = suppressor
        self.suppressed = 0
        self.now = time.time()
        self.json = bool(args.json)
        self.min_severity: int = args.min_severity
        self.fail_on: int | None = args.fail_on
        self.shown = 0
        self.failed = False
        self._text = sys.stdout
        self._bytes: BinaryIO | None = getattr(sys.stdout, "buffer", None) if args.json else None

    def write(self, alerts: list[Event]) -> None:
        for alert in alerts:
            if self.suppressor is not None and self.suppressor.check(alert, self.now):
                self.suppressed += 1  # counted and said in the summary, never silent
                continue
            severity = alert.severity or 0
            if self.fail_on is not None and severity >= self.fail_on:
                self.failed = True
            if severity < self.min_severity:
                continue
            self.shown += 1
            if self._bytes is not None:
                self._bytes.write(dumps(alert) + b"\n")
            elif self.json:
                write_json_line(alert, self._text)
            else:
                self._text.write(alert_line(alert) + "\n")

    def flush(self) -> None:
        if self._bytes is not None:
            self._bytes.flush()


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    jobs = default_jobs() if args.jobs is None else args.jobs
    # parse workers start now: they get ready while the rules load
    spawned = spawn_workers(args.paths, jobs)
    try:
        return _run(args, config, jobs, spawned)
    finally:
        if spawned is not None:
            spawned.close()  # those the reader did not take


def _run(args: argparse.Namespace, config: Config, jobs: int, spawned: Spawned | None) -> int:
    rule_set = load_rule_set(config, args.rules, builtin=not args.no_builtin)
    for err in rule_set.errors:
        print(f"keibi hunt: rule error: {err}", file=sys.stderr)
    try:
        engine = build_engine(config, rule_set=rule_set, updates=False)
    except RuleLoadError as exc:
        raise UsageError(str(exc)) from exc
    report = ReadReport()
    # Rules and code stay: full collections need not walk them again; and the millions
    # of short-lived objects of a run die by reference count, not by collection.
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(10_000, *thresholds[1:])
    suppressor = None if args.no_suppress else stored_suppressor(args, config)
    try:
        return _hunt(args, config.max_line_bytes, engine, report, jobs, spawned, suppressor)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _hunt(args: argparse.Namespace, max_line_bytes: int, engine: Engine,
          report: ReadReport, jobs: int, spawned: Spawned | None,
          suppressor: Suppressor | None = None) -> int:
    started = time.perf_counter()
    output = _Output(args, suppressor)
    process_batch, drain = engine.process_batch, engine.drain_closed
    try:
        with progress_for(args.paths) as on_bytes:
            for batch in read_batches(args.paths, forced_type=args.source, report=report,
                                      max_line_bytes=max_line_bytes,
                                      on_bytes=on_bytes, prefilter=engine.prefilter(),
                                      jobs=jobs, spawned=spawned):
                process_batch(batch.events, batch.ticks, batch.cuts)
                output.write(drain())
    except (InputError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from exc
    except PoolError as exc:
        raise UsageError(f"{exc} (--jobs 1 parses in one process)") from exc
    engine.finish()
    output.write(drain())
    output.flush()
    elapsed = time.perf_counter() - started
    for path, why in report.skipped:
        print(f"keibi hunt: {path}: skipped: {why}", file=sys.stderr)
    if not args.quiet:
        st = report.line_stats
        print(f"keibi hunt: {len(report.files)} files, {st.lines} lines, {report.events} events,"
              f" {output.shown} alerts in {elapsed:.2f}s"
              + (f"; {st.decode_errors} lines with invalid UTF-8" if st.decode_errors else "")
              + (f"; {st.truncated} over-long lines cut" if st.truncated else ""),
              file=sys.stderr)
    if output.suppressed:
        print(f"keibi hunt: {output.suppressed} alerts suppressed (keibi suppress list; "
              "--no-suppress shows them)", file=sys.stderr)
    return 1 if output.failed else 0
