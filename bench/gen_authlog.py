"""Generate a large, seeded, realistic auth.log with its own ground truth.

    python bench/gen_authlog.py OUT.log [--lines 1000000] [--seed 7]

Writes OUT.log (classic syslog format, as Debian's rsyslog writes /var/log/auth.log) and
OUT.log.truth.json. The mix: internet brute-force bursts (sshd writes several lines per
attempt: `Invalid user`, PAM failures, `Failed password`, `message repeated`), slow brute
forcers that stay just under the threshold, password sprays, brute forces that end in a
successful login, benign key and password logins with their sessions, sudo, cron
sessions, and account changes.

Truth: an "attempt" is one authentication attempt (one `Failed ...` line, or N for
`message repeated N times`). A brute-forcing IP is one with MORE THAN 5 attempts inside
some 10-minute window; a taken-over IP is a brute forcer followed by an accepted login
from the same IP within 30 minutes of its brute force. Attempt times of distinct
patterns never fall on the window's edges (at least 5 s away), so the truth does not
depend on whether a window is open or closed at its ends.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
from datetime import UTC, datetime

WINDOW = 600.0
THRESHOLD = 5
TAKEOVER_WINDOW = 1800.0
START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
DAYS = 30
HOST = "web01"

USERS = ["alice", "bob", "carol", "deploy", "backup", "ops"]
GUESSES = ["admin", "test", "oracle", "postgres", "ubuntu", "user", "guest", "pi", "git",
           "ftpuser", "support", "mysql", "hadoop", "nagios", "root", "www-data", "jenkins",
           "minecraft", "teamspeak", "steam", "ansible", "vagrant", "centos", "ec2-user"]


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.lines: list[tuple[float, int, str]] = []
        self.seq = 0
        self.attempts: dict[str, list[float]] = {}
        self.successes: dict[str, list[float]] = {}
        self.pid = 1000
        self.session = 1
        self.used_ips: set[str] = set()
        self.kind: dict[str, str] = {}

    # -- helpers -----------------------------------------------------------------------
    def emit(self, ts: float, prog: str, pid: int | None, msg: str) -> None:
        dt = datetime.fromtimestamp(int(ts), UTC)
        stamp = f"{dt:%b} {dt.day:>2} {dt:%H:%M:%S}"
        tag = f"{prog}[{pid}]" if pid is not None else prog
        self.lines.append((ts, self.seq, f"{stamp} {HOST} {tag}: {msg}"))
        self.seq += 1

    def newpid(self) -> int:
        self.pid = self.pid + self.r.randint(1, 40)
        if self.pid > 4_000_000:
            self.pid = 1000
        return self.pid

    def public_ip(self) -> str:
        while True:
            a = self.r.choice([45, 61, 80, 91, 103, 116, 141, 159, 170, 185, 193, 212, 218])
            ip = f"{a}.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}"
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip

    def port(self) -> int:
        return self.r.randint(32768, 65535)

    def attempt(self, ts: float, ip: str, user: str, valid: bool, port: int, pid: int,
                repeated: int = 1) -> None:
        """One failed password attempt as sshd + PAM write it (`repeated` > 1 collapses)."""
        if not valid:
            self.emit(ts, "sshd", pid, f"Invalid user {user} from {ip} port {port}")
            self.emit(ts, "sshd", pid, "pam_unix(sshd:auth): check pass; user unknown")
            self.emit(ts, "sshd", pid, "pam_unix(sshd:auth): authentication failure; logname= "
                      f"uid=0 euid=0 tty=ssh ruser= rhost={ip}")
            self.emit(ts + 2, "sshd", pid,
                      f"Failed password for invalid user {user} from {ip} port {port} ssh2")
        else:
            self.emit(ts, "sshd", pid, "pam_unix(sshd:auth): authentication failure; logname= "
                      f"uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}")
            self.emit(ts + 2, "sshd", pid, f"Failed password for {user} from {ip} port {port} ssh2")
        self.attempts.setdefault(ip, []).append(float(int(ts + 2)))
        if repeated > 1:
            self.emit(ts + 4, "sshd", pid, f"message repeated {repeated - 1} times: [ Failed "
                      f"password for {'invalid user ' if not valid else ''}{user} from {ip} "
                      f"port {port} ssh2]")
            self.attempts[ip].extend([float(int(ts + 4))] * (repeated - 1))

    def close_conn(self, ts: float, ip: str, user: str, valid: bool, port: int, pid: int) -> None:
        who = f"authenticating user {user}" if valid else f"invalid user {user}"
        if self.r.random() < 0.5:
            self.emit(ts, "sshd", pid, f"Connection closed by {who} {ip} port {port} [preauth]")
        else:
            self.emit(ts, "sshd", pid, f"Received disconnect from {ip} port {port}:11: Bye Bye "
                      "[preauth]")
            self.emit(ts, "sshd", pid, f"Disconnected from {who} {ip} port {port} [preauth]")

    def login(self, ts: float, ip: str, user: str, method: str = "publickey") -> float:
        """A successful login with its session; returns the session's end time."""
        pid = self.newpid()
        port = self.port()
        uid = 0 if user == "root" else 1000 + (USERS.index(user) if user in USERS else 50)
        if method == "publickey":
            self.emit(ts, "sshd", pid, f"Accepted publickey for {user} from {ip} port {port} "
                      "ssh2: ED25519 SHA256:Vt9dG6qFb0Rz5hD0H3kP2mQqS7xYk3QeWm1n8c2b4aE")
        else:
            self.emit(ts, "sshd", pid, f"Accepted password for {user} from {ip} port {port} ssh2")
        self.successes.setdefault(ip, []).append(float(int(ts)))
        self.emit(ts, "sshd", pid,
                  f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)")
        sid = self.session
        self.session += 1
        self.emit(ts, "systemd-logind", 412, f"New session {sid} of user {user}.")
        end = ts + self.r.uniform(30, 3600)
        if user != "root" and self.r.random() < 0.4:
            for _ in range(self.r.randint(1, 4)):
                t = self.r.uniform(ts + 5, end)
                spid = self.newpid()
                cmd = self.r.choice(["/usr/bin/apt update", "/usr/bin/systemctl restart nginx",
                                     "/usr/bin/journalctl -u nginx", "/usr/bin/id",
                                     "/usr/bin/tail -n 50 /var/log/syslog"])
                self.emit(t, "sudo", spid, f"   {user} : TTY=pts/0 ; PWD=/home/{user} ; "
                          f"USER=root ; COMMAND={cmd}")
                self.emit(t, "sudo", spid, "pam_unix(sudo:session): session opened for user "
                          f"root(uid=0) by {user}(uid={uid})")
                self.emit(t + 1, "sudo", spid,
                          "pam_unix(sudo:session): session closed for user root")
        self.emit(end, "sshd", pid, f"Received disconnect from {ip} port {port}:11: "
                  "disconnected by user")
        self.emit(end, "sshd", pid, f"Disconnected from user {user} {ip} port {port}")
        self.emit(end, "sshd", pid, f"pam_unix(sshd:session): session closed for user {user}")
        self.emit(end, "systemd-logind", 412, f"Session {sid} logged out. Waiting for processes "
                  "to exit.")
        self.emit(end + 1, "systemd-logind", 412, f"Removed session {sid}.")
        return end

    # -- scenarios ---------------------------------------------------------------------
    def burst(self, ts: float, ip: str, n: int) -> float:
        """n attempts within minutes, several per connection; returns the last time."""
        t = ts
        left = n
        while left > 0:
            pid = self.newpid()
            port = self.port()
            user = self.r.choice(GUESSES)
            valid = user == "root"
            per_conn = min(left, self.r.randint(1, 6))
            i = 0
            while i < per_conn:
                if valid and per_conn - i >= 3 and self.r.random() < 0.15:
                    self.attempt(t, ip, user, valid, port, pid, repeated=2)
                    i += 2
                else:
                    self.attempt(t, ip, user, valid, port, pid)
                    i += 1
                t += self.r.uniform(1.5, 4.0)
            if per_conn >= 6 and valid:
                self.emit(t, "sshd", pid, f"error: maximum authentication attempts exceeded for "
                          f"{user} from {ip} port {port} ssh2 [preauth]")
                self.emit(t, "sshd", pid, f"Disconnecting authenticating user {user} {ip} port "
                          f"{port}: Too many authentication failures [preauth]")
                self.emit(t, "sshd", pid, "PAM 5 more authentication failures; logname= uid=0 "
                          f"euid=0 tty=ssh ruser= rhost={ip}  user={user}")
            else:
                self.close_conn(t, ip, user, valid, port, pid)
            left -= per_conn
            t += self.r.uniform(0.5, 3.0)
        return t

    def slow(self, ts: float, ip: str, n: int) -> None:
        """n attempts spaced 125-170 s apart: never more than 5 in 10 minutes."""
        t = ts
        for _ in range(n):
            pid = self.newpid()
            port = self.port()
            user = self.r.choice(GUESSES)
            valid = user == "root"
            self.attempt(t, ip, user, valid, port, pid)
            self.close_conn(t + 3, ip, user, valid, port, pid)
            t += self.r.uniform(125, 170)

    def spray(self, ts: float, ip: str, users: int) -> None:
        t = ts
        for user in self.r.sample(GUESSES + USERS, users):
            pid = self.newpid()
            port = self.port()
            valid = user in USERS or user == "root"
            self.attempt(t, ip, user, valid, port, pid)
            self.close_conn(t + 3, ip, user, valid, port, pid)
            t += self.r.uniform(8, 30)

    def cron(self, ts: float) -> None:
        pid = self.newpid()
        self.emit(ts, "CRON", pid, "pam_unix(cron:session): session opened for user root(uid=0) "
                  "by (uid=0)")
        self.emit(ts + 1, "CRON", pid, "pam_unix(cron:session): session closed for user root")

    def account_change(self, ts: float) -> None:
        name = f"svc{self.r.randint(100, 999)}"
        pid = self.newpid()
        self.emit(ts, "groupadd", pid, f"group added to /etc/group: name={name}, GID=1{pid % 900}")
        self.emit(ts, "groupadd", pid, f"new group: name={name}, GID=1{pid % 900}")
        self.emit(ts, "useradd", pid, f"new user: name={name}, UID=1{pid % 900}, GID=1{pid % 900}, "
                  f"home=/home/{name}, shell=/bin/bash, from=/dev/pts/0")
        if self.r.random() < 0.3:
            self.emit(ts + 5, "usermod", self.newpid(), f"add '{name}' to group 'sudo'")
            self.emit(ts + 5, "usermod", self.pid, f"add '{name}' to shadow group 'sudo'")


def build(n_lines: int, seed: int) -> tuple[list[str], dict[str, object]]:
    g = Gen(seed)
    r = g.r
    span = DAYS * 86400.0
    office = [f"10.20.{r.randint(0, 3)}.{r.randint(2, 250)}" for _ in range(12)]
    kinds: dict[str, set[str]] = {"burst": set(), "slow": set(), "spray": set(),
                                  "takeover": set(), "typo": set()}
    while len(g.lines) < n_lines:
        x = r.random()
        ts = START + r.uniform(0, span - 7200)
        if x < 0.30:
            ip = g.public_ip()
            kinds["burst"].add(ip)
            end = g.burst(ts, ip, r.randint(6, 40))
            if r.random() < 0.04:
                kinds["takeover"].add(ip)
                g.login(end + r.uniform(20, 900), ip, r.choice(["root", "admin"]
                        if r.random() < 0.5 else ["root"]), method="password")
        elif x < 0.40:
            ip = g.public_ip()
            kinds["slow"].add(ip)
            g.slow(ts, ip, r.randint(3, 12))
        elif x < 0.45:
            ip = g.public_ip()
            kinds["spray"].add(ip)
            g.spray(ts, ip, r.randint(5, 14))
        elif x < 0.47:
            ip = g.public_ip()
            g.burst(ts, ip, r.randint(1, 4))  # a short probe: below any threshold
        elif x < 0.75:
            g.cron(ts)
        elif x < 0.97:
            user = r.choice(USERS)
            ip = r.choice(office)
            if r.random() < 0.1:  # a typo first: one or two failures, then success
                kinds["typo"].add(ip)
                pid = g.newpid()
                port = g.port()
                for k in range(r.randint(1, 2)):
                    g.attempt(ts + 3 * k, ip, user, True, port, pid)
                ts += 10
            g.login(ts, ip, user, method="publickey" if r.random() < 0.8 else "password")
        else:
            g.account_change(ts)
    g.lines.sort()
    lines = [ln for _, _, ln in g.lines]

    brute: dict[str, float] = {}
    brute_open: set[str] = set()
    for ip, times in g.attempts.items():
        times.sort()
        for i in range(len(times)):
            # window closed at both ends [t, t + 600] ...
            if bisect.bisect_right(times, times[i] + WINDOW) - i > THRESHOLD:
                brute.setdefault(ip, times[i + THRESHOLD])
            # ... and open at its far end [t, t + 600)
            if bisect.bisect_left(times, times[i] + WINDOW) - i > THRESHOLD:
                brute_open.add(ip)
    edge_cases = len(set(brute) ^ brute_open)
    takeover = sorted(ip for ip, t0 in brute.items()
                      if any(t0 <= s <= t0 + TAKEOVER_WINDOW
                             for s in g.successes.get(ip, [])))
    truth: dict[str, object] = {
        "lines": len(lines),
        "seed": seed,
        "threshold": f"more than {THRESHOLD} attempts in {int(WINDOW)} s per source IP",
        "brute_force_ips": sorted(brute),
        "takeover_ips": takeover,
        "slow_ips": sorted(kinds["slow"] - set(brute)),
        "spray_ips": sorted(kinds["spray"]),
        "attempts": sum(len(v) for v in g.attempts.values()),
        "edge_cases": edge_cases,
    }
    return lines, truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    lines, truth = build(a.lines, a.seed)
    with open(a.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
        fh.write("\n")
    with open(a.out + ".truth.json", "w", encoding="utf-8") as fh:
        json.dump(truth, fh, indent=1)
    print(f"{a.out}: {len(lines)} lines, {len(truth['brute_force_ips'])} brute-force IPs "  # type: ignore[arg-type]
          f"({len(truth['takeover_ips'])} taken over), edge cases {truth['edge_cases']}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
