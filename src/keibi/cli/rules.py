"""``keibi rules list / test / validate PATH...``: the rules, their tests, rule files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keibi.cli.common import add_common, config_of
from keibi.rules.loader import builtin_rules_dir
from keibi.rules.tool import Report, list_rules, test_rules, validate_rules


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rules", help="list, test and validate detection rules")
    rsub = p.add_subparsers(dest="rules_verb", metavar="ACTION", required=True)
    for name, helptext in (("list", "the loaded rules (built-in and configured packs)"),
                           ("test", "run every rule's embedded test events")):
        q = rsub.add_parser(name, help=helptext)
        q.add_argument("paths", nargs="*", metavar="PATH",
                       help="rule files or directories (default: built-in + configured)")
        q.add_argument("--json", action="store_true", help="one JSON object per rule")
        add_common(q, data_dir=False)
        q.set_defaults(func=run)
    q = rsub.add_parser("validate", help="check rule files: file:line errors, evaluability")
    q.add_argument("paths", nargs="+", metavar="PATH")
    q.add_argument("--json", action="store_true",
                   help="one object per rule: path, id, title, evaluable, reason")
    add_common(q, data_dir=False)
    q.set_defaults(func=run)


def _paths(args: argparse.Namespace) -> list[Path]:
    if args.paths:
        return [Path(p) for p in args.paths]
    config = config_of(args)
    return [builtin_rules_dir(), *(Path(p) for p in config.rule_paths)]


def _print_errors(report: Report) -> None:
    for err in report.errors:
        print(str(err), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    paths = _paths(args)
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"keibi rules: {missing[0]}: no such file or directory", file=sys.stderr)
        return 2
    out = sys.stdout
    if args.rules_verb == "list":
        report = list_rules(paths)
        for info in report.rules:
            if args.json:
                out.write(json.dumps(info.to_dict()) + "\n")
            else:
                state = "ok" if info.evaluable else f"NOT EVALUABLE: {info.reason}"
                out.write(f"{info.id}  {info.level or '-':<8} {info.title}  "
                          f"[{','.join(info.techniques) or '-'}] {info.kind}"
                          f"{'' if info.alerts else ' (building block)'}  {state}\n")
        _print_errors(report)
        if not args.json:
            print(f"{len(report.rules)} rules, {report.evaluable} evaluable, "
                  f"{len(report.errors)} errors", file=sys.stderr)
        return 0 if not report.errors else 2
    if args.rules_verb == "test":
        report = test_rules(paths)
        for res in report.tests:
            if args.json:
                out.write(json.dumps(res.to_dict()) + "\n")
            else:
                out.write(f"{'PASS' if res.ok else 'FAIL'}  {res.title}  ({res.cases} cases)\n")
                for f in res.failures:
                    out.write(f"      {res.path}: {f}\n")
        _print_errors(report)
        failed = sum(1 for t in report.tests if not t.ok)
        print(f"{len(report.tests) - failed} passed, {failed} failed", file=sys.stderr)
        return 0 if report.ok else 1
    report = validate_rules(paths)
    for info in report.rules:
        if args.json:
            d = {"path": info.path, "id": info.id, "title": info.title,
                 "evaluable": info.evaluable}
            if not info.evaluable:
                d["reason"] = info.reason
            out.write(json.dumps(d) + "\n")
        else:
            state = "evaluable" if info.evaluable else f"not evaluable: {info.reason}"
            out.write(f"{info.path}:{info.line}: {info.title}: {state}\n")
    _print_errors(report)
    if not args.json:
        print(f"{len(report.rules)} rules, {report.evaluable} evaluable, "
              f"{len(report.errors)} errors", file=sys.stderr)
    return 0 if not report.errors else 2
