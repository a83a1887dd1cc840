"""keibi's configuration file (``/etc/keibi/keibi.yaml``): every key optional, none unknown.

An unknown or misspelt key is an error (naming the file and the key), never silently
ignored. Log locations default to the host's distribution family (platform/paths.yml).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_CONFIG = "/etc/keibi/keibi.yaml"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class FollowSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    path: str
    type: str = "auth"


class DashboardConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8765


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    data_dir: str | None = None
    host_name: str | None = None
    # Source type -> files, replacing the distro default for that type.
    sources: dict[str, list[str]] = {}
    # Extra files to follow, each with its source type.
    follow: list[FollowSpec] = []
    # Binary logs only watched for truncation, deletion or a symbolic link in their place
    # (None: the distro's default, wtmp/btmp/lastlog; [] watches none).
    watch_only: list[str] | None = None
    # Only these source types are followed (empty: all known types).
    enabled_sources: list[str] = []
    retention_days: float = 30.0
    rule_paths: list[str] = []
    disabled_rules: list[str] = []
    jsonl: bool = True
    console: bool = True
    dashboard: DashboardConfig = DashboardConfig()
    max_line_bytes: int = 65536
    poll_interval: float = 0.25
    # Read files found at first start from their beginning (True) or from their end.
    read_existing: bool = False
    # The systemd journal: "auto" (when this host has one), "on", "off".
    journald: Literal["auto", "on", "off"] = "auto"
    # The kernel audit multicast group: "auto" (as root, when auditd's log is not
    # followed), "on", "off". Reading it is passive: keibi adds no audit rules itself.
    audit_netlink: Literal["auto", "on", "off"] = "auto"


def load_config(path: str | None) -> Config:
    """The configuration in ``path`` (None: the default file if it exists, else defaults)."""
    explicit = path is not None
    file = Path(path or DEFAULT_CONFIG)
    if not file.exists():
        if explicit:
            raise ConfigError(f"{file}: no such configuration file")
        return Config()
    try:
        data = file.read_bytes()
        if not data.strip():
            return Config()
        return msgspec.yaml.decode(data, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    except (OSError, msgspec.DecodeError) as exc:
        raise ConfigError(f"{file}: {exc}") from exc


def default_data_dir() -> Path:
    """DESIGN.md: KEIBI_DATA_DIR, else /var/lib/keibi as root, ~/.local/share/keibi otherwise."""
    env = os.environ.get("KEIBI_DATA_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/keibi")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "keibi"


def resolve_data_dir(cli_value: str | None, config: Config) -> Path:
    """The data dir: the flag, then the config, then the default."""
    if cli_value:
        return Path(cli_value)
    if config.data_dir and not os.environ.get("KEIBI_DATA_DIR"):
        return Path(config.data_dir)
    return default_data_dir()
