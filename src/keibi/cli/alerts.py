"""``keibi alerts [--json]``: alerts held in the store, newest first."""

from __future__ import annotations

import argparse
import sys

from keibi.cli.common import (
    UsageError,
    add_common,
    alert_line,
    config_of,
    data_dir_of,
    open_store,
    severity_arg,
    time_arg,
    write_json_line,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="alerts in the store, newest first")
    p.add_argument("--json", action="store_true", help="one ECS alert per line")
    p.add_argument("--since", metavar="T", help="e.g. 15m, 2h, 7d, 2026-11-01")
    p.add_argument("--until", metavar="T")
    p.add_argument("--min-severity", type=severity_arg, metavar="SEV")
    p.add_argument("--rule", metavar="ID", help="only this rule id")
    p.add_argument("--limit", type=int, default=100)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    store = open_store(data_dir_of(args, config))
    try:
        alerts = store.list_alerts(since=time_arg(args.since), until=time_arg(args.until),
                                   min_severity=args.min_severity, rule=args.rule,
                                   limit=args.limit)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
    for a in alerts:
        if args.json:
            write_json_line(a)
        else:
            sys.stdout.write(alert_line(a) + "\n")
    return 0
