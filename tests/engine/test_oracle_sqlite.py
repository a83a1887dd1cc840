"""keibi's evaluator against an independent oracle: pySigma's SQLite backend.

Each case is a Sigma rule in the rules' own vocabulary (``Image``, ``CommandLine``,
``DestinationIp``...). pysigma-backend-sqlite converts it into a query; the case's events
are loaded as flat rows (one column per Sigma field, NULL when absent) into an in-memory
SQLite table shaped as the backend expects (columns ``COLLATE NOCASE`` as Zircolite builds
them, values keeping their type, a ``REGEXP`` function, ``fulltext`` for keywords). The
same events, mapped onto ECS through keibi's field table, go through keibi's compiled
predicate. Both must agree on every event.

The events are generated from the rule's own strings: each literal as is, upper-cased,
with text around it, shortened, its wildcards filled in three ways (empty, text, the
wildcard characters themselves), plus absent fields; random combinations of those per
field (seeded), plus the values a case lists. Every case must yield both matching and
non-matching events, so no case passes vacuously.

Where the two cannot agree by construction (the backend cannot express the case, or
keibi deliberately differs), the case is an ``xfail`` with the reason, strict: it must
really disagree.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import re
import sqlite3
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sigma.backends.sqlite as sqlite_backend  # the 'test' extra: pip install -e '.[test]'
import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from keibi.engine.compile import compile_rule
from keibi.engine.fields import log_source, map_field
from keibi.events.model import Event
from keibi.rules.options import event_from_flat
from tests.engine.helpers import T0, write_rules

PROC = "product: linux\n  category: process_creation"
NET = "product: linux\n  category: network_connection"
SYSLOG = "product: linux\n  service: syslog"
NUMERIC = frozenset({"ProcessId", "ParentProcessId", "DestinationPort", "SourcePort"})
IP_FIELDS = frozenset({"DestinationIp", "SourceIp"})
KEYWORD = "message"  # where keibi's keyword search looks, and the oracle's fulltext
RANDOM_EVENTS = 80


@dataclass(frozen=True)
class Case:
    id: str
    detection: str
    logsource: str = PROC
    #: extra values per field (added to the generated pool); "*" adds to every field
    values: dict[str, list[Any]] = field(default_factory=dict)
    #: why keibi and the oracle cannot agree (the case is then a strict xfail)
    xfail: str | None = None


CASES = [
    # -- plain strings, case-insensitive ------------------------------------------------
    Case("plain", """
        sel:
          Image: /usr/bin/curl
        condition: sel"""),
    Case("plain-mixed-case-rule", """
        sel:
          CommandLine: 'Curl HTTP://Example.COM/a'
        condition: sel"""),
    Case("plain-specials", """
        sel:
          CommandLine: "it's 100% a_b \\\\x"
        condition: sel""", values={"CommandLine": ["it's 100% a_b \\x", "it's 1000 aXb \\x"]}),
    Case("cased", """
        sel:
          Image|cased: /usr/bin/Curl
        condition: sel"""),
    Case("cased-contains", """
        sel:
          CommandLine|cased|contains: 'AbC'
        condition: sel"""),
    # -- wildcards ------------------------------------------------------------------------
    Case("wildcard-star", """
        sel:
          CommandLine: '*wget *http*'
        condition: sel"""),
    Case("wildcard-question", """
        sel:
          Image: '/usr/bin/python?.?'
        condition: sel""", values={"Image": ["/usr/bin/python3.1", "/usr/bin/python3.11"]}),
    Case("wildcard-mixed", """
        sel:
          CommandLine: 'a*b?c*'
        condition: sel""", values={"CommandLine": ["aXXbYc", "abc", "ab\nc", "a\nb\nc"]}),
    Case("wildcard-only", """
        sel:
          User: '*'
        condition: sel""", values={"User": ["", "x"]}),
    Case("escaped-wildcards", """
        sel:
          CommandLine:
            - 'echo \\*'
            - 'what\\?'
            - 'c:\\\\temp\\\\*'
        condition: sel""", values={"CommandLine": ["echo *", "echo x", "what?", "whatx",
                                                    "c:\\temp\\a", "c:\\temp\\"]}),
    Case("like-metacharacters-are-literal", """
        sel:
          CommandLine|contains: '50%_off'
        condition: sel""", values={"CommandLine": ["x50%_offx", "x50XYoffx", "50%Xoff"]}),
    # -- contains / startswith / endswith / all ------------------------------------------
    Case("contains", """
        sel:
          CommandLine|contains: '/dev/tcp/'
        condition: sel"""),
    Case("startswith", """
        sel:
          CurrentDirectory|startswith: /tmp/
        condition: sel"""),
    Case("endswith", """
        sel:
          Image|endswith:
            - /nc
            - /ncat
        condition: sel"""),
    Case("contains-all", """
        sel:
          CommandLine|contains|all:
            - ' -c '
            - base64
            - '|'
        condition: sel""", values={"CommandLine": ["sh -c echo|base64", "sh -c base64",
                                                    "BASE64 -C | x -c x"]}),
    Case("startswith-wildcard-inside", """
        sel:
          CommandLine|startswith: 'sh -?c *curl'
        condition: sel""", values={"CommandLine": ["sh -xc a curl", "sh -c curl"]}),
    # -- lists and selections ---------------------------------------------------------------
    Case("list-or", """
        sel:
          Image:
            - /bin/sh
            - /bin/bash
            - '*/zsh'
        condition: sel"""),
    Case("and-of-fields", """
        sel:
          Image|endswith: /bash
          ParentImage|endswith: /java
          User: root
        condition: sel"""),
    Case("list-of-maps", """
        sel:
          - Image|endswith: /nc
            CommandLine|contains: ' -e '
          - Image|endswith: /socat
        condition: sel"""),
    Case("one-of-glob", """
        selection_a:
          Image|endswith: /curl
        selection_b:
          CommandLine|contains: wget
        other:
          User: root
        condition: 1 of selection_*"""),
    Case("all-of-glob", """
        selection_a:
          Image|endswith: /curl
        selection_b:
          CommandLine|contains: ' -O '
        other:
          User: nobody
        condition: all of selection_*"""),
    Case("one-of-them", """
        a:
          Image|endswith: /curl
        b:
          User: root
        condition: 1 of them"""),
    Case("all-of-them", """
        a:
          Image|endswith: /curl
        b:
          User: root
        condition: all of them"""),
    # -- not -------------------------------------------------------------------------------
    Case("not-filter", """
        sel:
          Image|endswith: /sh
        filter:
          ParentImage: /usr/sbin/cron
        condition: sel and not filter"""),
    Case("not-one-of", """
        sel:
          Image|endswith: /sh
        filter_main_a:
          User: root
        filter_main_b:
          CurrentDirectory|startswith: /root
        condition: sel and not 1 of filter_main_*"""),
    Case("nested-not", """
        a:
          Image|endswith: /sh
        b:
          CommandLine|contains: curl
        c:
          User: root
        condition: a and not (b and not c)"""),
    Case("not-alone", """
        filter:
          User: root
        condition: not filter"""),
    Case("neq", """
        sel:
          Image|endswith: /sh
          User|neq: root
        condition: sel"""),
    # -- regular expressions -------------------------------------------------------------
    Case("re", """
        sel:
          CommandLine|re: '^(ba)?sh -c .*[0-9]{2,}$'
        condition: sel""", values={"CommandLine": ["sh -c x12", "bash -c 99", "BASH -c 99",
                                                    "sh -c 1", "zsh -c 12", "sh -c 12\n"]}),
    Case("re-case-sensitive", """
        sel:
          CommandLine|re: 'Base64'
        condition: sel""", values={"CommandLine": ["xBase64x", "base64"]}),
    Case("re-i", """
        sel:
          CommandLine|re|i: 'base64 +-d'
        condition: sel""", values={"CommandLine": ["BASE64  -D", "base64 -d", "base64-d"]}),
    Case("re-m", """
        sel:
          CommandLine|re|m: '^curl$'
        condition: sel""", values={"CommandLine": ["a\ncurl\nb", "curl", "acurl", "curl\n"]}),
    Case("re-s", """
        sel:
          CommandLine|re|s: 'a.b'
        condition: sel""", values={"CommandLine": ["a\nb", "axb", "ab"]}),
    Case("re-quote-and-backslash", """
        sel:
          CommandLine|re: "it's \\\\d\\\\.\\\\w"
        condition: sel""", values={"CommandLine": ["it's 1.a", "it's x.a", "it's 1xa"]}),
    # -- CIDR ------------------------------------------------------------------------------
    Case("cidr-v4", """
        sel:
          DestinationIp|cidr:
            - 10.0.0.0/8
            - 192.168.1.0/24
        condition: sel""", logsource=NET, values={"DestinationIp": [
            "10.0.0.0", "10.255.255.255", "11.0.0.1", "9.255.255.255", "192.168.1.7",
            "192.168.2.7", "192.168.10.1", "1.10.0.1"]}),
    Case("cidr-v4-unaligned", """
        sel:
          DestinationIp|cidr: 172.16.0.0/12
        condition: sel""", logsource=NET, values={"DestinationIp": [
            "172.16.0.1", "172.31.255.255", "172.32.0.1", "172.15.9.9", "172.160.0.1"]}),
    Case("cidr-v6", """
        sel:
          DestinationIp|cidr: 'fe80::/10'
        condition: sel""", logsource=NET, values={"DestinationIp": [
            "fe80::1", "febf::1", "fec0::1", "2001:db8::1", "FE80::AB"]}),
    # -- numbers and comparisons -------------------------------------------------------------
    Case("number", """
        sel:
          DestinationPort:
            - 4444
            - 1337
        condition: sel""", logsource=NET),
    Case("lt-gte", """
        sel:
          DestinationPort|lt: 1024
          ProcessId|gte: 1000
        condition: sel""", logsource=NET, values={"DestinationPort": [1023, 1024, 0, 65535],
                                                  "ProcessId": [999, 1000, 1001, 1]}),
    Case("lte-gt", """
        sel:
          ProcessId|gt: 1
          ParentProcessId|lte: 1
        condition: sel"""),
    Case("number-vs-numeric-string", """
        sel:
          CommandLine: 42
        condition: sel""", values={"CommandLine": ["42", "042", "42.0"]},
         xfail="keibi compares a numeric text value as a number (auditd records are all "
               "text); SQLite's typed '=' never equals TEXT to INTEGER"),
    Case("bool", """
        sel:
          Initiated: 'true'
          DestinationPort: 22
        condition: sel""", logsource=NET, values={"Initiated": ["true", "false", "TRUE"]}),
    # -- null and exists -----------------------------------------------------------------------
    Case("null", """
        sel:
          Image|endswith: /sh
          ParentImage: null
        condition: sel"""),
    Case("not-null", """
        sel:
          Image|endswith: /sh
        filter:
          ParentImage: null
        condition: sel and not filter"""),
    Case("exists-true", """
        sel:
          CommandLine|exists: true
          Image|endswith: /sh
        condition: sel""", values={"CommandLine": [""]}),
    Case("exists-false", """
        sel:
          CommandLine|exists: false
          Image|endswith: /sh
        condition: sel""", values={"CommandLine": [""]}),
    # -- keywords ------------------------------------------------------------------------------
    Case("keywords", """
        keywords:
          - 'segfault at'
          - 'error*code'
        condition: keywords""", logsource=SYSLOG,
         values={KEYWORD: ["kernel: x segfault at 0", "error 7 code", "codeerror"]}),
    Case("keywords-and-not", """
        keywords:
          - 'Accepted password'
        filter:
          - 'from 127.0.0.1'
        condition: keywords and not filter""", logsource=SYSLOG,
         values={KEYWORD: ["Accepted password for a from 127.0.0.1",
                           "accepted PASSWORD for a from 10.0.0.1"]}),
    Case("keyword-number", """
        keywords:
          - 1337
        condition: keywords""", logsource=SYSLOG, values={KEYWORD: ["port 1337", "port 137"]}),
    # -- expansions ---------------------------------------------------------------------------
    Case("base64offset", """
        sel:
          CommandLine|base64offset|contains:
            - 'http://'
            - '/bin/bash'
        condition: sel"""),
    Case("windash", """
        sel:
          CommandLine|windash|contains: ' -enc '
        condition: sel""", values={"CommandLine": ["x /enc y", "x –enc y", "x —enc y",
                                                    "x ―enc y", "x _enc y", "x -ENC y"]}),
    Case("wide-base64offset", """
        sel:
          CommandLine|wide|base64offset|contains: 'ping'
        condition: sel""", values={"CommandLine": [
            base64.b64encode("ping".encode("utf-16le")).decode(),
            "x" + base64.b64encode(" ping".encode("utf-16le")).decode()[2:-2] + "x"]}),
    # -- field references ----------------------------------------------------------------------
    Case("fieldref", """
        sel:
          Image|fieldref: ParentImage
        condition: sel""", values={"*": ["/bin/sh", "/BIN/SH", "/bin/bash", "/bin/s_"]}),
    Case("fieldref-startswith", """
        sel:
          CommandLine|fieldref|startswith: Image
        condition: sel""", values={"*": ["/bin/sh", "/bin/sh -c x", "/BIN/SH -c", "x /bin/sh"]}),
    Case("fieldref-endswith", """
        sel:
          CommandLine|fieldref|endswith: Image
        condition: sel""", values={"*": ["/bin/sh", "x /bin/sh", "/bin/sh x", "a%b", "aXb",
                                          "a_b"]}),
    Case("fieldref-contains", """
        sel:
          CommandLine|fieldref|contains: User
        condition: sel""", values={"*": ["alice", "sudo -u alice id", "ALICE", "al_ce"]}),
    # -- time parts (a value type keibi supports) ---------------------------------------------
    Case("hour", """
        sel:
          CommandLine|hour: 3
        condition: sel""", values={"CommandLine": ["2026-01-02T03:04:05Z",
                                                    "2026-01-02T13:04:05Z",
                                                    "2026-01-02T03:59:59.250Z"]}),
    # -- where the two cannot agree ------------------------------------------------------------
    Case("cidr-on-text", """
        sel:
          CommandLine|cidr: 10.0.0.0/8
        condition: sel""", values={"CommandLine": ["10.1.2.3", "10.0.0.0/8", "10.x", "9.1.1.1"]},
         xfail="the backend writes a CIDR as string prefixes (LIKE '10.%'), which also "
               "match text that is no address; keibi parses the address"),
    Case("unicode-case-folding", """
        sel:
          CommandLine|contains: 'ÄRGER'
        condition: sel""", values={"CommandLine": ["x ärger y", "x ÄRGER y"]},
         xfail="SQLite's NOCASE and LIKE fold ASCII letters only; keibi folds every letter "
               "(Sigma: case-insensitive)"),
]


# -- the rule's strings -> candidate event values ---------------------------------------

def _fill(text: str, star: str, one: str) -> str:
    """A Sigma string with its wildcards replaced (escapes resolved)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "*?\\":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(star if c == "*" else one if c == "?" else c)
        i += 1
    return "".join(out)


def _literals(node: Any) -> Iterator[tuple[str | None, str, Any]]:
    """(field or None for keywords, modifiers, value) of every value in a detection."""
    if isinstance(node, dict):
        for key, value in node.items():
            name, _, mods = str(key).partition("|")
            for v in value if isinstance(value, list) else [value]:
                yield name, mods, v
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield from _literals(item)
            else:
                yield None, "", item


def _variants(text: str, mods: str) -> list[str]:
    base = [_fill(text, "", "q"), _fill(text, "zz", "Q"), _fill(text, "*", "?")]
    if "re" in mods.split("|"):
        base = [re.sub(r"\\(.)", r"\1", text)]
    out: list[str] = []
    for b in base:
        out += [b, b.upper(), "x" + b, b + "x", "x " + b + " x", b[1:], b[:-1]]
        if "base64offset" in mods:
            out += [base64.b64encode((p + b).encode()).decode() for p in ("", "a", "ab")]
        if "windash" in mods:
            out += [b.replace("-", "/"), b.replace("-", "\u2013")]
    return out


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@dataclass
class Plan:
    fields: list[str]
    pools: dict[str, list[Any]]  # per field: its own literals' variants first


def plan(case: Case) -> Plan:
    det = yaml.safe_load(textwrap.dedent(case.detection))
    own: dict[str, list[Any]] = {}
    numbers: list[int] = []
    fields: list[str] = []

    def add(name: str, values: list[Any]) -> None:
        if name not in fields:
            fields.append(name)
        own.setdefault(name, []).extend(values)

    for key, node in det.items():
        if key == "condition":
            continue
        for name, mods, value in _literals(node):
            name = name or KEYWORD
            if "fieldref" in mods and isinstance(value, str):
                add(name, [])
                add(value, [])
            elif value is None:
                add(name, [])
            elif isinstance(value, bool):
                add(name, [str(value).lower()])
            elif isinstance(value, int):
                numbers.append(value)
                add(name, [value] if name in NUMERIC else [str(value)])
            elif isinstance(value, str):
                if "cidr" in mods:
                    net = ipaddress.ip_network(value)
                    add(name, [str(net[0]), str(net[-1]), str(net[0] - 1), str(net[-1] + 1)])
                else:
                    add(name, _variants(value, mods))
    for name in case.values:
        if name != "*":
            add(name, [])
    strings = [v for name in fields for v in own[name] if isinstance(v, str)]
    pools: dict[str, list[Any]] = {}
    for name in fields:
        if name in NUMERIC:
            pool: list[Any] = sorted({n + d for n in numbers or [1] for d in (-1, 0, 1)} | {0})
        else:
            pool = [*own[name], *strings, ""]
        pool += case.values.get(name, []) + case.values.get("*", [])
        if name in IP_FIELDS:  # ECS: these hold addresses (see the cidr-text case)
            pool = [v for v in pool if _is_ip(v)]
        pools[name] = [*dict.fromkeys(pool), None]
    return Plan(fields, pools)


def events(case: Case) -> list[dict[str, Any]]:
    p = plan(case)
    rows: list[dict[str, Any]] = []
    width = max(len(v) for v in p.pools.values())
    for i in range(width):  # every candidate at least once, in every field at once
        rows.append({f: p.pools[f][i % len(p.pools[f])] for f in p.fields})
    for f in p.fields:  # each field's candidates with the other fields absent
        rows += [{f: v} for v in p.pools[f]]
    rng = random.Random(zlib.crc32(case.id.encode()))
    rows += [{f: rng.choice(p.pools[f]) for f in p.fields} for _ in range(RANDOM_EVENTS)]
    return rows


# -- the two evaluators ------------------------------------------------------------------

def rule_text(case: Case) -> str:
    det = textwrap.indent(textwrap.dedent(case.detection).strip(), "  ")
    return (f"title: oracle {case.id}\nid: 11111111-2222-4333-8444-555555555555\n"
            f"logsource:\n  {case.logsource}\ndetection:\n{det}\nlevel: low\n")


def sql_matches(case: Case, rows: list[dict[str, Any]]) -> set[int]:
    """Row numbers the backend's query selects."""
    backend = sqlite_backend.sqliteBackend(fulltext_field="fulltext")
    (query,) = backend.convert(SigmaCollection.from_yaml(rule_text(case)))
    db = sqlite3.connect(":memory:")

    def regexp(pattern: str, value: Any) -> bool | None:
        if value is None:
            return None
        return re.search(pattern, value if isinstance(value, str) else str(value)) is not None

    db.create_function("REGEXP", 2, regexp, deterministic=True)
    columns = sorted({f for row in rows for f in row if f != KEYWORD}
                     | set(backend.required_fields(SigmaCollection.from_yaml(
                         rule_text(case)).rules[0])) - {"fulltext"})
    cols = ", ".join(f'"{c}" COLLATE NOCASE' for c in columns)
    db.execute(f"CREATE TABLE logs (fulltext TEXT COLLATE NOCASE{', ' if cols else ''}{cols})")
    for n, row in enumerate(rows, 1):
        names = ["rowid", "fulltext", *columns]
        db.execute(f"INSERT INTO logs ({', '.join(chr(34) + c + chr(34) for c in names)}) "
                   f"VALUES ({', '.join('?' * len(names))})",
                   [n, row.get(KEYWORD), *(row.get(c) for c in columns)])
    found = {r[0] for r in db.execute(query.replace("SELECT *", "SELECT rowid", 1))}
    db.close()
    return found


def keibi_event(case: Case, row: dict[str, Any]) -> Event:
    """The row as keibi sees it: Sigma names mapped onto ECS, the log source's fields set."""
    ls = yaml.safe_load(case.logsource.replace("\n  ", "\n"))
    source = log_source(ls.get("category"), ls.get("product"), ls.get("service"))
    flat: dict[str, Any] = {f: list(v) if len(v) > 1 or f in ("event.category", "event.type")
                            else v[0] for f, v in source.constraints}
    for name, value in row.items():
        if value is None:
            continue
        if name == KEYWORD:
            flat["message"] = value
            continue
        m = map_field(source, name)
        if m.values is not None:  # e.g. Initiated 'true' -> network.direction 'outbound'
            value = m.values.get(str(value).lower(), value)
        flat[m.target] = value
    return event_from_flat(flat, T0)


def disagreements(case: Case, tmp_path: Path) -> tuple[list[str], int, int]:
    rows = events(case)
    want = sql_matches(case, rows)
    (rule,) = write_rules(tmp_path, rule_text(case))
    predicate = compile_rule(rule).predicate
    bad = []
    for n, row in enumerate(rows, 1):
        got = predicate(keibi_event(case, row))
        if got != (n in want):
            bad.append(f"sqlite={n in want} keibi={got}: {row!r}")
    return bad, len(want), len(rows)


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)]
                 if c.xfail else []) for c in CASES])
def test_keibi_agrees_with_the_sqlite_backend(case: Case, tmp_path: Path) -> None:
    bad, matched, total = disagreements(case, tmp_path)
    assert not bad, f"{len(bad)}/{total} events disagree:\n" + "\n".join(bad[:15])
    # a case must separate events, or it proves nothing
    assert 0 < matched < total, f"{matched}/{total} events match: the case proves nothing"


def test_the_matrix_covers_every_modifier_keibi_supports() -> None:
    text = "\n".join(c.detection for c in CASES)
    for modifier in ("contains", "startswith", "endswith", "all", "re", "i", "m", "s",
                     "cidr", "lt", "lte", "gt", "gte", "exists", "base64offset", "windash",
                     "fieldref", "cased", "neq", "wide", "hour"):
        assert f"|{modifier}" in text or f"|{modifier}:" in text, modifier
    conditions = " ".join(re.findall(r"condition: (.*)", text))
    for word in ("1 of", "all of", "not ", "them", " and "):
        assert word in conditions, word
    assert any("keywords" in c.detection for c in CASES)
    assert any(": null" in c.detection for c in CASES)


def test_the_backend_refuses_what_it_cannot_express() -> None:
    """Cases the SQLite backend has no SQL for are reported, not silently dropped:
    ``|expand`` placeholders (keibi: not evaluable either)."""
    case = Case("expand", """
        sel:
          CommandLine|expand: '%admins%'
        condition: sel""")
    backend = sqlite_backend.sqliteBackend(fulltext_field="fulltext")
    with pytest.raises(SigmaError, match=r"(?i)placeholder"):
        backend.convert(SigmaCollection.from_yaml(rule_text(case)))
