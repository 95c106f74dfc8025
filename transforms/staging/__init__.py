"""Staging models, one per vendor, in the canonical shape of ``common.STAGED_TABLE_COLUMNS``."""

from transforms.staging import paygentic, samplehc, sequence, tula
from transforms.staging.common import VendorModel, stage_new_lines, staged_through

MODELS: dict[str, VendorModel] = {
    m.MODEL.source: m.MODEL for m in (samplehc, tula, sequence, paygentic)
}

__all__ = ["MODELS", "VendorModel", "stage_new_lines", "staged_through"]
