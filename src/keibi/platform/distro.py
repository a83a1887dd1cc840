"""Which Linux family this host is, and where its logs live (data in ``paths.yml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

_PATHS_FILE = Path(__file__).with_name("paths.yml")


@dataclass(frozen=True, slots=True)
class Distro:
    """A distribution family, its default log files per source type, and the binary
    logs it only watches for indicator removal (wtmp, btmp, lastlog)."""

    family: str
    os_id: str
    sources: dict[str, tuple[str, ...]]
    watch_only: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Family:
    """One entry of paths.yml."""

    matches: tuple[str, ...]
    sources: dict[str, tuple[str, ...]]
    watch_only: tuple[str, ...]


def read_os_release(path: str = "/etc/os-release") -> dict[str, str]:
    """The KEY=value pairs of os-release (quotes removed); empty if unreadable."""
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = value.strip().strip("'\"")
    return out


def load_families() -> dict[str, Family]:
    """family name -> its os-release ids, {source type: paths} and watched-only files."""
    raw = yaml.safe_load(_PATHS_FILE.read_text(encoding="utf-8"))
    out: dict[str, Family] = {}
    for family, spec in raw.items():
        sources = {str(k): tuple(str(p) for p in v or ()) for k, v in spec["sources"].items()}
        out[str(family)] = Family(tuple(str(m) for m in spec["match"]), sources,
                                  tuple(str(p) for p in spec.get("watch_only") or ()))
    return out


def detect(os_release: str = "/etc/os-release") -> Distro:
    """The family of this host; Debian's layout when nothing matches."""
    info = read_os_release(os_release)
    ids = [info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()]
    families = load_families()
    for os_id in ids:
        for name, fam in families.items():
            if os_id and os_id in fam.matches:
                return Distro(name, ids[0], fam.sources, fam.watch_only)
    deb = families["debian"]
    return Distro("debian", ids[0] or "unknown", deb.sources, deb.watch_only)
