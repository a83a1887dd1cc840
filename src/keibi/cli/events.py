"""``keibi events PATH... [--json]``: parse only, print the normalised events."""

from __future__ import annotations

import argparse
import sys

from keibi.cli.common import UsageError, add_common, config_of, event_line, write_json_line
from keibi.cli.progress import progress_for
from keibi.offline import InputError, ReadReport, read_events
from keibi.parsers.registry import SOURCE_TYPES


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("events", help="parse log files and print normalised ECS events")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files, rotated sets (.gz too) or directories")
    p.add_argument("--json", action="store_true", help="one ECS event per line")
    p.add_argument("--source", choices=sorted(SOURCE_TYPES), help="force a parser")
    add_common(p, data_dir=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    report = ReadReport()
    out = sys.stdout
    try:
        with progress_for(args.paths) as on_bytes:
            for ev in read_events(args.paths, forced_type=args.source, report=report,
                                  max_line_bytes=config.max_line_bytes, on_bytes=on_bytes):
                if args.json:
                    write_json_line(ev, out)
                else:
                    out.write(event_line(ev) + "\n")
    except (InputError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from exc
    for path, why in report.skipped:
        print(f"keibi events: {path}: skipped: {why}", file=sys.stderr)
    return 0
