"""Long SQL lives in ``.sql`` files beside the module that runs it; this reads them."""

from functools import cache
from pathlib import Path


@cache
def read_sql(module_file: str, name: str) -> str:
    return (Path(module_file).parent / name).read_text(encoding="utf-8")
