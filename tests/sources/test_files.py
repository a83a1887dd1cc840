"""Offline reading: compression by magic bytes, rotated-set order, directory inputs."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from keibi.sources.files import (
    CorruptInput,
    UnsupportedCompression,
    describe_input,
    expand_inputs,
    iter_batches,
    iter_lines,
    log_inputs,
    open_stream,
    order_rotated,
    rotated_siblings,
)
from keibi.sources.lines import LineStats

TEXT = b"".join(b"line %05d \xc3\xa9\n" % i for i in range(20_000)) + b"tail"


@pytest.mark.parametrize(
    "name,compress",
    [
        ("plain.log", lambda b: b),
        ("x.gz", gzip.compress),
        ("x.bz2", bz2.compress),
        ("x.xz", lzma.compress),
        # the name does not matter: magic bytes do
        ("misnamed.log", gzip.compress),
        ("misnamed.gz", lambda b: b),
        ("audit.log.2", lzma.compress),
    ],
)
def test_compressed_and_plain_read_alike(
    tmp_path: Path, name: str, compress: Callable[[bytes], bytes]
) -> None:
    p = tmp_path / name
    p.write_bytes(compress(TEXT))
    with open_stream(str(p)) as s:
        assert s.read() == TEXT
    stats = LineStats()
    lines = list(iter_lines(str(p), stats))
    assert len(lines) == 20_001 and stats.lines == 20_001 and stats.bytes == len(TEXT)
    assert lines[0].text == "line 00000 é" and lines[-1].text == "tail"
    assert lines[7].offset == 7 * 14
    assert all(x.path == str(p) for x in lines[:10])


def test_multi_member_gzip(tmp_path: Path) -> None:
    p = tmp_path / "m.gz"
    p.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"))
    assert [x.text for x in iter_lines(str(p))] == ["a", "b", "c"]


def test_truncated_gzip_yields_what_it_can_then_raises(tmp_path: Path) -> None:
    p = tmp_path / "cut.gz"
    p.write_bytes(gzip.compress(TEXT)[:-3000])
    got = []
    with pytest.raises(CorruptInput):
        for batch in iter_batches(str(p)):
            got += batch
    assert got and got[0].text == "line 00000 é"


def test_zstd_is_refused_clearly(tmp_path: Path) -> None:
    p = tmp_path / "x.zst"
    p.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    with pytest.raises(UnsupportedCompression):
        open_stream(str(p))


def test_label_and_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "e.log"
    p.write_bytes(b"")
    assert list(iter_lines(str(p))) == []
    p.write_bytes(b"x\n")
    assert [x.path for x in iter_lines(str(p), label="/var/log/x")] == ["/var/log/x"]


def test_order_rotated_numbered_dated_and_several_sets() -> None:
    given = [
        "/v/auth.log",
        "/v/secure",
        "/v/auth.log.10.gz",
        "/v/secure-20261101",
        "/v/auth.log.1",
        "/v/auth.log.2.gz",
        "/v/secure-20261025.gz",
        "/v/auth.log.9.gz",
        "/v/secure-20261108.xz",
    ]
    assert order_rotated(given) == [
        "/v/auth.log.10.gz",
        "/v/auth.log.9.gz",
        "/v/auth.log.2.gz",
        "/v/auth.log.1",
        "/v/auth.log",
        "/v/secure-20261025.gz",
        "/v/secure-20261101",
        "/v/secure-20261108.xz",
        "/v/secure",
    ]


def test_order_rotated_dateext_variants_and_distinct_dirs() -> None:
    given = [
        "/a/auth.log",
        "/a/auth.log-20261108.gz",
        "/a/auth.log-20261101",
        "/b/auth.log.1",
        "/b/auth.log",
        "/a/syslog-2026-10-01",
        "/a/syslog-20261001-1700000000",
        "/a/syslog",
        "/a/syslog-2026100112",
        "/b/auth.log",  # duplicates dropped
    ]
    assert order_rotated(given) == [
        "/a/auth.log-20261101",
        "/a/auth.log-20261108.gz",
        "/a/auth.log",
        "/b/auth.log.1",
        "/b/auth.log",
        "/a/syslog-2026-10-01",
        "/a/syslog-20261001-1700000000",
        "/a/syslog-2026100112",
        "/a/syslog",
    ]


def test_order_rotated_keeps_unrelated_names_apart() -> None:
    # "php8.2" is not a rotation of "php8"; an 8-digit non-date is not a date
    assert order_rotated(["/l/app-99999999", "/l/kern.log", "/l/dpkg.log.1", "/l/dpkg.log"]) == [
        "/l/app-99999999",
        "/l/kern.log",
        "/l/dpkg.log.1",
        "/l/dpkg.log",
    ]


def _touch(p: Path, data: bytes = b"x\n", mtime: float | None = None) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if mtime is not None:
        os.utime(p, (mtime, mtime))


def test_expand_inputs_directory_recursive_sorted_no_symlinks(tmp_path: Path) -> None:
    d = tmp_path / "logs"
    _touch(d / "auth.log")
    _touch(d / "auth.log.1")
    _touch(d / "auth.log.2.gz", gzip.compress(b"old\n"))
    _touch(d / "apt" / "history.log")
    _touch(d / "apt" / "history.log.1.gz", gzip.compress(b"h\n"))
    _touch(d / "zz.log")
    outside = tmp_path / "outside.log"
    _touch(outside)
    (d / "link.log").symlink_to(outside)
    (d / "linkdir").symlink_to(tmp_path)
    extra = tmp_path / "extra.log"
    _touch(extra)
    got = expand_inputs([str(extra), str(d)])
    assert [os.path.relpath(p, tmp_path) for p in got] == [
        "extra.log",
        "logs/apt/history.log.1.gz",
        "logs/apt/history.log",
        "logs/auth.log.2.gz",
        "logs/auth.log.1",
        "logs/auth.log",
        "logs/zz.log",
    ]
    with pytest.raises(FileNotFoundError):
        expand_inputs([str(tmp_path / "missing")])


def test_log_inputs_carry_each_members_own_mtime(tmp_path: Path) -> None:
    _touch(tmp_path / "secure-20261101", mtime=1_000_000)
    _touch(tmp_path / "secure", mtime=2_000_000)
    _touch(tmp_path / "secure-20261025.gz", gzip.compress(b"a\n"), mtime=500_000)
    got = log_inputs([str(tmp_path)])
    assert [(os.path.basename(i.path), i.mtime, i.compression) for i in got] == [
        ("secure-20261025.gz", 500_000, "gzip"),
        ("secure-20261101", 1_000_000, None),
        ("secure", 2_000_000, None),
    ]
    assert {i.rotated_set for i in got} == {str(tmp_path / "secure")}
    assert describe_input(str(tmp_path / "secure")).size == 2


def test_rotated_siblings(tmp_path: Path) -> None:
    for name in ("auth.log", "auth.log.1", "auth.log.2.gz", "auth.log.bak", "auth.logger", "x"):
        _touch(tmp_path / name)
    (tmp_path / "auth.log.3").symlink_to(tmp_path / "x")
    got = rotated_siblings(str(tmp_path / "auth.log"))
    assert [os.path.basename(p) for p in got] == ["auth.log.2.gz", "auth.log.1"]
