"""The size watcher on binary logs (wtmp, btmp, lastlog): clearing is reported, rotation
is not."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import msgspec
import pytest

from keibi.sources.notices import DELETED, SYMLINK, TRUNCATED
from keibi.sources.watch import SizeWatcher, WatchMark

RECORD = bytes(range(256)) + b"\0" * 128  # one 384-byte utmp-sized record


@pytest.fixture
def wtmp(tmp_path: Path) -> Path:
    p = tmp_path / "wtmp"
    p.write_bytes(RECORD * 5)
    return p


def actions(w: SizeWatcher) -> list[str]:
    w.poll()
    return [n.action for n in w.take_notices()]


def stop(w: SizeWatcher) -> WatchMark:
    cp = msgspec.msgpack.decode(msgspec.msgpack.encode(w.checkpoint()), type=WatchMark)
    w.close()
    return cp


def test_growth_is_quiet_and_truncation_is_reported(wtmp: Path) -> None:
    w = SizeWatcher(str(wtmp))
    try:
        with open(wtmp, "ab") as fh:
            fh.write(RECORD)
        assert actions(w) == []
        os.truncate(wtmp, 0)  # > /var/log/wtmp
        w.poll()
        (n,) = w.take_notices()
        assert n.action == TRUNCATED and (n.size_before, n.size_after) == (6 * 384, 0)
        assert actions(w) == []
        wtmp.write_bytes(RECORD * 2)  # refilled, then one record edited out (utmpdump -r)
        assert actions(w) == []
        os.truncate(wtmp, 384)
        assert actions(w) == [TRUNCATED]
        assert w.status()["notices"] == 2
    finally:
        w.close()


@pytest.mark.parametrize("how", ["rename+create", "copytruncate", "copytruncate+gzip"])
def test_rotations_are_not_reported(wtmp: Path, how: str) -> None:
    w = SizeWatcher(str(wtmp), rotate_wait=0.05)
    try:
        if how == "rename+create":
            os.rename(wtmp, f"{wtmp}.1")
            assert actions(w) == []
            time.sleep(0.1)
            assert actions(w) == []  # renamed, not deleted
            wtmp.write_bytes(b"")
        elif how == "copytruncate":
            shutil.copyfile(wtmp, f"{wtmp}.1")
            os.truncate(wtmp, 0)
        else:
            Path(f"{wtmp}.1.gz").write_bytes(gzip.compress(wtmp.read_bytes()))
            os.truncate(wtmp, 0)
        assert actions(w) == []
        with open(wtmp, "ab") as fh:
            fh.write(RECORD)
        assert actions(w) == []
    finally:
        w.close()


def test_deleted_and_replaced_by_a_link(wtmp: Path, tmp_path: Path) -> None:
    w = SizeWatcher(str(wtmp), rotate_wait=0.05)
    try:
        wtmp.unlink()
        assert actions(w) == []  # within rotate_wait: maybe a rotation
        time.sleep(0.1)
        assert actions(w) == [DELETED]
        assert actions(w) == []
        wtmp.write_bytes(RECORD)  # comes back: watched again
        assert actions(w) == []
        link = tmp_path / "l"
        link.symlink_to("/dev/null")
        os.replace(link, wtmp)
        w.poll()
        (n,) = w.take_notices()
        assert n.action == SYMLINK and n.target == "/dev/null"
        time.sleep(0.1)
        assert actions(w) == []
    finally:
        w.close()


def test_missing_from_the_start_is_quiet(tmp_path: Path) -> None:
    w = SizeWatcher(str(tmp_path / "btmp"), rotate_wait=0)
    assert actions(w) == [] and w.status()["exists"] is False
    w.close()


def test_while_stopped(wtmp: Path) -> None:
    cp = stop(SizeWatcher(str(wtmp)))
    os.truncate(wtmp, 384)
    w = SizeWatcher(str(wtmp), cp)
    (n,) = w.take_notices()
    assert n.action == TRUNCATED and n.while_stopped and n.size_before == 5 * 384
    cp = stop(w)
    wtmp.unlink()
    w = SizeWatcher(str(wtmp), cp, rotate_wait=0.05)
    assert w.take_notices() == []
    time.sleep(0.1)
    w.poll()
    (n,) = w.take_notices()
    assert n.action == DELETED and n.while_stopped
    w.close()


def test_copytruncate_while_stopped_is_quiet(wtmp: Path) -> None:
    cp = stop(SizeWatcher(str(wtmp)))
    shutil.copyfile(wtmp, f"{wtmp}.1")
    os.truncate(wtmp, 0)
    w = SizeWatcher(str(wtmp), cp)
    assert actions(w) == []
    cp = stop(w)
    os.rename(wtmp, f"{wtmp}.2")  # renamed away, nothing at the path: not deleted
    w = SizeWatcher(str(wtmp), cp, rotate_wait=0)
    assert actions(w) == []
    w.close()
