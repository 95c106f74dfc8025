"""Reference data of the pricing models (SPEC §8): prices.csv's model and package_size, price_tiers.csv and
commitments.csv. Every problem names its file, row and problem; absent files mean none of their kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from test_reference import problems, write_set

from transforms.reference import load_reference

D = Decimal
PRICES = """metric_id,customer_id,currency,unit_price,effective_from,effective_to,model,package_size
claims,,USD,,,2026-07-01,graduated,
claims,,USD,,2026-07-01,,volume,
tokens,,BHD,0.5,,,package,100
api_calls,gulf,BHD,0.005,,,,
"""
TIERS = """metric_id,customer_id,currency,effective_from,up_to,unit_price,flat_fee
claims,,USD,,100,0.50,
claims,,USD,,1000,0.40,10
claims,,USD,,,0.25,
claims,,USD,2026-07-01,50,0.30,
claims,,USD,2026-07-01,,0.20,5
"""
COMMITMENTS = """customer_id,currency,minimum_amount,effective_from,effective_to
acme,USD,100,2026-01-01,2027-01-01
acme,USD,150,2027-01-01,
gulf,BHD,12.5,,
"""


def load(tmp_path, **files):
    return load_reference(write_set(tmp_path, **{name: text.encode() for name, text in files.items()}))


def test_models_tiers_and_commitments_load(tmp_path):
    ref = load(tmp_path, prices=PRICES, price_tiers=TIERS, commitments=COMMITMENTS)
    assert ref.prices.select("metric_id", "model", "package_size").rows() == [
        ("claims", "graduated", None), ("claims", "volume", None), ("tokens", "package", 100),
        ("api_calls", "per_unit", None)]
    assert ref.price_tiers.select("effective_from", "tier", "lower_bound", "up_to", "unit_price", "flat_fee").rows() == [
        (None, 1, D(0), D(100), D("0.5"), D(0)), (None, 2, D(100), D(1000), D("0.4"), D(10)),
        (None, 3, D(1000), None, D("0.25"), D(0)),
        (date(2026, 7, 1), 1, D(0), D(50), D("0.3"), D(0)), (date(2026, 7, 1), 2, D(50), None, D("0.2"), D(5))]
    assert ref.commitments.rows() == [
        ("acme", "USD", D(100), date(2026, 1, 1), date(2027, 1, 1)), ("acme", "USD", D(150), date(2027, 1, 1), None),
        ("gulf", "BHD", D("12.5"), None, None)]


def test_model_and_package_size_problems(tmp_path):
    prices = PRICES + ("claims,,JPY,12,,,tiered,\ntokens,,USD,1,,,package,\nclaims,acme,USD,1,,,package,0\n"
                       "api_calls,,BHD,1,,,per_unit,10\nstorage_gb,,USD,,,,,\n")
    assert problems(tmp_path, prices=prices.encode(), price_tiers=TIERS.encode()) == [
        "prices.csv, row 6: unknown model 'tiered' (expected per_unit, graduated, volume or package)",
        "prices.csv, row 7: package_size is blank for a package row",
        "prices.csv, row 8: package_size '0' is not a positive integer",
        "prices.csv, row 9: package_size '10' is for package rows only (this row is per_unit)",
        "prices.csv, row 10: unit_price is blank",
    ]


def test_tier_problems(tmp_path):
    tiers = (TIERS + "tokens,,BHD,,10,1,\n"            # row 7: the package row has no tiers
             "claims,,JPY,,10,1,\n")                   # row 8: no price row at all
    prices = PRICES + "api_calls,,USD,,,,volume,\n"     # row 6: a volume row without tiers
    assert problems(tmp_path, prices=prices.encode(), price_tiers=tiers.encode()) == [
        "prices.csv, row 6: a volume row without tiers in price_tiers.csv",
        "price_tiers.csv, row 7: tiers without a row: prices.csv has no graduated or volume row for (metric tokens, "
        "default, BHD, effective_from blank)",
        "price_tiers.csv, row 8: tiers without a row: prices.csv has no graduated or volume row for (metric claims, "
        "default, JPY, effective_from blank)",
    ]


def test_tiers_increase_and_only_the_last_is_open(tmp_path):
    tiers = """metric_id,customer_id,currency,effective_from,up_to,unit_price,flat_fee
claims,,USD,,100,0.50,
claims,,USD,,100,0.40,
claims,,USD,,,0.25,
claims,,USD,,500,0.1,
claims,,USD,2026-07-01,50,0.30,
claims,,USD,2026-07-01,40,0.20,x
"""
    assert problems(tmp_path, prices=PRICES.encode(), price_tiers=tiers.encode()) == [
        "price_tiers.csv, row 3: up_to 100.000000000000000000 is not above the previous tier's "
        "100.000000000000000000: tiers increase strictly in file order",
        "price_tiers.csv, row 4: a tier without up_to before the last tier of its row",
        "price_tiers.csv, row 5: the last tier of its row has up_to 500.000000000000000000: a last tier has no bound "
        "(leave up_to blank)",
        "price_tiers.csv, row 7: flat_fee 'x' is not a plain non-negative decimal",
        "price_tiers.csv, row 7: the last tier of its row has up_to 40.000000000000000000: a last tier has no bound "
        "(leave up_to blank)",
        "price_tiers.csv, row 7: up_to 40.000000000000000000 is not above the previous tier's "
        "50.000000000000000000: tiers increase strictly in file order",
    ]


def test_commitment_problems(tmp_path):
    commitments = COMMITMENTS + ("acme,USD,10,2026-06-01,2026-08-01\nnobody,USD,1,,\ngulf,USD,1,2030-01-01,\n"
                                 "nihon,JPY,-5,,\n")
    assert problems(tmp_path, commitments=commitments.encode()) == [
        "commitments.csv, row 5: overlapping commitments for one customer: overlaps row 2 of customer acme",
        "commitments.csv, row 6: unknown customer nobody (not in customers.csv)",
        "commitments.csv, row 7: currency USD differs from customer gulf's currency BHD",
        "commitments.csv, row 7: overlapping commitments for one customer: overlaps row 4 of customer gulf",
        "commitments.csv, row 8: minimum_amount '-5' is not a plain non-negative decimal",
    ]
