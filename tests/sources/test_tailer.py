"""Live following: partial lines, rotation both ways, checkpoints, symlinks, waiting."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import time
from pathlib import Path

import msgspec
import pytest

import keibi.sources.tailer as tailer_mod
from keibi.sources.tailer import Checkpoint, FileTailer, wait_for_change


def append(p: Path, data: str | bytes) -> None:
    with open(p, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def texts(t: FileTailer, max_lines: int = 100_000) -> list[str]:
    return [x.text for x in t.read_batch(max_lines)]


def drain(t: FileTailer) -> list[str]:
    out: list[str] = []
    while batch := texts(t, 1000):
        out += batch
    return out


def roundtrip(cp: Checkpoint) -> Checkpoint:
    return msgspec.json.decode(msgspec.json.encode(cp), type=Checkpoint)


def lines(a: int, b: int, tag: str = "l") -> str:
    return "".join(f"{tag}{i}\n" for i in range(a, b))


def names(a: int, b: int, tag: str = "l") -> list[str]:
    return [f"{tag}{i}" for i in range(a, b)]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "auth.log"


def test_reads_from_start_and_holds_partial_lines(log: Path) -> None:
    append(log, "one\ntw")
    with FileTailer(str(log)) as t:
        got = t.read_batch()
        assert [(x.offset, x.text) for x in got] == [(0, "one")]
        assert t.checkpoint().offset == 4
        append(log, "o\nthr")
        assert texts(t) == ["two"]
        append(log, "ee\n")
        assert [(x.offset, x.text) for x in t.read_batch()] == [(8, "three")]
        assert t.read_batch() == []


def test_partial_line_emitted_after_timeout(log: Path) -> None:
    append(log, "a\nunfinished")
    with FileTailer(str(log), partial_timeout=0.05) as t:
        assert texts(t) == ["a"]
        assert texts(t) == []
        time.sleep(0.08)
        assert texts(t) == ["unfinished"]
        append(log, " rest\n")
        assert [(x.offset, x.text) for x in t.read_batch()] == [(12, " rest")]


def test_max_lines_and_checkpoint_between_batches(log: Path) -> None:
    append(log, lines(0, 100))
    t = FileTailer(str(log))
    assert texts(t, 30) == names(0, 30)
    cp = roundtrip(t.checkpoint())
    t.close()
    t = FileTailer(str(log), checkpoint=cp)
    assert drain(t) == names(30, 100)
    t.close()


def test_start_at_end(log: Path) -> None:
    append(log, "old\nhistory\nhalf a li")
    with FileTailer(str(log), start_at_end=True) as t:
        assert texts(t) == []
        append(log, "ne\nnew\n")
        assert texts(t) == ["half a line", "new"]


def test_start_at_end_of_missing_file_reads_it_from_zero_when_it_comes(log: Path) -> None:
    with FileTailer(str(log), start_at_end=True) as t:
        assert texts(t) == [] and t.status()["exists"] is False
        append(log, "first\n")
        assert texts(t) == ["first"]


def test_rename_create_rotation_with_late_writes_to_the_old_file(log: Path) -> None:
    append(log, lines(0, 10))
    with FileTailer(str(log)) as t:
        assert texts(t) == names(0, 10)
        writer = open(log, "ab", buffering=0)  # noqa: SIM115
        writer.write(lines(10, 12).encode())
        os.rename(log, str(log) + ".1")
        writer.write(lines(12, 14).encode())  # the daemon has not reopened yet
        assert texts(t) == names(10, 14)
        log.touch()  # logrotate's "create"
        assert texts(t) == []
        writer.write(lines(14, 15).encode())  # still before the HUP
        writer.close()
        append(log, lines(15, 20))
        assert texts(t) == names(14, 20)
        st = t.status()
        assert st["rotations"] == 1 and st["predecessors"] == 1
        assert st["inode"] == os.stat(log).st_ino


def test_rotation_drains_old_file_first(log: Path) -> None:
    append(log, lines(0, 5))
    with FileTailer(str(log)) as t:
        assert texts(t, 2) == names(0, 2)
        append(log, lines(5, 8))
        os.rename(log, str(log) + ".1")
        append(log, lines(100, 103))
        assert texts(t) == names(2, 8) + names(100, 103)


def test_new_file_not_created_yet_keeps_reading_old(log: Path) -> None:
    append(log, lines(0, 3))
    with FileTailer(str(log)) as t:
        assert texts(t) == names(0, 3)
        os.rename(log, str(log) + ".1")
        assert texts(t) == []
        append(Path(str(log) + ".1"), lines(3, 5))
        assert texts(t) == names(3, 5)
        assert t.status()["exists"] is False
        append(log, lines(5, 6))
        assert texts(t) == names(5, 6)


def test_file_deleted_and_recreated_is_read_from_zero(log: Path) -> None:
    append(log, lines(0, 3))
    with FileTailer(str(log), rotate_wait=0) as t:
        assert texts(t) == names(0, 3)
        log.unlink()
        assert texts(t) == []
        assert texts(t) == []
        append(log, lines(3, 6))
        assert texts(t) == names(3, 6)
        assert texts(t) == []
        assert t.status()["predecessors"] == 0  # closed once the new file is open


def test_copytruncate_caught_up(log: Path) -> None:
    append(log, lines(0, 50))
    with FileTailer(str(log)) as t:
        assert texts(t) == names(0, 50)
        shutil.copyfile(log, str(log) + ".1")
        os.truncate(log, 0)
        append(log, lines(50, 53))
        assert texts(t) == names(50, 53)
        assert t.status()["truncations"] == 1


def test_copytruncate_behind_reads_the_rest_from_the_copy(log: Path) -> None:
    append(log, lines(0, 50))
    with FileTailer(str(log)) as t:
        assert texts(t, 10) == names(0, 10)
        shutil.copyfile(log, str(log) + ".1")
        os.truncate(log, 0)
        # refilled past the old offset: found by the changed first bytes, not the size
        append(log, lines(50, 150, tag="new"))
        assert drain(t) == names(10, 50) + names(50, 150, tag="new")


def test_copytruncate_with_compressed_copy(log: Path) -> None:
    append(log, lines(0, 50))
    with FileTailer(str(log)) as t:
        assert texts(t, 10) == names(0, 10)
        Path(str(log) + ".1.gz").write_bytes(gzip.compress(log.read_bytes()))
        os.truncate(log, 0)
        append(log, "after\n")
        assert drain(t) == [*names(10, 50), "after"]


def test_truncated_without_copy_starts_over(log: Path) -> None:
    append(log, lines(0, 5))
    with FileTailer(str(log)) as t:
        assert texts(t) == names(0, 5)
        os.truncate(log, 0)
        append(log, "x\n")
        assert texts(t) == ["x"]


def test_restart_in_the_middle_of_a_rotation(log: Path) -> None:
    append(log, lines(0, 10))
    t = FileTailer(str(log))
    assert texts(t, 4) == names(0, 4)
    cp = roundtrip(t.checkpoint())
    t.close()
    # while the agent is down: more lines, rotation, the new file gets data
    append(log, lines(10, 12))
    os.rename(log, str(log) + ".1")
    append(log, lines(12, 20))
    t = FileTailer(str(log), checkpoint=cp)
    assert drain(t) == names(4, 20)
    t.close()


def test_restart_after_two_rotations_and_compression(log: Path) -> None:
    append(log, lines(0, 10))
    t = FileTailer(str(log))
    assert texts(t, 3) == names(0, 3)
    cp = roundtrip(t.checkpoint())
    t.close()
    os.rename(log, str(log) + ".1")
    append(log, lines(10, 20))
    # second rotation: .1 -> .2.gz (compressed, new inode), live -> .1
    Path(str(log) + ".2.gz").write_bytes(gzip.compress(Path(str(log) + ".1").read_bytes()))
    os.unlink(str(log) + ".1")
    os.rename(log, str(log) + ".1")
    append(log, lines(20, 25))
    with FileTailer(str(log), checkpoint=cp) as t:
        assert drain(t) == names(3, 25)


def test_restart_after_copytruncate_while_down(log: Path) -> None:
    append(log, lines(0, 20))
    t = FileTailer(str(log))
    assert texts(t, 5) == names(0, 5)
    cp = roundtrip(t.checkpoint())
    t.close()
    shutil.copyfile(log, str(log) + ".1")
    os.truncate(log, 0)
    append(log, lines(20, 22))
    with FileTailer(str(log), checkpoint=cp) as t:
        assert drain(t) == names(5, 22)


def test_restart_with_a_pending_predecessor(log: Path) -> None:
    append(log, lines(0, 5))
    t = FileTailer(str(log))
    assert texts(t) == names(0, 5)
    writer = open(log, "ab", buffering=0)  # noqa: SIM115
    os.rename(log, str(log) + ".1")
    append(log, lines(100, 102))
    assert texts(t) == names(100, 102)
    cp = roundtrip(t.checkpoint())
    assert len(cp.previous) == 1 and cp.inode == os.stat(log).st_ino
    t.close()
    writer.write(lines(5, 7).encode())  # late lines into the rotated file while down
    writer.close()
    append(log, lines(102, 104))
    with FileTailer(str(log), checkpoint=cp) as t:
        assert drain(t) == names(5, 7) + names(102, 104)


def test_restart_without_change_and_with_partial_line(log: Path) -> None:
    append(log, "a\nb\npart")
    t = FileTailer(str(log))
    assert texts(t) == ["a", "b"]
    cp = roundtrip(t.checkpoint())
    t.close()
    append(log, "ial\n")
    with FileTailer(str(log), checkpoint=cp) as t:
        assert texts(t) == ["partial"]


def test_checkpoint_of_a_replaced_file_with_the_same_inode_is_not_trusted(log: Path) -> None:
    append(log, lines(0, 10))
    t = FileTailer(str(log))
    texts(t)
    cp = roundtrip(t.checkpoint())
    t.close()
    # rewritten in place: same inode, other content (and longer than the offset)
    with open(log, "r+b") as f:
        f.write(lines(0, 30, tag="z").encode())
    with FileTailer(str(log), checkpoint=cp) as t:
        assert drain(t) == names(0, 30, tag="z")


def test_checkpoint_for_another_path_is_refused(log: Path) -> None:
    with pytest.raises(ValueError):
        FileTailer(str(log), checkpoint=Checkpoint(path="/elsewhere"))


def test_gone_checkpointed_file_reads_current_from_zero_and_warns(log: Path) -> None:
    append(log, lines(0, 10))
    t = FileTailer(str(log))
    texts(t)
    cp = roundtrip(t.checkpoint())
    t.close()
    log.unlink()
    append(log, lines(10, 12))
    with FileTailer(str(log), checkpoint=cp) as t:
        assert drain(t) == names(10, 12)
        assert any("gone" in w for w in t.warnings)


def test_bad_bytes_long_lines_and_nuls(log: Path) -> None:
    append(log, b"ok\n" + b"\xff\xfebad\n" + b"x" * 1_000_000 + b"\nnul\x00\nafter\n")
    with FileTailer(str(log), max_line_bytes=1000) as t:
        got = t.read_batch()
        assert [x.text[:5] for x in got] == ["ok", "\ufffd\ufffdbad", "xxxxx", "nul\ufffd", "after"]
        assert [x.truncated for x in got] == [False, False, True, False, False]
        assert got[-1].offset == 3 + 6 + 1_000_001 + 5
        st = t.status()
        assert st["decode_errors"] == 3 and st["truncated"] == 1 and st["lines"] == 5


def test_symlink_is_reported_and_not_followed(tmp_path: Path, log: Path) -> None:
    target = tmp_path / "elsewhere"
    append(target, "secret\n")
    log.symlink_to(target)
    with FileTailer(str(log)) as t:
        assert texts(t) == []
        st = t.status()
        assert st["symlink"] == str(target) and st["exists"] and st["inode"] == 0
        assert len(t.warnings) == 1 and "not followed" in t.warnings[0]
        texts(t)
        assert len(t.warnings) == 1  # said once
    with FileTailer(str(log), follow_symlinks=True) as t:
        assert texts(t) == ["secret"]
        assert "following" in t.warnings[0]


def test_path_replaced_by_symlink_later(tmp_path: Path, log: Path) -> None:
    append(log, "a\n")
    with FileTailer(str(log)) as t:
        assert texts(t) == ["a"]
        append(log, "b\n")
        os.rename(log, tmp_path / "moved")
        log.symlink_to("/etc/hostname")
        assert texts(t) == ["b"]  # the old file is finished, the link not followed
        assert texts(t) == []
        assert t.status()["symlink"] == "/etc/hostname"
        assert "not followed" in t.warnings[-1]


def test_unreadable_path_is_an_error_not_an_exception(tmp_path: Path) -> None:
    d = tmp_path / "dir.log"
    d.mkdir()
    with FileTailer(str(d)) as t:
        assert t.read_batch() == []
        assert "not a regular file" in (t.status()["last_error"] or "")


@pytest.mark.parametrize("use_inotify", [True, False])
def test_wait_for_change_returns_early(
    log: Path, monkeypatch: pytest.MonkeyPatch, use_inotify: bool
) -> None:
    if not use_inotify:
        monkeypatch.setattr(tailer_mod, "HAVE_INOTIFY", False)
    append(log, "a\n")
    with FileTailer(str(log)) as t:
        texts(t)
        t0 = time.monotonic()
        assert wait_for_change([t], 0.2) is False
        assert 0.15 < time.monotonic() - t0 < 1.0

        timer = threading.Timer(0.1, append, (log, "b\n"))
        timer.start()
        t0 = time.monotonic()
        assert wait_for_change([t], 10) is True
        assert time.monotonic() - t0 < 2
        timer.join()
        assert texts(t) == ["b"]

        timer = threading.Timer(0.1, os.rename, (log, str(log) + ".1"))
        timer.start()
        t0 = time.monotonic()
        assert wait_for_change([t], 10) is True
        assert time.monotonic() - t0 < 2
        timer.join()


def test_wait_for_change_wakes_for_a_due_partial_line(log: Path) -> None:
    append(log, "half")
    with FileTailer(str(log), partial_timeout=0.1) as t:
        assert texts(t) == []
        t0 = time.monotonic()
        wait_for_change([t], 10)
        assert time.monotonic() - t0 < 2
        assert texts(t) == ["half"]


def test_wait_for_change_sees_data_already_there(log: Path) -> None:
    with FileTailer(str(log)) as t:
        append(log, "x\n")
        t0 = time.monotonic()
        assert wait_for_change([t], 10) is True
        assert time.monotonic() - t0 < 0.5


def test_two_rotations_between_two_looks(log: Path) -> None:
    append(log, lines(0, 5))
    with FileTailer(str(log)) as t:
        assert texts(t, 2) == names(0, 2)
        append(log, lines(5, 7))
        os.rename(log, str(log) + ".1")
        append(log, lines(7, 10))  # a whole file comes and goes unseen
        Path(str(log) + ".2.gz").write_bytes(gzip.compress(Path(str(log) + ".1").read_bytes()))
        os.unlink(str(log) + ".1")
        os.rename(log, str(log) + ".1")
        append(log, lines(10, 12))
        assert drain(t) == names(2, 12)


def test_two_copytruncates_between_two_looks(log: Path) -> None:
    append(log, lines(0, 30))
    with FileTailer(str(log)) as t:
        assert texts(t, 5) == names(0, 5)
        shutil.copyfile(log, str(log) + ".1")
        os.truncate(log, 0)
        append(log, lines(30, 60))
        os.rename(str(log) + ".1", str(log) + ".2")
        shutil.copyfile(log, str(log) + ".1")
        os.truncate(log, 0)
        append(log, lines(60, 62))
        assert drain(t) == names(5, 62)


def test_copytruncate_then_rename_before_a_look(log: Path) -> None:
    append(log, lines(0, 30))
    with FileTailer(str(log)) as t:
        assert texts(t, 5) == names(0, 5)
        shutil.copyfile(log, str(log) + ".1")
        os.truncate(log, 0)
        writer = open(log, "ab", buffering=0)  # noqa: SIM115
        writer.write(lines(30, 40).encode())
        os.rename(str(log) + ".1", str(log) + ".2")
        os.rename(log, str(log) + ".1")  # the truncated file, still written to
        writer.write(lines(40, 45).encode())
        writer.close()
        append(log, lines(45, 50))
        assert drain(t) == names(5, 50)


def test_restart_after_copytruncate_of_a_file_not_read_yet(log: Path) -> None:
    """The finished predecessor, kept in the checkpoint, anchors the search."""
    append(log, lines(0, 5))
    t = FileTailer(str(log), rotate_wait=0)
    assert texts(t) == names(0, 5)
    os.rename(log, str(log) + ".1")
    log.touch()
    assert texts(t) == []
    assert texts(t) == [] and t.status()["predecessors"] == 0
    append(log, lines(5, 10))  # not read before the restart
    cp = roundtrip(t.checkpoint())
    assert cp.fingerprint_size == 0 and len(cp.previous) == 1
    t.close()
    os.rename(str(log) + ".1", str(log) + ".2")
    shutil.copyfile(log, str(log) + ".1")
    os.truncate(log, 0)
    append(log, lines(10, 12))
    with FileTailer(str(log), checkpoint=cp) as t:
        assert drain(t) == names(5, 12)


def _behind_then_copytruncate(log: Path, b_before_resume: int) -> list[str]:
    """Resume with the old file to finish and a new one at the path; the new one is
    copytruncated while the reader is still busy with the old one."""
    append(log, lines(0, 100, tag="a"))
    t = FileTailer(str(log))
    assert texts(t, 10) == names(0, 10, tag="a")
    cp = roundtrip(t.checkpoint())
    t.close()
    os.rename(log, str(log) + ".1")
    append(log, lines(0, b_before_resume, tag="b"))
    t = FileTailer(str(log), checkpoint=cp)
    got = texts(t, 10)  # still in the old file
    append(log, lines(b_before_resume, 50, tag="b"))
    got += texts(t, 10)  # behind: the new file's first bytes are taken meanwhile
    Path(str(log) + ".2.gz").write_bytes(gzip.compress(Path(str(log) + ".1").read_bytes()))
    os.unlink(str(log) + ".1")
    shutil.copyfile(log, str(log) + ".1")
    os.truncate(log, 0)
    append(log, lines(50, 60, tag="b"))
    got += drain(t)
    t.close()
    return got


@pytest.mark.parametrize("b_before_resume", [0, 20])
def test_behind_when_the_new_file_is_copytruncated(log: Path, b_before_resume: int) -> None:
    got = _behind_then_copytruncate(log, b_before_resume)
    assert got == names(10, 100, tag="a") + names(0, 60, tag="b")
