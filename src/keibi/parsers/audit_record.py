"""One Linux audit record: its header, its fields, decoded.

A record is one line of ``audit.log`` or one netlink message from the kernel. The shapes
understood::

    type=SYSCALL msg=audit(1764138049.123:4567): arch=c000003e syscall=59 ...   (auditd RAW)
    ...same...\\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root"              (ENRICHED)
    node=web1 type=SYSCALL msg=audit(...): ...                                   (name_format)
    audit(1764138049.123:4567): arch=c000003e ...     + type number 1300         (netlink)
    ... audit: type=1300 audit(1764138049.123:4567): ...                         (kernel log)

Values are decoded the way the kernel and libaudit encode them: ``"quoted"`` strings lose
their quotes; an unquoted value of a field that may hold untrusted text (``exe``, ``comm``,
``name``, ``cwd``, ``proctitle``, ``acct``, ``cmd``, EXECVE ``aN``, TTY ``data``...) is hex
and is decoded (UTF-8, invalid bytes replaced); ``proctitle`` has its NUL separators turned
into spaces; ``(null)`` and ``?`` mean "no value" and are left out. The chunks of a long
EXECVE argument (``a1[0]=``, ``a1[1]=``...) stay hex, since a chunk boundary may split a
UTF-8 character: they keep their raw form (quotes included) and :func:`execve_args`
joins and decodes them. ``auid=4294967295`` (unset)
is kept as is; the event builder treats it as absent.

The inner ``msg='...'`` of user-space records (PAM, shadow-utils, sudo, systemd) is
flattened into the same fields. Its ``op=`` value may be several words (``op=adding user
id=1001``); words that follow an unquoted value up to the next ``key=`` are kept with it.

:func:`parse_audit_record` never raises: anything it cannot read gives ``None``.
"""

from __future__ import annotations

import re

import msgspec

__all__ = [
    "SYSCALL_AUX_TYPES",
    "UNSET_ID",
    "AuditRecord",
    "arch_name",
    "execve_args",
    "parse_audit_record",
    "syscall_name",
    "type_name",
    "type_number",
]

#: auid / ses value meaning "not set" (the kernel's (u32)-1).
UNSET_ID = "4294967295"


class AuditRecord(msgspec.Struct, frozen=True):
    """One audit record, its values decoded (see the module docstring)."""

    type: str
    timestamp: float
    serial: int
    node: str | None
    fields: dict[str, str]
    enriched: dict[str, str]
    offset: int | None = None
    raw: str = ""

    @property
    def event_id(self) -> str:
        """``<seconds>.<millis>:<serial>``, what auditd calls the event id."""
        head = self.raw.find("audit(")
        end = self.raw.find(")", head)
        if head >= 0 and end > head:
            return self.raw[head + 6 : end]
        return f"{self.timestamp:.3f}:{self.serial}"


# Record type numbers (linux/audit.h and libaudit.h).
_TYPES: dict[int, str] = {
    1005: "USER", 1006: "LOGIN",
    1100: "USER_AUTH", 1101: "USER_ACCT", 1102: "USER_MGMT", 1103: "CRED_ACQ",
    1104: "CRED_DISP", 1105: "USER_START", 1106: "USER_END", 1107: "USER_AVC",
    1108: "USER_CHAUTHTOK", 1109: "USER_ERR", 1110: "CRED_REFR", 1111: "USYS_CONFIG",
    1112: "USER_LOGIN", 1113: "USER_LOGOUT", 1114: "ADD_USER", 1115: "DEL_USER",
    1116: "ADD_GROUP", 1117: "DEL_GROUP", 1118: "DAC_CHECK", 1119: "CHGRP_ID", 1120: "TEST",
    1121: "TRUSTED_APP", 1122: "USER_SELINUX_ERR", 1123: "USER_CMD", 1124: "USER_TTY",
    1125: "CHUSER_ID", 1126: "GRP_AUTH", 1127: "SYSTEM_BOOT", 1128: "SYSTEM_SHUTDOWN",
    1129: "SYSTEM_RUNLEVEL", 1130: "SERVICE_START", 1131: "SERVICE_STOP", 1132: "GRP_MGMT",
    1133: "GRP_CHAUTHTOK", 1134: "MAC_CHECK", 1135: "ACCT_LOCK", 1136: "ACCT_UNLOCK",
    1137: "USER_DEVICE", 1138: "SOFTWARE_UPDATE",
    1200: "DAEMON_START", 1201: "DAEMON_END", 1202: "DAEMON_ABORT", 1203: "DAEMON_CONFIG",
    1204: "DAEMON_RECONFIG", 1205: "DAEMON_ROTATE", 1206: "DAEMON_RESUME",
    1207: "DAEMON_ACCEPT", 1208: "DAEMON_CLOSE", 1209: "DAEMON_ERR",
    1300: "SYSCALL", 1302: "PATH", 1303: "IPC", 1304: "SOCKETCALL", 1305: "CONFIG_CHANGE",
    1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE", 1311: "IPC_SET_PERM", 1312: "MQ_OPEN",
    1313: "MQ_SENDRECV", 1314: "MQ_NOTIFY", 1315: "MQ_GETSETATTR", 1316: "KERNEL_OTHER",
    1317: "FD_PAIR", 1318: "OBJ_PID", 1319: "TTY", 1320: "EOE", 1321: "BPRM_FCAPS",
    1322: "CAPSET", 1323: "MMAP", 1324: "NETFILTER_PKT", 1325: "NETFILTER_CFG",
    1326: "SECCOMP", 1327: "PROCTITLE", 1328: "FEATURE_CHANGE", 1329: "REPLACE",
    1330: "KERN_MODULE", 1331: "FANOTIFY", 1332: "TIME_INJOFFSET", 1333: "TIME_ADJNTPVAL",
    1334: "BPF", 1335: "EVENT_LISTENER", 1336: "URINGOP", 1337: "OPENAT2", 1338: "DM_CTRL",
    1339: "DM_EVENT",
    1400: "AVC", 1401: "SELINUX_ERR", 1402: "AVC_PATH", 1403: "MAC_POLICY_LOAD",
    1404: "MAC_STATUS", 1405: "MAC_CONFIG_CHANGE", 1406: "MAC_UNLBL_ALLOW",
    1407: "MAC_CIPSOV4_ADD", 1408: "MAC_CIPSOV4_DEL", 1409: "MAC_MAP_ADD", 1410: "MAC_MAP_DEL",
    1411: "MAC_IPSEC_ADDSA", 1412: "MAC_IPSEC_DELSA", 1413: "MAC_IPSEC_ADDSPD",
    1414: "MAC_IPSEC_DELSPD", 1415: "MAC_IPSEC_EVENT", 1416: "MAC_UNLBL_STCADD",
    1417: "MAC_UNLBL_STCDEL", 1418: "MAC_CALIPSO_ADD", 1419: "MAC_CALIPSO_DEL",
    1420: "MAC_TASK_CONTEXTS", 1421: "MAC_OBJ_CONTEXTS",
    1500: "APPARMOR", 1501: "APPARMOR_AUDIT", 1502: "APPARMOR_ALLOWED",
    1503: "APPARMOR_DENIED", 1504: "APPARMOR_HINT", 1505: "APPARMOR_STATUS",
    1506: "APPARMOR_ERROR", 1507: "APPARMOR_KILL",
    1700: "ANOM_PROMISCUOUS", 1701: "ANOM_ABEND", 1702: "ANOM_LINK", 1703: "ANOM_CREAT",
    1800: "INTEGRITY_DATA", 1801: "INTEGRITY_METADATA", 1802: "INTEGRITY_STATUS",
    1803: "INTEGRITY_HASH", 1804: "INTEGRITY_PCR", 1805: "INTEGRITY_RULE",
    1806: "INTEGRITY_EVM_XATTR", 1807: "INTEGRITY_POLICY_RULE",
    2000: "KERNEL",
    2100: "ANOM_LOGIN_FAILURES", 2101: "ANOM_LOGIN_TIME", 2102: "ANOM_LOGIN_SESSIONS",
    2103: "ANOM_LOGIN_ACCT", 2104: "ANOM_LOGIN_LOCATION", 2105: "ANOM_MAX_DAC",
    2106: "ANOM_MAX_MAC", 2107: "ANOM_AMTU_FAIL", 2108: "ANOM_RBAC_FAIL",
    2109: "ANOM_RBAC_INTEGRITY_FAIL", 2110: "ANOM_CRYPTO_FAIL", 2111: "ANOM_ACCESS_FS",
    2112: "ANOM_EXEC", 2113: "ANOM_MK_EXEC", 2114: "ANOM_ADD_ACCT", 2115: "ANOM_DEL_ACCT",
    2116: "ANOM_MOD_ACCT", 2117: "ANOM_ROOT_TRANS", 2118: "ANOM_LOGIN_SERVICE",
    2119: "ANOM_LOGIN_ROOT", 2120: "ANOM_ORIGIN_FAILURES", 2121: "ANOM_SESSION",
    2200: "RESP_ANOMALY", 2201: "RESP_ALERT", 2202: "RESP_KILL_PROC", 2203: "RESP_TERM_ACCESS",
    2204: "RESP_ACCT_REMOTE", 2205: "RESP_ACCT_LOCK_TIMED", 2206: "RESP_ACCT_UNLOCK_TIMED",
    2207: "RESP_ACCT_LOCK", 2208: "RESP_TERM_LOCK", 2209: "RESP_SEBOOL", 2210: "RESP_EXEC",
    2211: "RESP_SINGLE", 2212: "RESP_HALT", 2213: "RESP_ORIGIN_BLOCK",
    2214: "RESP_ORIGIN_BLOCK_TIMED", 2215: "RESP_ORIGIN_UNBLOCK_TIMED",
    2300: "USER_ROLE_CHANGE", 2301: "ROLE_ASSIGN", 2302: "ROLE_REMOVE", 2303: "LABEL_OVERRIDE",
    2304: "LABEL_LEVEL_CHANGE", 2305: "USER_LABELED_EXPORT", 2306: "USER_UNLABELED_EXPORT",
    2307: "DEV_ALLOC", 2308: "DEV_DEALLOC", 2309: "FS_RELABEL", 2310: "USER_MAC_POLICY_LOAD",
    2311: "ROLE_MODIFY", 2312: "USER_MAC_CONFIG_CHANGE", 2313: "USER_MAC_STATUS",
    2400: "CRYPTO_TEST_USER", 2401: "CRYPTO_PARAM_CHANGE_USER", 2402: "CRYPTO_LOGIN",
    2403: "CRYPTO_LOGOUT", 2404: "CRYPTO_KEY_USER", 2405: "CRYPTO_FAILURE_USER",
    2406: "CRYPTO_REPLAY_USER", 2407: "CRYPTO_SESSION", 2408: "CRYPTO_IKE_SA",
    2409: "CRYPTO_IPSEC_SA",
    2500: "VIRT_CONTROL", 2501: "VIRT_RESOURCE", 2502: "VIRT_MACHINE_ID",
    2503: "VIRT_INTEGRITY_CHECK", 2504: "VIRT_CREATE", 2505: "VIRT_DESTROY",
    2506: "VIRT_MIGRATE_IN", 2507: "VIRT_MIGRATE_OUT",
}  # fmt: skip
_NUMBERS: dict[str, int] = {name: number for number, name in _TYPES.items()}

#: Records that only describe the system call they belong to (the kernel writes them at
#: syscall exit, after the records logged during the call and before the EOE).
SYSCALL_AUX_TYPES = frozenset(
    {
        "SYSCALL", "EOE", "PATH", "CWD", "EXECVE", "PROCTITLE", "SOCKADDR", "BPRM_FCAPS",
        "CAPSET", "FD_PAIR", "MMAP", "IPC", "IPC_SET_PERM", "MQ_OPEN", "MQ_SENDRECV",
        "MQ_NOTIFY", "MQ_GETSETATTR", "SOCKETCALL", "OBJ_PID", "AVC_PATH", "OPENAT2",
        "KERNEL_OTHER", "URINGOP",
    }
)  # fmt: skip
_UNKNOWN = re.compile(r"UNKNOWN\[(\d{1,5})\]")


def type_name(number: int) -> str:
    """The record type name for a type number; ``UNKNOWN[n]`` as auditd writes it."""
    name = _TYPES.get(number)
    return name if name is not None else f"UNKNOWN[{number}]"


def type_number(name: str) -> int | None:
    """The type number of a record type name (also of ``UNKNOWN[n]``), None if unknown."""
    number = _NUMBERS.get(name)
    if number is None:
        m = _UNKNOWN.fullmatch(name)
        if m is not None:
            number = int(m.group(1))
    return number


# Fields whose unquoted values are hex (the kernel's audit_log_untrustedstring and libaudit's
# audit_encode_nv_string), after auparse's typetab.h.
_ESCAPED = frozenset(
    {
        "path", "comm", "exe", "file", "name", "watch", "cwd", "cmd", "acct", "dir", "key",
        "vm", "old-chardev", "new-chardev", "old-disk", "new-disk", "old-fs", "new-fs",
        "old-net", "new-net", "device", "cgroup", "apparmor", "operation", "denied_mask", "info",
        "profile", "requested_mask", "old-rng", "new-rng", "ocomm", "proctitle", "grp",
        "new_group", "invalid_context", "sw", "root_dir", "old-exe",
    }
)
_TTY_TYPES = frozenset({"TTY", "USER_TTY"})
_NO_VALUE = frozenset({"(null)", "?"})
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_EXECVE_ARG = re.compile(r"a\d+")

# Possessive quantifiers and "starts after a space" look-behinds keep every pattern
# linear on hostile input (a 1 MB run of key characters without "=", "node=node=...").
_HEAD = re.compile(r"(?:node=(\S++) )?type=(\S++) msg=audit\((\d++\.\d++):(\d++)\): ?")
_HEAD_ANY = re.compile(
    r"(?:(?<!\S)node=(\S++) )?(?<!\S)type=(\S++) (?:msg=)?audit\((\d++\.\d++):(\d++)\): ?"
)
_HEAD_NETLINK = re.compile(r"audit\((\d++\.\d++):(\d++)\): ?")
_KV = re.compile(r"(?<![\w\-\[\]])([\w\-\[\]]++)=(\"[^\"]*+\"|'[^']*+'|\S*+)")
_ENRICHED_KV = re.compile(r"(?<![\w\-])([\w\-]++)=(\"[^\"]*+\"|\{[^}]*+\}|\S*+)")
_AVC = re.compile(r"avc:\s++(\w++)\s++\{([^}]*+)\}")


def _unhex(value: str) -> str | None:
    if len(value) < 2 or _HEX.fullmatch(value) is None:
        return None
    return bytes.fromhex(value).decode("utf-8", "replace")


def _decode_key(value: str) -> str:
    # Several rule keys are joined by \x01 (AUDIT_KEY_SEPARATOR) and then hex-encoded.
    text = _unhex(value)
    if text is None:
        return value
    return ",".join(k for k in text.split("\x01") if k)


def _value(rtype: str, key: str, value: str) -> str | None:
    """The decoded value of one field, None for "no value"."""
    if rtype == "EXECVE" and key[-1:] == "]":
        return value  # a chunk of a long argument, decoded by execve_args
    first = value[:1]
    if first == '"':
        return value[1:-1] if value[-1:] == '"' and len(value) > 1 else value[1:]
    if value == "(null)" or value == "?" or value == "":
        return None
    if key in _ESCAPED:
        if key == "key":
            return _decode_key(value)
        text = _unhex(value)
        if text is None:
            return value
        if key == "proctitle":
            return text.rstrip("\x00").replace("\x00", " ")
        return text
    if rtype == "EXECVE" and _EXECVE_ARG.fullmatch(key) is not None:
        text = _unhex(value)
        return value if text is None else text
    if key == "data" and rtype in _TTY_TYPES:
        text = _unhex(value)
        return value if text is None else text
    return value


def _inner(rtype: str, text: str, fields: dict[str, str]) -> None:
    """Fields of a user-space ``msg='...'`` body, keeping multi-word unquoted values whole."""
    prev_key: str | None = None
    pos = 0
    for m in _KV.finditer(text):
        gap = text[pos : m.start()].strip()
        if gap and prev_key is not None and prev_key in fields:
            fields[prev_key] = f"{fields[prev_key]} {gap}"
        elif gap and prev_key is not None and prev_key == "op":
            fields["op"] = gap
        pos = m.end()
        key, raw = m.group(1), m.group(2)
        value = _value(rtype, key, raw)
        # Only unquoted values can run on over several words.
        prev_key = key if raw[:1] not in ('"', "'") else None
        if value is not None:
            fields[key] = value
        elif key == "op":
            fields[key] = ""


def _fields(rtype: str, body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    slow = rtype == "EXECVE" or rtype in _TTY_TYPES
    for key, raw in _KV.findall(body):
        first = raw[:1]
        if first == '"' and not slow:  # the common case, inline
            fields[key] = raw[1:-1] if raw[-1] == '"' and len(raw) > 1 else raw[1:]
        elif first == "'" and key == "msg":
            _inner(rtype, raw[1:-1] if raw.endswith("'") and len(raw) > 1 else raw[1:], fields)
        elif slow or key in _ESCAPED or raw in _NO_VALUE or not raw:
            value = _value(rtype, key, raw)
            if value is not None:
                fields[key] = value
        else:
            fields[key] = raw
    if "avc:" in body:
        m = _AVC.search(body)
        if m is not None:
            fields["seresult"] = m.group(1)
            fields["seperms"] = ",".join(m.group(2).split())
    return fields


def _enriched(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in _ENRICHED_KV.findall(text):
        if raw[:1] == '"' and raw[-1:] == '"' and len(raw) > 1:
            raw = raw[1:-1]
        out[key] = raw
    return out


def parse_audit_record(
    line: str, offset: int | None = None, type_number: int | None = None
) -> AuditRecord | None:
    """Parse one audit record, or return None when ``line`` is not one.

    ``type_number`` is given for records read from netlink, whose text has no ``type=``.
    """
    try:
        return _parse(line, offset, type_number)
    except (ValueError, IndexError):  # pragma: no cover - defensive: the regexes bound input
        return None


def _parse(line: str, offset: int | None, number: int | None) -> AuditRecord | None:
    line = line.rstrip("\r\n\x00")
    node: str | None = None
    if number is not None and line.startswith("audit("):
        mn = _HEAD_NETLINK.match(line)
        if mn is None:
            return None
        rtype = type_name(number)
        stamp, serial_s = mn.group(1), mn.group(2)
        rest = line[mn.end() :]
        raw = f"type={rtype} msg={line}"
    else:
        mh = _HEAD.match(line)
        if mh is None:
            mh = _HEAD_ANY.search(line)
            if mh is None:
                return None
        node, rtype, stamp, serial_s = mh.groups()
        if rtype.isdigit():
            rtype = type_name(int(rtype))
        elif rtype.startswith("UNKNOWN["):
            number = type_number(rtype)
            if number is not None:
                rtype = type_name(number)
        rest = line[mh.end() :]
        raw = line
    gs = rest.find("\x1d")
    if gs >= 0:
        body, enriched = rest[:gs], _enriched(rest[gs + 1 :])
    else:
        body, enriched = rest, {}
    return AuditRecord(
        type=rtype,
        timestamp=float(stamp),
        serial=int(serial_s),
        node=node,
        fields=_fields(rtype, body),
        enriched=enriched,
        offset=offset,
        raw=raw,
    )


def execve_args(fields: dict[str, str]) -> list[str] | None:
    """The full argv of EXECVE fields (merged over all EXECVE records of one event).

    Long arguments come as ``aN_len=`` plus hex chunks ``aN[0]=``, ``aN[1]=``...; they are
    joined before decoding. Missing arguments (a lost record) are skipped. None when the
    fields hold no ``argc``.
    """
    argc_s = fields.get("argc")
    if argc_s is None or not argc_s.isdigit():
        return None
    args: list[str] = []
    for i in range(min(int(argc_s), 1 << 16)):
        value = fields.get(f"a{i}")
        if value is not None:
            args.append(value)
            continue
        if f"a{i}_len" not in fields:
            continue
        chunks: list[str] = []
        quoted = False
        j = 0
        while (chunk := fields.get(f"a{i}[{j}]")) is not None:
            if chunk[:1] == '"':
                quoted = True
                chunk = chunk[1:-1] if chunk[-1:] == '"' and len(chunk) > 1 else chunk[1:]
            chunks.append(chunk)
            j += 1
        joined = "".join(chunks)
        text = None if quoted else _unhex(joined)
        args.append(text if text is not None else joined)
    return args


# System call names by audit arch, from ausyscall --dump ("-" marks an unused number).
_SYSCALLS_TEXT: dict[str, str] = {
    "x86_64": (
        "read write open close stat fstat lstat poll lseek mmap mprotect munmap brk "
        "rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread pwrite readv writev access pipe "
        "select sched_yield mremap msync mincore madvise shmget shmat shmctl dup dup2 pause "
        "nanosleep getitimer alarm setitimer getpid sendfile socket connect accept sendto "
        "recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair "
        "setsockopt getsockopt clone fork vfork execve exit wait4 kill uname semget semop "
        "semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync fdatasync truncate "
        "ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink "
        "readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage "
        "sysinfo times ptrace getuid syslog getgid setuid setgid geteuid getegid setpgid "
        "getppid getpgrp setsid setreuid setregid getgroups setgroups setresuid getresuid "
        "setresgid getresgid getpgid setfsuid setfsgid getsid capget capset rt_sigpending "
        "rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime mknod uselib "
        "personality ustat statfs fstatfs sysfs getpriority setpriority sched_setparam "
        "sched_getparam sched_setscheduler sched_getscheduler sched_get_priority_max "
        "sched_get_priority_min sched_rr_get_interval mlock munlock mlockall munlockall vhangup "
        "modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct "
        "settimeofday mount umount2 swapon swapoff reboot sethostname setdomainname iopl ioperm "
        "create_module init_module delete_module get_kernel_syms query_module quotactl "
        "nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid readahead setxattr "
        "lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr "
        "removexattr lremovexattr fremovexattr tkill time futex sched_setaffinity "
        "sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit io_cancel "
        "get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old "
        "remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 "
        "timer_create timer_settime timer_gettime timer_getoverrun timer_delete clock_settime "
        "clock_gettime clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill "
        "utimes vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend "
        "mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl "
        "ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages "
        "openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat "
        "symlinkat readlinkat fchmodat faccessat pselect6 ppoll unshare set_robust_list "
        "get_robust_list splice tee sync_file_range vmsplice move_pages utimensat epoll_pwait "
        "signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4 "
        "signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev "
        "rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 "
        "name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu "
        "process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr "
        "renameat2 seccomp getrandom memfd_create kexec_file_load bpf execveat userfaultfd "
        "membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free "
        "statx io_pgetevents rseq - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
        "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
        "- - - - - - - - - - - - - - - pidfd_send_signal io_uring_setup io_uring_enter "
        "io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open "
        "clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 "
        "mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule "
        "landlock_restrict_self memfd_secret process_mrelease futex_waitv "
        "set_mempolicy_home_node"
    ),
    "aarch64": (
        "io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr fsetxattr "
        "getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr "
        "fremovexattr getcwd lookup_dcookie eventfd2 epoll_create1 epoll_ctl epoll_pwait dup "
        "dup3 fcntl inotify_init1 inotify_add_watch inotify_rm_watch ioctl ioprio_set "
        "ioprio_get flock mknodat mkdirat unlinkat symlinkat linkat renameat umount2 mount "
        "pivot_root nfsservctl statfs fstatfs truncate ftruncate fallocate faccessat chdir "
        "fchdir chroot fchmod fchmodat fchownat fchown openat close vhangup pipe2 quotactl "
        "getdents lseek read write readv writev pread pwrite preadv pwritev sendfile pselect6 "
        "ppoll signalfd4 vmsplice splice tee readlinkat newfstatat newfstat sync fsync "
        "fdatasync sync_file_range timerfd_create timerfd_settime timerfd_gettime utimensat "
        "acct capget capset personality exit exit_group waitid set_tid_address unshare futex "
        "set_robust_list get_robust_list nanosleep getitimer setitimer kexec_load init_module "
        "delete_module timer_create timer_gettime timer_getoverrun timer_settime timer_delete "
        "clock_settime clock_gettime clock_getres clock_nanosleep syslog ptrace sched_setparam "
        "sched_setscheduler sched_getscheduler sched_getparam sched_setaffinity "
        "sched_getaffinity sched_yield sched_get_priority_max sched_get_priority_min "
        "sched_rr_get_interval restart_syscall kill tkill tgkill sigaltstack rt_sigsuspend "
        "rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigreturn "
        "setpriority getpriority reboot setregid setgid setreuid setuid setresuid getresuid "
        "setresgid getresgid setfsuid setfsgid times setpgid getpgid getsid setsid getgroups "
        "setgroups uname sethostname setdomainname getrlimit setrlimit getrusage umask prctl "
        "getcpu gettimeofday settimeofday adjtimex getpid getppid getuid geteuid getgid getegid "
        "gettid sysinfo mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr "
        "msgget msgctl msgrcv msgsnd semget semctl semtimedop semop shmget shmctl shmat shmdt "
        "socket socketpair bind listen accept connect getsockname getpeername sendto recvfrom "
        "setsockopt getsockopt shutdown sendmsg recvmsg readahead brk munmap mremap add_key "
        "request_key keyctl clone execve mmap fadvise64 swapon swapoff mprotect msync mlock "
        "munlock mlockall munlockall mincore madvise remap_file_pages mbind get_mempolicy "
        "set_mempolicy migrate_pages move_pages rt_tgsigqueueinfo perf_event_open accept4 "
        "recvmmsg - - - - - - - - - - - - - - - - wait4 prlimit64 fanotify_init fanotify_mark "
        "name_to_handle_at open_by_handle_at clock_adjtime syncfs setns sendmmsg "
        "process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr "
        "renameat2 seccomp getrandom memfd_create bpf execveat userfaultfd membarrier mlock2 "
        "copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx "
        "io_pgetevents rseq kexec_file_load - - - - - - - - - - - - - - - - - - - - - - - - - - "
        "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
        "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
        "- - - - - - - - - - - - - - - - - pidfd_send_signal io_uring_setup io_uring_enter "
        "io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open "
        "clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 "
        "mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule "
        "landlock_restrict_self memfd_secret process_mrelease futex_waitv "
        "set_mempolicy_home_node"
    ),
    "i386": (
        "restart_syscall exit fork read write open close waitpid creat link unlink execve chdir "
        "time mknod chmod lchown break oldstat lseek getpid mount umount setuid getuid stime "
        "ptrace alarm oldfstat pause utime stty gtty access nice ftime sync kill rename mkdir "
        "rmdir dup pipe times prof brk setgid getgid signal geteuid getegid acct umount2 lock "
        "ioctl fcntl mpx setpgid ulimit oldolduname umask chroot ustat dup2 getppid getpgrp "
        "setsid sigaction sgetmask ssetmask setreuid setregid sigsuspend sigpending sethostname "
        "setrlimit getrlimit getrusage gettimeofday settimeofday getgroups setgroups select "
        "symlink oldlstat readlink uselib swapon reboot readdir mmap munmap truncate ftruncate "
        "fchmod fchown getpriority setpriority profil statfs fstatfs ioperm socketcall syslog "
        "setitimer getitimer stat lstat fstat olduname iopl vhangup idle vm86old wait4 swapoff "
        "sysinfo ipc fsync sigreturn clone setdomainname uname modify_ldt adjtimex mprotect "
        "sigprocmask create_module init_module delete_module get_kernel_syms quotactl getpgid "
        "fchdir bdflush sysfs personality afs_syscall setfsuid setfsgid _llseek getdents "
        "_newselect flock msync readv writev getsid fdatasync _sysctl mlock munlock mlockall "
        "munlockall sched_setparam sched_getparam sched_setscheduler sched_getscheduler "
        "sched_yield sched_get_priority_max sched_get_priority_min sched_rr_get_interval "
        "nanosleep mremap setresuid getresuid vm86 query_module poll nfsservctl setresgid "
        "getresgid prctl rt_sigreturn rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait "
        "rt_sigqueueinfo rt_sigsuspend pread64 pwrite64 chown getcwd capget capset sigaltstack "
        "sendfile getpmsg putpmsg vfork ugetrlimit mmap2 truncate64 ftruncate64 stat64 lstat64 "
        "fstat64 lchown32 getuid32 getgid32 geteuid32 getegid32 setreuid32 setregid32 "
        "getgroups32 setgroups32 fchown32 setresuid32 getresuid32 setresgid32 getresgid32 "
        "chown32 setuid32 setgid32 setfsuid32 setfsgid32 pivot_root mincore madvise getdents64 "
        "fcntl64 - - gettid readahead setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr "
        "listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill sendfile64 "
        "futex sched_setaffinity sched_getaffinity set_thread_area get_thread_area io_setup "
        "io_destroy io_getevents io_submit io_cancel fadvise64 - exit_group lookup_dcookie "
        "epoll_create epoll_ctl epoll_wait remap_file_pages set_tid_address timer_create "
        "timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime "
        "clock_getres clock_nanosleep statfs64 fstatfs64 tgkill utimes fadvise64_64 vserver "
        "mbind get_mempolicy set_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive "
        "mq_notify mq_getsetattr sys_kexec_load waitid - add_key request_key keyctl ioprio_set "
        "ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat "
        "mkdirat mknodat fchownat futimesat fstatat64 unlinkat renameat linkat symlinkat "
        "readlinkat fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list "
        "splice sync_file_range tee vmsplice move_pages getcpu epoll_pwait utimensat signalfd "
        "timerfd_create eventfd fallocate timerfd_settime timerfd_gettime signalfd4 eventfd2 "
        "epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo "
        "perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at "
        "open_by_handle_at clock_adjtime syncfs sendmmsg setns process_vm_readv "
        "process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2 seccomp "
        "getrandom memfd_create bpf execveat socket socketpair bind connect listen accept4 "
        "getsockopt setsockopt getsockname getpeername sendto sendmsg recvfrom recvmsg shutdown "
        "userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect "
        "pkey_alloc pkey_free statx arch_prctl io_pgetevents rseq - - - - - - semget semctl "
        "shmget shmctl shmat shmdt msgget msgsnd msgrcv msgctl clock_gettime64 clock_settime64 "
        "clock_adjtime64 clock_getres_time64 clock_nanosleep_time64 timer_gettime64 "
        "timer_settime64 timerfd_gettime64 timerfd_settime64 utimensat_time64 pselect6_time64 "
        "ppoll_time64 - io_pgetevents_time64 recvmmsg_time64 mq_timedsend_time64 "
        "mq_timedreceive_time64 semtimedop_time64 rt_sigtimedwait_time64 futex_time64 "
        "sched_rr_get_interval64 pidfd_send_signal io_uring_setup io_uring_enter "
        "io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open "
        "clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 "
        "mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule "
        "landlock_restrict_self memfd_secret process_mrelease futex_waitv "
        "set_mempolicy_home_node"
    ),
}
_ARCHES: dict[str, str] = {"c000003e": "x86_64", "c00000b7": "aarch64", "40000003": "i386"}
_SYSCALLS: dict[str, tuple[str, ...]] = {
    arch: tuple(text.split()) for arch, text in _SYSCALLS_TEXT.items()
}


def arch_name(arch: str) -> str:
    """``x86_64`` for ``c000003e`` and so on; the hex code itself when not known."""
    return _ARCHES.get(arch.lower(), arch)


def syscall_name(arch: str, number: str) -> str:
    """The name of system call ``number`` on audit arch ``arch`` (hex code or name).

    Returns ``number`` unchanged when the arch or number is unknown.
    """
    table = _SYSCALLS.get(_ARCHES.get(arch.lower(), arch))
    if table is None or not number.isdigit():
        return number
    n = int(number)
    if n >= len(table) or table[n] == "-":
        return number
    return table[n]
