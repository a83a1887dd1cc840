"""``keibi incidents [--json]``: stored alerts linked by shared entities into timelines.

Alerts that share an address, an account or a process tree (see
:mod:`keibi.alerts.incidents`) within ``--window`` of each other form one incident,
printed with its timeline, newest incident first. ``--json``: one object per incident
(``id``, ``title``, ``severity``, ``entities``, ``timeline``...).
"""

from __future__ import annotations

import argparse
import json
import sys

from keibi.alerts.incidents import DEFAULT_WINDOW, Incident, build_incidents
from keibi.cli.common import (
    UsageError,
    add_common,
    config_of,
    data_dir_of,
    open_store,
    severity_arg,
    time_arg,
)
from keibi.events.encoding import format_time
from keibi.events.render import _fmt_value
from keibi.store.timespec import TimeSpecError, parse_duration


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("incidents", help="alerts linked by shared entities, as timelines")
    p.add_argument("--json", action="store_true", help="one JSON object per incident")
    p.add_argument("--since", metavar="T", help="alerts active since, e.g. 24h, 2026-11-01")
    p.add_argument("--until", metavar="T")
    p.add_argument("--window", default="24h", metavar="DURATION",
                   help="alerts further apart than this never link (default 24h)")
    p.add_argument("--min-severity", type=severity_arg, metavar="SEV",
                   help="only incidents at or above SEV")
    p.add_argument("--min-alerts", type=int, default=1, metavar="N",
                   help="only incidents of at least N alerts")
    p.add_argument("--limit", type=int, default=50, help="at most this many incidents")
    add_common(p)
    p.set_defaults(func=run)


def render(inc: Incident) -> str:
    ents = "; ".join(f"{kind} {', '.join(_fmt_value(v) for v in values)}"
                     for kind, values in inc.entities.items())
    head = (f"{inc.severity_name.upper():<8} {_fmt_value(inc.title)}\n"
            f"  incident {inc.id}  {format_time(inc.start)} .. {format_time(inc.end)}  "
            f"{len(inc.timeline)} alert(s)"
            + (f"  hosts {', '.join(inc.hosts)}" if inc.hosts else "")
            + (f"\n  linked by: {ents}" if ents else ""))
    rows = []
    for t in inc.timeline:
        rows.append(f"  {format_time(t.time)}  {t.severity:>3}  {_fmt_value(t.rule_name or '?')}"
                    f"  [{t.alert_id[:12]}]")
        if t.message:
            rows.append(f"      {_fmt_value(t.message)}")
    return head + "\n" + "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        window = parse_duration(args.window)
    except TimeSpecError as exc:
        raise UsageError(str(exc)) from exc
    if args.limit < 0 or args.min_alerts < 1:
        raise UsageError("--limit must be 0 or more and --min-alerts 1 or more")
    store = open_store(data_dir_of(args, config))
    try:
        alerts = store.list_alerts(since=time_arg(args.since), until=time_arg(args.until),
                                   limit=None)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
    found = build_incidents(alerts, window=window or DEFAULT_WINDOW,
                            min_alerts=args.min_alerts)
    if args.min_severity is not None:
        found = [i for i in found if i.severity >= args.min_severity]
    found = found[:args.limit]
    out = sys.stdout
    for inc in found:
        if args.json:
            out.write(json.dumps(inc.to_dict(), ensure_ascii=False) + "\n")
        else:
            out.write(render(inc) + "\n\n")
    if not found and not args.json:
        print("no incidents", file=sys.stderr)
    return 0
