"""Which sources the live agent reads, and why (config, distro default, command line).

A source is a log file (tailed and parsed), the systemd journal (the host's or one in a
given directory), the kernel's audit multicast group, or a binary log that is only
watched for indicator removal (wtmp, btmp, lastlog). ``keibi run --follow`` names them
with :func:`parse_follow`: ``PATH[:TYPE]``, ``PATH:watch``, ``journald``,
``journald:DIR`` (or ``DIR:journald``) and ``audit-netlink``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from keibi.config import Config
from keibi.parsers.registry import SOURCE_TYPES
from keibi.platform.distro import Distro

#: --follow types that are not parsers: a watched binary log, the audit netlink group
WATCH = "watch"
AUDIT_NETLINK = "audit-netlink"
JOURNALD = "journald"


@dataclass(frozen=True, slots=True)
class PlannedSource:
    """One source the agent means to read."""

    path: str  # a file, a journal directory, "journald" (the host's) or "audit-netlink"
    type: str  # the source type (its parser); "watch" for a watched-only file
    origin: str  # "distro:debian", "config", "command line", "host"
    found: bool
    kind: str = "file"  # "file", "journald", "audit-netlink" or "watch"


def parse_follow(text: str) -> tuple[str, str]:
    """A ``--follow`` value as (path, type): ``PATH[:TYPE]`` (type ``auth`` when none is
    named), ``PATH:watch``, ``journald`` or ``journald:DIR``/``DIR:journald`` (path ""
    for the host's journal) and ``audit-netlink`` (path "")."""
    if text in (AUDIT_NETLINK, JOURNALD):
        return "", text
    if text.startswith(JOURNALD + ":"):
        return text[len(JOURNALD) + 1:], JOURNALD
    path, sep, stype = text.rpartition(":")
    if sep and (stype in SOURCE_TYPES or stype == WATCH):
        return path, stype
    return text, "auth"


def plan_sources(
    config: Config, distro: Distro, cli_follow: list[tuple[str, str]]
) -> tuple[list[PlannedSource], list[str]]:
    """The sources to read and notes on what was left out (unknown types, duplicates).

    Sources named on the command line replace the defaults; otherwise the distro's
    defaults (overridden per type by ``sources:`` in the config) plus ``follow:``, the
    journal and the audit group where the host has them, and the watched-only files.
    """
    notes: list[str] = []
    planned: list[PlannedSource] = []
    seen: set[str] = set()

    def add(path: str, stype: str, origin: str) -> None:
        real = os.path.abspath(path)
        if real in seen:
            return
        if stype not in SOURCE_TYPES:
            notes.append(f"{path}: source type {stype!r} has no parser yet; not followed")
            return
        if config.enabled_sources and stype not in config.enabled_sources:
            return
        seen.add(real)
        planned.append(PlannedSource(real, stype, origin, os.path.exists(real)))

    def watch(path: str, origin: str) -> None:
        real = os.path.abspath(path)
        if real not in seen:
            seen.add(real)
            planned.append(PlannedSource(real, WATCH, origin, os.path.exists(real), WATCH))

    if cli_follow:
        for path, stype in cli_follow:
            if stype == AUDIT_NETLINK:
                if not any(p.kind == AUDIT_NETLINK for p in planned):
                    planned.append(PlannedSource(AUDIT_NETLINK, "audit", "command line",
                                                 True, AUDIT_NETLINK))
            elif stype == JOURNALD and (not path or os.path.isdir(path)):
                _add_journal(planned, path, "command line")
            elif stype == WATCH:
                watch(path, "command line")
            else:
                add(path, stype, "command line")
        return planned, notes
    for stype, paths in distro.sources.items():
        chosen = config.sources.get(stype, list(paths))
        origin = "config" if stype in config.sources else f"distro:{distro.family}"
        for path in chosen:
            if stype not in SOURCE_TYPES:
                notes.append(f"{path}: {stype} logs are not read by this version")
                continue
            add(path, stype, origin)
    for stype, paths_list in config.sources.items():
        if stype not in distro.sources:
            for path in paths_list:
                add(path, stype, "config")
    for spec in config.follow:
        if spec.type == WATCH:
            watch(spec.path, "config")
        else:
            add(spec.path, spec.type, "config")
    _add_streams(config, planned, notes)
    if not config.enabled_sources or WATCH in config.enabled_sources:
        if config.watch_only is None:
            for path in distro.watch_only:
                watch(path, f"distro:{distro.family}")
        else:
            for path in config.watch_only:
                watch(path, "config")
    return planned, notes


def _add_journal(planned: list[PlannedSource], directory: str, origin: str) -> None:
    from keibi.agent.live import journal_available

    if directory:
        real = os.path.abspath(directory)
        if not any(p.kind == JOURNALD and p.path == real for p in planned):
            planned.append(PlannedSource(real, JOURNALD, origin, journal_available(real),
                                         JOURNALD))
    elif not any(p.kind == JOURNALD and p.path == JOURNALD for p in planned):
        planned.append(PlannedSource(JOURNALD, JOURNALD, origin, journal_available(), JOURNALD))


def _add_streams(config: Config, planned: list[PlannedSource], notes: list[str]) -> None:
    """The journal and the audit netlink group, where this host has them."""
    from keibi.agent.live import journal_available

    wanted = config.enabled_sources
    if config.journald != "off" and (not wanted or JOURNALD in wanted):
        found = journal_available()
        if found or config.journald == "on":
            planned.append(PlannedSource(JOURNALD, JOURNALD, "host", found, JOURNALD))
        else:
            notes.append("journald: no journal on this host (no /var/log/journal or "
                         "/run/log/journal with files)")
    if config.audit_netlink != "off" and (not wanted or "audit" in wanted):
        audit_file = any(p.type == "audit" and p.found for p in planned)
        if config.audit_netlink == "on" or (not audit_file and os.geteuid() == 0):
            planned.append(PlannedSource(AUDIT_NETLINK, "audit", "host", True,
                                         AUDIT_NETLINK))
        elif audit_file:
            notes.append("audit: auditd's log is followed; the netlink group is not read")
        else:
            notes.append("audit: the netlink group needs root; not read")
