"""keibi's command line: a thin layer; each verb lives in its own module.

Exit status (DESIGN.md): 0 success; 1 findings, only when ``--fail-on`` asks for it;
2 usage or input errors, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from keibi import __version__
from keibi.cli import (
    alerts,
    baseline,
    events,
    hunt,
    incidents,
    rules,
    run,
    search,
    status,
    suppress,
)
from keibi.cli.common import UsageError

VERBS = (run, hunt, events, alerts, incidents, search, rules, status, suppress, baseline)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keibi", description="keibi (警備): Linux endpoint detection and response"
    )
    parser.add_argument("--version", action="version", version=f"keibi {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        verb.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except UsageError as exc:
        print(f"keibi {args.verb}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `keibi events ... | head`: the reader left; not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
