"""keibi's command line (thin: each verb lives in its own module)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("keibi: not yet", file=sys.stderr)
    return 2
