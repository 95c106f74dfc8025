"""Staging model of `samplehc` (../shared/seeds): see `samplehc.sql` for its rules."""

from transforms.sql_files import read_sql
from transforms.staging.common import VendorModel

MODEL = VendorModel(source="samplehc", sql=read_sql(__file__, "samplehc.sql"))
