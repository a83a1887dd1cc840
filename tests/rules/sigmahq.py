"""Where the SigmaHQ Linux sample lives (``../shared/sigma/rules-linux`` beside the repo).

Tests that use it FAIL with this explanation when it is absent: the issue asks that they
say so clearly, never skip silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = [
    *([Path(os.environ["KEIBI_SIGMAHQ"])] if os.environ.get("KEIBI_SIGMAHQ") else []),
    REPO.parent / "shared" / "sigma" / "rules-linux",
    Path("/work/shared/sigma/rules-linux"),
]
FOUND = next((p for p in CANDIDATES if p.is_dir()), None)
MISSING = ("the SigmaHQ Linux rules are missing: looked in "
           + ", ".join(str(p) for p in CANDIDATES)
           + " -- lay out shared/ beside the repository (../shared/sigma/rules-linux) "
           "or set KEIBI_SIGMAHQ to that directory")


def sigmahq_dir() -> Path:
    """The sample's directory; fails the calling test with the reason when absent."""
    if FOUND is None:
        pytest.fail(MISSING, pytrace=False)
    return FOUND
