"""keibi hunt vs fail2ban-regex vs a bare line loop, on one generated auth.log.

    .venv/bin/python bench/bench_hunt_vs_fail2ban.py [--lines 1000000] [--seed 7]

Prints, side by side for the same file: lines/s and peak RSS of `keibi hunt` (full
detection, built-in rules), of `fail2ban-regex FILE /etc/fail2ban/filter.d/sshd.conf`
(Debian's fail2ban), and of a bare Python loop that only reads the lines (the floor);
then how exact each one's brute-force verdicts are against the generator's own truth
(more than 5 attempts in 10 minutes per source IP).

Every tool runs as a child process on Debian's /usr/bin/python3 (what an admin runs);
peak RSS is the child's ru_maxrss from wait4 (the largest process of its tree: keibi hunt
parses a large file in worker processes), "all procs" the sum of each process's peak, and
"peak PSS" the largest sum of the tree's proportional set sizes seen (shared pages counted
once: the memory the tool held at once), sampled every 20 ms.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
F2B_FILTER = "/etc/fail2ban/filter.d/sshd.conf"


def _proc_mb(path: str, name: str) -> float:
    """The ``name:`` figure (kB) of a /proc file, in MB (0 when the process is gone)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _hwm_mb(pid: int) -> float:
    return _proc_mb(f"/proc/{pid}/status", "VmHWM:")


def _pss_mb(pid: int) -> float:
    """Proportional set size: pages shared with other processes (the interpreter, the
    libraries) counted in shares, so a tree's sum is what it holds at once."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def run_measured(argv: list[str], stdout_path: Path
                 ) -> tuple[float, float, float, float, int]:
    """(wall seconds, peak RSS in MB, sum of the peak RSS of it and its child processes
    in MB, exit status) of one child process. The peak is ru_maxrss from wait4 (the
    largest of the process tree); the sum comes from sampling /proc every 20 ms (each
    process's own peak, added up: an upper bound of what they held at once), then the
    peak of the tree's summed PSS (shared pages in shares: what it held at once), sampled
    every 20 ms."""
    peaks: dict[int, float] = {}
    pss_peak = [0.0]
    done = threading.Event()

    def sample(root: int) -> None:
        while not done.is_set():
            todo = [root]
            pss = 0.0
            while todo:
                pid = todo.pop()
                peaks[pid] = max(peaks.get(pid, 0.0), _hwm_mb(pid))
                pss += _pss_mb(pid)
                todo += _children(pid)
            pss_peak[0] = max(pss_peak[0], pss)
            done.wait(0.02)

    with stdout_path.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr and proc.stderr.close()
    if proc.returncode not in (0, 1):
        print(f"  {argv[0]} exited {proc.returncode}: {err[-2000:]}", file=sys.stderr)
    peak = usage.ru_maxrss / 1024.0
    return wall, peak, max(peak, sum(peaks.values())), pss_peak[0], proc.returncode


def flagged_by_window(rows: dict[str, list[float]], more_than: int, window: float) -> set[str]:
    out = set()
    for ip, times in rows.items():
        times.sort()
        for i in range(len(times)):
            if bisect.bisect_right(times, times[i] + window) - i > more_than:
                out.add(ip)
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-fail2ban", action="store_true")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    log = OUT / f"auth-{a.lines}-{a.seed}.log"
    truth_path = Path(str(log) + ".truth.json")
    if not log.exists() or not truth_path.exists():
        subprocess.run([PY, str(HERE / "gen_authlog.py"), str(log), "--lines", str(a.lines),
                        "--seed", str(a.seed)], check=True)
    truth = json.loads(truth_path.read_text())
    n_lines = int(truth["lines"])
    brute_truth = set(truth["brute_force_ips"])
    takeover_truth = set(truth["takeover_ips"])
    print(f"input: {log} ({n_lines:,} lines, {log.stat().st_size / 1e6:.0f} MB); truth: "
          f"{len(brute_truth)} brute-force IPs, {len(takeover_truth)} taken over, "
          f"{len(truth['slow_ips'])} slow forcers under the threshold, "
          f"{len(truth['spray_ips'])} sprays")
    print(f"python: {PY}")
    rows: list[tuple[str, float, float, float]] = []

    # 1. the floor: a bare loop reading lines
    floor_code = ("import sys\nn=0\nwith open(sys.argv[1],'rb') as f:\n for line in f: n+=1\n"
                  "print(n)")
    wall, rss, rss_sum, pss, _ = run_measured([PY, "-c", floor_code, str(log)],
                                              OUT / "floor.out")
    rows.append(("bare Python line loop (floor)", wall, rss, rss_sum, pss))

    # 2. keibi hunt, full detection
    keibi = [PY, "-c", "import sys; from keibi.cli.main import main; sys.exit(main())"]
    env_py = ROOT / ".venv" / "bin" / "python"
    if env_py.exists():
        keibi[0] = str(env_py)
    hunt_out = OUT / "hunt.jsonl"
    wall, rss, rss_sum, pss, _ = run_measured([*keibi, "hunt", "--json", "-q", str(log)],
                                              hunt_out)
    rows.append(("keibi hunt (full detection)", wall, rss, rss_sum, pss))
    keibi_wall = wall
    alerts = [json.loads(x) for x in hunt_out.read_text().splitlines() if x.strip()]
    by_rule: dict[str, set[str]] = {}
    for al in alerts:
        by_rule.setdefault(al["rule"]["name"], set()).add(al.get("source", {}).get("ip", ""))
    # the two built-in rules by their titles (other rules may mention brute force too)
    keibi_brute = by_rule.get("SSH Brute Force") or next(
        (v for k, v in by_rule.items() if "brute force" in k.lower()
         and "after" not in k.lower()), set())
    keibi_takeover = by_rule.get("SSH Login After Brute Force") or next(
        (v for k, v in by_rule.items() if "after" in k.lower()), set())

    # 3. fail2ban-regex
    f2b_brute: set[str] = set()
    f2b_default: set[str] = set()
    f2b_wall = None
    if not a.skip_fail2ban and shutil.which("fail2ban-regex"):
        wall, rss, rss_sum, pss, _ = run_measured(["fail2ban-regex", str(log), F2B_FILTER],
                                                  OUT / "f2b.out")
        rows.append(("fail2ban-regex sshd.conf", wall, rss, rss_sum, pss))
        f2b_wall = wall
        # the same run again, printing each failure it counts (ip, time) for exactness
        subprocess.run(["fail2ban-regex", "-o", "row", str(log), F2B_FILTER],
                       stdout=(OUT / "f2b_rows.out").open("wb"), stderr=subprocess.DEVNULL)
        per_ip: dict[str, list[float]] = {}
        for line in (OUT / "f2b_rows.out").read_text(errors="replace").splitlines():
            line = line.strip().rstrip(",")
            if not line.startswith("["):
                continue
            try:
                ip, ts = ast.literal_eval(line.replace("\t", " ").split(", {")[0] + "]")[:2]
            except (ValueError, SyntaxError):
                continue
            per_ip.setdefault(str(ip), []).append(float(ts))
        f2b_brute = flagged_by_window({k: list(v) for k, v in per_ip.items()}, 5, 600.0)
        f2b_default = flagged_by_window(per_ip, 4, 600.0)  # jail default: maxretry=5

    print()
    print(f"{'tool':<34} {'seconds':>8} {'lines/s':>11} {'peak RSS MB':>12} {'all procs MB':>13}"
          f" {'peak PSS MB':>12}")
    for name, wall, rss, rss_sum, pss in rows:
        print(f"{name:<34} {wall:>8.2f} {n_lines / wall:>11,.0f} {rss:>12.1f} {rss_sum:>13.1f}"
              f" {pss:>12.1f}")
    if f2b_wall:
        print(f"\nkeibi hunt is {f2b_wall / keibi_wall:.1f}x faster than fail2ban-regex")

    def verdict(name: str, got: set[str], truth_set: set[str]) -> None:
        fp = len(got - truth_set)
        fn = len(truth_set - got)
        print(f"{name:<44} flagged {len(got):>6}  false+ {fp:>6}  missed {fn:>6}"
              + ("  EXACT" if fp == fn == 0 else ""))

    print("\nbrute force (> 5 attempts in 10 min per IP):")
    verdict("keibi ssh brute force alerts", keibi_brute, brute_truth)
    if f2b_wall:
        verdict("fail2ban-regex matches, same window (>5/10m)", f2b_brute, brute_truth)
        verdict("fail2ban jail default (maxretry=5/10m)", f2b_default, brute_truth)
    print("account takeover (success after brute force, same IP):")
    verdict("keibi login-after-brute-force alerts", keibi_takeover, takeover_truth)
    print("\nkeibi alerts by rule: " + ", ".join(f"{k}: {len(v)}" for k, v in
                                                 sorted(by_rule.items())))


if __name__ == "__main__":
    main()
