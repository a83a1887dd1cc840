"""Indicator-removal notices from the agent's readers, as events (dataset ``keibi.agent``).

A :class:`~keibi.sources.notices.LogNotice` (a followed log truncated, deleted or
replaced by a symbolic link, see :mod:`keibi.sources.notices`) becomes one ECS event
that is stored and run through the engine like any other; the built-in rule
``log_file_tampering`` turns it into an alert (T1070.002).
"""

from __future__ import annotations

from typing import Any

from keibi.events.model import Event
from keibi.sources.notices import SYMLINK, LogNotice

__all__ = ["DATASET", "notice_event"]

DATASET = "keibi.agent"


def notice_event(notice: LogNotice, host_name: str | None) -> Event:
    """The event of one notice: ``event.action`` is the notice's action, ``file.path``
    the log, ``file.size`` its size after, ``file.target_path`` a link's target."""
    extra: dict[str, Any] = {}
    if notice.size_after is not None:
        extra["file.size"] = notice.size_after
    if notice.size_before is not None:
        extra["keibi.log.size_before"] = notice.size_before
    if notice.inode:
        extra["file.inode"] = str(notice.inode)
    if notice.target is not None:
        extra["file.target_path"] = notice.target
    if notice.while_stopped:
        extra["keibi.log.while_stopped"] = True
    return Event(
        timestamp=notice.time,
        category=("file",),
        type=("change",) if notice.action == SYMLINK else ("deletion",),
        action=notice.action,
        outcome="success",
        dataset=DATASET,
        module="keibi",
        message=notice.detail,
        host_name=host_name,
        file_path=notice.path,
        extra=extra or None,
    )
