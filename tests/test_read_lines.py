"""Dump files are read a chunk at a time (``read_lines``): memory follows the chunk, not the file. The
lines, their numbers and their flags must be exactly those of the file read whole, whatever the chunk
size, compression, BOM, line endings, blank lines, invalid UTF-8 or lines longer than a chunk."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.raw.dump_files import DumpFile, Unreadable, file_stamp, read_lines, split_lines


def dump_of(path: Path) -> DumpFile:
    return DumpFile("samplehc", path, f"samplehc/{path.name}", "0" * 64, file_stamp(path))


def whole(data: bytes, name: str) -> list[tuple]:
    """The lines of the file read whole, as the raw layer numbers them (SPEC §1)."""
    return split_lines(data.removeprefix(b"\xef\xbb\xbf"), f"samplehc/{name}").rows()


def chunked(path: Path, chunk_bytes: int) -> list[tuple]:
    frames = list(read_lines(dump_of(path), chunk_bytes))
    return pl.concat(frames).rows() if frames else []


pieces = st.lists(st.sampled_from([b"{}", b'{"a": 1}', b"\r", b" ", b"\t", b"\xe2\x82\xac", b"\xff",
                                   b"x" * 40, b"\n", b"\n", b"\r\n"]), max_size=60)


@settings(max_examples=200, deadline=None)
@given(body=pieces, bom=st.booleans(), compressed=st.booleans(), chunk=st.integers(1, 64))
def test_chunks_give_the_lines_of_the_whole_file(tmp_path_factory, body, bom, compressed, chunk):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(body)
    name = "a.jsonl.gz" if compressed else "a.jsonl"
    path = tmp_path_factory.mktemp("dump") / name
    path.write_bytes(gzip.compress(data) if compressed else data)
    assert chunked(path, chunk) == whole(data, name)


def test_a_line_longer_than_many_chunks_comes_whole_with_its_number(tmp_path):
    long = b'{"pad": "' + b"y" * 5000 + b'"}'
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"n": 1}\n\n' + long + b"\r\n" + b'{"n": 4}')
    rows = chunked(path, 100)
    assert [(n, text[:8]) for _, n, text, _ in rows] == [(1, '{"n": 1}'), (3, '{"pad": '), (4, '{"n": 4}')]
    assert rows[1][2] == long.decode()


def test_a_truncated_gzip_is_unreadable_after_its_first_chunks(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(5000)))[:-40])
    frames = read_lines(dump_of(path), 1000)
    assert next(frames).height > 0
    with pytest.raises(Unreadable, match="gzip"):
        list(frames)


def by_hand(data: bytes, first_line: int) -> list[tuple]:
    """SPEC §1 in plain Python: lines end at LF, a CR before it is not part of the line, a line of only
    spaces, tabs and CRs is blank (numbered, not kept), and a line that is not UTF-8 is kept decoded with
    replacement characters, flagged."""
    rows = []
    for number, raw in enumerate(data.split(b"\n"), start=first_line):
        raw = raw.removesuffix(b"\r")
        if raw.strip(b" \t\r") == b"":
            continue
        try:
            rows.append(("samplehc/a.jsonl", number, raw.decode("utf-8"), True))
        except UnicodeDecodeError:
            rows.append(("samplehc/a.jsonl", number, raw.decode("utf-8", errors="replace"), False))
    return rows


@settings(max_examples=300, deadline=None)
@given(body=pieces, first_line=st.integers(1, 10**12))
def test_split_lines_numbers_strips_and_flags_as_the_spec_says(body, first_line):
    data = b"".join(body)
    assert split_lines(data, "samplehc/a.jsonl", first_line).rows() == by_hand(data, first_line)
