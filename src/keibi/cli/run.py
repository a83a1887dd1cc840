"""``keibi run``: the live agent in the foreground."""

from __future__ import annotations

import argparse
import sys

from keibi.agent.runner import Agent, data_paths
from keibi.agent.sources import parse_follow, plan_sources
from keibi.cli.common import UsageError, add_common, config_of, data_dir_of
from keibi.detection import RuleLoadError, build_engine, load_rule_set
from keibi.engine.clock import WallClock
from keibi.parsers.registry import SOURCE_TYPES
from keibi.platform.distro import detect
from keibi.sinks.base import Sink
from keibi.sinks.console import ConsoleSink
from keibi.sinks.jsonl import JsonlSink
from keibi.store.sqlite import Store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="the live agent: follow logs, detect, alert, store")
    p.add_argument("--follow", action="append", type=parse_follow, default=[],
                   metavar="SOURCE",
                   help="read this source instead of the distro defaults (repeatable): "
                        "PATH[:TYPE] a log file, TYPE one of "
                        f"{', '.join(sorted(SOURCE_TYPES))} (default auth); PATH:watch a "
                        "binary log only watched for truncation or deletion (wtmp); "
                        "journald (this host's journal) or journald:DIR (a journal "
                        "directory); audit-netlink (the kernel's audit records)")
    p.add_argument("--read-existing", action="store_true",
                   help="on first start read default logs from their beginning")
    p.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    p.add_argument("--dashboard-port", type=int, metavar="PORT", help="dashboard port")
    p.add_argument("--max-seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--quiet", "-q", action="store_true", help="print alerts only")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    data_dir = data_dir_of(args, config)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{data_dir}: cannot create the data dir: {exc}") from exc
    rule_set = load_rule_set(config)
    for err in rule_set.errors:
        print(f"keibi run: rule error: {err}", file=sys.stderr)
    try:
        engine = build_engine(config, rule_set=rule_set, clock=WallClock())
    except RuleLoadError as exc:
        raise UsageError(str(exc)) from exc
    distro = detect()
    planned, notes = plan_sources(config, distro, args.follow)
    db_path, jsonl_path = data_paths(data_dir)
    store = Store(db_path)
    sinks: list[Sink] = []
    if config.console:
        sinks.append(ConsoleSink())
    if config.jsonl:
        sinks.append(JsonlSink(jsonl_path))
    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    say(f"keibi run: data dir {data_dir} ({distro.family} layout, os {distro.os_id})")
    say(f"keibi run: {len(rule_set.rules)} rules loaded")
    for ps in planned:
        state = ("watching" if ps.kind == "watch" else "following") if ps.found \
            else "not found (waiting for it)"
        say(f"keibi run: {ps.type:<6} {ps.path}: {state} [{ps.origin}]")
    for note in notes:
        say(f"keibi run: {note}")
    if not planned:
        say("keibi run: no log source to follow; name one with --follow PATH")
    agent = Agent(store=store, engine=engine, sources=planned, sinks=sinks,
                  host_name=config.host_name, poll_interval=config.poll_interval,
                  read_existing=config.read_existing, max_line_bytes=config.max_line_bytes,
                  notes=notes, retention_days=config.retention_days)
    agent.install_signal_handlers()
    dashboard = None
    if config.dashboard.enabled and not args.no_dashboard:
        from keibi.agent.dashboard import Dashboard

        port = args.dashboard_port if args.dashboard_port is not None else config.dashboard.port
        try:
            dashboard = Dashboard(db_path, config.dashboard.host, port)
            dashboard.start()
            say(f"keibi run: dashboard on http://{config.dashboard.host}:{dashboard.port}/")
        except OSError as exc:
            say(f"keibi run: dashboard not started: {exc}")
    try:
        agent.run(max_seconds=args.max_seconds)
    finally:
        if dashboard is not None:
            dashboard.stop()
        store.close()
    return 0
