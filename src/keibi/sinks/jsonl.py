"""``alerts.jsonl`` in the data dir: each alert appended once, as canonical ECS JSON.

The agent commits alerts to the store before it calls sinks, so after a crash it may
call this sink again with alerts it already wrote. The ids already in the file are read
at start, and an alert whose id is there is not written twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgspec

from keibi.events.encoding import dumps
from keibi.events.model import Event


class _IdOnly(msgspec.Struct):
    keibi: dict[str, dict[str, object]] = {}


def _ids_in(path: Path) -> set[str]:
    ids: set[str] = set()
    if not path.exists():
        return ids
    dec = msgspec.json.Decoder(_IdOnly)
    with path.open("rb") as fh:
        for line in fh:
            try:
                alert_id = dec.decode(line).keibi.get("alert", {}).get("id")
            except msgspec.DecodeError:
                continue  # a line cut by a crash mid-write
            if isinstance(alert_id, str):
                ids.add(alert_id)
    return ids


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = _ids_in(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("ab")
        # A crash may have left a half line: start ours on a fresh line.
        if self._fh.tell() > 0:
            with path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._fh.write(b"\n")

    def emit(self, new: Sequence[Event], updated: Sequence[Event]) -> None:
        wrote = False
        for alert in new:
            aid = alert.alert_id or ""
            if aid in self._seen:
                continue
            self._seen.add(aid)
            self._fh.write(dumps(alert) + b"\n")
            wrote = True
        if wrote:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
