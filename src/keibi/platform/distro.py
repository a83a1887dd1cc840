"""Which Linux family this host is, and where its logs live (data in ``paths.yml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

_PATHS_FILE = Path(__file__).with_name("paths.yml")


@dataclass(frozen=True, slots=True)
class Distro:
    """A distribution family and its default log files per source type."""

    family: str
    os_id: str
    sources: dict[str, tuple[str, ...]]


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


def load_families() -> dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]]:
    """family -> (os-release ids it matches, {source type: paths})."""
    raw = yaml.safe_load(_PATHS_FILE.read_text(encoding="utf-8"))
    out: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {}
    for family, spec in raw.items():
        sources = {str(k): tuple(str(p) for p in v or ()) for k, v in spec["sources"].items()}
        out[str(family)] = (tuple(str(m) for m in spec["match"]), sources)
    return out


def detect(os_release: str = "/etc/os-release") -> Distro:
    """The family of this host; Debian's layout when nothing matches."""
    info = read_os_release(os_release)
    ids = [info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()]
    families = load_families()
    for os_id in ids:
        for family, (matches, sources) in families.items():
            if os_id and os_id in matches:
                return Distro(family, ids[0], sources)
    return Distro("debian", ids[0] or "unknown", families["debian"][1])
