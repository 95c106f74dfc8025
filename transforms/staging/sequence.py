"""Staging model of `sequence` (../shared/seeds): see `sequence.sql` for its rules."""

from transforms.sql_files import read_sql
from transforms.staging.common import VendorModel

MODEL = VendorModel(source="sequence", sql=read_sql(__file__, "sequence.sql"))
