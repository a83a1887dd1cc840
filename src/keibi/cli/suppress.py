"""``keibi suppress add|list|remove``: allow-list alerts, with a reason and an expiry.

    keibi suppress add --rule ssh_brute_force --field source.ip=10.0.0.0/8 \\
        --for 30d --reason "vulnerability scanner, ticket SEC-12"
    keibi suppress list [--all] [--json]
    keibi suppress remove 3

Suppressions live in the store; the agent picks up changes within seconds and ``keibi
hunt`` applies them too. Every alert a suppression holds back is counted (``hits``):
nothing is hidden without a trace. ``--rule`` takes a rule's id, name or title (it must
be a loaded rule); ``--field F=V`` (repeatable, all must hold) matches the alert's field
exactly, as a pattern with ``*``/``?``, or as a network for ``*.ip`` fields.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from keibi.alerts.suppress import Suppression, SuppressionError, Suppressor, parse_condition
from keibi.cli.common import UsageError, add_common, config_of, data_dir_of, open_store
from keibi.config import Config
from keibi.detection import load_rule_set
from keibi.events.encoding import format_time
from keibi.store.sqlite import Store, StoreError
from keibi.store.timespec import parse_absolute, parse_duration

DEFAULT_FOR = "7d"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("suppress", help="suppress alerts (allow-list) with reason and expiry")
    verbs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = verbs.add_parser("add", help="add a suppression")
    a.add_argument("--rule", metavar="ID", help="rule id, name or title")
    a.add_argument("--field", action="append", default=[], metavar="F=V",
                   help="alert field condition (repeatable; all must hold)")
    a.add_argument("--reason", required=True, metavar="TEXT", help="why (required)")
    when = a.add_mutually_exclusive_group()
    when.add_argument("--for", dest="duration", metavar="DURATION",
                      help=f"how long, e.g. 12h, 7d (default {DEFAULT_FOR})")
    when.add_argument("--until", metavar="T", help="until this time (e.g. 2026-12-31)")
    when.add_argument("--forever", action="store_true", help="no expiry (say so explicitly)")
    a.add_argument("--json", action="store_true", help="print the suppression as JSON")
    add_common(a)
    a.set_defaults(func=run_add)
    ls = verbs.add_parser("list", help="suppressions and their hit counts")
    ls.add_argument("--all", action="store_true", help="also expired and removed ones")
    ls.add_argument("--json", action="store_true", help="one JSON object per suppression")
    add_common(ls)
    ls.set_defaults(func=run_list)
    rm = verbs.add_parser("remove", help="retire a suppression (kept with its hits)")
    rm.add_argument("id", type=int, metavar="ID")
    add_common(rm)
    rm.set_defaults(func=run_remove)


def _open_writable(data_dir: Path) -> Store:
    from keibi.agent.runner import data_paths

    db, _ = data_paths(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Store(db)
    except (OSError, StoreError) as exc:
        raise UsageError(f"{db}: cannot open the store: {exc}") from exc


def _rule_id(config: Config, text: str) -> str:
    rules = load_rule_set(config).rules
    for r in rules:
        if text in (r.id, r.name, r.title):
            return r.id
    raise UsageError(f"unknown rule {text!r} (see `keibi rules list`)")


def _expiry(args: argparse.Namespace, now: float) -> float | None:
    if args.forever:
        return None
    if args.until:
        try:
            return parse_absolute(args.until)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    try:
        return now + parse_duration(args.duration or DEFAULT_FOR)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _who() -> str:
    user = os.environ.get("SUDO_USER")
    try:
        me = getpass.getuser()
    except (KeyError, OSError):
        me = str(os.getuid())
    return f"{me} (sudo by {user})" if user and user != me else me


def to_dict(s: Suppression, now: float) -> dict[str, Any]:
    return {"id": s.id, "state": s.state(now), "rule": s.rule, "fields": s.fields,
            "reason": s.reason, "created": format_time(s.created),
            "created_by": s.created_by,
            "expires": None if s.expires is None else format_time(s.expires),
            "removed": None if s.removed is None else format_time(s.removed),
            "hits": s.hits,
            "last_hit": None if s.last_hit is None else format_time(s.last_hit),
            "last_alert": s.last_alert}


def line(s: Suppression, now: float) -> str:
    expiry = "never expires" if s.expires is None else (
        f"expires {format_time(s.expires)}" if s.active(now) else
        f"expired {format_time(s.expires)}")
    if s.removed is not None:
        expiry = f"removed {format_time(s.removed)}"
    text = (f"#{s.id:<4} {s.state(now):<8} {s.describe()}\n"
            f"      reason: {s.reason} (by {s.created_by or '?'}, {format_time(s.created)}; "
            f"{expiry})\n      hits: {s.hits}")
    if s.last_hit is not None:
        text += f", last {format_time(s.last_hit)}: {s.last_alert or ''}"
    return text


def run_add(args: argparse.Namespace) -> int:
    config = config_of(args)
    now = time.time()
    try:
        fields = dict(parse_condition(f) for f in args.field)
    except SuppressionError as exc:
        raise UsageError(str(exc)) from exc
    rule = _rule_id(config, args.rule) if args.rule else None
    expires = _expiry(args, now)
    store = _open_writable(data_dir_of(args, config))
    try:
        s = store.add_suppression(reason=args.reason, rule=rule, fields=fields,
                                  expires=expires, created_by=_who())
    except SuppressionError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
    if args.json:
        print(json.dumps(to_dict(s, now)))
    else:
        print(line(s, now))
    return 0


def run_list(args: argparse.Namespace) -> int:
    config = config_of(args)
    store = open_store(data_dir_of(args, config))
    try:
        items = store.suppressions()
    finally:
        store.close()
    now = time.time()
    if not args.all:
        items = [s for s in items if s.active(now)]
    for s in items:
        print(json.dumps(to_dict(s, now)) if args.json else line(s, now))
    if not args.json and not items:
        print("no suppressions" + ("" if args.all else " in force (--all: every one)"),
              file=sys.stderr)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    config = config_of(args)
    store = _open_writable(data_dir_of(args, config))
    try:
        done = store.remove_suppression(args.id)
    finally:
        store.close()
    if not done:
        raise UsageError(f"no suppression #{args.id} in force")
    print(f"suppression #{args.id} removed")
    return 0


def stored_suppressor(args: argparse.Namespace, config: Config) -> Suppressor | None:
    """The active suppressions of the data dir's store, for ``keibi hunt`` (None when
    there is no store; a store that cannot be read is said on stderr, never ignored)."""
    from keibi.agent.runner import data_paths

    db, _ = data_paths(data_dir_of(args, config))
    if not db.exists():
        return None
    try:
        with Store.open_readonly(db) as store:
            items = store.suppressions()
    except (StoreError, OSError) as exc:
        print(f"keibi {args.verb}: suppressions not applied: {exc}", file=sys.stderr)
        return None
    now = time.time()
    active = [s for s in items if s.active(now)]
    return Suppressor(active) if active else None
