"""Insert throughput of the SQLite store: ``python bench/bench_store.py [N] [BATCH]``.

Prints events/s for the canonical encoding alone and for ``Store.commit`` (which encodes
each event, then inserts), in batches as the live agent commits them, and the time of a
few typical searches over the result.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from keibi.events.encoding import dumps
from keibi.events.model import Event
from keibi.store.query import parse_filters
from keibi.store.sqlite import Store


def make_events(n: int, start: float = 1_790_000_000.0) -> list[Event]:
    """Events shaped like real ones: sshd logins, sudo commands, process starts."""
    users = [f"user{i}" for i in range(50)]
    out: list[Event] = []
    for i in range(n):
        ts = start + i * 0.001
        user = users[i % len(users)]
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        if i % 3 == 0:
            e = Event(
                timestamp=ts, category=("authentication",), type=("start",),
                action="ssh-login", outcome="failure" if i % 5 else "success",
                dataset="keibi.auth", host_name="web-1", source_ip=ip,
                source_port=40000 + i % 20000,
                user_name=user, process_name="sshd", process_pid=1000 + i % 30000,
                related_ip=(ip,), related_user=(user,), log_file_path="/var/log/auth.log",
                log_offset=i * 120,
                original=f"Nov 26 06:20:49 web-1 sshd[{1000 + i % 30000}]: Failed password "
                f"for {user} from {ip} port {40000 + i % 20000} ssh2",
            )
        elif i % 3 == 1:
            e = Event(
                timestamp=ts, category=("process",), type=("start",), action="sudo-command",
                outcome="success", dataset="keibi.auth", host_name="web-1", user_name=user,
                user_target_name="root", process_name="sudo",
                process_command_line=f"/usr/bin/systemctl restart app{i % 7}",
                related_user=(user, "root"), log_file_path="/var/log/auth.log",
                log_offset=i * 120,
            )
        else:
            e = Event(
                timestamp=ts, category=("process",), type=("start",), action="process-started",
                dataset="keibi.process", host_name="web-1", user_name=user,
                process_pid=2000 + i % 30000, process_name="bash",
                process_executable="/usr/bin/bash", process_args=("bash", "-c", f"echo {i}"),
                process_parent_pid=1999, process_parent_name="sshd",
            )
        out.append(e)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    events = make_events(n)

    t0 = time.perf_counter()
    for e in events:
        dumps(e)
    enc = time.perf_counter() - t0
    print(f"encode only:         {n / enc:>10,.0f} events/s")

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "keibi.db") as store:
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            chunk = events[i : i + batch]
            store.commit(chunk, checkpoints={"auth": str(i).encode()})
        took = time.perf_counter() - t0
        print(f"commit (batch {batch:>5}): {n / took:>10,.0f} events/s ({n:,} events, "
              "encoding included)")
        print(f"  SQLite share:        {n / (took - enc):>10,.0f} events/s (commit minus encode)")
        print(f"db size:             {store.stats().db_bytes / n:>10,.0f} bytes/event")

        for words in (["user.name=user7"], ["source.ip=10.0.1.2"], ["related.user=user3"],
                      ["process.command_line~app3"], ["Failed password"]):
            t0 = time.perf_counter()
            hits = store.search(parse_filters(words), limit=100)
            ms = (time.perf_counter() - t0) * 1000
            print(f"search {' '.join(words):<30} {len(hits):>4} hits {ms:8.1f} ms")


if __name__ == "__main__":
    main()
