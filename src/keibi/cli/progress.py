"""A progress bar on a terminal for long offline reads (nothing when not a terminal)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

_MIN_BYTES = 32 << 20  # below this a bar is more noise than help


def _total(paths: Sequence[str]) -> int:
    total = 0
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, files in os.walk(p):
                for f in files:
                    with suppress(OSError):
                        total += os.path.getsize(os.path.join(root, f))
        else:
            with suppress(OSError):
                total += os.path.getsize(p)
    return total


@contextmanager
def progress_for(
    paths: Sequence[str]
) -> Iterator[Callable[[int], None] | None]:
    """Yields a byte-count callback driving a bar on stderr, or None when not useful."""
    total = _total(paths)
    if not sys.stderr.isatty() or total < _MIN_BYTES:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), transient=True,
                  console=Console(stderr=True)) as prog:
        task = prog.add_task("reading logs", total=total)

        def advance(n: int) -> None:
            prog.advance(task, n)

        yield advance
