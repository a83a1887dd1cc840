"""The byte -> line rules shared by every file source."""

from __future__ import annotations

import random

import pytest

from keibi.sources.lines import LineSplitter, LineStats, RawLine, decode_record


def split_all(
    data: bytes, chunk: int, max_line_bytes: int = 65536
) -> tuple[list[RawLine], LineStats]:
    stats = LineStats()
    sp = LineSplitter("f", stats, max_line_bytes)
    out: list[RawLine] = []
    for i in range(0, len(data), chunk):
        out += sp.feed(data[i : i + chunk])
    out += sp.flush()
    return out, stats


def reference(data: bytes) -> list[tuple[int, str]]:
    """Offsets and texts by the obvious slow method."""
    out = []
    off = 0
    for raw in data.split(b"\n"):
        out.append((off, raw))
        off += len(raw) + 1
    if data.endswith(b"\n"):
        out.pop()
    return [
        (o, r.decode("utf-8", "replace").removesuffix("\r").replace("\x00", "\ufffd"))
        for o, r in out
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096, 1 << 20])
def test_any_chunking_gives_the_same_lines(chunk: int) -> None:
    data = (
        b"plain ascii\nutf8 \xc3\xa9t\xc3\xa9 \xe2\x82\xac\n\ncrlf line\r\n"
        b"bad \xff\xfe bytes\nnul\x00inside\ncut \xe2\x82 euro\nmid\rcr\nlast no newline"
    )
    lines, stats = split_all(data, chunk)
    assert [(x.offset, x.text) for x in lines] == reference(data)
    assert stats.lines == len(lines) == 9
    assert stats.bytes == len(data)
    # \xff, \xfe, the cut euro sign (one sequence) and one NUL
    assert stats.decode_errors == 4
    assert not any(x.truncated for x in lines)
    assert all(x.path == "f" for x in lines)


def test_random_bytes_never_break_offsets() -> None:
    rng = random.Random(7)
    data = bytes(rng.choice(b"ab\n\r\x00\xff\xc3\xa9\xe2\x82\xac ") for _ in range(200_000))
    for chunk in (1000, 65536):
        lines, _ = split_all(data, chunk)
        assert [(x.offset, x.text) for x in lines] == reference(data)


def test_partial_line_is_held_until_its_newline() -> None:
    sp = LineSplitter("f")
    assert sp.feed(b"first li") == []
    assert sp.pending == 8 and sp.line_start == 0
    got = sp.feed(b"ne\nsecond")
    assert [(x.offset, x.text) for x in got] == [(0, "first line")]
    assert sp.line_start == 11 and sp.position == 17
    assert sp.feed(b" part\n") == [RawLine("f", 11, "second part", False)]
    assert sp.flush() == []


def test_flush_emits_the_unfinished_line_and_continues_after_it() -> None:
    sp = LineSplitter("f", offset=100)
    sp.feed(b"abc")
    assert sp.flush() == [RawLine("f", 100, "abc", False)]
    assert sp.feed(b"def\n") == [RawLine("f", 103, "def", False)]


def test_one_megabyte_line_is_truncated_and_the_next_lines_survive() -> None:
    big = b"x" * 1_000_000
    data = b"before\n" + big + b"\nafter\n" + b"y" * 70000 + b"\nend\n"
    for chunk in (4096, 65536, 1 << 20, len(data)):
        lines, stats = split_all(data, chunk, max_line_bytes=65536)
        assert [x.text[:6] for x in lines] == ["before", "xxxxxx", "after", "yyyyyy", "end"]
        assert [len(x.text) for x in lines] == [6, 65536, 5, 65536, 3]
        assert [x.truncated for x in lines] == [False, True, False, True, False]
        assert [x.offset for x in lines] == [0, 7, 1_000_008, 1_000_014, 1_070_015]
        assert stats.truncated == 2


def test_long_line_without_newline_keeps_memory_bounded() -> None:
    sp = LineSplitter("f", max_line_bytes=100)
    for _ in range(1000):
        sp.feed(b"z" * 10_000)
    assert sp.position == 10_000_000
    assert sp.pending == 10_000_000
    [line] = sp.flush()
    assert line.truncated and line.text == "z" * 100 and line.offset == 0


def test_truncation_never_splits_a_utf8_sequence() -> None:
    stats = LineStats()
    text, truncated = decode_record("é".encode() * 10, stats, max_line_bytes=7)
    assert truncated and text == "ééé"
    assert stats.decode_errors == 0 and stats.truncated == 1


def test_exactly_max_bytes_is_not_truncated() -> None:
    lines, stats = split_all(b"a" * 10 + b"\n" + b"b" * 11 + b"\n", 3, max_line_bytes=10)
    assert [(x.text, x.truncated) for x in lines] == [("a" * 10, False), ("b" * 10, True)]
    assert stats.truncated == 1


def test_binary_garbage_and_nuls() -> None:
    data = bytes(range(256)) * 50 + b"\nok\n"
    lines, stats = split_all(data, 1000)
    assert lines[-1].text == "ok"
    assert "\x00" not in "".join(x.text for x in lines)
    assert stats.decode_errors > 0


def test_existing_replacement_characters_are_not_counted_as_errors() -> None:
    lines, stats = split_all("ok \ufffd\n".encode() + b"bad \xff\n", 100)
    assert [x.text for x in lines] == ["ok \ufffd", "bad \ufffd"]
    assert stats.decode_errors == 1


def test_max_line_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LineSplitter("f", max_line_bytes=0)


@pytest.mark.parametrize("chunk", [1, 5, 4096, 1 << 20])
def test_texts_are_the_lines_without_their_objects(chunk: int) -> None:
    rng = random.Random(chunk)
    data = bytes(rng.choice(b"ab\n\r\x00\xff\xc3\xa9\xe2\x82\xac ") for _ in range(50_000))
    data += b"long " * 30 + b"\nend"
    lines, stats = split_all(data, chunk, max_line_bytes=100)
    st = LineStats()
    sp = LineSplitter("f", st, 100)
    offsets: list[int] = []
    texts: list[str] = []
    for i in range(0, len(data), chunk):
        o, t = sp.feed_texts(data[i : i + chunk])
        offsets += o
        texts += t
    o, t = sp.flush_texts()
    assert list(zip(offsets + o, texts + t, strict=True)) == [(x.offset, x.text) for x in lines]
    assert st == stats and stats.truncated > 0


@pytest.mark.parametrize("max_line_bytes", [8, 65536])
def test_pieces_that_end_with_a_newline(max_line_bytes: int) -> None:
    """A piece that ends with a newline (a worker's chunk) is split as any other."""
    rng = random.Random(max_line_bytes)
    alphabet = b"ab \r\x00\xff\xc3\xa9\xe2\x82\xac"
    records = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
               for _ in range(3000)] + [b"plain"] * 50
    rng.shuffle(records)
    data = b"".join(r + b"\n" for r in records)
    stats = LineStats()
    sp = LineSplitter("f", stats, max_line_bytes)
    lines: list[RawLine] = []
    cut = 0
    while cut < len(data):  # pieces of whole records, some of them all ASCII
        end = data.index(b"\n", min(cut + rng.randrange(1, 200), len(data) - 1)) + 1
        lines += sp.feed(data[cut:end])
        cut = end
    lines += sp.flush()
    expected, expected_stats = split_all(data, 1, max_line_bytes)
    assert lines == expected and stats == expected_stats
    if max_line_bytes > 20:
        assert [(x.offset, x.text) for x in lines] == reference(data)
