"""Staging model of `tula` (../shared/seeds): see `tula.sql` for its rules."""

from transforms.sql_files import read_sql
from transforms.staging.common import VendorModel

MODEL = VendorModel(source="tula", sql=read_sql(__file__, "tula.sql"))
