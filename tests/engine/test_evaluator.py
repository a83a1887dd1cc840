"""The single-event evaluator: every Sigma value type and modifier keibi supports."""

from __future__ import annotations

from pathlib import Path

import pytest

from keibi.engine.compile import NotEvaluable, _never_hex, compile_rule
from keibi.engine.values import NumTest, RegexTest, StrTest
from tests.engine.helpers import ev, matcher, sigma_rule, write_rules

AUTH = {"event.dataset": "keibi.auth"}
PROC = {"event.category": ["process"], "event.type": ["start"]}
PROC_LS = "product: linux\n  category: process_creation"


def test_strings_are_case_insensitive_by_default(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          process.command_line: 'CURL http://X'
        condition: sel
    """)
    assert p(ev(**AUTH, **{"process.command_line": "curl HTTP://x"}))
    assert not p(ev(**AUTH, **{"process.command_line": "curl http://y"}))


def test_cased_modifier_is_case_sensitive(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          process.command_line|cased: 'Curl'
        condition: sel
    """)
    assert p(ev(**AUTH, **{"process.command_line": "Curl"}))
    assert not p(ev(**AUTH, **{"process.command_line": "curl"}))


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("/usr/bin/*", "/usr/bin/python3", True),
    ("/usr/bin/*", "/bin/python3", False),
    ("*/nc", "/usr/bin/nc", True),
    ("*/nc", "/usr/bin/ncat", False),
    ("*wget*", "sh -c 'WGET http://x'", True),
    ("a*b?c", "aXXXbYc", True),
    ("a*b?c", "aXXXbc", False),
    ("a?c", "abc", True),
    ("a?c", "abbc", False),
    ("*", "anything", True),
    (r"C:\\temp\\*", r"c:\temp\x", True),
    (r"100\*", "100*", True),
    (r"100\*", "1000", False),
])
def test_wildcards(tmp_path: Path, pattern: str, value: str, expected: bool) -> None:
    p = matcher(tmp_path, f"""
        sel:
          process.command_line: '{pattern}'
        condition: sel
    """)
    assert p(ev(**AUTH, **{"process.command_line": value})) is expected


def test_startswith_endswith_contains_lists_and_all(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          process.executable|endswith:
            - /bash
            - /sh
          process.command_line|contains|all:
            - ' -c '
            - 'base64'
          process.working_directory|startswith: /tmp
        condition: sel
    """)
    base = {**AUTH, "process.executable": "/usr/bin/BASH",
            "process.command_line": "bash -c 'echo x | BASE64 -d'",
            "process.working_directory": "/tmp/x"}
    assert p(ev(**base))
    assert not p(ev(**{**base, "process.command_line": "bash -c 'echo x'"}))
    assert not p(ev(**{**base, "process.executable": "/usr/bin/zsh"}))
    assert not p(ev(**{**base, "process.working_directory": "/home/tmp"}))


@pytest.mark.parametrize(("modifiers", "value", "expected"), [
    ("re", "curl -O x", True),
    ("re", "curl -o x", False),  # regexes are case-sensitive by default
    ("re|i", "curl -o x", True),
    ("re", "ab\n-O x", True),  # unanchored search
])
def test_regex_and_ignorecase_flag(tmp_path: Path, modifiers: str, value: str,
                                   expected: bool) -> None:
    p = matcher(tmp_path, rf"""
        sel:
          process.command_line|{modifiers}: '\s-O\s'
        condition: sel
    """)
    assert p(ev(**AUTH, **{"process.command_line": value})) is expected


def test_regex_multiline_and_dotall_flags(tmp_path: Path) -> None:
    text = "first line\nsecond line"
    plain = matcher(tmp_path / "a", "sel:\n  message|re: '^second'\ncondition: sel")
    multi = matcher(tmp_path / "b", "sel:\n  message|re|m: '^second'\ncondition: sel")
    nodot = matcher(tmp_path / "c", "sel:\n  message|re: 'first.second'\ncondition: sel")
    dotall = matcher(tmp_path / "d", "sel:\n  message|re|s: 'first.*second'\ncondition: sel")
    e = ev(**AUTH, message=text)
    assert not plain(e)
    assert multi(e)
    assert not nodot(e)
    assert dotall(e)


@pytest.mark.parametrize(("ip", "expected"), [
    ("10.1.2.3", True), ("10.255.255.255", True), ("11.0.0.1", False),
    ("fd00::1", True), ("fe80::1", False), ("not-an-ip", False), ("", False),
])
def test_cidr(tmp_path: Path, ip: str, expected: bool) -> None:
    p = matcher(tmp_path, """
        sel:
          source.ip|cidr:
            - 10.0.0.0/8
            - fd00::/8
        condition: sel
    """)
    assert p(ev(**AUTH, **{"source.ip": ip})) is expected


def test_null_and_exists(tmp_path: Path) -> None:
    null = matcher(tmp_path / "a", "sel:\n  user.target.name: null\ncondition: sel")
    exists = matcher(tmp_path / "b",
                     "sel:\n  user.target.name|exists: true\ncondition: sel")
    absent = matcher(tmp_path / "c",
                     "sel:\n  auditd.data.key|exists: false\ncondition: sel")
    with_target = ev(**AUTH, **{"user.target.name": "root"})
    without = ev(**AUTH)
    assert null(without) and not null(with_target)
    assert exists(with_target) and not exists(without)
    assert absent(without) and not absent(ev(**AUTH, **{"auditd.data.key": "k"}))


def test_list_valued_fields_match_any_element(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          event.category: authentication
          process.args|contains: passwd
        condition: sel
    """)
    e = ev(**AUTH, **{"event.category": ["session", "authentication"],
                      "process.args": ["/usr/bin/cat", "/etc/passwd"]})
    assert p(e)
    assert not p(ev(**AUTH, **{"event.category": ["session"],
                               "process.args": ["/etc/passwd"]}))
    # negation of a list field: no element may match
    n = matcher(tmp_path / "b", "sel:\n  event.category: session\ncondition: not sel")
    assert not n(e)
    assert n(ev(**AUTH, **{"event.category": ["process"]}))


def test_keywords_search_message_and_original(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        keywords:
          - 'Accepted publickey'
          - 'segfault at'
        condition: keywords
    """)
    assert p(ev(**AUTH, message="sshd: accepted PUBLICKEY for root"))
    assert p(ev(**AUTH, **{"event.original": "kernel: x[1]: segfault at 0 ip"}))
    assert not p(ev(**AUTH, message="nothing here"))
    both = matcher(tmp_path / "b", """
        keywords:
          '|all':
            - 'error'
            - 'disk'
        condition: keywords
    """)
    assert both(ev(**AUTH, message="Disk read ERROR"))
    assert not both(ev(**AUTH, message="disk ok"))


def test_one_of_all_of_and_not(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        selection_a:
          user.name: alice
        selection_b:
          host.name: web01
        filter_main:
          source.ip: 10.0.0.1
        condition: 1 of selection_* and not 1 of filter_*
    """)
    assert p(ev(**AUTH, **{"user.name": "alice"}))
    assert p(ev(**AUTH, **{"host.name": "web01"}))
    assert not p(ev(**AUTH, **{"user.name": "alice", "source.ip": "10.0.0.1"}))
    assert not p(ev(**AUTH, **{"user.name": "bob"}))
    q = matcher(tmp_path / "b", """
        selection_a:
          user.name: alice
        selection_b:
          host.name: web01
        other:
          user.name: carol
        condition: all of selection_* or (not selection_a and other)
    """)
    assert q(ev(**AUTH, **{"user.name": "alice", "host.name": "web01"}))
    assert not q(ev(**AUTH, **{"user.name": "alice"}))
    assert q(ev(**AUTH, **{"user.name": "carol"}))


def test_list_of_maps_is_or(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          - user.name: alice
            host.name: web01
          - user.name: bob
        condition: sel
    """)
    assert p(ev(**AUTH, **{"user.name": "alice", "host.name": "web01"}))
    assert not p(ev(**AUTH, **{"user.name": "alice", "host.name": "db01"}))
    assert p(ev(**AUTH, **{"user.name": "bob"}))


def test_numbers_bools_and_comparisons(tmp_path: Path) -> None:
    port = matcher(tmp_path / "a", "sel:\n  destination.port: 22\ncondition: sel")
    assert port(ev(**AUTH, **{"destination.port": 22}))
    assert not port(ev(**AUTH, **{"destination.port": 2222}))
    text = matcher(tmp_path / "e", "sel:\n  auditd.data.a2: 22\ncondition: sel")
    assert text(ev(**AUTH, **{"auditd.data.a2": "22"}))  # numbers as text match too
    assert not text(ev(**AUTH, **{"auditd.data.a2": "0x16"}))
    flag = matcher(tmp_path / "b", "sel:\n  keibi.group.privileged: true\ncondition: sel")
    assert flag(ev(**AUTH, **{"keibi.group.privileged": True}))
    assert flag(ev(**AUTH, **{"keibi.group.privileged": "True"}))
    assert not flag(ev(**AUTH, **{"keibi.group.privileged": False}))
    cmp = matcher(tmp_path / "c", """
        sel:
          process.pid|gt: 100
          process.pid|lte: 200
        condition: sel
    """)
    assert cmp(ev(**AUTH, **{"process.pid": 200}))
    assert not cmp(ev(**AUTH, **{"process.pid": 100}))
    big = matcher(tmp_path / "d", "sel:\n  auditd.data.argc|gte: 3\ncondition: sel")
    assert big(ev(**AUTH, **{"auditd.data.argc": "3"}))
    assert not big(ev(**AUTH, **{"auditd.data.argc": "abc"}))


def test_fieldref(tmp_path: Path) -> None:
    p = matcher(tmp_path, "sel:\n  user.name|fieldref: user.target.name\ncondition: sel")
    assert p(ev(**AUTH, **{"user.name": "root", "user.target.name": "root"}))
    assert not p(ev(**AUTH, **{"user.name": "alice", "user.target.name": "root"}))
    assert not p(ev(**AUTH, **{"user.name": "alice"}))
    # case-insensitive like every Sigma string match (and pySigma's SQLite backend)
    assert p(ev(**AUTH, **{"user.name": "Root", "user.target.name": "ROOT"}))


def test_expansion_modifiers(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          process.command_line|base64offset|contains: 'http'
        condition: sel
    """)
    assert p(ev(**AUTH, **{"process.command_line": "echo aHR0cDovL2V4YW1wbGU= | base64"}))


def test_time_part_modifier(tmp_path: Path) -> None:
    p = matcher(tmp_path, "sel:\n  '@timestamp|hour': 3\ncondition: sel")
    assert p(ev(ts=3 * 3600 + 5, **AUTH))
    assert not p(ev(ts=4 * 3600, **AUTH))


def test_sigma_process_creation_fields_map_to_ecs(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          Image|endswith: /java
          CommandLine|contains: bash
          ParentImage: /usr/sbin/sshd
          User: root
        condition: sel
    """, logsource=PROC_LS)
    fields = {**PROC, "process.executable": "/opt/jdk/bin/java",
              "process.command_line": "java -c bash", "process.parent.executable":
              "/usr/sbin/sshd", "user.name": "root"}
    assert p(ev(**fields))
    # the log source constraint: a process START event is required
    assert not p(ev(**{**fields, "event.type": ["end"]}))


def test_network_initiated_translates_to_direction(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          Initiated: 'true'
          DestinationPort: 4444
        condition: sel
    """, logsource="product: linux\n  category: network_connection")
    net = {"event.category": ["network"], "destination.port": 4444}
    assert p(ev(**net, **{"network.direction": "outbound"}))
    assert not p(ev(**net, **{"network.direction": "inbound"}))


AUDIT_LS = "product: linux\n  service: auditd"


def test_auditd_execve_fields_map_onto_assembled_audit_events(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          type: EXECVE
          a0: chattr
          a1|contains: '-i'
        condition: sel
    """, logsource=AUDIT_LS)
    base = {"event.dataset": "keibi.audit",
            "auditd.record_types": ["SYSCALL", "EXECVE", "CWD", "PATH"],
            "process.args": ["chattr", "-i", "/etc/passwd"]}
    assert p(ev(**base))
    assert not p(ev(**{**base, "auditd.record_types": ["SYSCALL", "PATH"]}))
    assert not p(ev(**{**base, "process.args": ["chattr"]}))


def test_auditd_syscall_fields(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          type: SYSCALL
          SYSCALL: personality
          a0: 40000
          exe|endswith: /bash
        condition: sel
    """, logsource=AUDIT_LS)
    base = {"event.dataset": "keibi.audit", "auditd.record_types": ["SYSCALL"],
            "auditd.data.syscall": "personality", "auditd.data.a0": "40000",
            "process.executable": "/usr/bin/bash"}
    assert p(ev(**base))
    assert not p(ev(**{**base, "auditd.data.a0": "0"}))
    # a null value must be absent from every field the Sigma name maps to
    null = matcher(tmp_path / "b", "sel:\n  a0: null\ncondition: sel", logsource=AUDIT_LS)
    assert null(ev(**{"event.dataset": "keibi.audit"}))
    assert not null(ev(**{"event.dataset": "keibi.audit", "auditd.data.a0": "1"}))
    assert not null(ev(**{"event.dataset": "keibi.audit", "process.args": ["ls"]}))


def test_auditd_arguments_belong_to_the_record_the_rule_names(tmp_path: Path) -> None:
    """Sigma reads each audit record as an event: ``type: EXECVE`` with ``a0`` is the
    program's argument, ``type: SYSCALL`` with ``a0`` the syscall's. keibi's event
    holds both records, so without a type ``aN`` may be either; with one, only its own."""
    execve = matcher(tmp_path / "e", """
        command:
          type: EXECVE
          a0: nc
        target:
          - a1: '4'
          - a2: '4'
        condition: command and target
    """, logsource=AUDIT_LS)
    base = {"event.dataset": "keibi.audit", "auditd.record_types": ["SYSCALL", "EXECVE"]}
    # expected: match (nc's first argument is 4)
    assert execve(ev(**base, **{"process.args": ["nc", "4"], "auditd.data.a1": "7ffd"}))
    # expected: no match (4 is the SYSCALL record's a1, not an argument of nc)
    assert not execve(ev(**base, **{"process.args": ["nc", "-l"], "auditd.data.a1": "4"}))
    assert not execve(ev(**base, **{"process.args": ["ls"], "auditd.data.a0": "nc",
                                    "auditd.data.a1": "4"}))
    syscall = matcher(tmp_path / "s", """
        sel:
          type: SYSCALL
          a0: 4
        condition: sel
    """, logsource=AUDIT_LS)
    # expected: match (the syslog syscall's first argument is 4)
    assert syscall(ev(**base, **{"auditd.data.a0": "4", "process.args": ["dmesg"]}))
    # expected: no match (4 is a program argument, not the syscall's)
    assert not syscall(ev(**base, **{"auditd.data.a0": "2", "process.args": ["4"]}))
    either = matcher(tmp_path / "n", "sel:\n  a1: 'c0ffee'\ncondition: sel",
                     logsource=AUDIT_LS)
    # expected: match, both ways (no record type named; c0ffee may be a syscall argument)
    assert either(ev(**base, **{"process.args": ["ls", "c0ffee"]}))
    assert either(ev(**base, **{"auditd.data.a1": "c0ffee"}))
    # a SYSCALL record's arguments are hexadecimal: no option can be one
    option = matcher(tmp_path / "o", "sel:\n  a1|startswith: '--cpu'\ncondition: sel",
                     logsource=AUDIT_LS)
    # expected: match (the program's first argument)
    assert option(ev(**base, **{"process.args": ["xmrig", "--cpu-priority=5"]}))
    # expected: no match (not hexadecimal: no SYSCALL record holds it)
    assert not option(ev(**base, **{"auditd.data.a1": "--cpu-priority=5"}))
    # a NOT under the type reads the argument only: 4 in the SYSCALL record is no argument
    negated = matcher(tmp_path / "x", """
        sel:
          type: EXECVE
        filter:
          a1: '4'
        condition: sel and not filter
    """, logsource=AUDIT_LS)
    assert negated(ev(**base, **{"process.args": ["nc", "-l"], "auditd.data.a1": "4"}))
    assert not negated(ev(**base, **{"process.args": ["nc", "4"]}))


@pytest.mark.parametrize(("test", "never"), [
    (StrTest(exact=frozenset({"40000"})), False),  # personality(ADDR_NO_RANDOMIZE)
    (StrTest(exact=frozenset({"c0ffee", "nc"})), False),  # one value may be hex
    (StrTest(exact=frozenset({"nc", "-l"})), True),
    (StrTest(prefixes=("--cpu",)), True),
    (StrTest(suffixes=(".png",)), True),
    (StrTest(contains=("x",)), True),
    (StrTest(exact=frozenset({"ABC"})), False),  # compared lower-cased: abc is hex
    (StrTest(exact=frozenset({"ABC"}), cased=True), True),  # hex is printed lower-case
    (StrTest(patterns=(".*\\-i.*",)), True),
    (StrTest(patterns=(".*",)), False),
    (StrTest(exact=frozenset({""})), False),
    (RegexTest("^--", 0), False),  # other tests: kept both ways
])
def test_a_test_no_hex_number_passes_reads_no_syscall_argument(test: object,
                                                               never: bool) -> None:
    assert _never_hex(test) is never


def test_auditd_nametype_translates_to_event_type(tmp_path: Path) -> None:
    p = matcher(tmp_path, """
        sel:
          type: PATH
          nametype: CREATE
          name|startswith: /etc/systemd/system/
        condition: sel
    """, logsource=AUDIT_LS)
    base = {"event.dataset": "keibi.audit", "auditd.record_types": ["SYSCALL", "PATH"],
            "event.type": ["creation"], "file.path": "/etc/systemd/system/x.service"}
    assert p(ev(**base))
    assert not p(ev(**{**base, "event.type": ["deletion"]}))


@pytest.mark.parametrize(("detection", "logsource", "reason"), [
    ("sel:\n  NoSuchField: x\ncondition: sel", PROC_LS, "unmapped field 'NoSuchField'"),
    ("sel:\n  x.y: 1\ncondition: sel", "product: windows\n  service: security",
     "unsupported logsource product 'windows'"),
    ("sel:\n  x.y: 1\ncondition: sel", "product: linux\n  service: vsftpd",
     "unsupported logsource service 'vsftpd'"),
    ("sel:\n  x.y|expand: '%admins%'\ncondition: sel", "product: linux",
     "placeholder"),
])
def test_not_evaluable_with_reason(tmp_path: Path, detection: str, logsource: str,
                                   reason: str) -> None:
    (rule,) = write_rules(tmp_path, sigma_rule(detection, logsource=logsource))
    with pytest.raises(NotEvaluable, match=reason):
        compile_rule(rule)


def test_a_numeric_test_answers_a_text_again_as_the_first_time() -> None:
    """Its answers per text are remembered (ids repeat); never one text's for another,
    nor for a number or a bool."""
    check = NumTest(frozenset({33.0})).checker()
    for _ in range(2):
        assert [check(v) for v in ("33", " 33 ", "33.0", "3_3", "0", "", "x", "1e400")] == [
            True, True, True, True, False, False, False, False]
        assert check(33) and check(33.0) and not check(True) and not check(None)
    assert not NumTest(frozenset({1.0})).checker()(True)  # a bool is no number
