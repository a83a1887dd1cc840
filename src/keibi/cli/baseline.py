"""``keibi baseline show|reset|learn|check``: what keibi considers normal on this host.

    keibi baseline show [--kind login-source] [--json]
    keibi baseline reset [--kind executable ...]      # all kinds: learning starts over
    keibi baseline learn /var/log ...                 # build it from logs (like hunt)
    keibi baseline check PATH... [--learning 24h | --stored] [--json]

The live agent learns for its first 24 hours, then reports first-seen activity (see
:mod:`keibi.engine.baseline`). ``learn`` replaces that with a baseline built from logs,
learning over at once; ``reset`` and ``learn`` reach a running agent within seconds.
``check`` is offline: it learns from the first ``--learning`` of the logs' own time (or
starts from the stored baseline with ``--stored``) and prints the anomalies after it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from keibi.cli.common import (
    UsageError,
    add_common,
    config_of,
    data_dir_of,
    open_store,
    write_json_line,
)
from keibi.engine.baseline import KINDS, Baseline, BaselineConfig
from keibi.events.encoding import format_time
from keibi.events.render import _fmt_value
from keibi.offline import InputError, ReadReport, read_events
from keibi.parsers.registry import SOURCE_TYPES
from keibi.store import baselines
from keibi.store.timespec import TimeSpecError, parse_duration

SHOWN = 20


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("baseline", help="the learned normal activity; first-seen anomalies")
    verbs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = verbs.add_parser("show", help="what the baseline holds")
    show.add_argument("--kind", choices=KINDS, action="append", help="only these kinds")
    show.add_argument("--json", action="store_true", help="one JSON object")
    add_common(show)
    show.set_defaults(func=run_show)
    reset = verbs.add_parser("reset", help="forget (some kinds of) the baseline")
    reset.add_argument("--kind", choices=KINDS, action="append",
                       help="only these kinds (default: all; learning starts over)")
    add_common(reset)
    reset.set_defaults(func=run_reset)
    learn = verbs.add_parser("learn", help="build the baseline from log files")
    _inputs(learn)
    add_common(learn)
    learn.set_defaults(func=run_learn)
    check = verbs.add_parser("check", help="offline: learn, then print first-seen anomalies")
    _inputs(check)
    when = check.add_mutually_exclusive_group()
    when.add_argument("--learning", default="24h", metavar="DURATION",
                      help="learn from the logs' first DURATION of event time (default 24h)")
    when.add_argument("--stored", action="store_true",
                      help="start from the stored baseline (learning over)")
    check.add_argument("--json", action="store_true", help="one ECS event per anomaly")
    add_common(check)
    check.set_defaults(func=run_check)


def _inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="log files or directories")
    p.add_argument("--source", choices=sorted(SOURCE_TYPES), help="force a parser")


def _writable(args: argparse.Namespace) -> Any:
    from keibi.cli.suppress import _open_writable

    return _open_writable(data_dir_of(args, config_of(args)))


def run_show(args: argparse.Namespace) -> int:
    store = open_store(data_dir_of(args, config_of(args)))
    try:
        baseline = baselines.load(store)
    finally:
        store.close()
    kinds = args.kind or list(KINDS)
    summary = baseline.summary()
    if args.json:
        out = {**summary, "entries": {k: baseline.entries(k) for k in kinds}}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    st = baseline.state
    if st.started is None:
        print("baseline: empty (the agent has not learned anything yet)")
    elif baseline.learning:
        print(f"baseline: learning since {format_time(st.started)} "
              f"({summary['learning_seconds'] / 3600:g} h), {st.events} events seen")
    else:
        print(f"baseline: learned {format_time(st.started)} .. {format_time(st.learned or 0)},"
              f" {st.events} events seen, {st.anomalies} anomalies reported, "
              f"{st.dropped} values dropped (caps)")
    for kind in kinds:
        entries = baseline.entries(kind)
        counts = summary["kinds"][kind]
        print(f"{kind}: {counts['keys']} keys, {counts['values']} values")
        for key in sorted(entries)[:SHOWN]:
            values = entries[key]
            shown = ", ".join(_fmt_value(v) for v in values[:SHOWN])
            more = f" (+{len(values) - SHOWN} more)" if len(values) > SHOWN else ""
            print(f"  {_fmt_value(key) or '(this host)'}: {shown}{more}")
        if len(entries) > SHOWN:
            print(f"  ... {len(entries) - SHOWN} more keys (--json for all)")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    store = _writable(args)
    try:
        baselines.request_reset(store, args.kind)
    finally:
        store.close()
    what = ", ".join(args.kind) if args.kind else "everything; learning starts over"
    print(f"baseline reset: {what}")
    return 0


def _events(args: argparse.Namespace, report: ReadReport) -> Any:
    try:
        yield from read_events(args.paths, forced_type=args.source, report=report)
    except (InputError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from exc


def run_learn(args: argparse.Namespace) -> int:
    baseline = Baseline(BaselineConfig(learning=math.inf))
    report = ReadReport()
    last = None
    for ev in _events(args, report):
        baseline.observe(ev, ev.timestamp)
        last = ev.timestamp
    if last is None:
        raise UsageError("no events in the input: nothing to learn from")
    baseline.finish_learning(last)
    baseline = Baseline(BaselineConfig(), baseline.snapshot())  # the default config from now
    store = _writable(args)
    try:
        baselines.request_import(store, baseline)
    finally:
        store.close()
    counts = ", ".join(f"{k} {v['values']}" for k, v in baseline.summary()["kinds"].items())
    print(f"baseline learned from {report.events} events in {len(report.files)} files: {counts}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    if args.stored:
        store = open_store(data_dir_of(args, config_of(args)))
        try:
            baseline = baselines.load(store)
        finally:
            store.close()
        baseline.finish_learning(0.0)
    else:
        try:
            learning = parse_duration(args.learning)
        except TimeSpecError as exc:
            raise UsageError(str(exc)) from exc
        baseline = Baseline(BaselineConfig(learning=learning))
    report = ReadReport()
    found = 0
    for ev in _events(args, report):
        for anomaly in baseline.observe(ev, ev.timestamp):
            found += 1
            if args.json:
                write_json_line(anomaly)
            else:
                sys.stdout.write(f"{format_time(anomaly.timestamp)}  {anomaly.action}  "
                                 f"{_fmt_value(anomaly.message or '')}\n")
    if baseline.learning and not args.stored:
        print(f"keibi baseline: the logs span less than {args.learning}: still learning, "
              "nothing judged", file=sys.stderr)
    print(f"keibi baseline: {report.events} events, {found} anomalies", file=sys.stderr)
    return 0
