"""Staging model of `paygentic` (../shared/seeds): see `paygentic.sql` for its rules."""

from transforms.sql_files import read_sql
from transforms.staging.common import VendorModel

MODEL = VendorModel(source="paygentic", sql=read_sql(__file__, "paygentic.sql"))
