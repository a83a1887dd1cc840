"""One audit record: headers, value decoding, enriched fields, garbage."""

from __future__ import annotations

import pytest

from keibi.parsers import audit_record
from keibi.parsers.audit_record import (
    UNSET_ID,
    AuditRecord,
    arch_name,
    execve_args,
    parse_audit_record,
    syscall_name,
    type_name,
    type_number,
)

SYSCALL = (
    'type=SYSCALL msg=audit(1764138049.123:4567): arch=c000003e syscall=59 success=yes '
    "exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 "
    'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="id" exe="/usr/bin/id" '
    'subj=unconfined key="exec"'
)


def rec(line: str, offset: int | None = None) -> AuditRecord:
    record = parse_audit_record(line, offset)
    assert record is not None, line
    return record


def test_raw_syscall_record() -> None:
    r = rec(SYSCALL, 42)
    assert r.type == "SYSCALL"
    assert r.timestamp == 1764138049.123
    assert r.serial == 4567
    assert r.node is None
    assert r.offset == 42
    assert r.raw == SYSCALL
    assert r.enriched == {}
    assert r.event_id == "1764138049.123:4567"
    assert r.fields["syscall"] == "59"
    assert r.fields["comm"] == "id"
    assert r.fields["exe"] == "/usr/bin/id"
    assert r.fields["key"] == "exec"
    assert r.fields["auid"] == "1000"
    assert r.fields["tty"] == "pts0"
    assert len(r.fields) == 26


def test_enriched_part_after_group_separator() -> None:
    line = SYSCALL + '\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" GID="root"'
    r = rec(line)
    assert r.fields["key"] == "exec"
    assert r.enriched == {
        "ARCH": "x86_64", "SYSCALL": "execve", "AUID": "alice", "UID": "root", "GID": "root"
    }  # fmt: skip
    assert r.raw == line


def test_enriched_sockaddr_braces() -> None:
    line = (
        "type=SOCKADDR msg=audit(1.002:3): saddr=0200A89B7F0000010000000000000000"
        "\x1dSADDR={ saddr_fam=inet laddr=127.0.0.1 lport=43163 }"
    )
    r = rec(line)
    assert r.fields == {"saddr": "0200A89B7F0000010000000000000000"}
    assert r.enriched == {"SADDR": "{ saddr_fam=inet laddr=127.0.0.1 lport=43163 }"}


def test_node_prefix() -> None:
    r = rec("node=web1.example type=EOE msg=audit(1764138049.123:4567): ")
    assert (r.node, r.type, r.fields) == ("web1.example", "EOE", {})


def test_netlink_form_takes_the_type_number() -> None:
    text = 'audit(1764138049.123:4567): cwd="/root"'
    r = parse_audit_record(text, None, 1307)
    assert r is not None
    assert (r.type, r.fields, r.serial) == ("CWD", {"cwd": "/root"}, 4567)
    assert r.raw == "type=CWD msg=" + text
    unknown = parse_audit_record("audit(1.000:1): x=1", None, 1999)
    assert unknown is not None and unknown.type == "UNKNOWN[1999]"
    # a type number without netlink text: parse the line as it is
    assert parse_audit_record(SYSCALL, None, 1300) == rec(SYSCALL)
    assert parse_audit_record("audit(garbage", None, 1300) is None


def test_kernel_log_and_syslog_forms() -> None:
    r = rec("Nov 26 07:31:56 vm kernel: audit: type=1305 audit(1795678315.939:342): "
            'auid=1000 ses=29 op=add_rule key="k" list=4 res=1')  # fmt: skip
    assert (r.type, r.serial, r.fields["op"]) == ("CONFIG_CHANGE", 342, "add_rule")
    assert r.fields["key"] == "k"
    r = rec("Nov 26 07:31:56 vm audisp-syslog: node=h1 type=USER_AUTH msg=audit(1.5:7): "
            "pid=1 uid=0 msg='op=PAM:authentication acct=\"bob\" res=failed'")  # fmt: skip
    assert (r.node, r.type, r.fields["acct"]) == ("h1", "USER_AUTH", "bob")
    assert r.fields["res"] == "failed"


def test_unknown_type_names() -> None:
    assert rec("type=UNKNOWN[1339] msg=audit(1.000:1): x=1").type == "DM_EVENT"
    assert rec("type=UNKNOWN[1999] msg=audit(1.000:1): x=1").type == "UNKNOWN[1999]"
    assert type_name(1300) == "SYSCALL"
    assert type_name(4321) == "UNKNOWN[4321]"
    assert type_number("USER_CMD") == 1123
    assert type_number("UNKNOWN[4321]") == 4321
    assert type_number("NOPE") is None


def test_hex_encoded_untrusted_strings() -> None:
    r = rec("type=PATH msg=audit(1.000:1): item=0 name=2F746D702F6120622F63 nametype=CREATE")
    assert r.fields["name"] == "/tmp/a b/c"
    r = rec("type=SYSCALL msg=audit(1.000:1): comm=6D7920636F6D6D exe=2F746D702F78 key=(null)")
    assert r.fields["comm"] == "my comm"
    assert r.fields["exe"] == "/tmp/x"
    assert "key" not in r.fields
    r = rec("type=CWD msg=audit(1.000:1): cwd=2F686F6D652F612062")
    assert r.fields["cwd"] == "/home/a b"
    # a quoted value is never decoded, even when it looks like hex
    assert rec('type=CWD msg=audit(1.000:1): cwd="abcd"').fields["cwd"] == "abcd"
    # not hex (odd length, non-hex): left as written
    assert rec("type=CWD msg=audit(1.000:1): cwd=abc").fields["cwd"] == "abc"
    assert rec("type=CWD msg=audit(1.000:1): cwd=zz").fields["cwd"] == "zz"
    # invalid UTF-8 is replaced, never raised
    assert rec("type=CWD msg=audit(1.000:1): cwd=2FFF").fields["cwd"] == "/\ufffd"


def test_proctitle_nul_separators() -> None:
    r = rec("type=PROCTITLE msg=audit(1.000:1): proctitle=6E63002D6C7670003434343400")
    assert r.fields["proctitle"] == "nc -lvp 4444"
    r = rec('type=PROCTITLE msg=audit(1.000:1): proctitle="/usr/sbin/sshd"')
    assert r.fields["proctitle"] == "/usr/sbin/sshd"


def test_execve_args_hex_only_in_execve() -> None:
    r = rec('type=EXECVE msg=audit(1.000:1): argc=3 a0="ls" a1=2D6C61 a2=612062')
    assert [r.fields[f"a{i}"] for i in range(3)] == ["ls", "-la", "a b"]
    # SYSCALL a0..a3 are registers, not strings
    assert rec("type=SYSCALL msg=audit(1.000:1): a0=4142").fields["a0"] == "4142"
    assert execve_args(r.fields) == ["ls", "-la", "a b"]


def test_execve_long_argument_chunks() -> None:
    arg = "é" * 5000 + "x"  # 10001 bytes: a chunk boundary splits a character
    hexed = arg.encode().hex().upper()
    chunks = [hexed[i : i + 7500] for i in range(0, len(hexed), 7500)]
    fields: dict[str, str] = {}
    first = rec(f'type=EXECVE msg=audit(1.000:1): argc=3 a0="/bin/echo" a1_len={len(hexed)} '
                f"a1[0]={chunks[0]}")  # fmt: skip
    fields.update(first.fields)
    for i, chunk in enumerate(chunks[1:], 1):
        fields.update(rec(f"type=EXECVE msg=audit(1.000:1):  a1[{i}]={chunk}").fields)
    fields.update(rec('type=EXECVE msg=audit(1.000:1):  a2="end"').fields)
    assert fields["a1[0]"] == chunks[0]  # chunks stay hex
    assert execve_args(fields) == ["/bin/echo", arg, "end"]


def test_execve_args_missing_pieces() -> None:
    assert execve_args({}) is None
    assert execve_args({"argc": "x"}) is None
    assert execve_args({"argc": "3", "a0": "a", "a2": "c"}) == ["a", "c"]
    assert execve_args({"argc": "1", "a0_len": "4", "a0[0]": '"ab"', "a0[1]": '"cd"'}) == ["abcd"]
    assert execve_args({"argc": "1", "a0_len": "4", "a0[0]": "6162", "a0[1]": "6364"}) == ["abcd"]


def test_tty_data_is_decoded() -> None:
    r = rec("type=TTY msg=audit(1.000:1): tty pid=9 uid=0 auid=1000 ses=1 major=136 minor=0 "
            'comm="sh" data=6964202D756E0A')  # fmt: skip
    assert r.fields["data"] == "id -un\n"
    assert r.fields["pid"] == "9"
    # "data" is not hex-decoded for other record types
    assert rec("type=X msg=audit(1.000:1): data=4142").fields["data"] == "4142"


def test_null_and_question_mark_mean_no_value() -> None:
    r = rec("type=USER_LOGIN msg=audit(1.000:1): pid=1 uid=0 auid=4294967295 ses=4294967295 "
            "msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=? "
            "terminal=ssh res=failed'")  # fmt: skip
    assert r.fields == {
        "pid": "1", "uid": "0", "auid": UNSET_ID, "ses": UNSET_ID, "op": "login",
        "acct": "root", "exe": "/usr/sbin/sshd", "terminal": "ssh", "res": "failed",
    }  # fmt: skip


def test_user_message_multiword_op() -> None:
    r = rec("type=ADD_GROUP msg=audit(1.000:1): pid=5 uid=0 auid=1000 ses=4 "
            "msg='op=adding group to /etc/group id=1002 exe=\"/usr/sbin/groupadd\" "
            "res=success'")  # fmt: skip
    assert r.fields["op"] == "adding group to /etc/group"
    assert r.fields["id"] == "1002"
    r = rec("type=ADD_GROUP msg=audit(1.000:1): pid=5 msg='op= id=1002 res=success'")
    assert r.fields["op"] == ""
    r = rec("type=USER_CMD msg=audit(1.000:1): pid=5 uid=1000 msg='cwd=\"/home/a\" "
            "cmd=636174202F6574632F736861646F77 terminal=pts/0 res=success'")  # fmt: skip
    assert r.fields["cmd"] == "cat /etc/shadow"
    assert r.fields["cwd"] == "/home/a"


def test_acct_hex_encoded() -> None:
    r = rec("type=USER_AUTH msg=audit(1.000:1): pid=1 msg='op=PAM:authentication "
            "acct=626F622073706163 res=failed'")  # fmt: skip
    assert r.fields["acct"] == "bob spac"


def test_multiple_rule_keys() -> None:
    hexed = b"k1\x01k2".hex().upper()
    assert rec(f"type=SYSCALL msg=audit(1.000:1): key={hexed}").fields["key"] == "k1,k2"


def test_selinux_avc_result_and_permissions() -> None:
    r = rec("type=AVC msg=audit(1.000:1): avc:  denied  { read write } for  pid=2 "
            'comm="httpd" name="shadow" tclass=file permissive=0')  # fmt: skip
    assert r.fields["seresult"] == "denied"
    assert r.fields["seperms"] == "read,write"
    assert r.fields["name"] == "shadow"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "\n",
        "garbage",
        "type=SYSCALL",
        "type=SYSCALL msg=audit(",
        "type=SYSCALL msg=audit(1764138049.123:): x=1",
        "type=SYSCALL msg=audit(abc:12): x=1",
        "type= msg=audit(1.0:1): x",
        "node= type=X",
        "audit(1.000:1): x=1",  # netlink text without its type number
        "\x00\x01\x02",
    ],
)
def test_garbage_gives_none(line: str) -> None:
    assert parse_audit_record(line) is None


def test_values_that_need_care() -> None:
    r = rec('type=X msg=audit(1.000:1): a="unterminated b=2 c=')
    assert r.fields == {"a": "unterminated", "b": "2"}
    assert rec('type=X msg=audit(1.000:1): a=""').fields == {"a": ""}
    r = rec("type=X msg=audit(1.000:1): a=1 \r\n")
    assert r.fields == {"a": "1"}
    assert r.raw == "type=X msg=audit(1.000:1): a=1 "


def test_syscall_names() -> None:
    assert syscall_name("c000003e", "59") == "execve"
    assert syscall_name("C000003E", "42") == "connect"
    assert syscall_name("c00000b7", "221") == "execve"
    assert syscall_name("40000003", "11") == "execve"
    assert syscall_name("x86_64", "322") == "execveat"
    assert syscall_name("c000003e", "400") == "400"  # unused number
    assert syscall_name("c000003e", "99999") == "99999"
    assert syscall_name("deadbeef", "59") == "59"
    assert syscall_name("c000003e", "") == ""
    assert arch_name("c000003e") == "x86_64"
    assert arch_name("c0000015") == "c0000015"


def test_public_api() -> None:
    assert set(audit_record.__all__) == {
        "SYSCALL_AUX_TYPES", "UNSET_ID", "AuditRecord", "arch_name", "execve_args",
        "parse_audit_record", "syscall_name", "type_name", "type_number",
    }  # fmt: skip
    for name in audit_record.__all__:
        assert hasattr(audit_record, name)
