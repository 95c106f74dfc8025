"""Where `tally` and the Dagster resource look when nothing says otherwise. Kept apart from the
resource so that the commands that never run a job (status, explain, invoice, generate, --help) start
without importing Dagster."""

from transforms.lifecycle.control import DEFAULT_CONTROL_DIR
from transforms.memory import DEFAULT_MEMORY_LIMIT

DEFAULT_RAW_DIR = "data/raw"
DEFAULT_REFERENCE_DIR = "data/reference"
DEFAULT_DB = "data/warehouse.duckdb"

__all__ = ["DEFAULT_CONTROL_DIR", "DEFAULT_DB", "DEFAULT_MEMORY_LIMIT", "DEFAULT_RAW_DIR", "DEFAULT_REFERENCE_DIR"]
