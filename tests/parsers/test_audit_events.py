"""ECS events from audit records: the mappings the corpus does not reach."""

from __future__ import annotations

import msgspec

from keibi.events.encoding import dumps, loads
from keibi.events.model import Event
from keibi.parsers import audit_events
from keibi.parsers.audit_events import build_event, command_line, decode_sockaddr
from keibi.parsers.audit_record import AuditRecord, parse_audit_record

T = 1764138049
SC = "arch=c000003e success=yes exit=0 ppid=1 pid=50 auid=1000 uid=0 gid=0 euid=0 ses=3"


def recs(*lines: str, serial: int = 1) -> list[AuditRecord]:
    out = []
    for text in lines:
        rtype, _, body = text.partition(" ")
        rec = parse_audit_record(f"type={rtype} msg=audit({T}.500:{serial}): {body}")
        assert rec is not None, text
        out.append(rec)
    return out


def event(*lines: str) -> Event:
    ev = build_event(recs(*lines))
    assert loads(dumps(ev)) == ev
    return ev


def test_sockaddr_families() -> None:
    assert decode_sockaddr("0200A89B7F0000010000000000000000") == {
        "family": "inet", "port": 43163, "ip": "127.0.0.1"
    }  # fmt: skip
    v6 = "0A009603000000000000000000000000000000000000000100000000"
    assert decode_sockaddr(v6) == {"family": "inet6", "port": 38403, "ip": "::1"}
    mapped = "0A0001BB" + "00000000" + "00000000000000000000FFFFCB007109" + "00000000"
    assert decode_sockaddr(mapped) == {"family": "inet6", "port": 443, "ip": "203.0.113.9"}
    path = "01002F72756E2F646275732F73797374656D5F6275735F736F636B657400" + "AB" * 20
    assert decode_sockaddr(path) == {"family": "unix", "path": "/run/dbus/system_bus_socket"}
    abstract = "0100" + "00" + b"@hidden".hex() + "0000"
    assert decode_sockaddr(abstract) == {"family": "unix", "path": "@@hidden"}
    assert decode_sockaddr("100000000000000000000000") == {"family": "netlink", "pid": 0}
    assert decode_sockaddr("1100AABB") == {"family": "17"}
    big_endian = {"family": "inet", "port": 43163, "ip": "127.0.0.1"}
    assert decode_sockaddr("0002A89B7F000001") == big_endian
    assert decode_sockaddr("zz") is None
    assert decode_sockaddr("02") is None
    assert decode_sockaddr("0200") == {"family": "2"}


def test_command_line_quotes_only_what_needs_it() -> None:
    assert command_line(["ls", "-la", "/tmp"]) == "ls -la /tmp"
    assert command_line(["echo", "", "a b", "it's", "$HOME", "x;y"]) == (
        "echo '' 'a b' 'it'\"'\"'s' '$HOME' 'x;y'"
    )
    assert command_line(["curl", "https://h/p?q=1"]) == "curl 'https://h/p?q=1'"
    assert command_line(["python3", "-c", "print(1)"]) == "python3 -c 'print(1)'"


def test_execveat_and_32_bit_execve() -> None:
    ev = event(f"SYSCALL {SC} syscall=322 items=1 comm=\"x\" exe=\"/tmp/x\"",
               'EXECVE argc=2 a0="x" a1="y"')  # fmt: skip
    assert (ev.action, ev.process_args, ev.get("auditd.data.syscall")) == (
        "process-started", ("x", "y"), "execveat")
    ev = event("SYSCALL arch=40000003 syscall=11 success=yes exit=0 items=1 pid=5 uid=0 "
               'exe="/tmp/a.out"', 'EXECVE argc=1 a0="/tmp/a.out"')  # fmt: skip
    assert ev.action == "process-started"
    assert ev.get("auditd.data.arch") == "i386"


def test_execve_without_syscall_still_gives_argv() -> None:
    ev = event('EXECVE argc=2 a0="/bin/ls" a1="-l"', 'CWD cwd="/root"')
    assert ev.action == "process-started"
    assert ev.process_args == ("/bin/ls", "-l")
    assert ev.process_executable == "/bin/ls"
    assert ev.outcome is None


def test_unset_auid_and_unresolved_names_are_absent() -> None:
    ev = event(
        "SYSCALL arch=c000003e syscall=59 success=yes items=0 pid=2 auid=4294967295 uid=1001 "
        'ses=4294967295 exe="/bin/x"\x1dAUID="unset" UID="unknown(1001)"',
        'EXECVE argc=1 a0="x"',
    )
    assert ev.user_audit_id is None and ev.user_audit_name is None
    assert ev.user_id == "1001" and ev.user_name is None
    assert ev.get("auditd.session") is None
    assert ev.related_user is None


def test_file_paths_relative_to_a_directory_fd_stay_relative() -> None:
    ev = event(f"SYSCALL {SC} syscall=263 a0=3 items=2 exe=\"/usr/bin/rm\"",
               'CWD cwd="/home/a"', 'PATH item=0 name="d" nametype=PARENT',
               'PATH item=1 name="f" inode=5 nametype=DELETE mode=0100644')  # fmt: skip
    assert (ev.action, ev.type, ev.file_path) == ("file-unlinkat", ("deletion",), "f")
    ev = event(f"SYSCALL {SC} syscall=263 a0=ffffff9c items=2 exe=\"/usr/bin/rm\"",
               'CWD cwd="/home/a"', 'PATH item=0 name="d/" nametype=PARENT',
               'PATH item=1 name="d/../f" nametype=DELETE')  # fmt: skip
    assert ev.file_path == "/home/a/f"
    # creat(2) takes a path, not a directory fd, whatever its a0
    ev = event(f"SYSCALL {SC} syscall=85 a0=55aa items=2 exe=\"/tmp/x\"", 'CWD cwd="/srv"',
               'PATH item=0 name="/srv" nametype=PARENT', 'PATH item=1 name="n" nametype=CREATE')
    assert (ev.action, ev.file_path, ev.type) == ("file-creat", "/srv/n", ("creation",))


def test_chmod_gives_the_new_mode_and_link_the_old_path() -> None:
    ev = event(f"SYSCALL {SC} syscall=90 a0=55 a1=9ed items=1",
               'PATH item=0 name="/usr/local/bin/x" mode=0100755 nametype=NORMAL')  # fmt: skip
    assert (ev.action, ev.file_mode, ev.type) == ("file-chmod", "4755", ("change",))
    ev = event(f"SYSCALL {SC} syscall=86 items=3", 'PATH item=0 name="/etc/passwd" nametype=NORMAL',
               'PATH item=1 name="/tmp/" nametype=PARENT',
               'PATH item=2 name="/tmp/p" nametype=CREATE')  # fmt: skip
    assert (ev.action, ev.file_path, ev.type) == ("file-link", "/tmp/p", ("creation",))
    assert ev.get("auditd.data.old_path") == "/etc/passwd"
    ev = event(f"SYSCALL {SC} syscall=2 items=1", 'PATH item=0 name="/etc/shadow" nametype=NORMAL')
    assert (ev.action, ev.type) == ("file-open", ("access",))


def test_accept_and_bind_addresses_are_the_source() -> None:
    ev = event(f"SYSCALL {SC} syscall=43 items=0", "SOCKADDR saddr=0200D4317F000001" + "0" * 16)
    assert (ev.action, ev.source_ip, ev.source_port, ev.type) == (
        "network-accept", "127.0.0.1", 54321, ("connection", "start"))
    ev = event(f"SYSCALL {SC} syscall=49 items=0", "SOCKADDR saddr=0200115C00000000" + "0" * 16)
    assert (ev.action, ev.source_ip, ev.source_port, ev.type) == (
        "network-bind", "0.0.0.0", 4444, ("info",))
    assert ev.related_ip == ("0.0.0.0",)
    # connect without SOCKADDR is a plain syscall event
    assert event(f"SYSCALL {SC} syscall=42 items=0").action == "syscall-connect"


def test_generic_syscall_keeps_the_process_title() -> None:
    ev = event(f"SYSCALL {SC} syscall=62 items=0 exe=\"/usr/bin/kill\"",
               "OBJ_PID opid=9 oauid=0 ouid=0 oses=1 ocomm=\"sshd\"",
               "PROCTITLE proctitle=6B696C6C002D390039")  # fmt: skip
    assert (ev.action, ev.category) == ("syscall-kill", ("process",))
    assert ev.get("process.title") == "kill -9 9"


def test_pam_and_login_variants() -> None:
    ev = event("USER_LOGIN pid=3 uid=0 auid=4294967295 ses=4294967295 msg='op=login id=1000 "
               'exe="/usr/sbin/sshd" hostname=bastion.example addr=198.51.100.7 terminal=ssh '
               "res=success'\x1dUID=\"root\" ID=\"alice\"")  # fmt: skip
    assert (ev.user_id, ev.user_name, ev.source_ip, ev.source_domain) == (
        "1000", "alice", "198.51.100.7", "bastion.example")
    assert ev.category == ("authentication", "session")
    ev = event("USER_AUTH pid=3 uid=0 msg='op=PAM:authentication grantors=? acct=\"bob\" "
               'exe="/usr/sbin/sshd" hostname=203.0.113.5 addr=? terminal=ssh '
               "res=failed'")  # fmt: skip
    assert (ev.user_name, ev.source_ip, ev.outcome) == ("bob", "203.0.113.5", "failure")
    assert event("USER_LOGOUT pid=3 uid=0 msg='op=logout id=0 res=success'").action == "user-logout"
    ev = event("CRED_REFR pid=3 uid=0 msg='acct=\"a\" res=success'")
    assert ev.action == "credentials-refreshed"
    ev = event("USER_ERR pid=3 uid=0 msg='op=PAM:bad_ident acct=\"?\" res=failed'")
    assert (ev.action, ev.user_name) == ("user-error", None)


def test_account_management_variants() -> None:
    base = "pid=4 uid=0 auid=1000 ses=2 msg='op={op} acct=\"{acct}\" exe=\"/sbin/x\" res=success'"
    cases = {
        "USER_CHAUTHTOK": ("changing password", "alice", "password-changed"),
        "USER_MGMT": ("changing-shell", "alice", "user-modified"),
        "ACCT_LOCK": ("locking account", "alice", "user-locked"),
        "ACCT_UNLOCK": ("unlocking account", "alice", "user-unlocked"),
        "GRP_MGMT": ("add-user-to-group", "wheel", "group-modified"),
        "GRP_CHAUTHTOK": ("changing group password", "wheel", "group-password-changed"),
        "DEL_GROUP": ("delete-group", "devs", "group-deleted"),
    }
    for rtype, (op, acct, action) in cases.items():
        ev = event(f"{rtype} " + base.format(op=op, acct=acct))
        assert ev.action == action, rtype
        assert ev.category == ("iam",)
        assert ev.get("auditd.data.op") == op
        if "group" in action:
            assert (ev.group_name, ev.user_target_name) == (acct, None)
        else:
            assert (ev.user_target_name, ev.group_name) == (acct, None)
        assert ev.user_id == "0" and ev.user_audit_id == "1000"


def test_config_change_key_is_data_not_the_events_key() -> None:
    ev = event('CONFIG_CHANGE auid=1000 ses=2 op=remove_rule key="persistence" list=4 res=1')
    assert ev.get("auditd.key") is None
    assert ev.get("auditd.data.key") == "persistence"
    assert ev.get("auditd.data.list_name") == "exit"
    assert (ev.action, ev.outcome) == ("audit-config-changed", "success")
    ev = event("CONFIG_CHANGE auid=0 ses=1 op=remove_rule key=(null) list=4 res=0")
    assert ev.outcome == "failure"
    assert event("FEATURE_CHANGE feature=loginuid_immutable old=0 new=1 res=1").action == (
        "audit-config-changed"
    )


def test_daemon_and_host_records() -> None:
    actions = {
        "DAEMON_ABORT op=abort auid=0 pid=9 res=failed": "audit-daemon-abort",
        "DAEMON_ROTATE op=rotate-logs auid=0 pid=9 res=success": "audit-daemon-rotate",
        "DAEMON_CONFIG op=reconfigure auid=0 pid=9 res=success": "audit-daemon-config",
        "SYSTEM_BOOT pid=1 uid=0 msg=' comm=\"systemd-update-utmp\" res=success'": "system-boot",
        "SYSTEM_SHUTDOWN pid=1 uid=0 msg=' res=success'": "system-shutdown",
        "SYSTEM_RUNLEVEL pid=1 uid=0 msg='new-level=5 res=success'": "system-runlevel-changed",
        'KERN_MODULE name="evil"': "kernel-module-loaded",
        "NETFILTER_CFG table=filter family=2 entries=4 op=xt_replace": "netfilter-config-changed",
        "BPF prog-id=34 op=LOAD": "bpf-program-load",
        "TIME_ADJNTPVAL op=offset old=0 new=1": "system-time-changed",
        "ANOM_LOGIN_FAILURES pid=5 msg='acct=\"root\" res=success'": "anomaly-login-failures",
        "ANOM_LINK op=linkat ppid=1 pid=5 auid=0 uid=0": "anomaly-link",
        "ANOM_CREAT op=open cause=sticky_dir pid=5": "anomaly-creat",
        'INTEGRITY_RULE file="/usr/bin/x" hash="sha256:ab" pid=5': "audit-integrity-rule",
        "SOFTWARE_UPDATE pid=5 msg='op=install sw=\"bash-5.2\" res=success'": "software-updated",
        "MAC_POLICY_LOAD auid=0 ses=1 lsm=selinux res=1": "mac-policy-loaded",
        "MAC_CONFIG_CHANGE bool=httpd_can_network_connect val=1 old_val=0": "mac-config-changed",
    }  # fmt: skip
    for line, action in actions.items():
        ev = event(line)
        assert ev.action == action, line
        assert ev.category and ev.type, line
    ev = event("ANOM_LOGIN_FAILURES pid=5 uid=0 msg='op=login-failures acct=\"root\" res=success'")
    assert ev.category == ("authentication",)


def test_mac_decisions() -> None:
    ev = event('SELINUX_ERR op=security_compute_sid invalid_context="x:y:z" for scontext=a '
               "tcontext=b tclass=process")  # fmt: skip
    assert (ev.action, ev.outcome, ev.category) == ("mac-denied", "failure", ("process",))
    ev = event("AVC avc:  granted  { setenforce } for  pid=5 comm=\"setenforce\" tclass=security")
    assert (ev.action, ev.type, ev.category) == ("mac-allowed", ("allowed",), ("host",))
    ev = event('AVC apparmor="ALLOWED" operation="exec" profile="p" name="/usr/bin/nc" pid=5')
    assert (ev.action, ev.category, ev.file_path) == ("mac-allowed", ("file",), "/usr/bin/nc")
    ev = event('APPARMOR_DENIED apparmor="DENIED" operation="connect" profile="p" pid=5 comm="x" '
               'family="inet" sock_type="stream"')  # fmt: skip
    assert (ev.action, ev.category) == ("mac-denied", ("host",))
    ev = event('AVC apparmor="AUDIT" operation="getattr" profile="p" name="/etc/x" pid=5')
    assert (ev.action, ev.outcome) == ("mac-audit", "unknown")
    ev = event("USER_AVC pid=1 uid=0 msg='avc:  denied  { send_msg } for tclass=dbus'")
    assert ev.action == "mac-denied"


def test_login_uid_record() -> None:
    ev = event("LOGIN pid=7 uid=0 subj=x old-auid=4294967295 auid=1000 tty=(none) "
               "old-ses=4294967295 "
               "ses=5 res=1\x1dUID=\"root\" OLD-AUID=\"unset\" AUID=\"alice\"")  # fmt: skip
    assert (ev.action, ev.user_audit_id, ev.user_audit_name, ev.process_pid) == (
        "login-uid-set", "1000", "alice", 7)
    assert ev.get("auditd.data.old-auid") == "4294967295"


def test_generic_event_never_drops_a_record() -> None:
    assert event("EOE").action == "syscall-unknown"
    ev = event("UNKNOWN[4000] some=thing")
    assert ev.action == "audit-unknown-4000"
    assert ev.get("auditd.data.some") == "thing"
    assert ev.dataset == "keibi.audit" and ev.module == "auditd"


def test_event_carries_raw_lines_and_offset() -> None:
    first, title = recs(f"SYSCALL {SC} syscall=2 items=0", "PROCTITLE proctitle=6C73")
    records = [msgspec.structs.replace(first, offset=77), title]
    ev = build_event(records, flags=("incomplete",), path="/a.log", hostname="h")
    assert ev.original == "\n".join(r.raw for r in records)
    assert (ev.log_offset, ev.log_file_path, ev.host_name) == (77, "/a.log", "h")
    assert ev.flags == ("incomplete",)


def test_public_api() -> None:
    assert set(audit_events.__all__) == {
        "DATASET", "MODULE", "build_event", "command_line", "decode_sockaddr"
    }  # fmt: skip
