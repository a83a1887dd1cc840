"""Flags and output helpers shared by the verbs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from keibi.config import Config, ConfigError, load_config, resolve_data_dir
from keibi.events.encoding import dumps
from keibi.events.model import SEVERITY_NAMES, Event
from keibi.events.render import alert_line, event_line
from keibi.store.sqlite import Store
from keibi.store.timespec import parse_timespec

__all__ = ["alert_line", "event_line"]


class UsageError(Exception):
    """Bad usage or unreadable input: exit status 2 with this one-line reason."""


def add_common(p: argparse.ArgumentParser, *, data_dir: bool = True) -> None:
    p.add_argument("--config", metavar="FILE", help="configuration file "
                   "(default /etc/keibi/keibi.yaml when it exists)")
    if data_dir:
        p.add_argument("--data-dir", metavar="DIR", help="state directory "
                       "(default $KEIBI_DATA_DIR, /var/lib/keibi as root, "
                       "~/.local/share/keibi otherwise)")


def config_of(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def data_dir_of(args: argparse.Namespace, config: Config) -> Path:
    return resolve_data_dir(getattr(args, "data_dir", None), config)


def severity_arg(text: str) -> int:
    """``--fail-on``/``--min-severity`` value: a name (low, high...) or a score 0-100."""
    t = text.strip().lower()
    floors = {name: floor for floor, name in SEVERITY_NAMES}
    if t in floors:
        return floors[t]
    if t.isdigit() and 0 <= int(t) <= 100:
        return int(t)
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a severity (info, low, medium, high, critical or 0-100)")


def write_json_line(event: Event, out: TextIO = sys.stdout) -> None:
    out.write(dumps(event).decode("utf-8"))
    out.write("\n")




def open_store(data_dir: Path) -> Store:
    """The data dir's store, read-only; a clear error when there is none yet."""
    from keibi.agent.runner import data_paths

    db, _ = data_paths(data_dir)
    if not db.exists():
        raise UsageError(f"{db}: no store here yet (has `keibi run` used this data dir?)")
    try:
        return Store.open_readonly(db)
    except Exception as exc:
        raise UsageError(f"{db}: cannot open the store: {exc}") from exc


def time_arg(text: str | None) -> float | None:
    """A --since/--until value as epoch seconds."""
    if text is None:
        return None
    try:
        return parse_timespec(text, time.time())
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
