import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def pytest_collection_modifyitems(items):
    """Property tests first: a few of them run the pipeline for a minute or more. Started at the end, one
    worker finishes them alone while the other has nothing left; started first, the short tests that
    follow are shared out (`--dist worksteal`) and the workers end together."""
    items.sort(key=lambda item: not getattr(getattr(item, "function", None), "is_hypothesis_test", False))
