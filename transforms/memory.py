"""How much memory DuckDB may hold before it spills; a module without heavy imports, so the Dagster
resource and the command line can read the default without loading DuckDB.

512MB keeps a run's peak at about 1.1 GiB whatever the size of the dumps (docs/performance.md); 1GB
was about 5% faster on a 10M-record first load, and its peak grew with the data up to 1.6 GiB.
"""

DEFAULT_MEMORY_LIMIT = "512MB"
