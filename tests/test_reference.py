"""Tests for transforms.reference: loading and validating the reference CSV files (SPEC §3)."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from transforms.reference import (
    AGGREGATIONS,
    CURRENCY_MINOR_UNITS,
    SOURCES,
    Reference,
    ReferenceDataError,
    load_reference,
)

VALID = {
    "customers.csv": """\
        customer_id,name,currency,timezone
        acme,Acme Inc,USD,
        nihon,Nihon KK,JPY,Asia/Tokyo
        gulf,Gulf Co,BHD,Asia/Bahrain
    """,
    "customer_keys.csv": """\
        source,source_customer_key,customer_id
        samplehc,org_7,acme
        tula,ACME,acme
        sequence,nihon-alias,nihon
        paygentic,cus_1,gulf
    """,
    "meters.csv": """\
        source,event_type,metric_id,aggregation,property
        samplehc,claim-check,claims,sum,
        tula,7,claims,sum,
        sequence,api_call,api_calls,count,
        sequence,storage,storage_gb,max,gigabytes
        sequence,login,active_users,unique_count,user_id
        paygentic,tokens,tokens,sum,
    """,
    "prices.csv": """\
        metric_id,customer_id,currency,unit_price,effective_from,effective_to
        claims,,USD,0.125,,2026-07-01
        claims,,USD,0.15,2026-07-01,
        claims,acme,USD,0.100000000000000001,2026-01-01,2027-01-01
        claims,,JPY,12,,
        api_calls,gulf,BHD,0.005,,
    """,
    "statuses.csv": """\
        source,status,effect
        tula,Unknown,bill
        tula,Cancelled,void
    """,
}


def write_set(directory: Path, **files: str | bytes | None) -> Path:
    """Write the valid set into `directory`, replaced per file by `files` (keyword: name without .csv; None: omit)."""
    contents = {**VALID, **{f"{name}.csv": text for name, text in files.items()}}
    for name, text in contents.items():
        if text is None:
            continue
        data = text if isinstance(text, bytes) else textwrap.dedent(text).encode("utf-8")
        (directory / name).write_bytes(data)
    return directory


def extend(file: str, *lines: str) -> str:
    """The valid content of `file` with `lines` appended (the first appended line is row len(valid) + 1)."""
    return textwrap.dedent(VALID[file]) + "".join(f"{line}\n" for line in lines)


def problems(directory: Path, **files: str | bytes | None) -> list[str]:
    with pytest.raises(ReferenceDataError) as raised:
        load_reference(write_set(directory, **files))
    assert str(raised.value) == "\n".join(raised.value.problems)
    return raised.value.problems


def test_valid_set_loads_with_exact_types_and_values(tmp_path: Path) -> None:
    ref = load_reference(write_set(tmp_path))
    assert isinstance(ref, Reference)
    assert ref.customers.schema == pl.Schema(
        {"customer_id": pl.String, "name": pl.String, "currency": pl.String, "timezone": pl.String,
         "address": pl.String, "tax_id": pl.String, "minor_units": pl.Int8}
    )
    assert ref.customers.rows() == [  # no address or tax_id column: both blank
        ("acme", "Acme Inc", "USD", "UTC", None, None, 2),
        ("nihon", "Nihon KK", "JPY", "Asia/Tokyo", None, None, 0),
        ("gulf", "Gulf Co", "BHD", "Asia/Bahrain", None, None, 3),
    ]
    assert ref.issuer is None  # no issuer.csv: valid for a run; closing needs it
    assert ref.customer_keys.schema == pl.Schema(
        dict.fromkeys(["source", "source_customer_key", "customer_id"], pl.String)
    )
    assert ref.customer_keys.height == 4
    assert ref.meters.schema == pl.Schema(
        dict.fromkeys(["source", "event_type", "metric_id", "aggregation", "property"], pl.String)
    )
    assert ref.meters["property"].to_list() == [None, None, None, "gigabytes", "user_id", None]
    assert ref.prices.schema == pl.Schema(
        {"metric_id": pl.String, "customer_id": pl.String, "currency": pl.String,
         "unit_price": pl.Decimal(38, 18), "effective_from": pl.Date, "effective_to": pl.Date,
         "model": pl.String, "package_size": pl.Int64}  # no model column: every row per unit
    )
    assert set(ref.prices["model"]) == {"per_unit"} and ref.prices["package_size"].null_count() == ref.prices.height
    assert ref.price_tiers.is_empty() and ref.commitments.is_empty()
    assert ref.prices.rows() == [
        ("claims", None, "USD", Decimal("0.125"), None, date(2026, 7, 1), "per_unit", None),
        ("claims", None, "USD", Decimal("0.15"), date(2026, 7, 1), None, "per_unit", None),
        ("claims", "acme", "USD", Decimal("0.100000000000000001"), date(2026, 1, 1), date(2027, 1, 1), "per_unit", None),
        ("claims", None, "JPY", Decimal("12"), None, None, "per_unit", None),
        ("api_calls", "gulf", "BHD", Decimal("0.005"), None, None, "per_unit", None),
    ]
    assert ref.statuses.rows() == [("tula", "Unknown", "bill"), ("tula", "Cancelled", "void")]


def test_cells_are_stripped_text_with_bom_quotes_crlf_and_any_column_order(tmp_path: Path) -> None:
    customers = (
        '\ufefftimezone , currency,customer_id,name\r\n,USD,acme,Acme\r\n,JPY,nihon,Nihon\r\n,BHD,gulf,Gulf\r\n'
        '"  Europe/Berlin ",EUR ,  007 ,"Null, Inc."\r\n  ,USD,NA,NULL\r\n'
    )
    ref = load_reference(write_set(tmp_path, customers=customers.encode("utf-8")))
    assert ref.customers.rows()[-2:] == [
        ("007", "Null, Inc.", "EUR", "Europe/Berlin", None, None, 2),
        ("NA", "NULL", "USD", "UTC", None, None, 2),
    ]


def test_constants() -> None:
    assert SOURCES == ("samplehc", "tula", "sequence", "paygentic")
    assert AGGREGATIONS == ("sum", "count", "max", "unique_count")
    expected = {"USD": 2, "EUR": 2, "JPY": 0, "BHD": 3, "KWD": 3, "CLF": 4, "UYW": 4, "XCG": 2, "ZWG": 2}
    assert {code: CURRENCY_MINOR_UNITS[code] for code in expected} == expected
    assert len(CURRENCY_MINOR_UNITS) > 150
    assert "usd" not in CURRENCY_MINOR_UNITS and "ANG" not in CURRENCY_MINOR_UNITS and "XXX" not in CURRENCY_MINOR_UNITS


# Row numbers of appended lines: customers 5, customer_keys 6, meters 8, prices 7, statuses 4.


def test_missing_file_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path, meters=None) == [f"meters.csv: file not found in {tmp_path}"]


def test_unusable_customers_file_does_not_make_every_customer_unknown(tmp_path: Path) -> None:
    assert problems(tmp_path, customers=None) == [f"customers.csv: file not found in {tmp_path}"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("source,status,effect,comment", [
            "statuses.csv, row 1: unexpected column(s) comment; expected source, status, effect",
            "statuses.csv, row 3: duplicate key (source tula, status Unknown): already in row 2",
        ]),
        ("source,status,effect,", [
            "statuses.csv, row 1: unexpected column(s) (blank); expected source, status, effect",
            "statuses.csv, row 3: duplicate key (source tula, status Unknown): already in row 2",
        ]),
        ("source,status", ["statuses.csv, row 1: missing column(s) effect; expected source, status, effect"]),
        ("Source,status,effect", [
            "statuses.csv, row 1: missing column(s) source; expected source, status, effect",
            "statuses.csv, row 1: unexpected column(s) Source; expected source, status, effect",
        ]),
        ("source,status,effect,status", ["statuses.csv, row 1: repeated column(s) status; expected source, status, effect"]),
    ],
)
def test_header_must_have_exactly_the_spec_columns(tmp_path: Path, header: str, expected: list[str]) -> None:
    """A file with a missing or repeated column is not checked further; one with an extra column is."""
    assert problems(tmp_path, statuses=f"{header}\ntula,Unknown,bill,x\ntula,Unknown,bill,x\n") == expected


def test_empty_file_is_reported(tmp_path: Path) -> None:
    assert problems(tmp_path, statuses="") == [
        "statuses.csv, row 1: missing column(s) source, status, effect; expected source, status, effect"
    ]


@pytest.mark.parametrize(
    ("file", "line", "expected"),
    [
        ("customers", ",Nameless,USD,", "customers.csv, row 5: customer_id is blank"),
        ("customers", "blank,  ,USD,", "customers.csv, row 5: name is blank"),
        ("customers", 'blank,Blank,"",UTC', "customers.csv, row 5: currency is blank"),
        ("customer_keys", "tula,,acme", "customer_keys.csv, row 6: source_customer_key is blank"),
        ("meters", "samplehc,x,,sum,", "meters.csv, row 8: metric_id is blank"),
        ("meters", "samplehc,x,claims,,", "meters.csv, row 8: aggregation is blank"),
        ("prices", "tokens,,USD,,,", "prices.csv, row 7: unit_price is blank"),
        ("prices", "tokens,,,1,,", "prices.csv, row 7: currency is blank"),
        ("statuses", "tula,Paid,", "statuses.csv, row 4: effect is blank"),
    ],
)
def test_required_cells_may_not_be_blank(tmp_path: Path, file: str, line: str, expected: str) -> None:
    assert problems(tmp_path, **{file: extend(f"{file}.csv", line)}) == [expected]


@pytest.mark.parametrize(
    ("file", "line", "expected"),
    [
        ("customers", "nihon,Other Nihon,JPY,", "customers.csv, row 5: duplicate key (customer_id nihon): already in row 3"),
        ("customer_keys", "tula,ACME,gulf",
         "customer_keys.csv, row 6: duplicate key (source tula, source_customer_key ACME): already in row 3"),
        ("meters", "sequence,login,logins,count,",
         "meters.csv, row 8: duplicate key (source sequence, event_type login): already in row 6"),
        ("statuses", "tula,Cancelled,bill", "statuses.csv, row 4: duplicate key (source tula, status Cancelled): already in row 3"),
    ],
)
def test_duplicate_key_names_both_rows(tmp_path: Path, file: str, line: str, expected: str) -> None:
    assert problems(tmp_path, **{file: extend(f"{file}.csv", line)}) == [expected]


def test_keys_differing_only_in_case_are_not_duplicates(tmp_path: Path) -> None:
    load_reference(write_set(tmp_path, customer_keys=extend("customer_keys.csv", "tula,acme,gulf"),
                             statuses=extend("statuses.csv", "tula,cancelled,bill")))


def test_overlapping_prices_are_reported_with_both_ranges(tmp_path: Path) -> None:
    prices = extend(
        "prices.csv",
        "claims,acme,USD,0.2,2026-06-01,2026-09-01",
        "claims,,USD,0.125,,2026-07-01",
        "api_calls,gulf,BHD,0.005,,",
    )
    assert problems(tmp_path, prices=prices) == [
        "prices.csv, row 7: overlaps row 4 for (metric claims, customer acme, USD): "
        "2026-01-01..2027-01-01 and 2026-06-01..2026-09-01",
        "prices.csv, row 8: overlaps row 2 for (metric claims, default, USD): open..2026-07-01 and open..2026-07-01",
        "prices.csv, row 9: overlaps row 6 for (metric api_calls, customer gulf, BHD): open..open and open..open",
    ]


def test_adjacent_and_differently_keyed_prices_do_not_overlap(tmp_path: Path) -> None:
    prices = extend(
        "prices.csv",
        "claims,acme,USD,0.2,2027-01-01,",
        "claims,acme,USD,0.3,2025-01-01,2026-01-01",
        "claims,,EUR,0.1,,",
        "claims,nihon,JPY,10,,",
        "storage_gb,,USD,1,,",
    )
    assert load_reference(write_set(tmp_path, prices=prices)).prices.height == 10


def test_effective_from_must_be_before_effective_to(tmp_path: Path) -> None:
    prices = extend("prices.csv", "tokens,,USD,1,,", "tokens,,USD,1,2026-03-01,2026-03-01", "tokens,,USD,1,2026-05-01,2026-04-01")
    assert problems(tmp_path, prices=prices) == [
        "prices.csv, row 8: effective_from 2026-03-01 is not before effective_to 2026-03-01",
        "prices.csv, row 9: effective_from 2026-05-01 is not before effective_to 2026-04-01",
    ]


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "2026/01/01", "2026-1-01", "20260101", "2026-01-01T00:00"])
def test_dates_must_be_real_iso_dates(tmp_path: Path, text: str) -> None:
    prices = extend("prices.csv", "tokens,,USD,1,2027-01-01,", f"tokens,,USD,1,,{text}")
    assert problems(tmp_path, prices=prices) == [
        f"prices.csv, row 8: effective_to '{text}' is not a date (YYYY-MM-DD)"
    ]


def test_customer_price_in_another_currency_than_the_customer(tmp_path: Path) -> None:
    assert problems(tmp_path, prices=extend("prices.csv", "tokens,nihon,USD,1,,")) == [
        "prices.csv, row 7: currency USD differs from customer nihon's currency JPY"
    ]


@pytest.mark.parametrize(
    ("file", "line", "expected"),
    [
        ("customers", "eu,Euro Co,usd,", "customers.csv, row 5: unknown currency code 'usd' (ISO 4217, upper case)"),
        ("customers", "eu,Euro Co,ANG,", "customers.csv, row 5: unknown currency code 'ANG' (ISO 4217, upper case)"),
        ("prices", "tokens,,EURO,1,,", "prices.csv, row 7: unknown currency code 'EURO' (ISO 4217, upper case)"),
    ],
)
def test_unknown_currency_code(tmp_path: Path, file: str, line: str, expected: str) -> None:
    assert problems(tmp_path, **{file: extend(f"{file}.csv", line)}) == [expected]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/berlin", "localtime", "Factory", "+02:00"])
def test_unknown_timezone(tmp_path: Path, zone: str) -> None:
    assert problems(tmp_path, customers=extend("customers.csv", f"eu,Euro Co,EUR,{zone}")) == [
        f"customers.csv, row 5: unknown IANA timezone '{zone}'"
    ]


def test_unknown_aggregation(tmp_path: Path) -> None:
    assert problems(tmp_path, meters=extend("meters.csv", "samplehc,x,claims,Sum,")) == [
        "meters.csv, row 8: unknown aggregation 'Sum' (expected sum, count, max, unique_count)"
    ]


def test_unknown_status_effect(tmp_path: Path) -> None:
    assert problems(tmp_path, statuses=extend("statuses.csv", "tula,Refunded,refund")) == [
        "statuses.csv, row 4: unknown effect 'refund' (expected bill or void)"
    ]


@pytest.mark.parametrize(
    ("file", "line", "expected"),
    [
        ("customer_keys", "stripe,cus_9,acme",
         "customer_keys.csv, row 6: unknown source 'stripe' (expected one of samplehc, tula, sequence, paygentic)"),
        ("meters", "Tula,x,other,count,",
         "meters.csv, row 8: unknown source 'Tula' (expected one of samplehc, tula, sequence, paygentic)"),
        ("statuses", "stripe,Paid,bill",
         "statuses.csv, row 4: unknown source 'stripe' (expected one of samplehc, tula, sequence, paygentic)"),
        ("statuses", "sequence,Paid,bill", "statuses.csv, row 4: source sequence may not be named in statuses.csv (only tula)"),
    ],
)
def test_unknown_or_forbidden_source(tmp_path: Path, file: str, line: str, expected: str) -> None:
    assert problems(tmp_path, **{file: extend(f"{file}.csv", line)}) == [expected]


@pytest.mark.parametrize(
    ("file", "line", "expected"),
    [
        ("customer_keys", "tula,GHOST,ghost", "customer_keys.csv, row 6: unknown customer ghost (not in customers.csv)"),
        ("customer_keys", "tula,ACME2,ACME", "customer_keys.csv, row 6: unknown customer ACME (not in customers.csv)"),
        ("prices", "tokens,ghost,USD,1,,", "prices.csv, row 7: unknown customer ghost (not in customers.csv)"),
    ],
)
def test_reference_to_unknown_customer(tmp_path: Path, file: str, line: str, expected: str) -> None:
    assert problems(tmp_path, **{file: extend(f"{file}.csv", line)}) == [expected]


def test_one_metric_fed_with_different_aggregations(tmp_path: Path) -> None:
    assert problems(tmp_path, meters=extend("meters.csv", "paygentic,claims,claims,max,")) == [
        "meters.csv, row 8: metric claims is aggregated by max here but by sum in row 2"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sequence,upload,bytes,sum,",
         "meters.csv, row 8: property is blank; a sequence meter with aggregation sum needs the eventProperties key"),
        ("sequence,visit,visitors,unique_count,",
         "meters.csv, row 8: property is blank; a sequence meter with aggregation unique_count needs the eventProperties key"),
        ("sequence,click,clicks,count,button",
         "meters.csv, row 8: property must be blank for a sequence meter with aggregation count (got 'button')"),
        ("tula,9,nine,sum,quantity",
         "meters.csv, row 8: property must be blank for a tula meter with aggregation sum (got 'quantity')"),
        ("paygentic,gpu,gpu,max,quantity",
         "meters.csv, row 8: property must be blank for a paygentic meter with aggregation max (got 'quantity')"),
    ],
)
def test_meter_property_rules(tmp_path: Path, line: str, expected: str) -> None:
    assert problems(tmp_path, meters=extend("meters.csv", line)) == [expected]


@pytest.mark.parametrize(
    "price", ["-1", "+1", "1e3", "1.", ".5", "1,5", "0x10", "1 000", "NaN", "١٢", "-0.0000000000000000001", "123456789012345678901e3"]
)
def test_unit_price_must_be_a_plain_non_negative_decimal(tmp_path: Path, price: str) -> None:
    assert problems(tmp_path, prices=extend("prices.csv", f'tokens,,USD,"{price}",,')) == [
        f"prices.csv, row 7: unit_price '{price}' is not a plain non-negative decimal"
    ]


def test_unit_price_precision_limits(tmp_path: Path) -> None:
    prices = extend(
        "prices.csv",
        "tokens,,USD,0.0000000000000000001,,2026-01-01",
        "tokens,,USD,123456789012345678901,2026-01-01,2026-02-01",
        "tokens,,USD,99999999999999999999.999999999999999999,2026-02-01,",
    )
    assert problems(tmp_path, prices=prices) == [
        "prices.csv, row 7: unit_price 0.0000000000000000001 has more than 18 fractional digits",
        "prices.csv, row 8: unit_price 123456789012345678901 has more than 20 integer digits",
    ]


def test_unit_price_is_kept_exact(tmp_path: Path) -> None:
    prices = extend("prices.csv", "tokens,,USD,99999999999999999999.999999999999999999,,")
    ref = load_reference(write_set(tmp_path, prices=prices))
    assert ref.prices["unit_price"][-1] == Decimal("99999999999999999999.999999999999999999")


def test_row_numbers_are_file_line_numbers(tmp_path: Path) -> None:
    customers = (
        "customer_id,name,currency,timezone\n"  # row 1
        "\n"  # row 2: blank lines are skipped
        'xx,"X\nCo",XYZ,\n'  # rows 3-4: one record, reported at the line it starts on
        " , ,,\n"  # row 5: a line of blank cells is skipped too
        "acme,Acme,USD,\nnihon,Nihon,JPY,\ngulf,Gulf,BHD,\n"  # rows 6-8
        "yy,Y,ABC,\n"  # row 9
    )
    assert problems(tmp_path, customers=customers) == [
        "customers.csv, row 3: unknown currency code 'XYZ' (ISO 4217, upper case)",
        "customers.csv, row 9: unknown currency code 'ABC' (ISO 4217, upper case)",
    ]


def test_ragged_row_and_bad_encoding(tmp_path: Path) -> None:
    statuses = "source,status,effect\ntula,Unknown,bill\ntula,Paid\n".encode() + b"tula,\xff,void\n"
    assert problems(tmp_path, customer_keys=extend("customer_keys.csv", "tula,X,acme,extra"), statuses=statuses) == [
        "customer_keys.csv, row 6: has 4 cells, expected 3",
        "statuses.csv, row 4: not valid UTF-8",
    ]


def test_all_problems_in_all_files_are_reported_together(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        customers=extend("customers.csv", "acme,Again,USD,", "eu,Euro,EUR,Europe/Nowhere"),
        customer_keys=None,
        meters=extend("meters.csv", "sequence,upload,bytes,median,size"),
        prices=extend("prices.csv", "claims,,USD,0.125,,2026-07-01", "tokens,acme,EUR,-1,,"),
        statuses=extend("statuses.csv", "tula,Paid,maybe"),
    )
    assert found == [
        "customers.csv, row 5: duplicate key (customer_id acme): already in row 2",
        "customers.csv, row 6: unknown IANA timezone 'Europe/Nowhere'",
        f"customer_keys.csv: file not found in {tmp_path}",
        "meters.csv, row 8: unknown aggregation 'median' (expected sum, count, max, unique_count)",
        "prices.csv, row 7: overlaps row 2 for (metric claims, default, USD): open..2026-07-01 and open..2026-07-01",
        "prices.csv, row 8: unit_price '-1' is not a plain non-negative decimal",
        "prices.csv, row 8: currency EUR differs from customer acme's currency USD",
        "statuses.csv, row 4: unknown effect 'maybe' (expected bill or void)",
    ]


# --------------------------------------------------------------------------------------------------
# issuer.csv (SPEC §7 "Numbers") and the customers' optional address and tax id

ISSUER_HEADER = "name,address,tax_id,number_prefix,payment_terms_days"


def test_issuer_and_customer_details_load(tmp_path: Path) -> None:
    customers = ('customer_id,name,currency,timezone,address,tax_id\n'
                 'acme,Acme Inc,USD,,"1 Road\nSpringfield",US-1\nnihon,Nihon KK,JPY,Asia/Tokyo,,\n'
                 'gulf,Gulf Co,BHD,Asia/Bahrain,Manama,\n')
    issuer = f'{ISSUER_HEADER}\nTally Ltd.,"7 Lane\nLondon",GB-9,TLY,30\n'
    ref = load_reference(write_set(tmp_path, customers=customers.encode(), issuer=issuer.encode()))
    assert ref.customers.select("customer_id", "address", "tax_id").rows() == [
        ("acme", "1 Road\nSpringfield", "US-1"), ("nihon", None, None), ("gulf", "Manama", None)]
    assert ref.issuer.rows() == [("Tally Ltd.", "7 Lane\nLondon", "GB-9", "TLY", 30)]
    assert ref.issuer.schema["payment_terms_days"] == pl.Int32


@pytest.mark.parametrize(("rows", "expected"), [
    ("", ["issuer.csv: no issuer row: issuer.csv holds exactly one"]),
    ("A,,,TLY,30\nB,,,TLZ,30\n", ["issuer.csv, row 3: a second issuer row: issuer.csv holds exactly one"]),
    (",,,TLY,30\n", ["issuer.csv, row 2: name is blank"]),
    ("A,,,T LY,30\n", ["issuer.csv, row 2: number_prefix 'T LY' is not 1 to 20 letters, digits, '-' or '_' "
                       "(starting with a letter or digit)"]),
    ("A,,,TLY,-1\n", ["issuer.csv, row 2: payment_terms_days '-1' is not a whole number of days from 0 to 3650"]),
    ("A,,,TLY,7.5\n", ["issuer.csv, row 2: payment_terms_days '7.5' is not a whole number of days from 0 to 3650"]),
    ("A,,,TLY,3651\n", ["issuer.csv, row 2: payment_terms_days '3651' is not a whole number of days from 0 to 3650"]),
    ("A,,,,\n", ["issuer.csv, row 2: number_prefix is blank", "issuer.csv, row 2: payment_terms_days is blank"]),
])
def test_issuer_problems_name_file_row_and_problem(tmp_path: Path, rows: str, expected: list[str]) -> None:
    with pytest.raises(ReferenceDataError) as error:
        load_reference(write_set(tmp_path, issuer=f"{ISSUER_HEADER}\n{rows}".encode()))
    assert error.value.problems == expected
