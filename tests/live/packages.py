"""Tiny Debian packages for live tests: built with dpkg-deb, installed with real dpkg."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def build_deb(tmp: Path, name: str, files: dict[str, bytes | Path], description: str) -> Path:
    """A package ``name`` installing ``files`` (absolute path -> content or a file to copy)."""
    root = tmp / name
    (root / "DEBIAN").mkdir(parents=True)
    for dest, content in files.items():
        target = root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            target.write_bytes(content.read_bytes())
            target.chmod(content.stat().st_mode & 0o777)
        else:
            target.write_bytes(content)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: keibi tests "
        f"<keibi@example.invalid>\nDescription: {description}\n")
    deb = tmp / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
                   check=True, capture_output=True, timeout=60)
    return deb


def dpkg(*args: str) -> None:
    """dpkg, waiting for its lock if another dpkg or apt holds it."""
    for _ in range(60):
        r = subprocess.run(["dpkg", *args], capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            return
        if "lock" not in r.stderr:
            raise AssertionError(f"dpkg {' '.join(args)} failed: {r.stderr}")
        time.sleep(1)
    raise AssertionError("dpkg's lock stayed taken")
