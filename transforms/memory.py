"""How much memory DuckDB may hold before it spills; a module without heavy imports, so the Dagster
resource and the command line can read the default without loading DuckDB.

512MB keeps a run's peak at about 1.1 GiB whatever the size of the dumps (docs/performance.md); 1GB
was about 5% faster on a 10M-record first load, and its peak grew with the data up to 1.6 GiB.
"""

import re

DEFAULT_MEMORY_LIMIT = "512MB"


_UNITS = {"bytes": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
# A quarter of the memory limit: DuckDB checkpoints its write-ahead log when the log passes this size
# (default 16 MiB), and at that size a 10M-record first load checkpointed after almost every staging
# batch: staging samplehc took 26.5 s, against 18.4 s at 128 MiB (peak 493 → 520 MiB) and 19.6 s at
# 256 MiB (627 MiB). Committed data stays in the log until then, so a crash loses nothing.
WAL_SHARE_OF_MEMORY = 4
MIN_WAL_BYTES = 16 << 20


def size_bytes(setting: str) -> int | None:
    """A DuckDB size ("512MB", "488.2 MiB") in bytes, or None if it is not one."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", str(setting))
    if not match or match[2].lower() not in _UNITS:
        return None
    return int(float(match[1]) * _UNITS[match[2].lower()])


def wal_checkpoint_bytes(memory_limit: str) -> int:
    """The write-ahead log size at which a connection with ``memory_limit`` checkpoints."""
    limit = size_bytes(memory_limit)
    return MIN_WAL_BYTES if limit is None else max(MIN_WAL_BYTES, limit // WAL_SHARE_OF_MEMORY)
