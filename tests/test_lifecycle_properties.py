"""Property: issued documents never change, whatever is loaded or edited after them (SPEC §7).

Each example closes September over a drawn dump, then loads drawn late files (late usage in September and
October, later tula versions and voids), sometimes edits the claims price, sometimes closes October in
between. After every run: every issued document (row, lines, PDF bytes) is as issued; documents.sha256
only grows; for every closed month, customer and line, issued plus pending equals the month recomputed;
numbers are gapless. At the end a run from an empty warehouse reproduces everything. Each example runs the
real pipeline several times, so there are few of them and no shrinking.
"""

from __future__ import annotations

import shutil

import duckdb
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness import REFERENCE, write_dump
from test_lifecycle import OCT, SEPT, claim, go, issued_files, reference, visit

SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])

usage = st.tuples(st.integers(0, 500), st.sampled_from(["2026-09-10T12:00:00Z", "2026-09-29T23:30:00Z",
                                                       "2026-10-02T12:00:00Z"]),
                  st.sampled_from(["org_usd", "org_ny"]))
late = st.fixed_dictionaries({
    "claims": st.lists(usage, max_size=3),
    "visit": st.sampled_from([None, (3, "Billable"), (1, "Billable"), (2, "Cancelled")]),
    "reprice": st.booleans(),
    "close_october": st.booleans(),
})


def published_state(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        issued = con.sql("SELECT * FROM documents WHERE status = 'issued' ORDER BY document_number").fetchall()
        lines = con.sql("SELECT l.* FROM document_lines l JOIN documents d USING (document_number) "
                        "WHERE d.status = 'issued' ORDER BY ALL").fetchall()
        gaps = con.sql("""SELECT document_number FROM documents WHERE status = 'issued'
                          QUALIFY right(document_number, 6)::INT <> row_number() OVER (
                              PARTITION BY regexp_extract(document_number, '^(.*)-[0-9]+$', 1) ORDER BY document_number)""").fetchall()
        unbalanced = con.sql("""
            WITH closed AS (SELECT DISTINCT period_start FROM documents WHERE status = 'issued'),
            documented AS (
                SELECT d.customer_id, d.period_start, l.metric_id, l.kind, l.tier, l.unit_price,
                       sum(l.quantity) AS q, sum(l.amount) AS a
                FROM document_lines l JOIN documents d USING (document_number)
                WHERE d.period_start IN (SELECT period_start FROM closed)
                GROUP BY ALL),
            recomputed AS (
                SELECT customer_id, period_start, metric_id, kind, tier, unit_price, quantity AS q, amount AS a
                FROM invoice_lines WHERE period_start IN (SELECT period_start FROM closed))
            SELECT * FROM documented d FULL JOIN recomputed r
                ON d.customer_id = r.customer_id AND d.period_start = r.period_start AND d.metric_id = r.metric_id
                AND d.kind = r.kind AND d.tier IS NOT DISTINCT FROM r.tier AND d.unit_price = r.unit_price
            WHERE coalesce(d.q, 0) <> coalesce(r.q, 0) OR coalesce(d.a, 0) <> coalesce(r.a, 0)""").fetchall()
        everything = [con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                      for t in ("documents", "document_lines", "document_line_records")]
    return issued, lines, gaps, unbalanced, everything


@SETTINGS
@given(base=st.lists(usage, min_size=1, max_size=3), loads=st.lists(late, min_size=1, max_size=3))
def test_issued_documents_never_change(tmp_path_factory, base, loads):
    tmp_path = tmp_path_factory.mktemp("lifecycle")
    reference(tmp_path)
    n = 0
    write_dump(tmp_path / "raw", "samplehc/base.jsonl", [claim(q, at, i, account=a) for i, (q, at, a) in enumerate(base)])
    write_dump(tmp_path / "raw", "tula/base.jsonl", [visit(2, 1, "2026-09-05T10:00:00Z")])
    go(tmp_path, SEPT, "2026-10-05")
    issued, lines, *_ = published_state(tmp_path)
    files = issued_files(tmp_path)
    october_closed = False
    for step, load in enumerate(loads):
        n += 10
        write_dump(tmp_path / "raw", f"samplehc/late-{step}.jsonl",
                   [claim(q, at, n + i, account=a) for i, (q, at, a) in enumerate(load["claims"])])
        if load["visit"]:
            quantity, status = load["visit"]
            write_dump(tmp_path / "raw", f"tula/late-{step}.jsonl",
                       [visit(quantity, 2 + step, f"2026-10-{10 + step:02d}T00:00:00Z", status=status)])
        if load["reprice"]:
            reference(tmp_path, **{"prices.csv": REFERENCE["prices.csv"].replace(
                "claims,,USD,0.50,,2026-10-15", f"claims,,USD,0.{51 + step},,2026-10-15")})
        if load["close_october"] and not october_closed:
            go(tmp_path, OCT, "2026-11-04")
            october_closed = True
        else:
            go(tmp_path)
        now_issued, now_lines, gaps, unbalanced, _ = published_state(tmp_path)
        assert now_issued[:len(issued)] == issued, "an issued document changed"
        assert [line for line in now_lines if line[0] in {row[0] for row in issued}] == lines, "issued lines changed"
        now_files = issued_files(tmp_path)
        assert {k: now_files[k] for k in files if k != "documents.sha256"} == \
            {k: v for k, v in files.items() if k != "documents.sha256"}, "an issued file changed"
        assert now_files["documents.sha256"].startswith(files["documents.sha256"])
        assert not gaps, f"numbers with gaps: {gaps}"
        assert not unbalanced, f"issued plus pending differs from the month recomputed: {unbalanced}"
        issued, lines, files = now_issued, now_lines, now_files

    again = tmp_path / "again"
    for folder in ("raw", "reference", "control"):
        shutil.copytree(tmp_path / folder, again / folder)
    go(again)
    assert published_state(again)[4] == published_state(tmp_path)[4]
    assert issued_files(again) == issued_files(tmp_path)
