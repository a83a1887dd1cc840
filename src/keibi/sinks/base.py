"""The sink interface: where alerts go after they are committed to the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from keibi.events.model import Event


class Sink(Protocol):
    """An output for alerts. ``emit`` gets alerts new in this batch and updated ones."""

    name: str

    def emit(self, new: Sequence[Event], updated: Sequence[Event]) -> None: ...

    def close(self) -> None: ...
