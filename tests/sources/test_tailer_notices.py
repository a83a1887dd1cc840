"""Indicator removal seen by the tailer: truncation, deletion, a symbolic link — and the
rotations that must NOT be reported (rename+create, copytruncate, compressed copies)."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import msgspec
import pytest

from keibi.sources.notices import DELETED, SYMLINK, TRUNCATED
from keibi.sources.tailer import Checkpoint, FileTailer, wait_for_change


def append(p: Path, data: str) -> None:
    with open(p, "a") as f:
        f.write(data)


def lines(a: int, b: int) -> str:
    return "".join(f"line {i} of the log\n" for i in range(a, b))


def texts(t: FileTailer) -> list[str]:
    return [x.text for x in t.read_batch(100_000)]


def actions(t: FileTailer) -> list[str]:
    return [n.action for n in t.take_notices()]


def stop(t: FileTailer) -> Checkpoint:
    """Close ``t``; its checkpoint as the store would give it back."""
    cp = msgspec.msgpack.decode(msgspec.msgpack.encode(t.checkpoint()), type=Checkpoint)
    t.close()
    return cp


@pytest.fixture
def log(tmp_path: Path) -> Path:
    p = tmp_path / "auth.log"
    append(p, lines(0, 20))
    return p


def test_truncation_without_a_copy_is_reported_once(log: Path) -> None:
    size = log.stat().st_size
    with FileTailer(str(log)) as t:
        assert len(texts(t)) == 20 and actions(t) == []
        os.truncate(log, 0)
        append(log, "after\n")
        assert texts(t) == ["after"]
        (n,) = t.take_notices()
        assert n.action == TRUNCATED and n.path == str(log)
        assert (n.size_before, n.size_after) == (size, len("after\n"))
        assert n.inode == log.stat().st_ino and not n.while_stopped
        assert abs(n.time - time.time()) < 5 and "no rotated file" in n.detail
        assert texts(t) == [] and actions(t) == []
        assert t.status()["notices"] == 1


def test_partial_truncation_and_rewrite_in_place(log: Path) -> None:
    with FileTailer(str(log)) as t:
        texts(t)
        os.truncate(log, log.stat().st_size - 40)  # the last lines cut away
        texts(t)
        assert actions(t) == [TRUNCATED]
        data = log.read_bytes()
        log.write_bytes(b"X" + data[1:] + lines(90, 95).encode())  # same inode, edited
        texts(t)
        assert actions(t) == [TRUNCATED]


@pytest.mark.parametrize("how", ["plain", "gzip", "short"])
def test_copytruncate_is_not_reported(log: Path, how: str) -> None:
    with FileTailer(str(log)) as t:
        texts(t)
        data = log.read_bytes()
        if how == "plain":
            shutil.copyfile(log, f"{log}.1")
        elif how == "gzip":
            Path(f"{log}.1.gz").write_bytes(gzip.compress(data))
        else:  # copied before the last lines were written and read: still its copy
            Path(f"{log}.1").write_bytes(data[:100])
        os.truncate(log, 0)
        append(log, "after\n")
        assert "after" in texts(t)
        assert actions(t) == []


def test_rename_create_and_a_late_create_are_not_reported(log: Path) -> None:
    with FileTailer(str(log), rotate_wait=0.05) as t:
        texts(t)
        os.rename(log, f"{log}.1")
        time.sleep(0.1)  # nocreate: the path names nothing for a while
        assert texts(t) == [] and actions(t) == []
        time.sleep(0.1)
        assert texts(t) == [] and actions(t) == []
        append(log, "new\n")
        assert texts(t) == ["new"]
        os.rename(f"{log}.1", f"{log}.2")
        os.rename(log, f"{log}.1")
        append(log, "newer\n")
        assert texts(t) == ["newer"] and actions(t) == []


def test_delete_and_recreate_within_rotate_wait_is_a_rotation(log: Path) -> None:
    with FileTailer(str(log), rotate_wait=5) as t:
        texts(t)
        log.unlink()
        assert texts(t) == []
        append(log, "again\n")
        assert texts(t) == ["again"] and actions(t) == []


def test_deleted_and_nothing_in_its_place(log: Path) -> None:
    with FileTailer(str(log), rotate_wait=0.2) as t:
        texts(t)
        size = log.stat().st_size
        with open(log, "a") as writer:  # a daemon that still writes to the deleted file
            log.unlink()
            writer.write("written after the unlink\n")
            writer.flush()
            assert texts(t) == ["written after the unlink"]
            assert actions(t) == []
            started = time.monotonic()
            assert wait_for_change([t], 5)  # woken by the rotate_wait timer
            assert time.monotonic() - started < 1
            texts(t)
            (n,) = t.take_notices()
        assert n.action == DELETED and n.size_before == size + 25
        # said once, and no busy loop on the timer afterwards
        started = time.monotonic()
        assert not wait_for_change([t], 0.3)
        assert time.monotonic() - started >= 0.25
        assert texts(t) == [] and actions(t) == []
        append(log, "back\n")  # coming back later: read from 0
        assert texts(t) == ["back"]


def test_replaced_by_a_symlink(log: Path, tmp_path: Path) -> None:
    with FileTailer(str(log), rotate_wait=0.05) as t:
        texts(t)
        tmp_link = tmp_path / "tmp-link"
        tmp_link.symlink_to("/dev/null")
        os.replace(tmp_link, log)  # ln -sf /dev/null auth.log
        texts(t)
        (n,) = t.take_notices()
        assert n.action == SYMLINK and n.target == "/dev/null"
        time.sleep(0.1)
        texts(t)
        assert actions(t) == []  # the old file is unlinked, but the link says it all


def test_a_symlink_from_the_start_is_not_a_replacement(tmp_path: Path) -> None:
    target = tmp_path / "real.log"
    append(target, "x\n")
    link = tmp_path / "auth.log"
    link.symlink_to(target)
    with FileTailer(str(link)) as t:
        texts(t)
        assert actions(t) == [] and t.warnings


def test_truncated_while_stopped(log: Path) -> None:
    t = FileTailer(str(log))
    texts(t)
    cp_size = log.stat().st_size
    cp = stop(t)
    os.truncate(log, 0)
    append(log, "after\n")
    t = FileTailer(str(log), checkpoint=cp)
    try:
        assert texts(t) == ["after"]
        (n,) = t.take_notices()
        assert n.action == TRUNCATED and n.while_stopped
        assert (n.size_before, n.size_after) == (cp_size, 6)
    finally:
        t.close()


def test_deleted_while_stopped(log: Path) -> None:
    t = FileTailer(str(log))
    texts(t)
    cp = stop(t)
    log.unlink()
    t = FileTailer(str(log), checkpoint=cp)
    try:
        assert texts(t) == []
        (n,) = t.take_notices()
        assert n.action == DELETED and n.while_stopped
    finally:
        t.close()


@pytest.mark.parametrize("how", ["rename", "copytruncate", "rename+gzip"])
def test_rotations_while_stopped_are_not_reported(log: Path, how: str) -> None:
    t = FileTailer(str(log))
    texts(t)
    cp = stop(t)
    if how == "copytruncate":
        shutil.copyfile(log, f"{log}.1")
        os.truncate(log, 0)
    else:
        os.rename(log, f"{log}.1")
        if how == "rename+gzip":
            Path(f"{log}.1.gz").write_bytes(gzip.compress(Path(f"{log}.1").read_bytes()))
            os.unlink(f"{log}.1")
        append(log, "new\n")
    t = FileTailer(str(log), checkpoint=cp)
    try:
        texts(t)
        assert actions(t) == []
    finally:
        t.close()
