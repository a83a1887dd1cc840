"""``keibi hunt PATH... [--json]``: offline detection with event time as the clock."""

from __future__ import annotations

import argparse
import sys
import time

from keibi.cli.common import (
    UsageError,
    add_common,
    alert_line,
    config_of,
    severity_arg,
    write_json_line,
)
from keibi.cli.progress import progress_for
from keibi.detection import RuleLoadError, build_engine, load_rule_set
from keibi.offline import InputError, ReadReport, read_events
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
    add_common(p, data_dir=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    rule_set = load_rule_set(config, args.rules, builtin=not args.no_builtin)
    for err in rule_set.errors:
        print(f"keibi hunt: rule error: {err}", file=sys.stderr)
    try:
        engine = build_engine(config, rule_set=rule_set)
    except RuleLoadError as exc:
        raise UsageError(str(exc)) from exc
    report = ReadReport()
    started = time.perf_counter()
    process = engine.process
    try:
        with progress_for(args.paths, report) as on_bytes:
            for ev in read_events(args.paths, forced_type=args.source, report=report,
                                  max_line_bytes=config.max_line_bytes, on_bytes=on_bytes):
                process(ev)
    except (InputError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from exc
    engine.finish()
    alerts = sorted(engine.alerts(), key=lambda a: (a.timestamp, a.rule_id or ""))
    shown = [a for a in alerts if (a.severity or 0) >= args.min_severity]
    out = sys.stdout
    for alert in shown:
        if args.json:
            write_json_line(alert, out)
        else:
            out.write(alert_line(alert) + "\n")
    elapsed = time.perf_counter() - started
    for path, why in report.skipped:
        print(f"keibi hunt: {path}: skipped: {why}", file=sys.stderr)
    if not args.quiet:
        st = report.line_stats
        print(f"keibi hunt: {len(report.files)} files, {st.lines} lines, {report.events} events,"
              f" {len(shown)} alerts in {elapsed:.2f}s"
              + (f"; {st.decode_errors} lines with invalid UTF-8" if st.decode_errors else "")
              + (f"; {st.truncated} over-long lines cut" if st.truncated else ""),
              file=sys.stderr)
    if args.fail_on is not None and any((a.severity or 0) >= args.fail_on for a in alerts):
        return 1
    return 0
