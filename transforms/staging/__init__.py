"""Staging models, one per vendor, in the canonical shape of ``common.STAGED_TABLE_COLUMNS``."""

from transforms.staging import paygentic, samplehc, sequence, tula
from transforms.staging.common import VendorModel
from transforms.staging.pending import staged_through
from transforms.staging.streams import stage_new_lines, stage_sources

MODELS: dict[str, VendorModel] = {
    m.MODEL.source: m.MODEL for m in (samplehc, tula, sequence, paygentic)
}

__all__ = ["MODELS", "VendorModel", "stage_new_lines", "stage_sources", "staged_through"]
