"""Which log files the live agent follows, and why (config, distro default, command line)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from keibi.config import Config
from keibi.parsers.registry import SOURCE_TYPES
from keibi.platform.distro import Distro


@dataclass(frozen=True, slots=True)
class PlannedSource:
    """One file the agent means to follow."""

    path: str
    type: str
    origin: str  # "distro:debian", "config", "command line"
    found: bool
    kind: str = "file"  # "file", "journald" or "audit-netlink"


def plan_sources(
    config: Config, distro: Distro, cli_follow: list[tuple[str, str]]
) -> tuple[list[PlannedSource], list[str]]:
    """The files to follow and notes on what was left out (unknown types, duplicates).

    Files named on the command line replace the defaults; otherwise the distro's
    defaults (overridden per type by ``sources:`` in the config) plus ``follow:``.
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

    if cli_follow:
        for path, stype in cli_follow:
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
        add(spec.path, spec.type, "config")
    _add_streams(config, planned, notes)
    return planned, notes


def _add_streams(config: Config, planned: list[PlannedSource], notes: list[str]) -> None:
    """The journal and the audit netlink group, where this host has them."""
    from keibi.agent.live import journal_available

    wanted = config.enabled_sources
    if config.journald != "off" and (not wanted or "journald" in wanted):
        found = journal_available()
        if found or config.journald == "on":
            planned.append(PlannedSource("journald", "journald", "host", found, "journald"))
        else:
            notes.append("journald: no journal on this host (no /var/log/journal or "
                         "/run/log/journal with files)")
    if config.audit_netlink != "off" and (not wanted or "audit" in wanted):
        audit_file = any(p.type == "audit" and p.found for p in planned)
        if config.audit_netlink == "on" or (not audit_file and os.geteuid() == 0):
            planned.append(PlannedSource("audit-netlink", "audit", "host", True,
                                         "audit-netlink"))
        elif audit_file:
            notes.append("audit: auditd's log is followed; the netlink group is not read")
        else:
            notes.append("audit: the netlink group needs root; not read")
