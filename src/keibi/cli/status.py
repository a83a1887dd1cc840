"""``keibi status``: what the agent is doing (sources, rates, drops, last error)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from keibi.cli.common import add_common, config_of, data_dir_of, open_store
from keibi.events.encoding import format_time


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="the agent's sources, rates, drops and last error")
    p.add_argument("--json", action="store_true", help="the status as one JSON object")
    add_common(p)
    p.set_defaults(func=run)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    data_dir = data_dir_of(args, config)
    store = open_store(data_dir)
    try:
        raw = store.get_status("agent")
        stats = dataclasses.asdict(store.stats())
        suppressions = store.suppressions()
    finally:
        store.close()
    now = time.time()
    supp = {"active": sum(1 for s in suppressions if s.active(now)),
            "expired": sum(1 for s in suppressions if s.state(now) == "expired"),
            "removed": sum(1 for s in suppressions if s.removed is not None),
            "alerts_suppressed": sum(s.hits for s in suppressions)}
    st = json.loads(raw) if raw else None
    running = st is not None and _alive(int(st["pid"])) and time.time() - float(st["updated"]) < 30
    if args.json:
        print(json.dumps({"running": running, "agent": st, "store": stats,
                          "suppressions": supp}, default=str))
        return 0
    out = sys.stdout
    out.write(f"data dir: {data_dir}\n")
    if st is None:
        out.write("agent: has never run with this data dir\n")
        _suppressions(supp)
        return 0
    state = "running" if running else "not running (last status below)"
    out.write(f"agent: {state}; pid {st['pid']} on {st['host']}, "
              f"started {format_time(st['started'])}, updated {format_time(st['updated'])}\n")
    out.write(f"events: {st['events']} ({st['events_per_s']}/s), lines {st['lines']}, "
              f"alerts {st['alerts_new']} new / {st['alert_updates']} updates, "
              f"dropped {st['dropped']}, queue depth {st['queue_depth']}, "
              f"sink errors {st['sink_errors']}\n")
    out.write(f"last error: {st['last_error'] or 'none'}\n")
    out.write("sources:\n")
    for s in st["sources"]:
        flag = "active   " if s["active"] else "not found"
        out.write(f"  {flag} {s['type']:<6} {s['path']} [{s['origin']}] lines {s['lines']}"
                  + (f" error: {s['last_error']}" if s["last_error"] else "") + "\n")
    for note in st.get("notes", []):
        out.write(f"  note: {note}\n")
    out.write(f"store: {stats['events']} events, {stats['alerts']} alerts, "
              f"{(stats['db_bytes'] + stats['wal_bytes']) / 1e6:.1f} MB at {stats['path']}\n")
    _suppressions(supp)
    return 0


def _suppressions(supp: dict[str, int]) -> None:
    sys.stdout.write(f"suppressions: {supp['active']} in force, {supp['expired']} expired, "
                     f"{supp['alerts_suppressed']} alerts suppressed in all "
                     "(keibi suppress list)\n")
