"""Bounded memory (SPEC §6): paygentic batches of up to 1000 events and lines of several MB bill whole,
through the real path (`run_pipeline`: the Dagster jobs with their contracts and checks), also under a
small memory limit, and a run stopped part-way through staging resumes without staging a line twice.

Expected numbers are worked out by hand from ``harness.REFERENCE``: paygentic key cust-usd -> c_usd
(USD); tokens cost USD 0.002 and requests USD 1 a unit.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from harness import envelope, write_dump, write_reference

F = "paygentic/a.jsonl"


def events(count: int, key: str, tokens: int = 10, padding: int = 0) -> list[dict]:
    """``count`` events of cust-usd, each ``tokens`` tokens and 1 request, with ``padding`` characters of
    metadata each (a line of about count x padding bytes)."""
    return [{"idempotencyKey": f"{key}-{i}", "customerId": "cust-usd", "merchantId": "m1",
             "timestamp": "2026-10-05T12:00:00Z",
             "properties": [{"billableMetricId": "tokens", "quantity": tokens},
                            {"billableMetricId": "requests", "quantity": 1}],
             **({"metadata": {"note": "x" * padding, "i": i}} if padding else {})} for i in range(count)]


def batch(evts: list[dict]) -> dict:
    return envelope({"events": evts}, response={"status": 201, "body": {"failed": []}})


def run(tmp_path: Path, memory_limit: str | None = None):
    from dagster_project.runner import run_pipeline

    kwargs = {"memory_limit": memory_limit} if memory_limit else {}
    return run_pipeline(tmp_path / "raw", write_reference(tmp_path / "reference"), tmp_path / "out" / "w.duckdb",
                        instance=dg.DagsterInstance.ephemeral(), **kwargs)


def published(tmp_path: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "out" / "w.duckdb"), read_only=True) as con:
        return con.sql(query).fetchall()


INVOICE = "SELECT invoice_id, total, line_count, event_count FROM invoices ORDER BY 1"
LINES = "SELECT metric_id, quantity, amount, event_count FROM invoice_lines ORDER BY 1"
OUTCOMES = """SELECT outcome, reason, count(DISTINCT (line_number, record_index)) FROM usage_events
              GROUP BY ALL ORDER BY ALL"""


def test_a_batch_of_1000_events_bills_and_one_of_1001_is_all_schema_violations(tmp_path):
    write_dump(tmp_path / "raw", F, [batch(events(1000, "a")), batch(events(1001, "b"))])
    summary = run(tmp_path)
    # line 1: tokens 1000 x 10 = 10000 x 0.002 = 20.00; requests 1000 x 1 = 1000.00; total 1020.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("1020.00"), 2, 1000)]
    assert published(tmp_path, LINES) == [("requests", Decimal(1000), Decimal("1000.00"), 1000),
                                          ("tokens", Decimal(10000), Decimal("20.00"), 1000)]
    # line 2: more than 1000 events still splits, every event a schema_violation
    assert published(tmp_path, OUTCOMES) == [("billed", None, 1000), ("quarantined", "schema_violation", 1001)]
    assert published(tmp_path, "SELECT DISTINCT line_number, detail FROM usage_events WHERE reason IS NOT NULL") \
        == [(2, "a batch holds at most 1000 events")]
    paygentic = summary.reconciliation.filter(source="paygentic").row(0, named=True)
    assert (paygentic["records"], paygentic["billed"], paygentic["quarantined"]) == (2001, 1000, 1001)


def test_a_line_of_several_megabytes_bills_whole(tmp_path):
    line = batch(events(1000, "big", tokens=7, padding=6000))
    write_dump(tmp_path / "raw", F, [line])
    assert (tmp_path / "raw" / F).stat().st_size > 6_000_000
    run(tmp_path)
    # tokens 1000 x 7 = 7000 x 0.002 = 14.00; requests 1000.00; total 1014.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("1014.00"), 2, 1000)]


def test_a_small_memory_limit_stages_multi_megabyte_lines_in_batches(tmp_path):
    """At 80MB a staging batch holds up to 2.5 MB of raw lines (a 32nd of the limit): four lines of about
    1.3 MB take four batches. Staged in one statement, the envelope was copied onto each of its 1000
    events (over a GB) and this ran out of memory. A batch of one such line needs 46–62 MiB, depending on
    how DuckDB's threads interleave (at 48MB some runs fail, at 64MB one in a full suite did)."""
    write_dump(tmp_path / "raw", F, [batch(events(1000, f"l{n}", tokens=5, padding=1100)) for n in range(4)])
    assert (tmp_path / "raw" / F).stat().st_size > 4 * 1_200_000
    run(tmp_path, memory_limit="80MB")
    # tokens 4 x 1000 x 5 = 20000 x 0.002 = 40.00; requests 4000 x 1 = 4000.00; total 4040.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("4040.00"), 2, 4000)]
    assert published(tmp_path, OUTCOMES) == [("billed", None, 4000)]


def test_one_source_larger_than_a_segment_is_staged_by_both_streams_and_bills_whole(tmp_path, monkeypatch):
    """At 80MB a staging batch holds up to 2.5 MB of raw lines and a segment at least four batches (10
    MB): three paygentic files of about 10 MB each are three segments, which both streams stage side by
    side under the memory gate, through the Dagster run `tally run` makes, and every record bills once."""
    import threading

    from transforms.staging import common

    for f in range(3):
        write_dump(tmp_path / "raw", f"paygentic/part-{f}.jsonl",
                   [batch(events(100, f"f{f}l{n}", tokens=3, padding=5000)) for n in range(20)])
    assert all((tmp_path / "raw" / f"paygentic/part-{f}.jsonl").stat().st_size > 10_000_000 for f in range(3))
    real, threads = common.stage_batch, set()

    def stage_batch(con, model, segment_batch):
        threads.add(threading.get_ident())
        return real(con, model, segment_batch)

    monkeypatch.setattr(common, "stage_batch", stage_batch)
    run(tmp_path, memory_limit="80MB")
    assert len(threads) == 2
    # tokens 3 files x 20 lines x 100 events x 3 = 18000 x 0.002 = 36.00; requests 6000 x 1 = 6000.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("6036.00"), 2, 6000)]
    records = "SELECT outcome, count(DISTINCT (source_file, line_number, record_index)) FROM usage_events GROUP BY 1"
    assert published(tmp_path, records) == [("billed", 6000)]


def test_a_batch_that_runs_out_of_memory_alone_is_billed_whole_in_halves(tmp_path, monkeypatch):
    """Through the Dagster run `tally run` makes: every staging batch of more than one line runs out of
    memory, beside the other stream and alone, so each is staged in halves down to single lines; every
    record bills once, as in a run with memory to spare."""
    from transforms.staging import common

    write_dump(tmp_path / "raw", F, [batch(events(10, f"l{n}")) for n in range(6)])
    real, staged = common.stage_batch, []

    def stage_batch(con, model, segment_batch):
        if segment_batch.lines > 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 16.0 MiB")
        staged.append(segment_batch.first_line)
        return real(con, model, segment_batch)

    monkeypatch.setattr(common, "stage_batch", stage_batch)
    run(tmp_path)
    assert staged == [1, 2, 3, 4, 5, 6]  # one line at a time, in order
    # tokens 6 lines x 10 events x 10 = 600 x 0.002 = 1.20; requests 60 x 1 = 60.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("61.20"), 2, 60)]
    assert published(tmp_path, OUTCOMES) == [("billed", None, 60)]


def test_out_of_memory_names_tallys_option_and_a_later_run_with_more_memory_completes(tmp_path):
    from dagster_project.runner import RunFailed

    write_dump(tmp_path / "raw", F, [batch(events(1000, "big", tokens=3, padding=3000))])
    with pytest.raises(RunFailed) as failure:
        run(tmp_path, memory_limit="16MB")
    assert "ran out of memory" in failure.value.problem
    assert "tally run --memory-limit" in failure.value.next_step and "TALLY_MEMORY_LIMIT" in failure.value.next_step
    assert "SET memory_limit" not in failure.value.problem + failure.value.next_step
    run(tmp_path)
    # tokens 1000 x 3 = 3000 x 0.002 = 6.00; requests 1000.00; total 1006.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("1006.00"), 2, 1000)]


def test_staging_stopped_part_way_resumes_after_the_last_staged_line(tmp_path, monkeypatch):
    """A file's batches commit one by one in line order: after a failure the next staging adds only the
    lines not staged yet, and the load staged in part is not counted as staged through."""
    from transforms.raw.load import load_raw_dir
    from transforms.staging import MODELS, common, stage_new_lines, staged_through
    from transforms.warehouse import connect_state

    raw = tmp_path / "raw"
    write_dump(raw, "paygentic/a.jsonl", [batch(events(3, f"a{n}", padding=400)) for n in range(5)])
    write_dump(raw, "paygentic/b.jsonl", [batch(events(2, f"b{n}", padding=400)) for n in range(3)])
    model = MODELS["paygentic"]
    con = connect_state(tmp_path / "w.duckdb")
    try:
        load_raw_dir(con, raw)
        real, calls = common.stage_batch, []

        def fail_on_third(con, model, segments):
            calls.append(segments)
            if len(calls) == 3:
                raise RuntimeError("stopped")
            return real(con, model, segments)

        settings = "SELECT current_setting('checkpoint_threshold'), current_setting('preserve_insertion_order')"
        before_settings = con.sql(settings).fetchall()
        monkeypatch.setattr(common, "stage_batch", fail_on_third)
        with pytest.raises(RuntimeError, match="stopped"):
            stage_new_lines(con, model, batch_bytes=2500)  # a line is about 1.6 kB: a batch or two per line
        assert con.sql(settings).fetchall() == before_settings == [("16.0 MiB", True)]
        staged = con.sql("SELECT DISTINCT source_file, line_number FROM stg_paygentic ORDER BY ALL").fetchall()
        assert 0 < len(staged) < 8
        assert staged_through(con, model) == 0  # load 1 is staged in part
        monkeypatch.setattr(common, "stage_batch", real)
        before = con.sql("SELECT count(*) FROM stg_paygentic").fetchall()[0][0]
        assert before + stage_new_lines(con, model, batch_bytes=2500) == 2 * (5 * 3 + 3 * 2)  # 2 properties an event
        rows = con.sql("""SELECT source_file, line_number, record_index, property_index, count(*) FROM stg_paygentic
                          GROUP BY ALL HAVING count(*) > 1""").fetchall()
        assert rows == []
        assert con.sql("SELECT count(*), count(DISTINCT (source_file, line_number)) FROM stg_paygentic").fetchall() \
            == [(2 * (5 * 3 + 3 * 2), 8)]
        assert staged_through(con, model) == 1
        assert stage_new_lines(con, model) == 0
    finally:
        con.close()


def test_batches_never_span_loads_and_hold_up_to_their_bytes():
    from transforms.staging.batches import Batch, pack

    def block(load, file, first, last, size):
        return {"load_id": load, "source_file": file, "first_line": first, "last_line": last, "bytes": size}

    blocks = [block(1, "a", 1, 256, 40), block(1, "a", 257, 300, 50), block(1, "b", 1, 10, 5),
              block(1, "b", 11, 11, 500), block(2, "a", 1, 3, 1)]
    # 40 + 50 + 5 = 95 fits in 100; the 500-byte line is a batch alone; load 2 starts a new batch
    assert list(pack(blocks, 100)) == [Batch(1, "a", 1, "b", 10), Batch(1, "b", 11, "b", 11), Batch(2, "a", 1, "a", 3)]
    assert Batch(1, "a", 5, "a", 9).params()["min_line"] == 5 and Batch(1, "a", 5, "b", 9).params()["min_line"] == 0


def test_quarantined_lines_are_published_once_each_in_chunks(tmp_path, monkeypatch):
    """The quarantine's raw lines are published once per line (``quarantine_lines``), in chunks of raw
    bytes: with chunks of one line's size, three batch lines of 4 quarantined events each are three rows,
    and the ``quarantine`` view still gives each of the 12 records its whole line."""
    from transforms import marts

    monkeypatch.setattr(marts, "CHUNK_BYTES", 1500)
    bad = lambda key: {**events(1, key, padding=400)[0], "customerId": 7}  # noqa: E731: schema_violation
    lines = [batch([bad(f"q{n}-{i}") for i in range(4)] + events(1, f"ok{n}")) for n in range(3)]
    write_dump(tmp_path / "raw", "paygentic/a.jsonl", lines)
    run(tmp_path)
    text = (tmp_path / "raw" / "paygentic/a.jsonl").read_text().splitlines()
    assert published(tmp_path, "SELECT line_number, raw FROM quarantine_lines ORDER BY 1") == [
        (n, text[n - 1]) for n in (1, 2, 3)]
    rows = published(tmp_path, "SELECT line_number, record_index, reason, raw FROM quarantine ORDER BY 1, 2")
    assert [(n, i, reason) for n, i, reason, _ in rows] == [
        (n, i, "schema_violation") for n in (1, 2, 3) for i in range(4)]
    assert all(raw == text[n - 1] for n, _, _, raw in rows)


def test_a_multi_megabyte_line_of_1001_quarantined_events_publishes_under_a_small_limit(tmp_path):
    """1001 records of one 2 MB line: a copy of the line per record would be 2 GB to publish; the line
    is stored once, and the run completes under a 256MB limit."""
    write_dump(tmp_path / "raw", F, [batch(events(1001, "big", padding=2000))])
    size = len((tmp_path / "raw" / F).read_text().rstrip("\n"))
    assert size > 2_000_000
    run(tmp_path, memory_limit="256MB")
    assert published(tmp_path, "SELECT count(*), sum(strlen(raw)) FROM quarantine_lines") == [(1, size)]
    assert published(tmp_path, "SELECT count(*), count(DISTINCT record_index), min(strlen(raw)), max(reason) "
                               "FROM quarantine") == [(1001, 1001, size, "schema_violation")]


def test_dumps_read_in_chunks_smaller_than_a_line_bill_as_when_read_whole(tmp_path, monkeypatch):
    """The raw load reads a dump a chunk of lines at a time; with chunks of 200 bytes (a 1000-event
    line spans hundreds of them, a gzip file too), through the same Dagster run, every line is loaded
    once, whole, under its own number."""
    from transforms.raw import dump_files

    monkeypatch.setattr(dump_files, "CHUNK_BYTES", 200)
    write_dump(tmp_path / "raw", F, [batch(events(3, "a")), batch(events(1000, "b", padding=50))])
    write_dump(tmp_path / "raw", "paygentic/b.jsonl.gz", [batch(events(2, "c")), batch(events(1, "d"))], gz=True)
    summary = run(tmp_path)
    # tokens (3 + 1000 + 2 + 1) x 10 = 10060 x 0.002 = 20.12; requests 1006 x 1 = 1006.00; total 1026.12
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("1026.12"), 2, 1006)]
    assert published(tmp_path, "SELECT source_file, line_number, count(DISTINCT record_index) FROM usage_events "
                               "GROUP BY ALL ORDER BY ALL") == [
        ("paygentic/a.jsonl", 1, 3), ("paygentic/a.jsonl", 2, 1000),
        ("paygentic/b.jsonl.gz", 1, 2), ("paygentic/b.jsonl.gz", 2, 1)]
    assert summary.reconciliation.filter(source="paygentic").row(0, named=True)["billed"] == 1006


def test_a_batch_line_whose_every_quantity_cannot_be_read_exactly_is_quarantined_under_a_small_limit(tmp_path):
    """1000 events of 40 properties, every quantity 1.000000000000000001 (a double reads it as 1.0): each
    event is quarantined once, naming its first property, and the next batch bills as usual."""
    import json

    unreadable = [{**e, "properties": [{"billableMetricId": "tokens", "quantity": "Q"}] * 40}
                  for e in events(1000, "long")]
    line = json.dumps(batch(unreadable)).replace('"Q"', "1.000000000000000001")
    write_dump(tmp_path / "raw", F, [line, batch(events(1000, "b"))])
    run(tmp_path, memory_limit="256MB")
    assert published(tmp_path, OUTCOMES) == [("billed", None, 1000), ("quarantined", "invalid_value", 1000)]
    assert published(tmp_path, "SELECT DISTINCT detail FROM quarantine") == [
        ("properties[0].quantity is a number that cannot be read exactly (more than 15 significant digits, "
         "or beyond the range of a double)",)]
    # line 2: tokens 1000 x 10 x 0.002 = 20.00; requests 1000 x 1 = 1000.00
    assert published(tmp_path, INVOICE) == [("INV-202610-c_usd", Decimal("1020.00"), 2, 1000)]


def test_staging_checkpoints_at_an_eighth_of_the_memory_limit():
    from transforms.staging.batches import checkpoint_bytes, default_batch_bytes

    con = duckdb.connect(config={"memory_limit": "512MB"})
    # DuckDB reports 512MB as "488.2 MiB": 488.2 x 2^20 = 511,914,803 bytes, an eighth and a 32nd of it
    assert (checkpoint_bytes(con), default_batch_bytes(con)) == (63_989_350, 15_997_337)
    con.execute("SET memory_limit = '64MB'")
    assert checkpoint_bytes(con) == 16 << 20  # never below DuckDB's own 16 MiB


def test_windows_group_short_batches_of_one_load_up_to_their_bytes():
    from transforms.staging.batches import Batch, span, windows

    def b(load, file, first, last, size, lines):
        return Batch(load, file, first, file, last, size, lines)

    short = [b(1, "a", 1, 3, 40, 3), b(1, "a", 4, 4, 50, 1), b(1, "b", 1, 2, 30, 2), b(1, "b", 3, 3, 20, 1)]
    long_lines = b(1, "c", 1, 5000, 40, 5000)
    one_large_line = b(1, "d", 1, 1, 70, 1)
    later = [b(1, "e", 1, 1, 10, 1), b(2, "a", 1, 1, 10, 1)]
    # batches of up to 50 bytes, two to a window: 40 + 50 fit in 100, 30 more does not; the batch of 5000
    # lines and the 70-byte line (larger than a batch) are alone; load 2 starts a new window
    got = windows([*short, long_lines, one_large_line, *later], 50, 2, 2048)
    assert [[(x.load_id, x.first_file, x.first_line) for x in w] for w in got] == [
        [(1, "a", 1), (1, "a", 4)], [(1, "b", 1), (1, "b", 3)], [(1, "c", 1)], [(1, "d", 1)], [(1, "e", 1)],
        [(2, "a", 1)]]
    whole = span(short[:2])
    assert (whole.first_file, whole.first_line, whole.last_file, whole.last_line, whole.bytes, whole.lines) == \
        ("a", 1, "a", 4, 90, 4)


def test_staging_in_windows_of_small_batches_gives_the_rows_of_one_batch(tmp_path):
    """Lines staged a batch or two each, read from the raw table a window of batches at a time, with a
    line that is not JSON and one DuckDB reads leniently among them, stage as one batch of all does."""
    from transforms.raw.load import load_raw_dir
    from transforms.staging import MODELS, stage_new_lines
    from transforms.warehouse import connect_state

    raw = tmp_path / "raw"
    lines = [batch(events(3, f"a{n}", padding=400)) for n in range(9)]
    lines[2] = '{"receivedAt": "2026-10-05T12:00:00Z", "body": {"events": [}'
    lines[6] = json.dumps(lines[6]).replace('"quantity": 1}', '"quantity": NaN}', 1)
    assert "NaN" in lines[6]
    write_dump(raw, F, lines)
    write_dump(raw, "paygentic/b.jsonl", [batch(events(2, f"b{n}", padding=400)) for n in range(4)])
    staged = []
    for name, batch_bytes in (("windows", 2500), ("whole", 1 << 30)):
        con = connect_state(tmp_path / f"{name}.duckdb")
        try:
            load_raw_dir(con, raw)
            stage_new_lines(con, MODELS["paygentic"], batch_bytes=batch_bytes)
            staged.append(con.sql("SELECT * FROM stg_paygentic ORDER BY source_file, line_number, record_index, "
                                  "property_index").fetchall())
        finally:
            con.close()
    assert staged[0] == staged[1]
    reasons = {(row[0], row[1]): row[6] for row in staged[0]}
    assert reasons[(F, 3)] == "invalid_json" and reasons[(F, 7)] == "invalid_json"
    assert len({line for line in reasons}) == 13


def test_a_window_read_beside_another_stream_that_runs_out_of_memory_is_read_again_alone(tmp_path):
    """Two streams may read windows of paygentic's long lines side by side: the read of a window goes
    through the memory gate like each of its batches, so running out of memory there is retried alone
    rather than stopping staging; so do the stream's other statements (the views it reads through).
    Every gated piece of work here fails once beside the other stream."""
    from transforms.raw.load import load_raw_dir
    from transforms.staging import MODELS, common, streams
    from transforms.staging.pending import pending_lines
    from transforms.warehouse import connect_state

    class FailingOnce(streams.MemoryGate):
        def __init__(self) -> None:
            super().__init__(2)
            self.runs: list[bool] = []

        def stage(self, work, alone):
            def fails_first(attempt=iter([True, False])):
                self.runs.append(alone)
                if next(attempt):
                    raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
                return work()
            return super().stage(fails_first, alone)

    raw = tmp_path / "raw"
    write_dump(raw, F, [batch(events(3, f"a{n}", padding=400)) for n in range(6)])
    con = connect_state(tmp_path / "w.duckdb")
    try:
        load_raw_dir(con, raw)
        model, gate, batch_bytes = MODELS["paygentic"], FailingOnce(), 2500  # a line is about 1.6 kB
        [segment] = pending_lines(con, model, batch_bytes).segments(batch_bytes, 1 << 30)
        windows = list(common.batches.windows(segment.batches, batch_bytes, common.WINDOW_BATCHES, 2048))
        assert len(windows) < len(segment.batches)  # some window holds several batches
        with common.staging_settings(con):
            added = common.stage_segment(con, segment, batch_bytes, gate)
        reads = sum(1 for window in windows if len(window) > 1)
        # each failed once, then ran again: the batches, each window's read and drop, the view's creation and drop
        assert gate.runs == [False, False] * (len(segment.batches) + 2 * reads + 2)
        assert added == con.sql("SELECT count(*) FROM stg_paygentic").fetchall()[0][0] == 6 * 3 * 2
    finally:
        con.close()
