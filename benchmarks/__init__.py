"""Dump generator and benchmarks (not part of the billing pipeline)."""
