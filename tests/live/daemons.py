"""Real daemons for live tests: rsyslogd and sshd, each with a config of the test's own.

Nothing here touches the host's logging or SSH: rsyslogd listens on a socket in the
test's temp dir (not /dev/log), and sshd runs in a private mount namespace whose /dev/log
is that socket, on a loopback port, with its own host key, pid file and an AllowUsers
list naming only the test's own user. Each daemon is stopped by the pid we started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

NS_SETUP = r"""
import os, subprocess, sys
tmp, sock, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
old = os.path.join(tmp, "olddev")
os.makedirs(old, exist_ok=True)
subprocess.run(["mount", "--rbind", "/dev", old], check=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "keibi-test-dev", "/dev"], check=True)
for name in ("null", "zero", "urandom", "random", "tty", "full", "ptmx"):
    if os.path.exists(os.path.join(old, name)):
        open("/dev/" + name, "w").close()
        subprocess.run(["mount", "--bind", os.path.join(old, name), "/dev/" + name], check=True)
os.makedirs("/dev/pts", exist_ok=True)
if os.path.isdir(os.path.join(old, "pts")):
    subprocess.run(["mount", "--bind", os.path.join(old, "pts"), "/dev/pts"], check=True)
open("/dev/log", "w").close()
subprocess.run(["mount", "--bind", sock, "/dev/log"], check=True)
os.symlink("/proc/self/fd", "/dev/fd")
subprocess.run(["umount", "-l", old], check=True)
os.execv(argv[0], argv)
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_pid(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Rsyslog:
    """rsyslogd on ``tmp/log.sock``, writing auth/authpriv to ISO and classic files."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sock = tmp / "log.sock"
        self.auth_iso = tmp / "auth.log"
        self.auth_classic = tmp / "secure"
        conf = tmp / "rsyslog.conf"
        conf.write_text(
            'module(load="imuxsock" SysSock.Use="off")\n'
            f'input(type="imuxsock" Socket="{self.sock}")\n'
            f"$WorkDirectory {tmp}\n"
            "$RepeatedMsgReduction off\n"
            f"auth,authpriv.*  {self.auth_iso}\n"
            f"auth,authpriv.*  {self.auth_classic};RSYSLOG_TraditionalFileFormat\n"
        )
        self.proc = subprocess.Popen(
            ["/usr/sbin/rsyslogd", "-n", "-f", str(conf), "-i", str(tmp / "rsyslogd.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for(self.sock.exists, 10, "rsyslogd's socket")

    def stop(self) -> None:
        stop_pid(self.proc)


class Sshd:
    """OpenSSH's sshd on 127.0.0.1:PORT, logging through the test's rsyslogd."""

    def __init__(self, tmp: Path, log_socket: Path, allow_user: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        key = tmp / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        conf = tmp / "sshd_config"
        conf.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
            f"PidFile {tmp / 'sshd.pid'}\nUsePAM yes\nPasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication no\n"
            "PermitRootLogin no\nMaxAuthTries 10\nMaxStartups 100:30:200\n"
            f"AllowUsers {allow_user}\nSyslogFacility AUTH\nLogLevel INFO\n"
            "UseDNS no\n"
        )
        subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(conf)], check=True)
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c",
             NS_SETUP, str(tmp), str(log_socket), "/usr/sbin/sshd", "-D", "-f", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 15, "sshd to listen")

    def login(self, user: str, password: str) -> bool:
        """One password authentication attempt over real SSH; True when it succeeded."""
        r = subprocess.run(
            ["sshpass", "-p", password, "ssh", "-p", str(self.port),
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
             "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
             "-o", "LogLevel=ERROR", f"{user}@127.0.0.1", "true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60,
        )
        return r.returncode == 0

    def stop(self) -> None:
        stop_pid(self.proc)


class LocalUser:
    """A local account the test creates (and deletes), with a random password."""

    def __init__(self) -> None:
        self.name = "keibit" + secrets.token_hex(3)
        self.password = "K" + secrets.token_urlsafe(12)
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", self.name],
                       check=True)
        subprocess.run(["chpasswd"], input=f"{self.name}:{self.password}\n".encode(),
                       check=True)

    def delete(self) -> None:
        subprocess.run(["userdel", self.name], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def have_daemons() -> list[str]:
    """The programs these tests need that are missing (make test-deps installs them)."""
    need = ["/usr/sbin/rsyslogd", "/usr/sbin/sshd", "sshpass", "ssh", "unshare", "useradd"]
    return [p for p in need if shutil.which(p) is None and not os.path.exists(p)]
