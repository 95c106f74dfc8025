"""Batches of whole dump lines (`transforms.batches.line_batches`), over a relation with parameters."""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.batches import line_batches


def test_batches_hold_exactly_the_rows_the_parameters_select_and_keep_lines_whole():
    con = duckdb.connect()
    con.execute("""CREATE TABLE lines AS
        SELECT 'f' || (i % 7) AS source_file, i // 7 AS line_number, p AS property_index,
               CASE WHEN i < 300 THEN 1 ELSE 2 END AS load_id
        FROM range(1000) AS t(i), range(3) AS q(p)""")
    columns = ["source_file", "line_number", "property_index", "load_id"]
    batches = list(line_batches(con, "lines WHERE load_id = ?", columns, [2], rows=500))
    got = pl.concat(batches).sort(columns)
    expected = con.sql("SELECT * FROM lines WHERE load_id = 2 ORDER BY ALL").pl()
    assert got.equals(expected)
    assert len(batches) == 5  # 2100 rows, about 500 a batch
    lines_in = [set(b.select("source_file", "line_number").iter_rows()) for b in batches]
    assert all(a.isdisjoint(b) for i, a in enumerate(lines_in) for b in lines_in[i + 1:])


def test_an_empty_selection_gives_one_typed_empty_batch():
    con = duckdb.connect()
    con.execute("CREATE TABLE lines (source_file VARCHAR, line_number BIGINT, load_id BIGINT)")
    [batch] = line_batches(con, "lines WHERE load_id > ?", ["source_file", "line_number"], [0])
    assert batch.is_empty() and batch.columns == ["source_file", "line_number"]


def test_a_selection_of_one_batch_comes_whole_with_only_the_columns_asked_for():
    con = duckdb.connect()
    con.execute("""CREATE TABLE lines AS SELECT 'f' AS source_file, i AS line_number, i % 3 AS load_id, 'x' AS extra
                   FROM range(10) AS t(i)""")
    [batch] = line_batches(con, "lines WHERE load_id = ?", ["line_number", "load_id"], [1], rows=500)
    assert batch.columns == ["line_number", "load_id"]
    assert sorted(batch["line_number"].to_list()) == [1, 4, 7]


def test_a_line_of_more_rows_than_a_batch_is_one_batch_of_its_own_lines():
    """A paygentic line of 1000 events, each of several properties, can hold more usage lines than a
    contract's batch: it stays whole, and the batches around it still hold whole lines."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE lines AS
        SELECT 'f' AS source_file, CASE WHEN i < 1200 THEN 5 ELSE i END AS line_number, i AS property_index
        FROM range(2000) AS t(i)""")
    batches = list(line_batches(con, "lines", ["source_file", "line_number", "property_index"], rows=500))
    assert sum(b.height for b in batches) == 2000
    [long_line] = [b for b in batches if 5 in b["line_number"].to_list()]
    assert (long_line["line_number"] == 5).sum() == 1200
    lines_in = [set(b["line_number"].to_list()) for b in batches]
    assert all(a.isdisjoint(b) for i, a in enumerate(lines_in) for b in lines_in[i + 1:])
