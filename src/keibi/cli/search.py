"""``keibi search [FIELD=VALUE | FIELD~TEXT]... [--since T] [--json]``: stored events."""

from __future__ import annotations

import argparse
import sys

from keibi.cli.common import (
    UsageError,
    add_common,
    config_of,
    data_dir_of,
    event_line,
    open_store,
    time_arg,
    write_json_line,
)
from keibi.store.query import QueryError, parse_filters


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("search", help="stored events matching filters, newest first",
                       description="Filters: FIELD=VALUE (exact), FIELD!=VALUE, FIELD~TEXT "
                       "(substring, any case), FIELD>N, FIELD<N, or a bare word (anywhere). "
                       "FIELD is an ECS name: source.ip, user.name, process.name, "
                       "event.action, ...")
    p.add_argument("filters", nargs="*", metavar="FILTER")
    p.add_argument("--since", metavar="T", help="e.g. 15m, 2h, 7d, 2026-11-01")
    p.add_argument("--until", metavar="T")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true", help="one ECS event per line")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        filters = parse_filters(args.filters)
    except QueryError as exc:
        raise UsageError(str(exc)) from exc
    store = open_store(data_dir_of(args, config))
    try:
        events = store.search(filters, since=time_arg(args.since), until=time_arg(args.until),
                              limit=args.limit)
    except (QueryError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
    for ev in events:
        if args.json:
            write_json_line(ev)
        else:
            sys.stdout.write(event_line(ev) + "\n")
    return 0
