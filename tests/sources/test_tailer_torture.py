"""100,000 lines through rename and copytruncate rotations, compression and restarts.

Writer and reader steps alternate in one thread, chosen by a seeded generator, so every
run is the same run. The lines read must be exactly the lines written, in order.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

import msgspec
import pytest

from keibi.sources.tailer import Checkpoint, FileTailer

TOTAL = 100_000
KEEP = 30  # rotated files kept: the reader is never so far behind that one is deleted


class Writer:
    """A logging daemon: appends lines to the file it opened, reopens on request."""

    def __init__(self, path: Path, rng: random.Random) -> None:
        self.path = path
        self.rng = rng
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.n = 0
        self.rest = b""  # the unwritten end of a half-written line
        self.written: list[str] = []

    def finish_line(self) -> None:
        if self.rest:
            os.write(self.fd, self.rest)
            self.rest = b""

    def write(self, k: int) -> None:
        self.finish_line()
        chunk = []
        for _ in range(k):
            text = f"{self.n:06d} " + "é" * (self.n % 3) + "x" * self.rng.randint(0, 150)
            self.written.append(text)
            chunk.append(text.encode() + b"\n")
            self.n += 1
        data = b"".join(chunk)
        if self.rng.random() < 0.4:  # leave the last line half-written
            cut = len(data) - self.rng.randint(1, len(chunk[-1]))
            data, self.rest = data[:cut], data[cut:]
        os.write(self.fd, data)

    def reopen(self) -> None:
        self.finish_line()
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def close(self) -> None:
        self.finish_line()
        os.close(self.fd)


def shift(path: Path) -> None:
    """Make room for a new ``path.1`` (logrotate with compress + delaycompress)."""
    for n in range(KEEP, 1, -1):
        older = Path(f"{path}.{n}.gz")
        if older.exists():
            if n == KEEP:
                older.unlink()
            else:
                older.rename(f"{path}.{n + 1}.gz")
    one = Path(f"{path}.1")
    if one.exists():
        Path(f"{path}.2.gz").write_bytes(gzip.compress(one.read_bytes(), compresslevel=1))
        one.unlink()


def rotate_rename(path: Path) -> None:
    shift(path)
    path.rename(f"{path}.1")
    path.touch()  # "create"; the writer reopens later, at its HUP


def copytruncate(path: Path) -> None:
    shift(path)
    shutil.copyfile(path, f"{path}.1")
    os.truncate(path, 0)


def restart(t: FileTailer) -> FileTailer:
    blob = msgspec.msgpack.encode(t.checkpoint())
    t.close()
    cp = msgspec.msgpack.decode(blob, type=Checkpoint)
    return FileTailer(t.path, checkpoint=cp)


@pytest.mark.parametrize("seed", [20261101, 3])
def test_torture_exactly_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "syslog"
    w = Writer(path, rng)
    t = FileTailer(str(path))
    got: list[str] = []
    hup_in = -1  # writer steps until the writer reopens after a rename rotation
    restarts = rotations = copies = 0

    def read() -> int:
        batch = t.read_batch(rng.choice((1, 7, 100, 1000, 5000)))
        got.extend(x.text for x in batch)
        return len(batch)

    def catch_up() -> None:
        while read():
            pass

    next_restart = [30_000, 60_000, 85_000]
    while w.n < TOTAL:
        r = rng.random()
        if r < 0.45:
            w.write(rng.randint(1, 400))
            if hup_in > 0:
                hup_in -= 1
                if hup_in == 0:
                    w.reopen()
        elif r < 0.9:
            read()
        elif r < 0.95 and hup_in <= 0:
            rotate_rename(path)
            hup_in = rng.randint(1, 3)
            rotations += 1
        elif hup_in <= 0:
            w.finish_line()  # nothing is written between the copy and the truncate
            if rng.random() < 0.5:
                catch_up()
            elif t.checkpoint().fingerprint_size == 0:
                continue  # nothing read of this file yet: a truncation would be invisible
            copytruncate(path)
            copies += 1
        if next_restart and w.n >= next_restart[0]:
            kind = len(next_restart)
            next_restart.pop(0)
            restarts += 1
            blob = msgspec.msgpack.encode(t.checkpoint())
            t.close()
            # what happens while the agent is down
            if kind == 3:  # a rotation: the old file renamed, the new one has data
                w.write(50)
                if hup_in <= 0:
                    rotate_rename(path)
                    w.write(20)  # late lines into the renamed file
                    w.reopen()
                    w.write(30)
            elif kind == 2:
                w.write(10)
            else:  # the writer's HUP, then a copytruncate
                if hup_in > 0:
                    w.reopen()
                    hup_in = 0
                w.finish_line()
                copytruncate(path)
                w.write(40)
            t = FileTailer(str(path), checkpoint=msgspec.msgpack.decode(blob, type=Checkpoint))
    w.close()
    catch_up()
    t.close()
    assert restarts == 3 and rotations >= 3 and copies >= 3
    assert len(got) == len(w.written)
    assert got == w.written
