"""Alerts printed on the agent's terminal (stdout), one block per new alert."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from keibi.events.model import Event
from keibi.events.render import alert_line


class ConsoleSink:
    name = "console"

    def __init__(self, out: TextIO | None = None, show_updates: bool = False) -> None:
        self.out = out or sys.stdout
        self.show_updates = show_updates

    def emit(self, new: Sequence[Event], updated: Sequence[Event]) -> None:
        for alert in new:
            self.out.write("ALERT " + alert_line(alert) + "\n")
        if self.show_updates:
            for alert in updated:
                self.out.write("UPDATE " + alert_line(alert) + "\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
